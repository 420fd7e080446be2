"""Dask arrays of CSR row blocks: from a matrix in memory, or from text files (one block per
file, or per ``blocksize`` bytes of each file)."""

from __future__ import annotations

import glob
import os

import numpy as np
import scipy.sparse as sp

from fmlearn.io import load_libffm, load_libfm, load_libsvm
from fmlearn.io.stream import _FORMATS, FileStream, _chunk_starts
from fmlearn.io.text import _opener, _parse, _Source


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


def _stream(fmt: str, path: str, kwargs: dict, blocksize: int, n_features: int) -> FileStream:
    return FileStream(path, format=fmt, n_features=n_features, zero_based=kwargs["zero_based"],
                      dtype=kwargs["dtype"], chunk_bytes=blocksize)  # fmt: skip


def _block_shape(fmt, path, j, kwargs, blocksize) -> tuple[int, int]:
    """Rows of block j of a file and the columns its indices need (parsed from its byte
    range alone: no first pass over the whole file). A malformed line is reported when
    the block is read (:func:`_block`), with its line number."""
    starts = _chunk_starts(path, blocksize)
    start, stop = int(starts[j]), int(starts[j + 1])
    buf = np.empty(stop - start, dtype=np.uint8)
    with open(path, "rb") as f:
        f.seek(start)
        f.readinto(memoryview(buf))
    try:
        parsed = _parse(_Source(path, buf, 0), _FORMATS[fmt], kwargs["dtype"], "first")
    except ValueError:  # named with the right line number where the block is read
        return _block(fmt, path, j, kwargs, blocksize, 1)[0].shape
    base = int(not kwargs["zero_based"])
    width = int(parsed.indices.max()) + 1 - base if parsed.indices.shape[0] else 0
    return parsed.y.shape[0], width


def _block(fmt, path, j, kwargs, blocksize, n_features):
    """``(X, y, fields)`` of block j (a byte range cut at a line end) of a file; errors
    name the file's line, as FileStream's chunks do (it reads them)."""
    stream = _stream(fmt, path, kwargs, blocksize, n_features)
    chunk = next(iter(stream.chunks(order=[j])), None)
    if chunk is None:  # a range of blank or comment lines only
        return sp.csr_matrix((0, n_features), dtype=stream.dtype), np.zeros(0), stream._field_of
    return chunk.X, chunk.y, stream._field_of


def _read(loader, paths, n_features, kwargs, blocksize=None):
    import dask
    import dask.array as da

    paths = _paths(paths)
    kwargs = dict(kwargs)
    blocksize = _blocksize(blocksize)
    fmt = {load_libfm: "libfm", load_libsvm: "libsvm", load_libffm: "libffm"}[loader]
    # one block per file, or per blocksize bytes of an uncompressed file
    parts = []
    for p in paths:
        n = 1 if blocksize is None or _opener(p) else len(_chunk_starts(p, blocksize)) - 1
        parts.extend((p, j if blocksize is not None and n > 1 else None) for j in range(n))
    shape = dask.delayed(_shape)
    block_shape = dask.delayed(_block_shape)
    shapes = dask.compute(*[
        shape(loader, p, kwargs) if j is None else block_shape(fmt, p, j, kwargs, blocksize)
        for p, j in parts
    ])  # fmt: skip
    width = max(s[1] for s in shapes) if n_features is None else int(n_features)
    kwargs["n_features"] = width
    dtype = np.dtype(kwargs.get("dtype", np.float64))
    read_file, read_block = dask.delayed(loader), dask.delayed(_block, nout=3)
    loaded = [
        read_file(p, **kwargs) if j is None
        else read_block(fmt, p, j, kwargs, blocksize, width)
        for p, j in parts
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
