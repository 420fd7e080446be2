"""Training data that does not fit in memory: a file, or chunks, handed to ``fit`` whole.

``model.fit(FileStream("train.libfm", n_features=…))`` trains an SGD-family model on a
file one chunk at a time, for as many epochs as ``max_iter`` says, while a second
thread reads and parses the next chunk (:mod:`fmlearn.solvers.streamed`). A stream is
re-iterable (every epoch reads it again) and, for an uncompressed file, seekable: once
its chunks are known, an epoch may visit them in a random order.

Chunks of a file are byte ranges cut at line ends (``chunk_bytes`` each), not row
counts: that makes them addressable without parsing what comes before, and bounds the
memory a chunk takes (its text and its CSR arrays), whatever the rows look like.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fmlearn._validation import BOOLEAN, NONE, Interval, Options, check_param, resolve_dtype
from fmlearn.io.text import (
    _LIBFFM,
    _LIBFM,
    _LIBSVM,
    _assign_fields,
    _csr,
    _first_pass,
    _opener,
    _parse,
    _read_blocks,
    _Source,
    _to_columns,
)

__all__ = ["ChunkStream", "FileStream", "Stream", "as_stream", "is_stream"]

#: ``chunk_bytes``'s default: ~100,000 rows of 39 one-hot fields; a chunk's CSR arrays
#: take about as much memory as its text, and two chunks are alive at once (the one
#: training, the next one read ahead).
DEFAULT_CHUNK_BYTES = 32 << 20

_FORMATS = {"libfm": _LIBFM, "libsvm": _LIBSVM, "libffm": _LIBFFM}
#: The format a file name's suffix stands for (after a compression suffix); libFM's
#: otherwise.
_SUFFIXES = {".libsvm": "libsvm", ".svm": "libsvm", ".svmlight": "libsvm",
             ".ffm": "libffm", ".libffm": "libffm"}  # fmt: skip


@dataclass
class Chunk:
    """Rows of a stream: CSR ``X``, labels ``y``, optional weights; ``where`` says which
    rows they are, for error messages (``train.libfm, lines 1–100000``)."""

    X: sp.csr_matrix
    y: np.ndarray
    sample_weight: np.ndarray | None
    origin: str | Callable[[], str]  # a function where saying it costs a read

    @property
    def where(self) -> str:
        return self.origin() if callable(self.origin) else self.origin


class Stream:
    """What ``fit`` needs of chunked data. Subclasses: :class:`FileStream`,
    :class:`ChunkStream`."""

    #: Columns of every chunk (a file's are known after its first pass; None: from the
    #: first chunk).
    n_features: int | None = None
    #: The field of each feature (libffm files, after a first pass; -1: never seen), for
    #: the field-aware models.
    fields: np.ndarray | None = None
    #: Every label a classifier will see; None: the first chunk's labels.
    classes: np.ndarray | None = None

    def n_chunks(self) -> int | None:
        """How many chunks an epoch has, once known; None until then (no random order)."""
        return None

    def chunks(self, order: np.ndarray | None = None) -> Iterator[Chunk]:
        """The chunks of one epoch: in stream order, or in ``order`` (chunk numbers, a
        permutation of ``range(n_chunks())``) when given."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple]:
        """``(X, y)`` per chunk (``(X, y, sample_weight)`` where a chunk has weights), as
        :func:`~fmlearn.io.iter_libfm` yields them: for ``partial_fit`` loops."""
        for chunk in self.chunks():
            if chunk.sample_weight is None:
                yield chunk.X, chunk.y
            else:
                yield chunk.X, chunk.y, chunk.sample_weight


