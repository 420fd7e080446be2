"""Readers and writers for the libSVM, libFM and libffm text formats.

FM data usually arrives as text: libFM's own format (``label index:value ...``, indices
from 0), libSVM's (the same, indices usually from 1, optional ``qid:N``) and libffm's
(``label field:index:value ...``). Python ``split()`` loops read such files at a few MB/s;
here the bytes go to one numba pass (:mod:`fmlearn.kernels.text_parse`), which reads
numbers exactly as ``float()`` does, handing back to ``float()`` only the rare ones it
cannot settle (more than 19 significant digits, halfway cases, subnormals). The result is
the same matrix as scikit-learn's :func:`~sklearn.datasets.load_svmlight_file` on every
file that function can read (a float32 value that overflows is an error here, inf there).

What a reader accepts, in every format:

* ``.gz``, ``.bz2`` and ``.xz`` files are decompressed (by the file name's extension);
* ``\\n`` or ``\\r\\n`` line ends, a last line with or without a newline;
* blank lines and ``#`` comments (whole lines, or the rest of a line) are skipped;
* labels and values are decimals (``1``, ``-0.5``, ``3e-7``, ``.5``); NaN and infinity
  (and, with ``dtype=np.float32``, values beyond float32's range) are rejected, since no
  model can train on them; labels are float64 whatever ``dtype``, as in scikit-learn;
* indices (and libffm fields) are non-negative integers below 2**31 - 1;
* a row's entries may come in any order and an index may repeat: rows are sorted and
  repeats **summed**, because an FM needs each feature at most once per row (a repeated
  feature would interact with itself). scikit-learn rejects such files instead.

Anything else raises a ``ValueError`` naming the file, the 1-based line and the
offending text, e.g. ``train.libfm, line 1234: bad value 'abc' in token '17:abc'``.

Writers format every number with the shortest text that reads back to the same double
(``repr``), so ``load(dump(X))`` gives ``X`` exactly, and write atomically (a temporary
file in the same folder, then :func:`os.replace`): a crash never leaves half a file.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import os
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fmlearn._utils import atomic_write
from fmlearn._validation import (
    BOOLEAN,
    NONE,
    Interval,
    Options,
    as_canonical_csr,
    check_param,
    resolve_dtype,
)
from fmlearn.io.field_matrix import FieldMatrix, fields_of
from fmlearn.kernels import text_parse
from fmlearn.kernels.text_format import format_rows

__all__ = [
    "dump_libffm",
    "dump_libfm",
    "dump_libsvm",
    "iter_libffm",
    "iter_libfm",
    "iter_libsvm",
    "load_libffm",
    "load_libfm",
    "load_libsvm",
]

#: Bytes read (after decompression) per block by the ``iter_*`` readers.
_BLOCK_BYTES = 1 << 24
#: Numbers the parser leaves to ``float()`` (over 19 digits, halfway cases: rare) that it
#: collects before handing them over and going on.
_SLOW_TABLE_ROWS = 4096
#: Rows formatted per kernel call by the writers (bounds their extra memory).
_DUMP_ROWS = 65_536

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".lzma": lzma.open}
_DECOMPRESSION_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEPARATORS = frozenset(b" \t\n\r\x0b\x0c#")
_ZERO_BASED = [BOOLEAN, Options(("auto",))]
_N_FEATURES = [Interval(int, 1, None), NONE]
_FIELD_CONFLICT = [Options(("error", "first"))]


@dataclass(frozen=True)
class _Format:
    """What distinguishes the three formats for the parser."""

    ffm: bool  # FIELD:INDEX:VALUE tokens
    allow_qid: bool  # qid:N right after the label (libSVM / SVMlight only)


_LIBSVM = _Format(ffm=False, allow_qid=True)
_LIBFM = _Format(ffm=False, allow_qid=False)
_LIBFFM = _Format(ffm=True, allow_qid=False)


# ----------------------------------------------------------------------------- readers
def load_libsvm(
    path: str | os.PathLike,
    *,
    n_features: int | None = None,
    zero_based: bool | str = "auto",
    dtype=np.float64,
    query_id: bool = False,
) -> tuple:
    """Read a libSVM / SVMlight file into ``(X, y)`` (``(X, y, qid)`` with ``query_id``).

    Parameters
    ----------
    path : str or path-like
        The file; ``.gz``, ``.bz2`` and ``.xz`` files are decompressed.
    n_features : int, optional
        The number of columns of ``X``. Pass the training set's ``X.shape[1]`` when reading
        a test file, so that both have the same columns; an index ``>= n_features`` is then
        an error. By default, the largest index in the file plus one.
    zero_based : bool or "auto"
        Whether indices start at 0. ``"auto"`` (scikit-learn's heuristic) takes the file as
        one-based when no index 0 appears in it, which can misread a zero-based test file
        that lacks feature 0: pass the training file's convention explicitly then.
    dtype : float32 or float64
        The dtype of ``X``'s values (numbers are read as doubles, then rounded). ``y`` is
        float64 always, as in scikit-learn.
    query_id : bool
        Return the ``qid:N`` of each row as a third array (int64, -1 where a row has
        none). Otherwise query ids are ignored, with a warning.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_rows, n_features)
        Sorted, duplicate-free indices (see the module notes on repeats).
    y : ndarray of float64, shape (n_rows,)
    qid : ndarray of int64, shape (n_rows,)
        Only with ``query_id=True``.

    Examples
    --------
    A one-based file (no index 0 appears, so ``zero_based="auto"`` reads it so) with
    query ids:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from fmlearn.io import load_libsvm
    >>> path = Path(tempfile.mkdtemp()) / "train.svm"
    >>> _ = path.write_text("1 qid:7 1:0.5 3:2\\n-1 qid:7 2:1\\n")
    >>> X, y, qid = load_libsvm(path, query_id=True)
    >>> X.toarray().tolist(), y.tolist(), qid.tolist()
    ([[0.5, 0.0, 2.0], [0.0, 1.0, 0.0]], [1.0, -1.0], [7, 7])
    """
    check_param("load_libsvm", "query_id", query_id, [BOOLEAN])
    X, y, _, parsed = _load(path, _LIBSVM, "load_libsvm", n_features, zero_based, dtype)
    if query_id:
        return X, y, parsed.qid
    if parsed.n_qid:
        warnings.warn(
            f"{os.fspath(path)}: the qid:N tokens (query ids) were ignored; pass "
            "query_id=True to get them.",
            UserWarning,
            stacklevel=2,
        )
    return X, y


def load_libfm(
    path: str | os.PathLike,
    *,
    n_features: int | None = None,
    zero_based: bool | str = True,
    dtype=np.float64,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Read a libFM text file (``label index:value ...``) into ``(X, y)``.

    libFM numbers features from 0 (its ``num_features`` is the largest id plus one), hence
    ``zero_based=True``; the parameters and the result are otherwise those of
    :func:`load_libsvm`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fmlearn.io import load_libfm
    >>> path = Path(tempfile.mkdtemp()) / "train.libfm"
    >>> _ = path.write_text("5 0:1 3:1 7:0.5\\n3 1:1 4:1\\n")
    >>> X, y = load_libfm(path)
    >>> X.shape, X.format, y.tolist()  # columns: the largest index + 1
    ((2, 8), 'csr', [5.0, 3.0])
    >>> load_libfm(path, n_features=10)[0].shape  # a test file: the training set's width
    (2, 10)
    """
    X, y, _, _ = _load(path, _LIBFM, "load_libfm", n_features, zero_based, dtype)
    return X, y


