"""Data sets: generators of planted-FM data (no network needed)."""

from fmlearn.datasets._generated import PlantedFM, make_ctr, make_recommendation

__all__ = ["PlantedFM", "make_ctr", "make_recommendation"]
