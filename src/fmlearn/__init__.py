"""fmlearn: Factorization Machines with numba kernels and scikit-learn estimators."""

from fmlearn.classification import FMClassifier
from fmlearn.datasets import fetch_frappe, fetch_movielens
from fmlearn.io.encoder import FMEncoder
from fmlearn.ordinal import FMOrdinalRegressor
from fmlearn.persist import load
from fmlearn.regression import FMRegressor

__version__ = "0.1.0"

__all__ = [
    "FMClassifier",
    "FMEncoder",
    "FMOrdinalRegressor",
    "FMRegressor",
    "__version__",
    "fetch_frappe",
    "fetch_movielens",
    "load",
]
