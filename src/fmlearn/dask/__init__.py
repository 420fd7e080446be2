"""fmlearn on a Dask cluster: data-parallel training and lazy prediction (``pip install
"fmlearn[dask]"``).

The estimators train the single-machine solvers on each row block of a dask array and merge
the blocks' models after every round; prediction maps the fitted model over the blocks.
Works with any Dask scheduler: a ``distributed.Client`` (one machine or a cluster), or
Dask's threads when none is running.
"""

from __future__ import annotations

try:
    import dask
    import dask.array  # noqa: F401
except ImportError:  # pragma: no cover - the message is the point
    raise ImportError(
        "fmlearn.dask needs dask: pip install 'fmlearn[dask]' (dask[array] and distributed)."
    ) from None

from fmlearn.dask._data import from_sparse, read_libffm, read_libfm, read_libsvm
from fmlearn.dask._encoder import encode, fit_encoder
from fmlearn.dask._estimators import DaskFMClassifier, DaskFMRegressor

__all__ = [
    "DaskFMClassifier",
    "DaskFMRegressor",
    "encode",
    "fit_encoder",
    "from_sparse",
    "read_libffm",
    "read_libfm",
    "read_libsvm",
]
