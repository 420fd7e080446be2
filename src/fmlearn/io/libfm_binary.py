"""libFM's binary files and the files of its block structure (``libFM -relation``).

libFM's relations (Rendle, VLDB 2013) arrive as files that its own tools write, and a
script that runs ``libFM -relation user,item`` has them on disk already: for a relation
``PREFIX``, the block's design as a binary sparse matrix ``PREFIX.x`` (from libFM's
``convert``) and/or its transpose ``PREFIX.xt`` (from ``transpose``), optional hyperprior
groups ``PREFIX.groups``, and the block row of every data row in ``PREFIX.train`` and
``PREFIX.test``. This module reads them (and writes the binary ones, so that tests and
users can make them without libFM) so that ``fmlearn libfm`` runs such scripts unchanged.
The layouts, from libFM 1.4's ``util/fmatrix.h``, ``util/matrix.h`` and
``libfm/src/relation.h``, all little-endian:

* sparse matrix (``.x``, ``.xt``; also the main table's binary ``NAME.x``): a 24-byte
  header ``uint32 file_id = 2, uint32 float_size = 4, uint64 num_values, uint32 num_rows,
  uint32 num_cols``, then per row ``uint32 size`` followed by ``size`` entries of
  ``uint32 id, float32 value`` (libFM's ``DATA_FLOAT`` is ``float``), in the order the
  text had them (not sorted). ``.xt`` is the same with rows and columns swapped.
* dense vector (``.y`` targets, binary index files): a 12-byte header ``uint32 version
  = 1, uint32 value_size, uint32 n`` then ``n`` values (``float32`` targets, ``uint32``
  block rows).
* index files ``PREFIX.train``/``.test``: that binary vector when its first two words are
  ``1, 4`` (libFM's own test), else text, one block row (from 0) per line.
* groups (``PREFIX.groups``, like ``-meta``): text, one group id per line, one line per
  block feature.

Reading is numpy throughout: one ``np.fromfile`` per file and array operations per value.
Only the row starts of a sparse matrix are found by one Python step per *row* — each row's
length word says where the next row starts, so they cannot be found otherwise — never per
value. Every error is one line naming the file (and, for text, the line): truncated or
corrupt files, a wrong file id or value size, a row number outside the block, an index
file with the wrong number of rows, a missing file. Writers are atomic
(:func:`fmlearn._utils.atomic_write`).

Two differences from libFM, both deliberate: a feature repeated within a row is summed
into one entry (as fmlearn's text readers do: an FM needs each feature once per row), and
values that are NaN or infinite are refused (no model can train on them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from fmlearn._utils import atomic_write
from fmlearn.relations import RelationBlock

#: libFM's ``FMATRIX_EXPECTED_FILE_ID``: the first word of a binary sparse matrix.
MATRIX_FILE_ID = 2
#: libFM's ``DVECTOR_EXPECTED_FILE_ID``: the first word of a binary dense vector.
VECTOR_FILE_ID = 1

_MATRIX_HEADER = np.dtype(
    [
        ("file_id", "<u4"),
        ("float_size", "<u4"),
        ("num_values", "<u8"),
        ("num_rows", "<u4"),
        ("num_cols", "<u4"),
    ]
)  # 24 bytes: the uint64 sits at offset 8, so the C struct has no padding
_VECTOR_HEADER = np.dtype([("version", "<u4"), ("value_size", "<u4"), ("n", "<u4")])
_UINT32_MAX = np.iinfo(np.uint32).max
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_MAX_DIGITS = 10  # 4294967295, the largest uint32, has 10


# ------------------------------------------------------------------- sparse matrices
def read_binary_matrix(path: str | os.PathLike) -> sp.csr_matrix:
    """A libFM binary sparse matrix (``.x``, ``.xt``) as CSR with float32 values.

    The shape is the header's ``(num_rows, num_cols)``; entries are sorted within each
    row and a repeated feature's values summed. An ``.xt`` file reads as the transpose of
    its ``.x`` (take ``.T``). Raises ``ValueError`` naming the file if it is truncated
    or corrupt, or is not libFM's format, and ``FileNotFoundError`` if it is missing.
    """
    name = os.fspath(path)
    with _open(name) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < _MATRIX_HEADER.itemsize:
            raise ValueError(
                f"{name}: truncated: {size} bytes, less than the {_MATRIX_HEADER.itemsize}-byte "
                "header of a libFM binary matrix."
            )
        head = np.frombuffer(fh.read(_MATRIX_HEADER.itemsize), _MATRIX_HEADER)[0]
        file_id, float_size = int(head["file_id"]), int(head["float_size"])
        if file_id != MATRIX_FILE_ID:
            raise ValueError(
                f"{name}: not a libFM binary sparse matrix (file id {file_id}; libFM's convert "
                f"and transpose write {MATRIX_FILE_ID})."
            )
        if float_size != 4:
            raise ValueError(
                f"{name}: values of {float_size} bytes; libFM's binary matrices hold 4-byte "
                "floats (DATA_FLOAT)."
            )
        body = size - _MATRIX_HEADER.itemsize
        if body % 4:
            raise ValueError(
                f"{name}: truncated or corrupt: its rows take {body} bytes, not a whole "
                "number of 4-byte words."
            )
        words = np.fromfile(fh, dtype="<u4", count=body // 4)
    if words.shape[0] != body // 4:  # the file shrank while being read
        raise ValueError(f"{name}: truncated: could not read its {body} bytes of rows.")
    if not words.dtype.isnative:
        words = words.astype(np.uint32)
    n_rows, n_cols = int(head["num_rows"]), int(head["num_cols"])
    n_values = int(head["num_values"])
    starts = _row_starts(name, words, n_rows)
    sizes = words[starts].astype(np.int64)
    indptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(sizes, out=indptr[1:])
    if indptr[-1] != n_values:
        raise ValueError(
            f"{name}: corrupt: its rows hold {indptr[-1]} values, its header says {n_values}."
        )
    entries = np.ones(words.shape[0], bool)
    entries[starts] = False
    pairs = words[entries].reshape(-1, 2)
    del entries, words
    ids = pairs[:, 0]
    values = pairs[:, 1].copy().view(np.float32)
    outside = np.flatnonzero(ids >= n_cols)
    if outside.size:
        p = int(outside[0])
        raise ValueError(
            f"{name}: corrupt: row {_row_of(indptr, p)} has column id {ids[p]}, but the "
            f"header says {n_cols} columns."
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        p = int(bad[0])
        raise ValueError(
            f"{name}: row {_row_of(indptr, p)}: value {values[p]} for column {ids[p]}; "
            "values must be finite."
        )
    index_dtype = np.int32 if max(n_cols, n_values) < np.iinfo(np.int32).max else np.int64
    X = sp.csr_matrix(
        (values, ids.astype(index_dtype), indptr.astype(index_dtype, copy=False)),
        shape=(n_rows, n_cols),
    )
    X.sum_duplicates()  # sorts each row; libFM keeps the text's order
    return X


def _row_starts(name: str, words: np.ndarray, n_rows: int) -> np.ndarray:
    """The word position of each row's length word: a walk, since row r's length says
    where row r + 1 starts (one Python step per row, none per value)."""
    starts = np.empty(n_rows, np.int64)
    view = memoryview(words)
    n = len(view)
    p, r = 0, 0
    while r < n_rows and p < n:
        starts[r] = p
        p += 1 + 2 * view[p]
        r += 1
    if r < n_rows or p > n:
        row = r if r < n_rows else r - 1
        raise ValueError(
            f"{name}: truncated: the header announces {n_rows} rows, and the file ends in row "
            f"{row}."
        )
    if p < n:
        raise ValueError(
            f"{name}: corrupt: {4 * (n - p)} bytes after the {n_rows} rows its header announces."
        )
    return starts


def _row_of(indptr: np.ndarray, entry: int) -> int:
    return int(np.searchsorted(indptr, entry, side="right")) - 1


def write_binary_matrix(path: str | os.PathLike, X) -> None:
    """Write ``X`` (sparse or dense) as libFM's binary sparse matrix, as ``convert``
    writes ``.x`` (for an ``.xt``, write ``X.T``).

    Values are stored as float32, libFM's ``DATA_FLOAT``; entries sorted within rows,
    explicit zeros kept. The file appears complete or not at all.
    """
    name = os.fspath(path)
    X = sp.csr_matrix(X, copy=True)
    X.sum_duplicates()
    n_rows, n_cols = X.shape
    if max(n_rows, n_cols) > _UINT32_MAX:
        raise ValueError(
            f"{name}: a libFM binary matrix has at most {_UINT32_MAX} rows and columns; "
            f"X has shape {X.shape}."
        )
    data = np.asarray(X.data, dtype=np.float64)
    if not np.all(np.isfinite(data)) or (data.size and np.abs(data).max() > _FLOAT32_MAX):
        raise ValueError(
            f"{name}: X has values that are not finite float32 numbers (libFM's DATA_FLOAT)."
        )
    indptr = X.indptr.astype(np.int64)
    sizes = np.diff(indptr)
    nnz = int(indptr[-1])
    body = np.empty(n_rows + 2 * nnz, dtype="<u4")
    body[np.arange(n_rows) + 2 * indptr[:-1]] = sizes
    id_at = np.repeat(np.arange(n_rows, dtype=np.int64), sizes) + 1 + 2 * np.arange(nnz)
    body[id_at] = X.indices
    body[id_at + 1] = data.astype("<f4").view("<u4")
    head = np.array([(MATRIX_FILE_ID, 4, nnz, n_rows, n_cols)], _MATRIX_HEADER)

    def write(fh) -> None:
        fh.write(head.tobytes())
        fh.write(body.view(np.uint8))

    atomic_write(name, write)


# --------------------------------------------------------------------- dense vectors
def read_binary_vector(path: str | os.PathLike, dtype) -> np.ndarray:
    """A libFM binary dense vector (``DVector::saveToBinaryFile``: ``.y`` targets as
    ``np.float32``, binary index files as ``np.uint32``) as a numpy array."""
    name = os.fspath(path)
    dtype = np.dtype(dtype).newbyteorder("<")
    with _open(name) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < _VECTOR_HEADER.itemsize:
            raise ValueError(
                f"{name}: truncated: {size} bytes, less than the {_VECTOR_HEADER.itemsize}-byte "
                "header of a libFM binary vector."
            )
        head = np.frombuffer(fh.read(_VECTOR_HEADER.itemsize), _VECTOR_HEADER)[0]
        version, value_size, n = (int(head[f]) for f in ("version", "value_size", "n"))
        if version != VECTOR_FILE_ID or value_size != dtype.itemsize:
            raise ValueError(
                f"{name}: not a libFM binary vector of {dtype.itemsize}-byte values (file "
                f"version {version}, value size {value_size}; expected {VECTOR_FILE_ID}, "
                f"{dtype.itemsize})."
            )
        expected = _VECTOR_HEADER.itemsize + n * dtype.itemsize
        if size != expected:
            state = "truncated" if size < expected else "corrupt"
            raise ValueError(
                f"{name}: {state}: {size} bytes, but its header announces {n} values "
                f"({expected} bytes)."
            )
        values = np.fromfile(fh, dtype=dtype, count=n)
    if values.shape[0] != n:
        raise ValueError(f"{name}: truncated: could not read its {n} values.")
    return values.astype(dtype.newbyteorder("="), copy=False)


def write_binary_vector(path: str | os.PathLike, values, dtype) -> None:
    """Write ``values`` as libFM's binary dense vector of ``dtype`` (``np.float32`` for
    ``.y`` targets, ``np.uint32`` for index files), atomically."""
    name = os.fspath(path)
    dtype = np.dtype(dtype)
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] > _UINT32_MAX:
        raise ValueError(f"{name}: a libFM vector is 1-dimensional; got shape {values.shape}.")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if values.size and (
            values.dtype.kind not in "iu" or values.min() < info.min or values.max() > info.max
        ):
            raise ValueError(f"{name}: values must be integers in {info.min}…{info.max}.")
    elif values.size and not np.all(np.isfinite(values.astype(dtype))):
        raise ValueError(f"{name}: values must be finite {dtype} numbers.")
    data = values.astype(dtype.newbyteorder("<"))
    head = np.array([(VECTOR_FILE_ID, dtype.itemsize, data.shape[0])], _VECTOR_HEADER)

    def write(fh) -> None:
        fh.write(head.tobytes())
        fh.write(data.tobytes())

    atomic_write(name, write)


# ---------------------------------------------------------------- index and groups
def read_relation_index(
    path: str | os.PathLike,
    n_rows: int,
    n_block_rows: int | None = None,
    *,
    rows_of: str = "the data",
) -> np.ndarray:
    """The block row (from 0) of each of ``n_rows`` data rows, from a libFM index file
    (``PREFIX.train``, ``PREFIX.test``), as int64.

    Binary (libFM's ``DVector<uint>`` file) when its first two words are ``1, 4`` — the
    test libFM makes — else text, one number per line (blank lines skipped). The file
    must hold exactly ``n_rows`` numbers (``rows_of`` names the data in the message);
    with ``n_block_rows``, each must be below it.
    """
    name = os.fspath(path)
    with _open(name) as fh:
        first = fh.read(8)
    binary = False
    if len(first) == 8:
        version, value_size = np.frombuffer(first, "<u4")
        binary = version == VECTOR_FILE_ID and value_size == 4
    if binary:
        index = read_binary_vector(name, np.uint32).astype(np.int64)
        lines = None
    else:
        index, lines = _text_integers(name, "a block row number")
    if index.shape[0] != n_rows:
        raise ValueError(
            f"{name}: {index.shape[0]} block row numbers, but {rows_of} has {n_rows} rows: "
            "one per data row" + ("." if binary else ", one per line.")
        )
    if n_block_rows is not None and index.size:
        outside = np.flatnonzero(index >= n_block_rows)
        if outside.size:
            j = int(outside[0])
            where = f"entry {j}" if lines is None else f"line {lines[j]}"
            raise ValueError(
                f"{name}, {where}: block row {index[j]}, but the block has {n_block_rows} rows "
                f"(0…{n_block_rows - 1})."
            )
    return index


def write_relation_index(path: str | os.PathLike, index, *, binary: bool = True) -> None:
    """Write block row numbers as libFM reads them: its binary ``DVector<uint>`` file,
    or (``binary=False``) text, one number per line. Atomic."""
    index = np.asarray(index)
    if binary:
        write_binary_vector(path, index, np.uint32)
        return
    if index.ndim != 1 or (index.size and (index.dtype.kind not in "iu" or index.min() < 0)):
        raise ValueError(f"{os.fspath(path)}: block rows are integers ≥ 0, one per data row.")
    text = "".join(f"{v}\n" for v in index.tolist()).encode("ascii")
    atomic_write(os.fspath(path), lambda fh: fh.write(text))


def read_groups(path: str | os.PathLike, n_features: int) -> np.ndarray:
    """Group ids from a libFM groups file (``-meta``, ``PREFIX.groups``): one integer ≥ 0
    per line, one line per feature, as int64."""
    name = os.fspath(path)
    groups, _ = _text_integers(name, "a group id")
    if groups.shape[0] != n_features:
        raise ValueError(
            f"{name}: {groups.shape[0]} group ids for {n_features} features (one per line)."
        )
    return groups


def _text_integers(name: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of a text file of one integer ≥ 0 per line, and their 1-based lines.

    Vectorised over the bytes: digits, blanks and line ends are all such a file holds, so
    the numbers are the runs of digits, their lines counted from the newlines before them.
    """
    with _open(name) as fh:
        raw = np.fromfile(fh, dtype=np.uint8)
    digit = (raw >= ord("0")) & (raw <= ord("9"))
    newlines = np.flatnonzero(raw == ord("\n"))
    blank = (raw == ord(" ")) | (raw == ord("\t")) | (raw == ord("\r"))
    other = ~(digit | blank)
    other[newlines] = False
    if other.any():
        p = int(np.argmax(other))
        if (raw == 0).any():
            raise ValueError(
                f"{name}: a binary file, but not libFM's: its binary index files start with "
                f"file version {VECTOR_FILE_ID} and value size 4; text ones hold {what} per line."
            )
        line = int(np.searchsorted(newlines, p)) + 1
        raise ValueError(
            f"{name}, line {line}: {_line_text(raw, newlines, line)!r} is not {what} (an "
            "integer ≥ 0, one per line)."
        )
    edges = np.diff(digit.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    del edges, digit
    lines = np.searchsorted(newlines, starts) + 1
    shared = np.flatnonzero(lines[1:] == lines[:-1])
    if shared.size:
        line = int(lines[shared[0]])
        raise ValueError(
            f"{name}, line {line}: {_line_text(raw, newlines, line)!r} holds more than one "
            f"number; give {what} per line."
        )
    long = np.flatnonzero(lengths > _MAX_DIGITS)
    values = np.zeros(starts.shape[0], np.int64)
    if not long.size:
        for k in range(int(lengths.max()) if lengths.size else 0):  # ≤ 10 passes over all
            more = lengths > k
            values[more] = values[more] * 10 + (raw[starts[more] + k] - ord("0"))
        long = np.flatnonzero(values > _UINT32_MAX)
    if long.size:
        line = int(lines[long[0]])
        raise ValueError(
            f"{name}, line {line}: {_line_text(raw, newlines, line)!r} is too large (libFM "
            f"reads 32-bit numbers, at most {_UINT32_MAX})."
        )
    return values, lines


def _line_text(raw: np.ndarray, newlines: np.ndarray, line: int) -> str:
    start = int(newlines[line - 2]) + 1 if line > 1 else 0
    stop = int(newlines[line - 1]) if line - 1 < newlines.shape[0] else raw.shape[0]
    text = raw[start:stop].tobytes().decode("utf-8", errors="replace").strip()
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------- relations
def load_relation(
    prefix: str | os.PathLike,
    n_train: int,
    n_test: int,
    *,
    train_name: str = "the training data",
    test_name: str = "the test data",
) -> tuple[RelationBlock, RelationBlock]:
    """libFM's relation ``PREFIX`` as two :class:`~fmlearn.RelationBlock`: for the
    ``n_train`` training rows and for the ``n_test`` test rows, sharing one block matrix.

    Reads ``PREFIX.x`` (or, without it, ``PREFIX.xt`` as its transpose — libFM reads
    ``.x`` for SGD and ``.xt`` for MCMC/ALS), ``PREFIX.groups`` if present (the block's
    hyperprior groups, numbered from 0 within the block), and the index files
    ``PREFIX.train`` and ``PREFIX.test``. ``train_name``/``test_name`` name the data in
    messages about a wrong number of rows.
    """
    prefix = os.fspath(prefix)
    x_path, xt_path = f"{prefix}.x", f"{prefix}.xt"
    if Path(x_path).is_file():
        X = read_binary_matrix(x_path)
    elif Path(xt_path).is_file():
        X = read_binary_matrix(xt_path).T.tocsr()
    else:
        raise FileNotFoundError(
            f"{x_path}: no such file (nor {xt_path}): relation {prefix} needs the block's "
            "binary matrix, as libFM's convert (.x) or transpose (.xt) writes it."
        )
    source = x_path if Path(x_path).is_file() else xt_path
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{source}: the block has shape {X.shape}; a relation needs rows and features."
        )
    groups_path = f"{prefix}.groups"
    groups = read_groups(groups_path, X.shape[1]) if Path(groups_path).exists() else None
    indices = []
    for suffix, n_rows, rows_of in (("train", n_train, train_name), ("test", n_test, test_name)):
        path = f"{prefix}.{suffix}"
        if not Path(path).exists():
            raise FileNotFoundError(
                f"{path}: no such file: relation {prefix} needs the block row of every "
                f"{suffix} row, one per line."
            )
        indices.append(read_relation_index(path, n_rows, X.shape[0], rows_of=rows_of))
    try:
        train = RelationBlock(indices[0], X, groups)
    except ValueError as exc:  # the groups: fmlearn numbers them 0…G−1 without gaps
        raise ValueError(f"{groups_path if groups is not None else source}: {exc}") from None
    return train, RelationBlock(indices[1], train.X, train.groups)  # the same block matrix


# --------------------------------------------------------------- binary main tables
def binary_data_files(path: str | os.PathLike) -> tuple[str, str] | None:
    """The binary files libFM would read for the data set ``path`` — ``(matrix, targets)``
    — or None if it has none (then ``path`` is a text file).

    As libFM's ``Data::load``: ``PATH.data`` (or ``.datat``) with ``PATH.target`` first,
    then ``PATH.x`` (or ``.xt``) with ``PATH.y``; a transpose is read as such.
    """
    name = os.fspath(path)
    for x, xt, y in ((".data", ".datat", ".target"), (".x", ".xt", ".y")):
        if Path(name + y).is_file():
            for suffix in (x, xt):
                if Path(name + suffix).is_file():
                    return name + suffix, name + y
    return None


def load_binary_data(path: str | os.PathLike) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(X, y)`` of a libFM binary data set (see :func:`binary_data_files`): X as CSR
    float32, y float64."""
    files = binary_data_files(path)
    if files is None:
        name = os.fspath(path)
        raise FileNotFoundError(f"{name}.x: no such file (nor {name}.xt with {name}.y).")
    matrix, targets = files
    X = read_binary_matrix(matrix)
    if matrix.endswith("t"):  # .xt / .datat: features × rows
        X = X.T.tocsr()
    y = read_binary_vector(targets, np.float32).astype(np.float64)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{targets}: {y.shape[0]} targets, but {matrix} has {X.shape[0]} rows.")
    return X, y


def _open(name: str):
    """The file, opened for reading; a missing one is a one-line ``FileNotFoundError``."""
    try:
        return open(name, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: no such file.") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{name} is a folder, not a file.") from None
