"""Dask arrays of CSR row blocks: from a matrix in memory, or one block per text file."""

from __future__ import annotations

import glob
import os

import numpy as np
import scipy.sparse as sp

from fmlearn.io import load_libffm, load_libfm, load_libsvm


def from_sparse(X, y=None, *, chunk_rows: int = 100_000):
    """``X`` (any scipy.sparse matrix) as a dask array of CSR blocks of ``chunk_rows`` rows,
    and ``y`` cut the same way (if given): ``(X, y)`` or ``X``."""
    import dask
    import dask.array as da

    X = sp.csr_matrix(X)
    if not isinstance(chunk_rows, int | np.integer) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be an int ≥ 1; got {chunk_rows!r}")
    n, m = X.shape
    meta = sp.csr_matrix((0, m), dtype=X.dtype)
    blocks = [
        da.from_delayed(dask.delayed(X[lo : lo + chunk_rows]), (min(chunk_rows, n - lo), m),
                        dtype=X.dtype, meta=meta)
        for lo in range(0, n, chunk_rows)
    ]  # fmt: skip
    dX = da.concatenate(blocks, axis=0)
    if y is None:
        return dX
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y has shape {y.shape}; X has {n} rows.")
    return dX, da.from_array(y, chunks=(dX.chunks[0],))


def _paths(paths) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    found = []
    for p in paths:
        matches = sorted(glob.glob(os.fspath(p))) if glob.has_magic(os.fspath(p)) else [p]
        if not matches:
            raise FileNotFoundError(f"no file matches {os.fspath(p)!r}")
        found.extend(os.fspath(m) for m in matches)
    return found


def _shape(loader, path, kwargs) -> tuple[int, int]:
    X = loader(path, **kwargs)[0]
    return X.shape


def _read(loader, paths, n_features, kwargs):
    import dask
    import dask.array as da

    paths = _paths(paths)
    kwargs = dict(kwargs)
    shapes = dask.compute(*[dask.delayed(_shape)(loader, p, kwargs) for p in paths])
    width = max(s[1] for s in shapes) if n_features is None else int(n_features)
    kwargs["n_features"] = width
    dtype = np.dtype(kwargs.get("dtype", np.float64))
    loaded = [dask.delayed(loader)(p, **kwargs) for p in paths]
    meta = sp.csr_matrix((0, width), dtype=dtype)
    X = da.concatenate(
        [da.from_delayed(part[0], (s[0], width), dtype=dtype, meta=meta)
         for part, s in zip(loaded, shapes, strict=True)],
        axis=0,
    )  # fmt: skip
    y = da.concatenate(
        [da.from_delayed(part[1], (s[0],), dtype=np.float64)
         for part, s in zip(loaded, shapes, strict=True)]
    )  # fmt: skip
    return X, y, loaded, paths


def read_libfm(paths, *, n_features: int | None = None, dtype=np.float64, zero_based=True):
    """Text files in libFM format (a path, a glob such as ``"day_*.libfm"``, or a list) as
    ``(X, y)`` dask arrays, one CSR block per file.

    A first pass over the files (in parallel, on the workers) finds each file's rows and,
    unless ``n_features`` is given, the widest feature index; the blocks are then read when
    computed. Errors name the file and the line, as :func:`fmlearn.io.load_libfm`'s do.
    """
    kwargs = {"dtype": dtype, "zero_based": zero_based}
    X, y, *_ = _read(load_libfm, paths, n_features, kwargs)
    return X, y


def read_libsvm(paths, *, n_features: int | None = None, dtype=np.float64, zero_based=False):
    """libSVM files as :func:`read_libfm` reads libFM files. ``zero_based`` is fixed for
    all files (default one-based, LIBSVM's convention): "auto" would decide file by file."""
    if zero_based == "auto":
        raise ValueError(
            "read_libsvm reads many files: give zero_based=True or False, the same for all "
            '("auto" could read two files of one data set differently).'
        )
    kwargs = {"dtype": dtype, "zero_based": zero_based}
    X, y, *_ = _read(load_libsvm, paths, n_features, kwargs)
    return X, y


def read_libffm(paths, *, n_features: int | None = None, dtype=np.float64, zero_based=True):
    """libffm files as ``(X, y, fields)``: dask arrays of rows and labels, one block per
    file, and the numpy field of every feature over all files (−1 for features unused)."""
    import dask

    kwargs = {"dtype": dtype, "zero_based": zero_based}
    X, y, loaded, paths = _read(load_libffm, paths, n_features, kwargs)
    per_file = dask.compute(*[part[2] for part in loaded])
    fields = np.full(X.shape[1], -1, dtype=np.int32)
    for path, f in zip(paths, per_file, strict=True):
        clash = np.flatnonzero((fields >= 0) & (f >= 0) & (fields != f))
        if clash.size:
            j = int(clash[0])
            raise ValueError(
                f"{path}: feature {j} is in field {int(f[j])}, but an earlier file put it in "
                f"field {int(fields[j])}."
            )
        fields = np.where(f >= 0, f, fields)
    return X, y, fields
