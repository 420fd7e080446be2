"""fmlearn: Factorization Machines with numba kernels and scikit-learn estimators."""

from fmlearn._version import __version__
from fmlearn.classification import FMClassifier
from fmlearn.datasets import fetch_frappe, fetch_movielens
from fmlearn.ffm import FFMClassifier, FFMRegressor, FwFMClassifier, FwFMRegressor
from fmlearn.io.encoder import FMEncoder
from fmlearn.ordinal import FMOrdinalRegressor
from fmlearn.persist import load, save
from fmlearn.recommend import recommend
from fmlearn.recommender import FMRecommender
from fmlearn.regression import FMRegressor

__all__ = [
    "FFMClassifier",
    "FFMRegressor",
    "FMClassifier",
    "FMEncoder",
    "FMOrdinalRegressor",
    "FMRecommender",
    "FMRegressor",
    "FwFMClassifier",
    "FwFMRegressor",
    "__version__",
    "fetch_frappe",
    "fetch_movielens",
    "load",
    "recommend",
    "save",
]