class FileStream(Stream):
    """A libFM, libSVM or libffm file, read ``chunk_bytes`` at a time.

    Parameters
    ----------
    path : the file (``.gz``, ``.bz2``, ``.xz`` are decompressed, but cannot be read in
        a random chunk order: their epochs go through the file in order).
    format : ``"libfm"``, ``"libsvm"`` or ``"libffm"``; None: from the suffix
        (``.libsvm``/``.svm``/``.svmlight``, ``.ffm``/``.libffm``), else libFM.
    n_features : the number of columns. None: a first pass over the file finds it (and,
        with ``zero_based="auto"``, the index base; for libffm, every feature's field,
        which the field-aware models need before training), which costs one more read of
        the file. Pass it for files larger than the page cache.
    zero_based : as for the readers; None: the format's default (libSVM ``"auto"``,
        libFM and libffm ``True``).
    dtype : float dtype of the chunks' values (the model's dtype; labels stay float64).
    chunk_bytes : bytes of text per chunk, cut at a line end.
    classes : every label, for a classifier (as ``partial_fit``'s ``classes``); None: the
        labels of the first chunk, and a later chunk with another label is an error.

    Every line is checked as :func:`~fmlearn.io.load_libfm` checks it, and errors name
    the file and line. The chunks' offsets and line numbers are learnt on the first pass
    through the file; after that, ``fit`` (unless ``shuffle=False``) visits them in a random order.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from fmlearn import FMRegressor
    >>> from fmlearn.io import FileStream, dump_libfm
    >>> path = Path(tempfile.mkdtemp()) / "train.libfm"
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 6)) < 0.5
    >>> dump_libfm(X.astype(float), X[:, 0] * 2.0 + 1.0, path)
    >>> stream = FileStream(path, n_features=6, chunk_bytes=1024)
    >>> model = FMRegressor(n_factors=2, max_iter=5, random_state=0).fit(stream)
    >>> model.n_features_in_, stream.n_chunks() > 1
    (6, True)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        format: str | None = None,
        n_features: int | None = None,
        zero_based: bool | str | None = None,
        dtype=np.float64,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        classes=None,
    ):
        name = os.fspath(path)
        if format is None:
            stem = os.path.splitext(name)[0] if _opener(name) else name  # t.ffm.gz: .ffm
            format = _SUFFIXES.get(os.path.splitext(stem)[1].lower(), "libfm")
        check_param("FileStream", "format", format, [Options(tuple(_FORMATS))])
        check_param("FileStream", "n_features", n_features, [Interval(int, 1, None), NONE])
        if zero_based is None:
            zero_based = "auto" if format == "libsvm" else True
        check_param("FileStream", "zero_based", zero_based, [BOOLEAN, Options(("auto",))])
        check_param("FileStream", "chunk_bytes", chunk_bytes, [Interval(int, 1, None)])
        if not os.path.exists(name):
            raise FileNotFoundError(f"No such file: {name!r}")
        self.path = name
        self.classes = None if classes is None else np.asarray(classes)
        self.format = format
        self.dtype = resolve_dtype(dtype, "FileStream")
        self.chunk_bytes = int(chunk_bytes)
        self._fmt = _FORMATS[format]
        self._base = None if zero_based == "auto" else int(not zero_based)
        self.n_features = n_features
        #: the field of each feature seen so far (libffm; checks that a feature keeps its
        #: field); ``fields`` is the whole file's, known after a first pass
        self._field_of = np.full(n_features or 0, -1, dtype=np.int32)
        self._seekable = _opener(name) is None
        #: where each chunk starts (and the file's end), for an uncompressed file: found by
        #: seeking, so the chunks are the same however the stream has been read before
        self._starts = _chunk_starts(name, self.chunk_bytes) if self._seekable else None
        #: lines before a chunk's start, where known (error messages; counted on demand)
        self._lines_before: dict[int, int] = {0: 0}
        if n_features is None or self._base is None:
            self._first_pass()

    def __repr__(self) -> str:
        return f"FileStream({self.path!r}, format={self.format!r}, n_features={self.n_features})"

    def n_chunks(self) -> int | None:
        return None if self._starts is None else len(self._starts) - 1

    def chunks(self, order: np.ndarray | None = None) -> Iterator[Chunk]:
        if self._starts is None:
            return self._sequential()
        return self._seeking(range(self.n_chunks()) if order is None else order)

    # ------------------------------------------------------------------------ reading
    def _seeking(self, order) -> Iterator[Chunk]:
        starts = self._starts
        with open(self.path, "rb") as f:
            for j in order:
                offset, end = int(starts[int(j)]), int(starts[int(j) + 1])
                buf = np.empty(end - offset, dtype=np.uint8)
                f.seek(offset)
                f.readinto(memoryview(buf))
                chunk = self._chunk(buf, offset)
                if chunk is not None:
                    yield chunk

    def _sequential(self) -> Iterator[Chunk]:
        """A compressed file's chunks, in order (it cannot seek)."""
        offset = 0
        for buf, line_base in _read_blocks(self.path, self.chunk_bytes):
            self._lines_before[offset] = line_base
            chunk = self._chunk(buf, offset)
            offset += buf.shape[0]
            if chunk is not None:
                yield chunk

    def _parsed(self, buf: np.ndarray, offset: int):
        """``buf`` parsed (:func:`parse_range`); the lines before it are remembered where
        known, for the next chunk's messages."""
        known = self._lines_before.get(offset)
        lines = known if known is not None else lambda: self._count_lines(offset)
        parsed = parse_range(self.path, buf, self._fmt, self.dtype, lines)
        if known is not None:
            self._lines_before[offset + buf.shape[0]] = known + parsed.n_newlines
        return parsed

    def _count_lines(self, offset: int) -> int:
        """Lines before byte ``offset`` (read and counted: only for error messages)."""
        if offset not in self._lines_before:
            self._lines_before[offset] = lines_before(self.path, offset)
        return self._lines_before[offset]

    def _first_pass(self) -> None:
        """Find the columns (and the index base, and a libffm file's fields)."""
        largest, smallest, raw_fields = _first_pass(self.path, self._fmt, self.dtype, "error")
        if self._base is None:
            self._base = int(smallest > 0)
        if self.n_features is None:
            self.n_features = max(largest + 1 - self._base, 1)
        if self._fmt.ffm:
            self.fields = np.full(self.n_features, -1, dtype=np.int32)
            known = raw_fields[self._base : self._base + self.n_features]
            self.fields[: known.shape[0]] = known
            self._field_of = self.fields.copy()

    def _chunk(self, buf: np.ndarray, offset: int) -> Chunk | None:
        parsed = self._parsed(buf, offset)
        if parsed.y.shape[0] == 0:
            return None
        _to_columns(parsed, self._base, self.n_features)
        if self._fmt.ffm:
            _assign_fields(parsed, self._field_of, self._base, "error")
        size, n_lines = buf.shape[0], max(parsed.n_newlines, 1)

        def where() -> str:  # a compressed file's line counts are known (read in order)
            first = self._count_lines(offset)
            lines = f"lines {first + 1}–{first + n_lines}"
            return f"{self.path}, {lines} (bytes {offset}–{offset + size})"

        return Chunk(_csr(parsed, self.n_features), parsed.y, None, where)


