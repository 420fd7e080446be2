"""Data sets: generated planted-FM and FwFM data (offline) and fetchers for public data sets.

The fetchers download MovieLens and Frappe once into a local cache (``get_data_home``)
and work offline from it afterwards; fmlearn never ships the data itself.
"""

from fmlearn.datasets._fetch import (
    FrappeData,
    MovieLensData,
    fetch_frappe,
    fetch_movielens,
    get_data_home,
)
from fmlearn.datasets._generated import (
    ImplicitFeedback,
    PlantedFM,
    PlantedFwFM,
    PlantedSoftmaxFM,
    make_ctr,
    make_field_aware_ctr,
    make_implicit_feedback,
    make_multiclass,
    make_recommendation,
)

__all__ = [
    "FrappeData",
    "ImplicitFeedback",
    "MovieLensData",
    "PlantedFM",
    "PlantedFwFM",
    "PlantedSoftmaxFM",
    "fetch_frappe",
    "fetch_movielens",
    "get_data_home",
    "make_ctr",
    "make_field_aware_ctr",
    "make_implicit_feedback",
    "make_multiclass",
    "make_recommendation",
]