def load_libffm(
    path: str | os.PathLike,
    *,
    n_features: int | None = None,
    zero_based: bool | str = True,
    dtype=np.float64,
    field_conflict: str = "error",
) -> tuple[FieldMatrix, np.ndarray, np.ndarray]:
    """Read a libffm file (``label field:index:value ...``) into ``(X, y, fields)``.

    ``X`` also carries ``fields`` (a :class:`~fmlearn.io.field_matrix.FieldMatrix`), so
    ``FFMClassifier().fit(X, y)`` needs no ``fields=``.

    Field-aware FMs need the field of every feature; ``fields[j]`` (int32, shape
    ``(n_features,)``) is that of column ``j``, or -1 for a column that never appears.
    Fields are numbered as written (libffm counts fields and features from 0).

    A feature written with two different fields is an error naming the line
    (``field_conflict="error"``): it usually means the file was built with hashing
    collisions or with misaligned columns. ``field_conflict="first"`` accepts such files
    and gives each feature the first field it appeared with. Other parameters are those of
    :func:`load_libsvm`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fmlearn import FFMClassifier
    >>> from fmlearn.io import load_libffm
    >>> path = Path(tempfile.mkdtemp()) / "train.ffm"
    >>> _ = path.write_text("1 0:0:1 1:3:1\\n0 0:1:1 1:2:1\\n")
    >>> X, y, fields = load_libffm(path)
    >>> X.shape, fields.tolist()  # columns 0 and 1 are in field 0, columns 2 and 3 in field 1
    ((2, 4), [0, 0, 1, 1])
    >>> FFMClassifier(max_iter=1).fit(X, y).fields_.tolist()  # X carries its fields
    [0, 0, 1, 1]
    """
    check_param("load_libffm", "field_conflict", field_conflict, _FIELD_CONFLICT)
    X, y, fields, _ = _load(
        path, _LIBFFM, "load_libffm", n_features, zero_based, dtype, field_conflict
    )
    return FieldMatrix.wrap(X, fields), y, fields


