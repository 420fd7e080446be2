"""fmlearn: Factorization Machines with numba kernels and scikit-learn estimators."""

from fmlearn.classification import FMClassifier
from fmlearn.ordinal import FMOrdinalRegressor
from fmlearn.persist import load
from fmlearn.regression import FMRegressor

__version__ = "0.1.0"

__all__ = ["FMClassifier", "FMOrdinalRegressor", "FMRegressor", "__version__", "load"]
