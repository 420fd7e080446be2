"""The field-weighted FM (Pan et al. 2018): the FM's vectors, one strength per field pair.

``ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} R[f(i), f(j)] <v_i, v_j> x_i x_j``. It has the FM's
memory (plus F² strengths) and nearly its speed — O(k · nnz + k · F²) per row
(kernels/fwfm.py) — and learns which field pairs matter, which is most of what the
field-aware FM gains on click data. :class:`FwFMParams` holds ``R`` (symmetric,
n_fields × n_fields) and the feature → field map ``fields``, saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
import scipy.sparse as sp

from fmlearn._utils import format_bytes, physical_memory
from fmlearn._validation import check_fields, csr_arrays
from fmlearn.kernels import fwfm as fwfm_kernels
from fmlearn.models.base import Model, normal_table

PARALLEL_PREDICT_MIN_ROWS = 20_000
PREDICT_BLOCK_ROWS = 4096


@dataclass
class FwFMParams:
    """``w0`` (1,), ``w`` (n,), ``V`` (n, k), ``R`` (n_fields, n_fields), ``fields`` (n,)."""

    w0: np.ndarray
    w: np.ndarray
    V: np.ndarray
    R: np.ndarray
    fields: np.ndarray

    @property
    def n_features(self) -> int:
        return self.w.shape[0]

    @property
    def n_fields(self) -> int:
        return self.R.shape[0]

    @property
    def n_factors(self) -> int:
        return self.V.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return self.V.dtype

    def copy(self) -> FwFMParams:
        return FwFMParams(*(a.copy() for a in self.as_tuple()), self.fields.copy())

    def astype(self, dtype) -> FwFMParams:
        return FwFMParams(*(a.astype(dtype) for a in self.as_tuple()), self.fields.copy())

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(w0, w, V, R)``: the learned arrays, in the order the kernels take them."""
        return (self.w0, self.w, self.V, self.R)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"w0_": self.w0, "w_": self.w, "V_": self.V, "R_": self.R, "fields_": self.fields}

    def fitted_attributes(self) -> dict:
        return {"w0_": float(self.w0[0]), "w_": self.w, "V_": self.V, "R_": self.R,
                "fields_": self.fields}  # fmt: skip