def iter_libsvm(
    path: str | os.PathLike,
    *,
    chunk_rows: int = 100_000,
    n_features: int | None = None,
    zero_based: bool | str = "auto",
    dtype=np.float64,
) -> Iterator[tuple[sp.csr_matrix, np.ndarray]]:
    """Read a libSVM file ``chunk_rows`` rows at a time: ``(X, y)`` per chunk.

    For training with ``partial_fit`` on files larger than memory: the file (compressed
    or not) is streamed in blocks, so memory stays around one block and one chunk. Every
    chunk has the same number of columns. That number must be known before the first
    chunk: pass ``n_features`` (and, here, ``zero_based``, whose ``"auto"`` needs the
    whole file); otherwise a first pass over the file finds them, doubling the reading
    time. Errors name the file's line, as :func:`load_libsvm`'s do; query ids are ignored.
    """
    return _iter(path, _LIBSVM, "iter_libsvm", chunk_rows, n_features, zero_based, dtype)


def iter_libfm(
    path: str | os.PathLike,
    *,
    chunk_rows: int = 100_000,
    n_features: int | None = None,
    zero_based: bool | str = True,
    dtype=np.float64,
) -> Iterator[tuple[sp.csr_matrix, np.ndarray]]:
    """Read a libFM file ``chunk_rows`` rows at a time: ``(X, y)`` per chunk.

    As :func:`iter_libsvm`; with ``n_features`` given there is a single pass.

    Examples
    --------
    Each chunk could go to an estimator's ``partial_fit``:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from fmlearn.io import dump_libfm, iter_libfm
    >>> path = Path(tempfile.mkdtemp()) / "big.libfm"
    >>> dump_libfm(np.eye(5), np.arange(5.0), path)
    >>> for X, y in iter_libfm(path, chunk_rows=2, n_features=5):
    ...     print(X.shape, y.tolist())
    (2, 5) [0.0, 1.0]
    (2, 5) [2.0, 3.0]
    (1, 5) [4.0]
    """
    return _iter(path, _LIBFM, "iter_libfm", chunk_rows, n_features, zero_based, dtype)


def iter_libffm(
    path: str | os.PathLike,
    *,
    chunk_rows: int = 100_000,
    n_features: int | None = None,
    zero_based: bool | str = True,
    dtype=np.float64,
    field_conflict: str = "error",
) -> Iterator[tuple[sp.csr_matrix, np.ndarray, np.ndarray]]:
    """Read a libffm file ``chunk_rows`` rows at a time: ``(X, y, fields)`` per chunk.

    As :func:`iter_libsvm`. ``fields`` (a fresh int32 array of length ``n_features``)
    gives the field of every feature seen so far — at least those of this chunk and the
    earlier ones; after a first pass (``n_features=None``), of the whole file. -1 marks
    features not seen (yet). Field conflicts are checked across chunks.
    """
    check_param("iter_libffm", "field_conflict", field_conflict, _FIELD_CONFLICT)
    return _iter(
        path, _LIBFFM, "iter_libffm", chunk_rows, n_features, zero_based, dtype, field_conflict
    )


# ----------------------------------------------------------------------------- writers
def dump_libsvm(X, y, path: str | os.PathLike, *, zero_based: bool = False) -> None:
    """Write ``(X, y)`` as a libSVM file (``.gz``/``.bz2``/``.xz`` by extension).

    One-based by default, LIBSVM's convention, which ``zero_based="auto"`` always reads
    back right. Numbers are written exactly (shortest round-trip text), so
    ``load_libsvm(path, n_features=X.shape[1])`` returns ``X`` and ``y``; pass
    ``n_features`` because trailing all-zero columns leave no trace in the file.
    Explicitly stored zeros are written too.
    """
    _dump(X, y, path, "dump_libsvm", zero_based, None)


def dump_libfm(X, y, path: str | os.PathLike, *, zero_based: bool = True) -> None:
    """Write ``(X, y)`` as a libFM file (zero-based, as libFM reads it); see :func:`dump_libsvm`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from fmlearn.io import dump_libfm, load_libfm
    >>> path = Path(tempfile.mkdtemp()) / "train.libfm"
    >>> X = np.array([[1.0, 0.0, 2.5], [0.0, 1.0, 0.0]])
    >>> dump_libfm(X, [4, 1], path)
    >>> print(path.read_text(), end="")
    4 0:1 2:2.5
    1 1:1
    >>> X_back, y_back = load_libfm(path, n_features=X.shape[1])  # exactly what was written
    >>> bool((X_back.toarray() == X).all()), y_back.tolist()
    (True, [4.0, 1.0])
    """
    _dump(X, y, path, "dump_libfm", zero_based, None)