class _LinesCountedOnDemand(_Source):
    """A chunk's source whose line numbers count the lines before it only when an error
    asks for one: reading the file up to the chunk is then worth it, and only then."""

    def __init__(self, name: str, buf: np.ndarray, count: Callable[[], int]):
        super().__init__(name, buf, 0)
        self._count = count

    def line_number(self, pos: int) -> int:
        return self._count() + int(np.count_nonzero(self.buf[:pos] == 10)) + 1


def lines_before(path: str, offset: int) -> int:
    """Line ends before byte ``offset`` of an uncompressed file (for error messages)."""
    count = 0
    with open(path, "rb") as f:
        while f.tell() < offset:
            block = f.read(min(1 << 24, offset - f.tell()))
            count += block.count(b"\n")
    return count


def parse_range(path: str, buf: np.ndarray, fmt, dtype, lines):
    """``buf``, whole lines of ``path``, parsed.

    ``lines`` is the number of lines before ``buf`` in the file, or a function that counts them:
    called only if an error needs a line number, whether the parser raises it or a later
    check on the parsed rows does (an index out of range, a feature changing field)."""
    if not callable(lines):
        return _parse(_Source(path, buf, lines), fmt, dtype, "error")
    try:
        parsed = _parse(_Source(path, buf, 0), fmt, dtype, "error")
    except ValueError:
        _parse(_Source(path, buf, lines()), fmt, dtype, "error")  # the same error, numbered
        raise
    parsed.source = _LinesCountedOnDemand(path, buf, lines)
    return parsed


