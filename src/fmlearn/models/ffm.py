"""The field-aware FM (libffm's model): one k-vector per feature and per field.

``ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} <v_{i,f(j)}, v_{j,f(i)}> x_i x_j``, where ``f(i)`` is
feature i's field. :class:`FFMParams` holds ``V`` as (n_features, n_fields, k) in C order
(a feature's vectors for all fields contiguous) and the feature → field map ``fields``,
which is part of the model: it is saved with it and needed to predict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
import scipy.sparse as sp

from fmlearn._utils import format_bytes, physical_memory
from fmlearn._validation import check_fields, csr_arrays
from fmlearn.kernels import ffm as ffm_kernels
from fmlearn.models.base import Model, normal_table

#: FFM rows cost O(k · nnz²): threads pay off from fewer rows than for the FM.
PARALLEL_PREDICT_MIN_ROWS = 2_000
PREDICT_BLOCK_ROWS = 512


@dataclass
class FFMParams:
    """FFM parameters: ``w0`` (1,), ``w`` (n,), ``V`` (n, n_fields, k), ``fields`` (n,)."""

    w0: np.ndarray
    w: np.ndarray
    V: np.ndarray
    fields: np.ndarray

    @property
    def n_features(self) -> int:
        return self.w.shape[0]

    @property
    def n_fields(self) -> int:
        return self.V.shape[1]

    @property
    def n_factors(self) -> int:
        return self.V.shape[2]

    @property
    def dtype(self) -> np.dtype:
        return self.V.dtype

    def copy(self) -> FFMParams:
        return FFMParams(self.w0.copy(), self.w.copy(), self.V.copy(), self.fields.copy())

    def astype(self, dtype) -> FFMParams:
        return FFMParams(*(a.astype(dtype) for a in self.as_tuple()), self.fields.copy())

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(w0, w, V)``: the learned arrays, in the order the kernels take them."""
        return (self.w0, self.w, self.V)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"w0_": self.w0, "w_": self.w, "V_": self.V, "fields_": self.fields}

    def fitted_attributes(self) -> dict:
        return {"w0_": float(self.w0[0]), "w_": self.w, "V_": self.V, "fields_": self.fields}