def dump_libffm(X, y, path: str | os.PathLike, *, fields=None, zero_based: bool = True) -> None:
    """Write ``(X, y)`` as a libffm file, ``fields[j]`` being the field of column ``j``.

    ``fields`` has one non-negative int per column (-1 is allowed for columns with no
    stored value, as :func:`load_libffm` returns them); when None, those ``X`` carries
    (from ``FMEncoder`` or ``load_libffm``). See :func:`dump_libsvm`.
    """
    if fields is None:
        fields = fields_of(X)
        if fields is None:
            raise ValueError("dump_libffm needs fields=: one field id per column (X carries none).")
    _dump(X, y, path, "dump_libffm", zero_based, fields)


# ----------------------------------------------------------------------------- checks
def _check_read_params(function, n_features, zero_based, dtype, chunk_rows=1) -> type:
    check_param(function, "n_features", n_features, _N_FEATURES)
    check_param(function, "zero_based", zero_based, _ZERO_BASED)
    check_param(function, "chunk_rows", chunk_rows, [Interval(int, 1, None)])
    return resolve_dtype(dtype, function)


# ----------------------------------------------------------------------------- bytes
def _opener(path: str):
    return _OPENERS.get(os.path.splitext(path)[1].lower())


def _read_all(name: str) -> np.ndarray:
    """The (decompressed) bytes of a file as a ``uint8`` array."""
    opener = _opener(name)
    if opener is None:
        return np.fromfile(name, dtype=np.uint8)
    with opener(name, "rb") as f:
        try:
            return np.frombuffer(f.read(), dtype=np.uint8)
        except _DECOMPRESSION_ERRORS as exc:
            raise ValueError(f"{name}: cannot decompress the file: {exc}") from exc


def _read_blocks(name: str, block_bytes: int | None = None) -> Iterator[tuple[np.ndarray, int]]:
    """``(bytes, line_base)`` of whole lines, ``block_bytes`` (``_BLOCK_BYTES``) or so
    at a time. Each block is a view of what was read (plus the previous read's unfinished
    line, the only bytes copied): this loop used to copy every block three times, 0.40 s
    of a 342 MB file's 0.94 s first pass."""
    block_bytes = block_bytes or _BLOCK_BYTES
    opener = _opener(name)
    line_base = 0
    with (opener or open)(name, "rb") as f:
        carry: list[bytes] = []  # an unfinished line's pieces (no line end among them)
        while True:
            try:
                chunk = f.read(block_bytes)
            except _DECOMPRESSION_ERRORS as exc:
                if opener is None:
                    raise
                raise ValueError(f"{name}: cannot decompress the file: {exc}") from exc
            if not chunk:
                break
            cut = chunk.rfind(b"\n")
            if cut < 0:  # a line longer than a block: joined once its end is read
                carry.append(chunk)
                continue
            lines = np.frombuffer(chunk, dtype=np.uint8, count=cut + 1)
            if carry:
                head = np.frombuffer(b"".join(carry), dtype=np.uint8)
                lines = np.concatenate([head, lines])
            yield lines, line_base
            line_base += chunk.count(b"\n", 0, cut + 1)
            carry = [chunk[cut + 1 :]] if cut + 1 < len(chunk) else []
        if carry:
            yield np.frombuffer(b"".join(carry), dtype=np.uint8), line_base


# ----------------------------------------------------------------------------- errors
@dataclass
class _Source:
    """Where a buffer came from, to say where an error is."""

    name: str
    buf: np.ndarray
    line_base: int  # lines before this buffer (iter_* blocks)

    def line_number(self, pos: int) -> int:
        return self.line_base + int(np.count_nonzero(self.buf[:pos] == 10)) + 1

    def error(self, pos: int, message: str) -> ValueError:
        return ValueError(f"{self.name}, line {self.line_number(pos)}: {message}")

    def token(self, start: int, end: int) -> bytes:
        """The whole whitespace-delimited token around ``buf[start:end]``."""
        buf = self.buf
        s = start
        while s > 0 and start - s < 100 and buf[s - 1] not in _SEPARATORS:
            s -= 1
        e = end
        while e < buf.shape[0] and e - end < 100 and buf[e] not in _SEPARATORS:
            e += 1
        return bytes(buf[s:e])

    def line(self, pos: int) -> bytes:
        """The line starting at ``pos``, without comment or line end."""
        rest = self.buf[pos:]
        ends = np.flatnonzero(rest == 10)
        stop = pos + (int(ends[0]) if ends.shape[0] else rest.shape[0])
        return bytes(self.buf[pos:stop]).split(b"#", 1)[0]