class FwFM(Model):
    """A rank-``n_factors`` field-weighted FM stored in ``dtype``.

    ``fields`` (one field id per feature) is needed to start training. V starts
    ~ N(0, init_std²), w0 and w at 0, and R at 1: training starts from the plain FM.
    """

    name: ClassVar[str] = "fwfm"
    families: ClassVar[frozenset[str]] = frozenset({"sgd"})

    def __init__(self, n_factors: int, init_std: float = 0.1, dtype=np.float64, fields=None):
        self.n_factors = int(n_factors)
        self.init_std = float(init_std)
        self._dtype = np.dtype(dtype).type
        self.fields = fields

    @property
    def dtype(self) -> type:
        return self._dtype

    def init_params(self, n_features: int, rng: np.random.Generator) -> FwFMParams:
        if self.fields is None:
            raise ValueError(
                "a field-weighted FM needs the field of every feature: fit(X, y, fields=…) "
                "with one field id per column (load_libffm returns them; so does "
                "FMEncoder.fields_)."
            )
        fields = check_fields(self.fields, n_features)
        n_fields = max(int(fields.max()) + 1, 0) if fields.size else 0
        _check_field_pairs(n_fields, self.dtype)
        k = self.n_factors
        V = normal_table(rng, (n_features, k), self.init_std, self.dtype)
        return FwFMParams(
            np.zeros(1, dtype=self.dtype),
            np.zeros(n_features, dtype=self.dtype),
            V,
            np.ones((n_fields, n_fields), dtype=self.dtype),
            fields,
        )

    def decision(self, X: sp.csr_matrix, params: FwFMParams, n_threads: int = 1) -> np.ndarray:
        """ŷ for every row; the same per-row kernel on one or several threads (same bits)."""
        out = np.empty(X.shape[0], dtype=np.float64)
        indptr, indices, data = csr_arrays(X)
        w0 = float(params.w0[0])
        args = (indptr, indices, data, params.fields, w0, params.w, params.V, params.R, out)
        if X.shape[0] < PARALLEL_PREDICT_MIN_ROWS or n_threads <= 1:
            fwfm_kernels.predict_fwfm_csr(*args)
            return out
        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            fwfm_kernels.predict_fwfm_csr_parallel(*args, PREDICT_BLOCK_ROWS)
        finally:
            numba.set_num_threads(previous)
        return out

    def sgd_epoch(
        self, X, y, sample_weight, order, params, state, hp, codes, t0, batch_size, n_chunks
    ) -> float:
        """One SGD-family pass (kernels/fwfm.py), row by row; Σ weighted loss."""
        if batch_size != 1:
            raise ValueError("the field-weighted FM trains row by row (batch_size=1)")
        args = (X, y, sample_weight, order, params.fields, params.as_tuple(), state, hp, codes)
        if n_chunks == 1:
            return fwfm_kernels.fwfm_sgd_epoch(*args, t0)
        return fwfm_kernels.fwfm_sgd_epoch_hogwild(*args, t0, n_chunks)

    def params_from_arrays(
        self, arrays: dict[str, np.ndarray], n_features: int, check_values: bool = True
    ) -> FwFMParams:
        missing = [name for name in ("w0_", "w_", "V_", "R_", "fields_") if name not in arrays]
        if missing:
            raise ValueError(f"missing array {missing[0]}")
        w0, w, V, R = arrays["w0_"], arrays["w_"], arrays["V_"], arrays["R_"]
        if V.dtype not in (np.float32, np.float64) or any(a.dtype != V.dtype for a in (w0, w, R)):
            raise ValueError(f"parameter dtypes {w0.dtype}, {w.dtype}, {V.dtype}, {R.dtype}")
        if V.ndim != 2 or w.shape != (V.shape[0],) or w0.shape != (1,):
            raise ValueError(f"parameter shapes {w0.shape}, {w.shape}, {V.shape}")
        if R.ndim != 2 or R.shape[0] != R.shape[1]:
            raise ValueError(f"R_ must be square; it has shape {R.shape}")
        if not np.array_equal(R, R.T):
            raise ValueError("R_ must be symmetric (one strength per pair of fields)")
        if V.shape[0] != n_features:
            raise ValueError(f"V_ has {V.shape[0]} rows but n_features_in_={n_features}")
        if V.shape[1] != self.n_factors:
            raise ValueError(f"V_ has {V.shape[1]} columns but n_factors={self.n_factors}")
        fields = check_fields(arrays["fields_"], n_features)
        if fields.size and fields.max() >= R.shape[0]:
            raise ValueError(f"fields_ names field {fields.max()} but R_ has {R.shape[0]}")
        if check_values and not all(np.all(np.isfinite(a)) for a in (w0, w, V, R)):
            raise ValueError("parameters contain NaN or infinity")
        return FwFMParams(w0, w, V, np.ascontiguousarray(R), fields)

    @classmethod
    def saved_rank(cls, arrays):
        V = arrays.get("V_")
        return int(V.shape[-1]) if isinstance(V, np.ndarray) and V.ndim == 2 else None

    def params_from_estimator(self, estimator) -> FwFMParams:
        V = estimator.V_
        w0 = np.array([estimator.w0_], dtype=V.dtype)
        # a continued fit's model carries the fields it filled in (ffm._continued_fields)
        fields = estimator.fields_ if self.fields is None else self.fields
        return FwFMParams(w0, estimator.w_, V, estimator.R_, fields)


def _check_field_pairs(n_fields: int, dtype) -> None:
    """Refuse, before allocating, a field-pair table (n_fields²) larger than memory: field
    ids are numbered 0…F−1, so one huge id (a hashed value passed as a field) asks for it."""
    size = n_fields * n_fields * np.dtype(dtype).itemsize
    memory = physical_memory()
    if memory is not None and size > memory // 4:
        raise MemoryError(
            f"fields_ name {n_fields:,} fields, so the field-pair strengths R would take "
            f"{format_bytes(size)} ({n_fields:,}² values) of this machine's "
            f"{format_bytes(memory)}. Field ids must be numbered 0, 1, … (one per column "
            "group: user, item, site …), not hashed."
        )