class FFM(Model):
    """A rank-``n_factors`` field-aware FM stored in ``dtype``.

    ``fields`` (one field id per feature) is needed to start training; predicting and
    loading take it from the parameters. V starts ~ N(0, init_std²), w0 and w at 0.
    """

    name: ClassVar[str] = "ffm"
    #: Row-by-row gradient steps only (the ALS/MCMC sweeps are the FM's).
    families: ClassVar[frozenset[str]] = frozenset({"sgd"})

    def __init__(self, n_factors: int, init_std: float = 0.1, dtype=np.float64, fields=None):
        self.n_factors = int(n_factors)
        self.init_std = float(init_std)
        self._dtype = np.dtype(dtype).type
        self.fields = fields

    @property
    def dtype(self) -> type:
        return self._dtype

    def init_params(self, n_features: int, rng: np.random.Generator) -> FFMParams:
        if self.fields is None:
            raise ValueError(
                "a field-aware FM needs the field of every feature: fit(X, y, fields=…) with "
                "one field id per column (load_libffm returns them; so does "
                "FMEncoder.fields_)."
            )
        fields = check_fields(self.fields, n_features)
        n_fields = max(int(fields.max()) + 1, 0) if fields.size else 0
        _check_size(n_features, n_fields, self.n_factors, self.dtype)
        k = self.n_factors
        V = normal_table(rng, (n_features, n_fields, k), self.init_std, self.dtype)
        zeros = np.zeros(n_features, dtype=self.dtype)
        return FFMParams(np.zeros(1, dtype=self.dtype), zeros, V, fields)

    def decision(self, X: sp.csr_matrix, params: FFMParams, n_threads: int = 1) -> np.ndarray:
        """ŷ for every row; the same per-row kernel on one or several threads (same bits)."""
        out = np.empty(X.shape[0], dtype=np.float64)
        indptr, indices, data = csr_arrays(X)
        w0 = float(params.w0[0])
        args = (indptr, indices, data, params.fields, w0, params.w, params.V, out)
        if X.shape[0] < PARALLEL_PREDICT_MIN_ROWS or n_threads <= 1:
            ffm_kernels.predict_ffm_csr(*args)
            return out
        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            ffm_kernels.predict_ffm_csr_parallel(*args, PREDICT_BLOCK_ROWS)
        finally:
            numba.set_num_threads(previous)
        return out

    def sgd_epoch(
        self, X, y, sample_weight, order, params, state, hp, codes, t0, batch_size, n_chunks
    ) -> float:
        """One SGD-family pass (kernels/ffm.py), row by row as libffm; Σ weighted loss."""
        if batch_size != 1:
            raise ValueError("the field-aware FM trains row by row (batch_size=1)")
        args = (X, y, sample_weight, order, params.fields, params.n_fields)
        args += (params.as_tuple(), state, hp, codes, t0)
        if n_chunks == 1:
            return ffm_kernels.ffm_sgd_epoch(*args)
        return ffm_kernels.ffm_sgd_epoch_hogwild(*args, n_chunks)

    def params_from_arrays(
        self, arrays: dict[str, np.ndarray], n_features: int, check_values: bool = True
    ) -> FFMParams:
        missing = [name for name in ("w0_", "w_", "V_", "fields_") if name not in arrays]
        if missing:
            raise ValueError(f"missing array {missing[0]}")
        w0, w, V = arrays["w0_"], arrays["w_"], arrays["V_"]
        if V.dtype not in (np.float32, np.float64) or w.dtype != V.dtype or w0.dtype != V.dtype:
            raise ValueError(f"parameter dtypes {w0.dtype}, {w.dtype}, {V.dtype}")
        if V.ndim != 3 or w.shape != (V.shape[0],) or w0.shape != (1,):
            raise ValueError(f"parameter shapes {w0.shape}, {w.shape}, {V.shape}")
        if V.shape[0] != n_features:
            raise ValueError(f"V_ has {V.shape[0]} rows but n_features_in_={n_features}")
        if V.shape[2] != self.n_factors:
            raise ValueError(f"V_ has {V.shape[2]} factors but n_factors={self.n_factors}")
        fields = check_fields(arrays["fields_"], n_features)
        if fields.size and fields.max() >= V.shape[1]:
            raise ValueError(f"fields_ names field {fields.max()} but V_ has {V.shape[1]}")
        if check_values and not (
            np.all(np.isfinite(V)) and np.all(np.isfinite(w)) and np.isfinite(w0[0])
        ):
            raise ValueError("parameters contain NaN or infinity")
        return FFMParams(w0, w, np.ascontiguousarray(V), fields)

    @classmethod
    def saved_rank(cls, arrays):
        V = arrays.get("V_")
        return int(V.shape[-1]) if isinstance(V, np.ndarray) and V.ndim == 3 else None

    def params_from_estimator(self, estimator) -> FFMParams:
        V = estimator.V_
        w0 = np.array([estimator.w0_], dtype=V.dtype)
        # a continued fit's model carries the fields it filled in (ffm._continued_fields)
        fields = estimator.fields_ if self.fields is None else self.fields
        return FFMParams(w0, estimator.w_, V, fields)


def _check_size(n_features: int, n_fields: int, k: int, dtype) -> None:
    """Refuse, before allocating, a factor table larger than the machine's memory."""
    size = n_features * n_fields * k * np.dtype(dtype).itemsize
    memory = physical_memory()
    if memory is not None and size > memory:
        raise MemoryError(
            f"the field-aware factor table would take {format_bytes(size)} "
            f"({n_features:,} features × {n_fields:,} fields × {k} factors, "
            f"{np.dtype(dtype).name}) and this machine has {format_bytes(memory)}. Hash "
            "the features into fewer columns, merge fields, or lower n_factors."
        )