def _show(text: bytes) -> str:
    """``repr`` of a token for a message: decoded leniently, shortened if long."""
    shown = text.decode("ascii", errors="backslashreplace")
    return repr(shown if len(shown) <= 60 else shown[:57] + "...")


def _parse_number(text: bytes) -> tuple[float, str | None]:
    """``(value, None)``, or ``(nan, problem)`` with problem "bad" or "not finite"."""
    if _DECIMAL.fullmatch(text):
        value = float(text)
        return (value, None) if math.isfinite(value) else (math.nan, "not finite")
    try:
        value = float(text)
    except ValueError:
        return math.nan, "bad"
    # float() also takes '1_000', ' 1', 'inf', 'nan': only the last two are numbers here.
    return math.nan, ("bad" if math.isfinite(value) else "not finite")


def _resolve_slow(source: _Source, slow: np.ndarray, y, data, until: int | None) -> None:
    """Parse with ``float()`` the numbers the kernel left (before byte ``until``)."""
    for target, start, end in slow.tolist():
        if until is not None and start >= until:
            break
        text = bytes(source.buf[start:end])
        value, problem = _parse_number(text)
        if problem is None:
            if target < 0:
                y[-target - 1] = value
            else:
                data[target] = value
            continue
        if target < 0:
            what = f"label {_show(text)}"
        else:
            what = f"value {_show(text)} in token {_show(source.token(start, end))}"
        if problem == "bad":
            raise source.error(start, f"bad {what}; expected a number")
        raise source.error(start, f"{what} is not finite; NaN and infinity are not allowed")


def _kernel_message(status: int, token: bytes, ffm: bool) -> str:
    """The message for a parse_text status code (the token is the offending text)."""
    parts = token.split(b":")
    index_part = parts[1] if ffm and len(parts) > 2 else parts[0]
    tok = _show(token)
    messages = {
        text_parse.ERR_MISSING_LABEL: f"missing label: the line starts with {tok}; "
        "expected a number before the features",
        text_parse.ERR_NO_COLON: f"expected 'index:value', got {tok}",
        text_parse.ERR_FFM_SYNTAX: f"expected 'field:index:value', got {tok}",
        text_parse.ERR_BAD_INDEX: f"bad index {_show(index_part)} in token {tok}; "
        "expected a non-negative integer",
        text_parse.ERR_NEGATIVE_INDEX: f"negative index {_show(index_part)} in token {tok}; "
        "indices must be >= 0",
        text_parse.ERR_INDEX_TOO_LARGE: f"index {_show(index_part)} in token {tok} is too large "
        f"(the largest supported is {text_parse.MAX_INDEX})",
        text_parse.ERR_BAD_FIELD: f"bad field {_show(parts[0])} in token {tok}; "
        "expected a non-negative integer",
        text_parse.ERR_NEGATIVE_FIELD: f"negative field {_show(parts[0])} in token {tok}; "
        "fields must be >= 0",
        text_parse.ERR_FIELD_TOO_LARGE: f"field {_show(parts[0])} in token {tok} is too large "
        f"(the largest supported is {text_parse.MAX_INDEX})",
        text_parse.ERR_BAD_QID: f"bad query id in token {tok}; expected 'qid:' and an integer",
        text_parse.ERR_QID_PLACE: f"{tok} must come right after the label",
    }
    if status not in messages:  # ERR_CAPACITY
        raise RuntimeError(f"fmlearn text parser: internal error {status}; please report it")
    return messages[status]


# ----------------------------------------------------------------------------- parsing
@dataclass
class _Parsed:
    """One buffer parsed: CSR arrays with raw (file) indices, and where rows came from."""

    source: _Source
    ffm: bool
    n_qid: int  # rows with a qid:N
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    fields: np.ndarray  # per entry (libffm), else empty
    y: np.ndarray
    qid: np.ndarray  # per row (libSVM), else empty
    row_starts: np.ndarray
    n_newlines: int = 0  # line ends in the buffer (streams count lines with it)

    def entry_row(self, p: int) -> int:
        return int(np.searchsorted(self.indptr, p, side="right")) - 1

    def find_tokens(self, row: int, raw_index: int, field: int | None = None) -> list[bytes]:
        """The tokens of ``row`` with this raw index (and field), in line order."""
        found = []
        for token in self.source.line(int(self.row_starts[row])).split()[1:]:
            parts = token.split(b":")
            try:
                index = int(parts[1] if self.ffm else parts[0])
                if index == raw_index and (field is None or int(parts[0]) == field):
                    found.append(token)
            except (ValueError, IndexError):
                continue
        return found

    def entry_error(self, p: int, raw_index: int, message: str, field=None) -> ValueError:
        row = self.entry_row(p)
        token = _show(b"".join(self.find_tokens(row, raw_index, field)[:1]))
        return self.source.error(int(self.row_starts[row]), message.format(token=token))


