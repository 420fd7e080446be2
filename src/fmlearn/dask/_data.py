"""Dask arrays of CSR row blocks: from a matrix in memory, or from text files (one block per
file, or per ``blocksize`` bytes of each file)."""

from __future__ import annotations

import glob
import os
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from fmlearn.io import load_libffm, load_libfm, load_libsvm
from fmlearn.io.stream import _FORMATS, _chunk_starts, lines_before, parse_range
from fmlearn.io.text import _assign_fields, _csr, _opener, _to_columns


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


def _blocksize(blocksize) -> int | None:
    """Bytes per block (``"64MB"``-style strings as Dask's readers take them), or None."""
    if blocksize is None:
        return None
    if isinstance(blocksize, str):
        from dask.utils import parse_bytes

        try:
            blocksize = parse_bytes(blocksize)
        except ValueError as exc:
            raise ValueError(f"blocksize: {exc}") from None
    if not isinstance(blocksize, int | np.integer) or isinstance(blocksize, bool) or blocksize < 1:
        raise ValueError(f'blocksize must be a number of bytes ≥ 1 (or "64MB"); got {blocksize!r}')
    return int(blocksize)


def _range(path: str, start: int, stop: int) -> np.ndarray:
    buf = np.empty(stop - start, dtype=np.uint8)
    with open(path, "rb") as f:
        f.seek(start)
        f.readinto(memoryview(buf))
    return buf


def _parsed_range(fmt: str, path: str, start: int, stop: int, kwargs: dict):
    """Bytes ``start``–``stop`` of a file (whole lines) parsed; an error names the file's
    line, the lines before the range counted only then."""
    return parse_range(path, _range(path, start, stop), _FORMATS[fmt], kwargs["dtype"],
                       lambda: lines_before(path, start))  # fmt: skip


def _block_shape(fmt, path, start, stop, kwargs) -> tuple[int, int]:
    """Rows of a block (a byte range of a file, cut at line ends) and the columns its
    indices need, from that range alone (no pass over the whole file)."""
    parsed = _parsed_range(fmt, path, start, stop, kwargs)
    base = int(not kwargs["zero_based"])
    width = int(parsed.indices.max()) + 1 - base if parsed.indices.shape[0] else 0
    return parsed.y.shape[0], width


def _block(fmt, path, start, stop, kwargs, n_features):
    """``(X, y, fields)`` of a block: its rows as CSR with ``n_features`` columns, checked
    as the file readers check them (errors name the file's line)."""
    parsed = _parsed_range(fmt, path, start, stop, kwargs)
    base = int(not kwargs["zero_based"])
    _to_columns(parsed, base, n_features)
    ffm = _FORMATS[fmt].ffm
    field_of = np.full(n_features if ffm else 0, -1, dtype=np.int32)
    if ffm:
        _assign_fields(parsed, field_of, base, "error")
    return _csr(parsed, n_features), parsed.y, field_of


def _read(loader, paths, n_features, kwargs, blocksize=None):
    import dask
    import dask.array as da

    paths = _paths(paths)
    kwargs = dict(kwargs)
    blocksize = _blocksize(blocksize)
    fmt = {load_libfm: "libfm", load_libsvm: "libsvm", load_libffm: "libffm"}[loader]
    if blocksize is not None and kwargs["zero_based"] == "auto":
        raise ValueError(
            'zero_based="auto" decides from a whole file, and blocksize reads byte ranges: '
            "give zero_based=True or False."
        )
    # one block per file, or per blocksize bytes of an uncompressed file:
    # (path, None) for a whole file, else (path, (start, stop)) of a block
    parts = []
    for p in paths:
        starts = None if blocksize is None or _opener(p) else _chunk_starts(p, blocksize)
        if starts is None or len(starts) < 3:
            parts.append((p, None))
        else:
            parts.extend((p, (int(a), int(b))) for a, b in pairwise(starts))
    shape = dask.delayed(_shape)
    block_shape = dask.delayed(_block_shape)
    shapes = dask.compute(*[
        shape(loader, p, kwargs) if r is None else block_shape(fmt, p, *r, kwargs)
        for p, r in parts
    ])  # fmt: skip
    width = max(s[1] for s in shapes) if n_features is None else int(n_features)
    kwargs["n_features"] = width
    dtype = np.dtype(kwargs.get("dtype", np.float64))
    read_file, read_block = dask.delayed(loader), dask.delayed(_block, nout=3)
    loaded = [
        read_file(p, **kwargs) if r is None else read_block(fmt, p, *r, kwargs, width)
        for p, r in parts
    ]  # fmt: skip
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
    return X, y, loaded, [p for p, _ in parts]


def read_libfm(paths, *, n_features: int | None = None, dtype=np.float64, zero_based=True,
               blocksize=None):  # fmt: skip
    """Text files in libFM format (a path, a glob such as ``"day_*.libfm"``, or a list) as
    ``(X, y)`` dask arrays of CSR blocks: one per file, or with ``blocksize`` (bytes, or
    ``"64MB"``) one per that many bytes of each file, cut at a line end, so that one large
    file trains on many workers. Compressed files (``.gz``, ``.bz2``, ``.xz``) cannot be
    cut: they stay one block each.

    A first pass over the blocks (in parallel, on the workers) finds each one's rows and,
    unless ``n_features`` is given, the widest feature index; the blocks are then read when
    computed. Errors name the file and the line, as :func:`fmlearn.io.load_libfm`'s do.
    The workers read the paths themselves: on a cluster, a file system they all see.
    """
    kwargs = {"dtype": dtype, "zero_based": zero_based}
    X, y, *_ = _read(load_libfm, paths, n_features, kwargs, blocksize)
    return X, y


def read_libsvm(paths, *, n_features: int | None = None, dtype=np.float64, zero_based=False,
                blocksize=None):  # fmt: skip
    """libSVM files as :func:`read_libfm` reads libFM files. ``zero_based`` is fixed for
    all files (default one-based, LIBSVM's convention): "auto" would decide file by file."""
    if zero_based == "auto":
        raise ValueError(
            "read_libsvm reads many files: give zero_based=True or False, the same for all "
            '("auto" could read two files of one data set differently).'
        )
    kwargs = {"dtype": dtype, "zero_based": zero_based}
    X, y, *_ = _read(load_libsvm, paths, n_features, kwargs, blocksize)
    return X, y


def read_libffm(paths, *, n_features: int | None = None, dtype=np.float64, zero_based=True,
                blocksize=None):  # fmt: skip
    """libffm files as ``(X, y, fields)``: dask arrays of rows and labels, blocks as
    :func:`read_libfm` cuts them, and the numpy field of every feature over all files
    (−1 for features unused)."""
    import dask

    kwargs = {"dtype": dtype, "zero_based": zero_based}
    X, y, loaded, paths = _read(load_libffm, paths, n_features, kwargs, blocksize)
    per_file = dask.compute(*[part[2] for part in loaded])
    fields = np.full(X.shape[1], -1, dtype=np.int32)
    for path, f in zip(paths, per_file, strict=True):
        clash = np.flatnonzero((fields >= 0) & (f >= 0) & (fields != f))
        if clash.size:
            j = int(clash[0])
            raise ValueError(
                f"{path}: feature {j} is in field {int(f[j])}, but an earlier file (or an "
                f"earlier block of this one) put it in field {int(fields[j])}."
            )
        fields = np.where(f >= 0, f, fields)
    return X, y, fields
