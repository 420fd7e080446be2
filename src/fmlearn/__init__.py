"""fmlearn: Factorization Machines with numba kernels and scikit-learn estimators.

The names below are imported on first use, so that ``import fmlearn.reference`` (the
numpy-only teaching code) needs numpy alone, and ``import fmlearn`` is quick. Asking for
any of them imports every estimator, so the model-file registry (``fmlearn.load``) always
knows all of them.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from fmlearn._version import __version__

# public name → the module that defines it
_EXPORTS = {
    "FFMClassifier": "fmlearn.ffm",
    "FFMRegressor": "fmlearn.ffm",
    "FMClassifier": "fmlearn.classification",
    "FMEncoder": "fmlearn.io.encoder",
    "FMOrdinalRegressor": "fmlearn.ordinal",
    "FMRecommender": "fmlearn.recommender",
    "FMRegressor": "fmlearn.regression",
    "FwFMClassifier": "fmlearn.ffm",
    "FwFMRegressor": "fmlearn.ffm",
    "RelationBlock": "fmlearn.relations",
    "fetch_frappe": "fmlearn.datasets",
    "fetch_movielens": "fmlearn.datasets",
    "load": "fmlearn.persist",
    "recommend": "fmlearn.recommend",
    "save": "fmlearn.persist",
}

__all__ = [  # the same names as _EXPORTS (a test checks), spelled out for linters
    "FFMClassifier",
    "FFMRegressor",
    "FMClassifier",
    "FMEncoder",
    "FMOrdinalRegressor",
    "FMRecommender",
    "FMRegressor",
    "FwFMClassifier",
    "FwFMRegressor",
    "RelationBlock",
    "__version__",
    "fetch_frappe",
    "fetch_movielens",
    "load",
    "recommend",
    "save",
]

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from fmlearn.classification import FMClassifier
    from fmlearn.datasets import fetch_frappe, fetch_movielens
    from fmlearn.ffm import FFMClassifier, FFMRegressor, FwFMClassifier, FwFMRegressor
    from fmlearn.io.encoder import FMEncoder
    from fmlearn.ordinal import FMOrdinalRegressor
    from fmlearn.persist import load, save
    from fmlearn.recommend import recommend
    from fmlearn.recommender import FMRecommender
    from fmlearn.regression import FMRegressor
    from fmlearn.relations import RelationBlock


def __getattr__(name: str):
    if name in _EXPORTS:
        for public, module in _EXPORTS.items():  # all of them: the registry is complete
            globals()[public] = getattr(importlib.import_module(module), public)
        return globals()[name]
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # fmlearn.io, …
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