def _chunk_starts(path: str, chunk_bytes: int) -> np.ndarray:
    """Byte offsets where the chunks of an uncompressed file start, then its size: each
    chunk runs from one start to the first line end at or after ``chunk_bytes`` on."""
    size = os.path.getsize(path)
    starts = [0]
    with open(path, "rb") as f:
        while starts[-1] + chunk_bytes < size:
            f.seek(starts[-1] + chunk_bytes - 1)
            cut = -1
            while cut < 0:
                block = f.read(1 << 16)
                if not block:
                    break
                cut = block.find(b"\n")
                position = f.tell() - len(block)
            if cut < 0 or position + cut + 1 >= size:
                break
            starts.append(position + cut + 1)
    starts.append(size)
    return np.asarray(starts, dtype=np.int64)


class ChunkStream(Stream):
    """Chunks you make: ``(X, y)`` or ``(X, y, sample_weight)`` tuples.

    ``chunks``: a sequence of them (a list of chunks in memory, e.g. for a test), or a
    function of no arguments returning an iterable of them, called once per epoch (a
    generator reading a database, :func:`~fmlearn.io.iter_libsvm` …). ``X`` may be
    anything ``fit`` takes; every chunk must have the first chunk's columns (or fewer,
    for sparse chunks: missing columns are features no row has).

    A function's chunks are visited in the order it gives them; a sequence's in a random
    order unless ``shuffle=False``. ``classes``: as for :class:`FileStream`.

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn import FMClassifier
    >>> from fmlearn.io import ChunkStream
    >>> rng = np.random.default_rng(0)
    >>> chunks = [(rng.random((50, 4)), rng.integers(0, 2, 50)) for _ in range(3)]
    >>> model = FMClassifier(max_iter=3, random_state=0).fit(ChunkStream(chunks))
    >>> model.classes_.tolist(), model.n_iter_
    ([0, 1], 3)
    """

    def __init__(self, chunks: Iterable | Callable[[], Iterable], *, classes=None):
        self.classes = None if classes is None else np.asarray(classes)
        if callable(chunks):
            self._make = chunks
            self._sequence = None
        elif isinstance(chunks, list | tuple):
            self._make = None
            self._sequence = chunks
        else:
            raise TypeError(
                "ChunkStream takes a list of (X, y[, sample_weight]) chunks, or a function "
                f"that returns an iterable of them (called once per epoch); got "
                f"{type(chunks).__name__}. A generator can be read only once: wrap the code "
                "that makes it in a function."
            )

    def __repr__(self) -> str:
        what = f"{len(self._sequence)} chunks" if self._sequence is not None else self._make
        return f"ChunkStream({what})"

    def n_chunks(self) -> int | None:
        return None if self._sequence is None else len(self._sequence)

    def chunks(self, order: np.ndarray | None = None) -> Iterator[Chunk]:
        if self._sequence is not None:
            items = self._sequence if order is None else (self._sequence[j] for j in order)
            numbers = range(len(self._sequence)) if order is None else order
        else:
            items = self._make()
            numbers = None
        for j, item in enumerate(items):
            number = j if numbers is None else int(numbers[j])
            yield _as_chunk(item, number)


def _as_chunk(item, number: int) -> Chunk:
    where = f"chunk {number}"
    if not isinstance(item, tuple | list) or len(item) not in (2, 3):
        raise ValueError(
            f"{where} of the stream must be a tuple (X, y) or (X, y, sample_weight); got "
            f"{type(item).__name__}"
            + (f" of length {len(item)}." if isinstance(item, tuple | list) else ".")
        )
    return Chunk(item[0], item[1], item[2] if len(item) == 3 else None, where)


def is_stream(X) -> bool:
    """Whether ``fit`` would read ``X`` as a stream (see :func:`as_stream`)."""
    return isinstance(X, Stream | str | os.PathLike)


def as_stream(X) -> Stream | None:
    """``X`` as a stream if it is one (a :class:`Stream`, or a file's path: a
    :class:`FileStream` with the defaults), else None (``X`` is in-memory data)."""
    if isinstance(X, Stream):
        return X
    if isinstance(X, str | os.PathLike):
        return FileStream(X)
    return None
