"""Tasks: what the target is and how predictions are judged.

A task object holds what differs between regression, binary and multiclass
classification and ordinal regression: how ``y`` is checked and encoded, the loss an
SGD solver descends, the likelihood ALS/MCMC use, the link, the metrics recorded
each iteration and the default regularisation. Estimators pick one; solvers ask it.
"""

from fmlearn.tasks.base import Task
from fmlearn.tasks.binary import BinaryClassification
from fmlearn.tasks.multiclass import MulticlassClassification
from fmlearn.tasks.ordinal import OrdinalRegression
from fmlearn.tasks.regression import Regression

__all__ = [
    "BinaryClassification",
    "MulticlassClassification",
    "OrdinalRegression",
    "Regression",
    "Task",
]