def _trim(a: np.ndarray, n: int) -> np.ndarray:
    """``a[:n]``, copied when that frees a noticeable share of ``a``."""
    return a[:n].copy() if n < 0.8 * a.shape[0] else a[:n]


def _parse(source: _Source, fmt: _Format, dtype, field_conflict: str) -> _Parsed:
    """Kernel pass, then ``float()`` for the slow numbers, then sorting if needed."""
    buf = source.buf
    n_newlines, n_colons = text_parse.count_newlines_and_colons(buf)
    max_rows = n_newlines + 1
    max_nnz = n_colons // 2 if fmt.ffm else n_colons
    indptr = np.empty(max_rows + 1, dtype=np.int64)
    indices = np.empty(max_nnz, dtype=np.int32)
    data = np.empty(max_nnz, dtype=dtype)
    fields = np.empty(max_nnz if fmt.ffm else 0, dtype=np.int32)
    y = np.empty(max_rows, dtype=np.float64)
    qid = np.empty(max_rows if fmt.allow_qid else 0, dtype=np.int64)
    row_starts = np.empty(max_rows, dtype=np.int64)
    slow = np.empty((_SLOW_TABLE_ROWS, 3), dtype=np.int64)
    resume = np.array([0, 0, 0, 0, 1], dtype=np.int64)  # position, rows, entries, qids, canonical
    while True:
        status, n_slow, err_start, err_end = text_parse.parse_text(
            buf, fmt.ffm, fmt.allow_qid, indptr, indices, data, fields, y, qid, row_starts,
            slow, resume,
        )  # fmt: skip
        error = status not in (text_parse.OK, text_parse.SLOW_FULL)
        with np.errstate(over="ignore"):  # float32 overflow is reported below, with its line
            _resolve_slow(source, slow[:n_slow], y, data, until=err_start if error else None)
        if status != text_parse.SLOW_FULL:
            break
        if n_slow == 0:  # one line has more slow numbers than the table has rows
            slow = np.empty((2 * slow.shape[0], 3), dtype=np.int64)
    _, n_rows, nnz, n_qid, canonical = resume.tolist()
    if status != text_parse.OK:
        token = bytes(buf[err_start:err_end])
        raise source.error(err_start, _kernel_message(status, token, fmt.ffm))
    parsed = _Parsed(
        source,
        fmt.ffm,
        n_qid,
        indptr[: n_rows + 1],
        indices,
        data,
        fields,
        _trim(y, n_rows),
        _trim(qid, n_rows) if fmt.allow_qid else qid,
        row_starts[:n_rows],
        n_newlines,
    )
    if not canonical:
        nnz, conflict_row, conflict_index = text_parse.canonicalize_rows(
            parsed.indptr, indices, data, fields, fmt.ffm
        )
        if conflict_row >= 0 and field_conflict == "error":
            tokens = parsed.find_tokens(conflict_row, conflict_index)
            raise source.error(
                int(parsed.row_starts[conflict_row]),
                f"feature {conflict_index} appears in one line with different fields "
                f"({', '.join(_show(t) for t in tokens)}); each feature must belong to one "
                "field, or pass field_conflict='first' to keep the first field",
            )
    parsed.indices = _trim(indices, nnz)
    parsed.data = _trim(data, nnz)
    parsed.fields = _trim(fields, nnz) if fmt.ffm else fields
    if dtype == np.float32 and not np.all(np.isfinite(parsed.data)):
        p = int(np.argmin(np.isfinite(parsed.data)))
        raise parsed.entry_error(
            p,
            int(parsed.indices[p]),
            "the value of token {token} is too large for float32; pass dtype=np.float64",
        )
    return parsed


def _auto_base(parsed: _Parsed) -> int:
    """scikit-learn's heuristic: one-based when there are indices and none is 0."""
    return int(parsed.indices.shape[0] > 0 and parsed.indices.min() > 0)


def _to_columns(parsed: _Parsed, base: int, n_features: int | None) -> int:
    """Shift indices to zero-based in place, check them; returns the column count."""
    indices = parsed.indices
    if indices.shape[0] == 0:
        return n_features or 0
    if base == 1:
        if indices.min() == 0:
            p = int(np.argmax(indices == 0))
            raise parsed.entry_error(
                p, 0, "index 0 in token {token}, but zero_based=False (indices start at 1)"
            )
        indices -= 1
    largest = int(indices.max())
    if n_features is None:
        return largest + 1
    if largest >= n_features:
        p = int(np.argmax(indices >= n_features))
        raw = int(indices[p]) + base
        raise parsed.entry_error(
            p,
            raw,
            f"index {raw} in token {{token}} is out of range for n_features={n_features} "
            f"(indices are {'one' if base else 'zero'}-based)",
        )
    return n_features


