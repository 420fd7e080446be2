"""A CSR design matrix that carries the field of each column.

Why: a scikit-learn ``Pipeline`` hands only ``X`` from one step to the next, so
``make_pipeline(FMEncoder(), FFMClassifier())`` had no way to give the model the encoder's
``fields_``. ``FMEncoder.transform`` and ``load_libffm`` return this matrix; the
field-aware estimators read ``X.fields`` when ``fit`` gets no ``fields=`` and check it
against ``fields_`` at predict time. To every other consumer it is a plain
``scipy.sparse.csr_matrix``.

Row selections (``X[rows]``, ``train_test_split``), ``copy`` and ``astype`` keep the
fields; any operation that may change the columns (column slicing, ``hstack``, products)
returns a matrix whose ``fields`` is None, never wrong ones.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class FieldMatrix(sp.csr_matrix):
    """``scipy.sparse.csr_matrix`` plus ``fields`` (int32, one field id per column, or None)."""

    fields: np.ndarray | None = None

    @classmethod
    def wrap(cls, X: sp.csr_matrix, fields) -> FieldMatrix:
        """``X`` (CSR, not copied) with ``fields``; they must name every column."""
        fields = np.array(fields, dtype=np.int32)  # a copy, read-only: selections share it
        fields.flags.writeable = False
        if fields.shape != (X.shape[1],):
            raise ValueError(f"fields has shape {fields.shape}; X has {X.shape[1]} columns.")
        out = cls((X.data, X.indices, X.indptr), shape=X.shape, copy=False)
        out.fields = fields
        return out

    def _keep_fields(self, out):
        if isinstance(out, FieldMatrix) and out.shape[1] == self.shape[1]:
            out.fields = self.fields
        return out

    def _with_data(self, data, copy=True):
        # Same structure, new values (astype, copy, abs, scalar products): same columns.
        return self._keep_fields(super()._with_data(data, copy=copy))

    def __getitem__(self, key):
        out = super().__getitem__(key)
        # X[rows], X[rows, :] and X[rows, ...] (scikit-learn's row indexing) keep the columns.
        whole_rows = not isinstance(key, tuple) or all(
            k is Ellipsis or (isinstance(k, slice) and k == slice(None)) for k in key[1:]
        )
        return self._keep_fields(out) if whole_rows else out

    def __repr__(self) -> str:
        n_fields = "no" if self.fields is None else int(self.fields.max(initial=-1)) + 1
        n, m = self.shape
        return f"<FieldMatrix {n}×{m}, {self.nnz} stored, {n_fields} fields>"


def fields_of(X) -> np.ndarray | None:
    """The fields ``X`` carries (a :class:`FieldMatrix`), else None."""
    return getattr(X, "fields", None) if isinstance(X, FieldMatrix) else None
