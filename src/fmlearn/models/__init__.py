"""Models: what the parameters are, how they start and how they predict.

A model object is the parameter layout of one member of the FM family, its
initialisation and its prediction kernel. Estimators create one per fit, solvers and
persistence receive it; adding a model (a field-aware FM, a higher-order FM) is adding a
module here, its kernels and an estimator (docs/design.md).
"""

from fmlearn.models.base import Model, Params
from fmlearn.models.ffm import FFM, FFMParams
from fmlearn.models.fm import FM, FMParams
from fmlearn.models.fwfm import FwFM, FwFMParams
from fmlearn.models.hofm import HOFM, HOFMParams
from fmlearn.models.multiclass import SoftmaxFM, SoftmaxParams

__all__ = [
    "FFM",
    "FM",
    "HOFM",
    "FFMParams",
    "FMParams",
    "FwFM",
    "FwFMParams",
    "HOFMParams",
    "Model",
    "Params",
    "SoftmaxFM",
    "SoftmaxParams",
]