def _assign_fields(parsed: _Parsed, field_of: np.ndarray, base: int, field_conflict: str):
    """Record the field of each feature of ``parsed`` in ``field_of``; check conflicts."""
    stop = field_conflict == "error"
    p = text_parse.assign_fields(parsed.indices, parsed.fields, field_of, stop)
    if p < 0 or not stop:
        return
    j = int(parsed.indices[p])
    field = int(parsed.fields[p])
    first = int(np.argmax(parsed.indices == j))
    earlier = ""
    if first < p and int(parsed.fields[first]) == field_of[j]:
        line = parsed.source.line_number(int(parsed.row_starts[parsed.entry_row(first)]))
        earlier = f" on line {line}"
    raise parsed.entry_error(
        p,
        j + base,
        f"feature {j + base} in token {{token}} is in field {field}, but it came with field "
        f"{field_of[j]} before{earlier}; each feature must belong to one field, or pass "
        "field_conflict='first' to keep the first field",
        field=field,
    )


def _csr(parsed: _Parsed, n_columns: int) -> sp.csr_matrix:
    indptr = parsed.indptr
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    shape = (indptr.shape[0] - 1, n_columns)
    X = sp.csr_matrix((parsed.data, parsed.indices, indptr), shape=shape, copy=False)
    X.has_canonical_format = True
    return X


def _load(path, fmt, function, n_features, zero_based, dtype, field_conflict="error"):
    """``(X, y, fields, parsed)`` of a whole file (``fields`` empty but for libffm)."""
    dtype = _check_read_params(function, n_features, zero_based, dtype)
    name = os.fspath(path)
    parsed = _parse(_Source(name, _read_all(name), 0), fmt, dtype, field_conflict)
    base = _auto_base(parsed) if zero_based == "auto" else int(not zero_based)
    n_columns = _to_columns(parsed, base, n_features)
    field_of = np.full(n_columns if fmt.ffm else 0, -1, dtype=np.int32)
    if fmt.ffm:
        _assign_fields(parsed, field_of, base, field_conflict)
    return _csr(parsed, n_columns), parsed.y, field_of, parsed


# ----------------------------------------------------------------------------- streaming
def _iter(path, fmt, function, chunk_rows, n_features, zero_based, dtype, field_conflict="error"):
    """Check parameters now (not at the first ``next``), then stream."""
    dtype = _check_read_params(function, n_features, zero_based, dtype, chunk_rows)
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"No such file: {name!r}")
    return _iter_chunks(name, fmt, chunk_rows, n_features, zero_based, dtype, field_conflict)


def _first_pass(name, fmt, dtype, field_conflict) -> tuple[int, int, np.ndarray]:
    """``(largest raw index, smallest raw index, field of each raw index)`` of a file."""
    largest, smallest = -1, -1
    field_of = np.full(0, -1, dtype=np.int32)
    for buf, line_base in _read_blocks(name):
        parsed = _parse(_Source(name, buf, line_base), fmt, dtype, field_conflict)
        if parsed.indices.shape[0] == 0:
            continue
        largest = max(largest, int(parsed.indices.max()))
        low = int(parsed.indices.min())
        smallest = low if smallest < 0 else min(smallest, low)
        if fmt.ffm:
            if field_of.shape[0] <= largest:
                grown = np.full(largest + 1, -1, dtype=np.int32)
                grown[: field_of.shape[0]] = field_of
                field_of = grown
            _assign_fields(parsed, field_of, 0, field_conflict)
    return largest, smallest, field_of


