"""FMEncoder on a dask DataFrame: fitted from the partitions' summaries, applied partition by
partition."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from fmlearn.io.encoder import FMEncoder


def _summaries(encoder: FMEncoder, frame, kinds) -> list:
    return encoder._summaries(frame, kinds)


def _merged(encoder: FMEncoder, kinds, a: list, b: list) -> list:
    return [encoder._merged(kind, x, y) for kind, x, y in zip(kinds, a, b, strict=True)]


def fit_encoder(frame, encoder: FMEncoder | None = None) -> FMEncoder:
    """An :class:`~fmlearn.FMEncoder` (``encoder``'s parameters, default ``FMEncoder()``)
    fitted on a dask DataFrame, as ``encoder.fit(frame.compute())`` would be.

    Each partition summarises its columns on its worker (value counts, the moments of the
    numbers); the summaries are merged pairwise in a tree, so no machine holds more than
    two at once; the columns' kinds (and a set column's separator) come from the first
    partition. ``numeric="bin"`` gathers a column's values for exact quantiles.
    """
    import dask
    import dask.dataframe as dd

    if not isinstance(frame, dd.DataFrame):
        raise TypeError(f"fit_encoder needs a dask DataFrame; got {type(frame).__name__}.")
    encoder = FMEncoder() if encoder is None else clone(encoder)
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"FMEncoder needs unique column names; got {names}.")
    first = frame.get_partition(0).compute()
    encoder.fit(first)  # checks the parameters and the column lists against the columns
    kinds = encoder._kinds(first)
    parts = [dask.delayed(_summaries)(encoder, part, kinds) for part in frame.to_delayed()]
    while len(parts) > 1:  # a tree: pairs, then pairs of pairs
        merged = [dask.delayed(_merged)(encoder, kinds, a, b)
                  for a, b in zip(parts[::2], parts[1::2], strict=False)]  # fmt: skip
        parts = merged + ([parts[-1]] if len(parts) % 2 else [])
    (summaries,) = dask.compute(parts[0])
    return encoder._fit_summaries(names, kinds, summaries)


def _encoded(encoder: FMEncoder, frame):
    return sp.csr_matrix(encoder.transform(frame))


def encode(encoder: FMEncoder, frame):
    """The design matrix of a dask DataFrame: a dask array of CSR blocks, one per
    partition, with known sizes (a first pass counts the partitions' rows), for
    :class:`DaskFMRegressor` / :class:`DaskFMClassifier`. Columns are ``encoder``'s
    layout: ``encoder.fields_`` and ``encoder.groups_`` apply."""
    import dask
    import dask.array as da

    if not hasattr(encoder, "columns_"):
        raise ValueError("encode needs a fitted FMEncoder (fit_encoder(frame) makes one).")
    lengths = dask.compute(*[dask.delayed(len)(p) for p in frame.to_delayed()])
    width = encoder.n_features_out_
    dtype = np.dtype(encoder.dtype)
    meta = sp.csr_matrix((0, width), dtype=dtype)
    blocks = [
        da.from_delayed(dask.delayed(_encoded)(encoder, part), (n, width), dtype=dtype, meta=meta)
        for part, n in zip(frame.to_delayed(), lengths, strict=True)
    ]
    return da.concatenate(blocks, axis=0)
