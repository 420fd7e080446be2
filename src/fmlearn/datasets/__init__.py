"""Data sets: generators of planted-FM data (no network needed)."""

from fmlearn.datasets._fetch import (
    FrappeData,
    MovieLensData,
    fetch_frappe,
    fetch_movielens,
    get_data_home,
)
from fmlearn.datasets._generated import PlantedFM, make_ctr, make_recommendation

__all__ = ["PlantedFM", "make_ctr", "make_recommendation"]
__all__ += ["FrappeData", "MovieLensData", "fetch_frappe", "fetch_movielens", "get_data_home"]