def _iter_chunks(name, fmt, chunk_rows, n_features, zero_based, dtype, field_conflict):
    base = None if zero_based == "auto" else int(not zero_based)
    field_of = np.full((n_features or 0) if fmt.ffm else 0, -1, dtype=np.int32)
    if n_features is None or base is None:
        largest, smallest, raw_fields = _first_pass(name, fmt, dtype, field_conflict)
        if base is None:
            base = int(smallest > 0)
        if n_features is None:
            n_features = max(largest + 1 - base, 0)
        if fmt.ffm:  # fields of the whole file, in columns (index 0 of a one-based file
            # is reported by _to_columns below, on its line)
            field_of = np.full(n_features, -1, dtype=np.int32)
            known = raw_fields[base : base + n_features]
            field_of[: known.shape[0]] = known
    fields = field_of if fmt.ffm else None
    pending: list = []
    n_pending = 0
    warned = False
    for buf, line_base in _read_blocks(name):
        parsed = _parse(_Source(name, buf, line_base), fmt, dtype, field_conflict)
        _to_columns(parsed, base, n_features)
        if fmt.ffm:
            _assign_fields(parsed, field_of, base, field_conflict)
        if parsed.n_qid and not warned:
            warnings.warn(f"{name}: the qid:N tokens (query ids) were ignored.", stacklevel=3)
            warned = True
        if parsed.y.shape[0] == 0:
            continue
        pending.append((_csr(parsed, n_features), parsed.y))
        n_pending += parsed.y.shape[0]
        if n_pending < chunk_rows:
            continue
        X = sp.vstack([p[0] for p in pending], format="csr")
        y = np.concatenate([p[1] for p in pending])
        start = 0
        while n_pending - start >= chunk_rows:
            yield _chunk(X[start : start + chunk_rows], y[start : start + chunk_rows], fields)
            start += chunk_rows
        pending = [(X[start:], y[start:])] if start < n_pending else []
        n_pending -= start
    if n_pending:
        X = sp.vstack([p[0] for p in pending], format="csr")
        yield _chunk(X, np.concatenate([p[1] for p in pending]), fields)


def _chunk(X, y, fields) -> tuple:
    X = sp.csr_matrix(X)
    X.has_canonical_format = True
    return (X, y) if fields is None else (X, y, fields.copy())


# ----------------------------------------------------------------------------- writing
def _format_number(value: float) -> str:
    """Shortest text that ``float()`` reads back as ``value`` (integers without '.0')."""
    if value.is_integer() and abs(value) < 2**53:
        return "-0" if value == 0 and math.copysign(1.0, value) < 0 else str(int(value))
    return repr(value)


def _string_table(values: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``(ids, (bytes, offsets))``: each distinct value formatted once, for format_rows."""
    distinct, ids = np.unique(values, return_inverse=True)
    encoded = [_format_number(float(v)).encode("ascii") for v in distinct]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    table = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return ids.ravel().astype(np.int64, copy=False), (table, offsets)


def _check_dump_input(function, X, y, fields):
    """Canonical CSR ``X`` (float32 kept, else float64), float64 ``y``, int64 ``fields``."""
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{function}: X must be 2-dimensional; got shape {X.shape}.")
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    X = as_canonical_csr(X, dtype)
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"{function}: X contains NaN or infinity, which no reader accepts.")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{function}: y must have shape ({X.shape[0]},), one label per row of X; "
            f"got shape {y.shape}."
        )
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{function}: y contains NaN or infinity, which no reader accepts.")
    if fields is None:
        return X, y, np.empty(0, dtype=np.int64)
    fields = np.asarray(fields)
    if fields.dtype.kind not in "iu" or fields.shape != (X.shape[1],):
        raise ValueError(
            f"{function}: fields must be an int array of shape ({X.shape[1]},), one field "
            f"per column of X; got dtype {fields.dtype} and shape {fields.shape}."
        )
    fields = fields.astype(np.int64)
    used = np.unique(X.indices)
    bad = used[(fields[used] < 0) | (fields[used] > text_parse.MAX_INDEX)]
    if bad.shape[0]:
        raise ValueError(
            f"{function}: every column of X with a value needs a field in "
            f"[0, {text_parse.MAX_INDEX}]; column {bad[0]} has field {fields[bad[0]]}."
        )
    return X, y, fields


def _dump(X, y, path, function, zero_based, fields) -> None:
    check_param(function, "zero_based", zero_based, [BOOLEAN])
    X, y, field_of = _check_dump_input(function, X, y, fields)
    if X.shape[1] + (not zero_based) - 1 > text_parse.MAX_INDEX:
        raise ValueError(f"{function}: X has too many columns ({X.shape[1]}) for the format.")
    value_ids, values = _string_table(X.data)
    label_ids, labels = _string_table(y)
    indptr = X.indptr.astype(np.int64, copy=False)
    indices = X.indices.astype(np.int64, copy=False)
    base = 0 if zero_based else 1
    ffm = fields is not None

    def blocks():
        for start in range(0, X.shape[0], _DUMP_ROWS):
            rows = (start, min(start + _DUMP_ROWS, X.shape[0]))
            yield format_rows(
                indptr, indices, value_ids, field_of, label_ids, base, ffm, values, labels, rows
            )

    _write_blocks(os.fspath(path), blocks())


def _write_blocks(name: str, blocks) -> None:
    """Write ``blocks`` atomically, compressed as the extension of ``name`` says."""
    opener = _opener(name)

    def write(raw) -> None:
        stream = raw if opener is None else opener(raw, "wb")
        try:
            for block in blocks:
                stream.write(block)
        finally:
            if stream is not raw:
                stream.close()  # writes the compressed trailer; leaves ``raw`` open

    atomic_write(name, write)
