"""Tokenisers for libSVM / libFM / libffm text: raw bytes in, CSR arrays out.

One pass over the bytes of a file (a ``uint8`` array) fills arrays the caller pre-sized
from :func:`count_newlines_and_colons`. Nothing here raises: on the first malformed token
the parser stops and returns an int code and the token's byte range, and the caller (in
``fmlearn.io.text``) turns them into a message naming the file, line and text.

Labels and values are read by :mod:`fmlearn.kernels.text_numbers`, exactly as Python's
``float()`` reads them; every token it cannot settle — more digits, halfway cases,
subnormals, ``inf``/``nan`` spellings, garbage — is reported back as *slow* (its byte
range) for Python's ``float()``.

Grammar, per line (``\\n`` ends a line; space, ``\\t``, ``\\r``, ``\\v``, ``\\f`` separate
tokens; ``#`` starts a comment up to the end of the line; blank lines are skipped)::

    label [qid:INT] INDEX:VALUE ...             (libSVM / libFM)
    label FIELD:INDEX:VALUE ...                 (libffm)

INDEX and FIELD are ``[+]digits`` at most :data:`MAX_INDEX`; label and VALUE are decimals.
"""

import numpy as np
from numba import njit
from numba.core import cgutils
from numba.extending import intrinsic, overload

from fmlearn.kernels.text_ascii import _COLON, _HASH, _MINUS, _NEWLINE, _PLUS, _ZERO, _is_digit
from fmlearn.kernels.text_numbers import _scan_decimal

_ONE = _ZERO + 1

# Status codes returned by parse_text / scan_uint (mirrored in fmlearn.io.text messages).
OK = 0
ERR_MISSING_LABEL = 1  # the first token of a line contains ':'
ERR_NO_COLON = 2  # a feature token without ':' (libSVM / libFM)
ERR_BAD_INDEX = 3  # an index that is not [+]digits
ERR_NEGATIVE_INDEX = 4
ERR_INDEX_TOO_LARGE = 5
ERR_BAD_FIELD = 6  # the same three for libffm fields, in the same order
ERR_NEGATIVE_FIELD = 7
ERR_FIELD_TOO_LARGE = 8
ERR_FFM_SYNTAX = 9  # a libffm token without two ':'
ERR_BAD_QID = 10  # qid:VALUE whose value is not an integer
ERR_QID_PLACE = 11  # qid:VALUE anywhere but right after the label
ERR_CAPACITY = 12  # the pre-sized arrays were too small: a bug, never the input's fault
SLOW_FULL = 13  # not an error: the table of slow numbers is full (parse_text)


def _borrowed(arr):
    """The same array without its reference count (a null meminfo), for the byte buffer
    that every per-entry helper reads: numba counts references to an array argument with
    atomic increments and decrements on every call, half of a parse (perf, 2026-12-01;
    docs/design.md §9), and skips them for a null meminfo. Only for a view that does not
    outlive the call it is made in: the caller's argument keeps the bytes alive.

    In pure Python (``NUMBA_DISABLE_JIT=1``) it is the array itself."""
    return arr


@overload(_borrowed)
def _borrowed_jit(arr):
    return lambda arr: _null_meminfo_view(arr)


@intrinsic
def _null_meminfo_view(typingctx, arr):

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        src = context.make_array(aryty)(context, builder, value=args[0])
        dst = context.make_array(aryty)(context, builder)
        dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
        dst.parent = cgutils.get_null_value(dst.parent.type)
        dst.nitems = src.nitems
        dst.itemsize = src.itemsize
        dst.data = src.data
        dst.shape = src.shape
        dst.strides = src.strides
        return dst._getvalue()

    return arr(arr), codegen


#: Largest index or field: n_features = index + 1 must fit an int32.
MAX_INDEX = 2**31 - 2
_MAX_QID_DIGITS = 18  # |qid| < 10^18 fits an int64


@njit(cache=True, nogil=True, inline="always")
def _is_space(c):
    """ASCII whitespace other than the newline (what ``bytes.split()`` splits on)."""
    return c == 32 or (c >= 9 and c <= 13 and c != _NEWLINE)


@njit(cache=True, nogil=True, inline="always")
def _ends_token(c):
    """Whitespace, a newline or '#'."""
    return c == 32 or (c >= 9 and c <= 13) or c == _HASH


@njit(cache=True, nogil=True)
def count_newlines_and_colons(buf):
    """``(n '\\n', n ':')`` in ``buf``: bounds for the number of rows and of entries."""
    n_newlines = 0
    n_colons = 0
    for c in buf:
        if c == _NEWLINE:
            n_newlines += 1
        elif c == _COLON:
            n_colons += 1
    return n_newlines, n_colons


@njit(cache=True, nogil=True, inline="always")
def _scan_float_token(buf, start, n):
    """``(value, fast, end)`` for the token at ``start``: one pass over its bytes.

    ``end`` is where the token ends (whitespace, '#', end of buffer); ``fast`` is False
    when the token is not a decimal on the fast path (the caller re-reads it).
    """
    if start < n and buf[start] == _ONE and (start + 1 == n or _ends_token(buf[start + 1])):
        return 1.0, True, start + 1  # one-hot data: nearly every value (and label) is "1"
    value, fast, stop = _scan_decimal(buf, start, n)
    if fast and (stop == n or _ends_token(buf[stop])):
        return value, True, stop
    return 0.0, False, _token_end(buf, start, n)


@njit(cache=True, nogil=True, inline="always")
def _scan_entry(buf, pos, n, ffm):
    """``(ok, field, index, value_start)`` for the common ``[digits:]digits:`` prefix.

    One pass, no validation beyond the happy case: ``ok`` False sends the caller to the
    general (slower, error-reporting) path.
    """
    field = 0
    if ffm:
        field, pos = _digits_colon(buf, pos, n)
        if field < 0:
            return False, 0, 0, 0
    index, pos = _digits_colon(buf, pos, n)
    return index >= 0, field, index, pos


@njit(cache=True, nogil=True, inline="always")
def _digits_colon(buf, pos, n):
    """``(value, position after the ':')`` of ``digits:`` at ``pos``, or ``(-1, pos)``."""
    start = pos
    value = 0
    while pos < n and _is_digit(buf[pos]):
        value = value * 10 + (np.int64(buf[pos]) - _ZERO)
        pos += 1
    # more than 10 digits may have overflowed: the general path reports the index
    if pos == start or pos - start > 10 or value > MAX_INDEX or pos == n or buf[pos] != _COLON:
        return -1, pos
    return value, pos + 1


@njit(cache=True, nogil=True)
def scan_uint(buf, start, end):
    """``(value, status)`` of an index or field ``[+]digits`` in ``buf[start:end]``.

    status: 0 ok, 1 not an integer, 2 negative, 3 larger than :data:`MAX_INDEX`.
    """
    i = start
    negative = i < end and buf[i] == _MINUS
    if i < end and (buf[i] == _PLUS or negative):
        i += 1
    if i == end:
        return 0, 1
    value = 0
    too_large = False
    while i < end:
        c = buf[i]
        if not _is_digit(c):
            return 0, 1
        if not too_large:
            value = value * 10 + (np.int64(c) - _ZERO)
            too_large = value > MAX_INDEX
        i += 1
    if negative:
        return 0, 2
    if too_large:
        return 0, 3
    return value, 0


@njit(cache=True, nogil=True)
def _scan_qid(buf, start, end):
    """``(value, ok)`` of a signed decimal integer of at most 18 digits."""
    i = start
    negative = i < end and buf[i] == _MINUS
    if i < end and (buf[i] == _PLUS or negative):
        i += 1
    if i == end or end - i > _MAX_QID_DIGITS:
        return 0, False
    value = 0
    while i < end:
        if not _is_digit(buf[i]):
            return 0, False
        value = value * 10 + (np.int64(buf[i]) - _ZERO)
        i += 1
    return (-value if negative else value), True


@njit(cache=True, nogil=True, inline="always")
def _token_end(buf, pos, n):
    """First position at or after ``pos`` that ends a token (whitespace, '#', end)."""
    while pos < n and not _ends_token(buf[pos]):
        pos += 1
    return pos


@njit(cache=True, nogil=True, inline="always")
def _find(buf, start, end, byte):
    """Position of the first ``byte`` in ``buf[start:end]``, or -1."""
    for i in range(start, end):
        if buf[i] == byte:
            return i
    return -1


@njit(cache=True, nogil=True)
def _split_feature(buf, start, end, ffm):
    """``(status, field, index, value_start)`` of one ``[FIELD:]INDEX:VALUE`` token."""
    colon = _find(buf, start, end, _COLON)
    if colon < 0:
        return (ERR_FFM_SYNTAX if ffm else ERR_NO_COLON), 0, 0, 0
    field = 0
    index_start = start
    if ffm:
        field, status = scan_uint(buf, start, colon)
        if status != 0:
            return ERR_BAD_FIELD + status - 1, 0, 0, 0
        index_start = colon + 1
        colon = _find(buf, index_start, end, _COLON)
        if colon < 0:
            return ERR_FFM_SYNTAX, 0, 0, 0
    index, status = scan_uint(buf, index_start, colon)
    if status != 0:
        return ERR_BAD_INDEX + status - 1, 0, 0, 0
    return OK, field, index, colon + 1


@njit(cache=True, nogil=True, inline="always")
def _is_qid(buf, start, end):
    return (
        end - start >= 4
        and buf[start] == 113  # 'q'
        and buf[start + 1] == 105  # 'i'
        and buf[start + 2] == 100  # 'd'
        and buf[start + 3] == _COLON
    )


@njit(cache=True, nogil=True)
def parse_text(
    buf, ffm, allow_qid, indptr, indices, data, fields, y, qid, row_starts, slow, resume
):
    """Parse the lines of ``buf`` into the pre-sized CSR arrays, from where ``resume`` says.

    ``indptr`` (n_rows + 1), ``y``, ``row_starts`` (byte offset of each row's line) and,
    when ``allow_qid``, ``qid`` (-1 where a row has none) hold at least one slot per line;
    ``indices``, ``data`` and, when ``ffm``, ``fields`` one per entry. Raw indices are
    stored (no base shift); rows keep the file's order of entries.

    ``resume`` (int64: byte position, rows, entries, rows with a qid, canonical 0/1;
    ``[0, 0, 0, 0, 1]`` to start) is where parsing starts, and is updated to where it
    stopped. ``slow`` (k × 3) receives ``(target, start, end)`` for numbers the caller
    must parse (``target`` is the entry position, or ``-(row + 1)`` for a label), which
    hold NaN until then; ``canonical`` turns 0 when some row has unsorted or repeated
    indices.

    Returns ``(status, n_slow, err_start, err_end)``: ``err_start:err_end`` is the
    offending token when ``status`` is an error. :data:`SLOW_FULL` is no error: ``slow``
    filled up, and parsing stopped before the line it filled up in (``n_slow`` 0: that
    line alone has more slow numbers than ``slow`` has rows); the caller parses the
    numbers and calls again. The table is the caller's, not grown here: an array the
    kernel might replace would be reference-counted at every entry (docs/design.md §9).
    """
    buf = _borrowed(buf)
    indices, data, fields, qid = (
        _borrowed(indices),
        _borrowed(data),
        _borrowed(fields),
        _borrowed(qid),
    )
    slow = _borrowed(slow)
    n = buf.shape[0]
    pos, row, nnz, n_qid = resume[0], resume[1], resume[2], resume[3]
    canonical = resume[4] == 1
    n_slow = 0
    if row == 0:
        indptr[0] = 0
    status, err_start, err_end = OK, 0, 0
    while pos < n:
        line_start = pos
        while pos < n and _is_space(buf[pos]):
            pos += 1
        if pos == n:
            break
        if buf[pos] == _NEWLINE or buf[pos] == _HASH:
            pos = _skip_line(buf, pos, n)
            continue
        line_slow = n_slow
        value, fast, end = _scan_float_token(buf, pos, n)
        if not fast and _find(buf, pos, end, _COLON) >= 0:
            status, err_start, err_end = ERR_MISSING_LABEL, pos, end
            break
        if row >= y.shape[0]:
            status, err_start, err_end = ERR_CAPACITY, pos, end
            break
        if not fast:
            if n_slow == slow.shape[0]:
                pos, status = line_start, SLOW_FULL
                break
            slow[n_slow, 0], slow[n_slow, 1], slow[n_slow, 2] = -(row + 1), pos, end
            n_slow += 1
            value = np.nan
        y[row] = value
        row_starts[row] = line_start
        if allow_qid:
            qid[row] = -1
        status, end_pos, end, new_nnz, n_slow, sorted_row, has_qid = _parse_features(
            buf, end, row, ffm, allow_qid, indices, data, fields, qid, nnz, slow, n_slow
        )
        if status == SLOW_FULL:
            pos, n_slow = line_start, line_slow  # this line again, next call
            break
        if status != OK:
            err_start, err_end = end_pos, end
            nnz = new_nnz
            break
        nnz = new_nnz
        n_qid += has_qid
        canonical = canonical and sorted_row
        row += 1
        indptr[row] = nnz
        pos = _skip_line(buf, end_pos, n)
    resume[0], resume[1], resume[2], resume[3] = pos, row, nnz, n_qid
    resume[4] = 1 if canonical else 0
    return status, n_slow, err_start, err_end


@njit(cache=True, nogil=True, inline="always")
def _parse_features(buf, pos, row, ffm, allow_qid, indices, data, fields, qid, nnz, slow, n_slow):
    """The entries of one line, from ``pos`` to the line's end, appended at ``nnz``.

    Returns ``(status, pos, end, nnz, n_slow, sorted_row, has_qid)``; on an error,
    ``pos:end`` is the offending token; :data:`SLOW_FULL` when ``slow`` has no room left.
    Inlined into :func:`parse_text`: a call per line, with its array arguments, cost a
    fifth of the parse in reference counts.
    """
    n = buf.shape[0]
    first = True
    has_qid = False
    sorted_row = True
    previous = -1
    while True:
        while pos < n and _is_space(buf[pos]):
            pos += 1
        if pos == n or buf[pos] == _NEWLINE or buf[pos] == _HASH:
            return OK, pos, pos, nnz, n_slow, sorted_row, has_qid
        if allow_qid and _is_qid(buf, pos, n):
            status, end = _parse_qid(buf, pos, n, first, qid, row)
            if status != OK:
                return status, pos, end, nnz, n_slow, sorted_row, has_qid
            has_qid = True
            first = False
            pos = end
            continue
        first = False
        ok, field, index, value_start = _scan_entry(buf, pos, n, ffm)
        if not ok:  # the general path, which finds what is wrong
            end = _token_end(buf, pos, n)
            status, field, index, value_start = _split_feature(buf, pos, end, ffm)
            if status != OK:
                return status, pos, end, nnz, n_slow, sorted_row, has_qid
        if nnz >= indices.shape[0]:
            return ERR_CAPACITY, pos, pos, nnz, n_slow, sorted_row, has_qid
        value, fast, end = _scan_float_token(buf, value_start, n)
        if not fast:
            if n_slow == slow.shape[0]:
                return SLOW_FULL, pos, end, nnz, n_slow, sorted_row, has_qid
            slow[n_slow, 0], slow[n_slow, 1], slow[n_slow, 2] = nnz, value_start, end
            n_slow += 1
            value = np.nan
        sorted_row = sorted_row and index > previous
        previous = index
        indices[nnz] = index
        data[nnz] = value
        if ffm:
            fields[nnz] = field
        nnz += 1
        pos = end


@njit(cache=True, nogil=True)
def _parse_qid(buf, pos, n, first, qid, row):
    """``(status, end)`` for the ``qid:N`` token at ``pos``; stores N in ``qid[row]``."""
    end = _token_end(buf, pos, n)
    q, ok = _scan_qid(buf, pos + 4, end)
    if not ok:
        return ERR_BAD_QID, end
    if not first:
        return ERR_QID_PLACE, end
    qid[row] = q
    return OK, end


@njit(cache=True, nogil=True, inline="always")
def _skip_line(buf, pos, n):
    """Position just after the next newline (or ``n``)."""
    while pos < n and buf[pos] != _NEWLINE:
        pos += 1
    return pos + 1 if pos < n else n


@njit(cache=True, nogil=True)
def canonicalize_rows(indptr, indices, data, fields, ffm):
    """Sort every row by index and sum repeated indices, in place.

    FMs need each feature at most once per row (a repeated one would interact with
    itself), so repeats are summed as scipy's ``sum_duplicates`` does. The sort is stable,
    so for libffm the first field written in the line is kept. Returns ``(nnz,
    conflict_row, conflict_index)``: the row and raw index of the first repeat that came
    with two different fields, or ``(nnz, -1, -1)``.
    """
    n_rows = indptr.shape[0] - 1
    out = 0
    conflict_row = -1
    conflict_index = -1
    for row in range(n_rows):
        start = indptr[row]
        stop = indptr[row + 1]
        indptr[row] = out
        order = np.argsort(indices[start:stop], kind="mergesort")
        row_indices = indices[start:stop][order]
        row_data = data[start:stop][order]
        row_fields = fields[start:stop][order] if ffm else fields[:0]
        for k in range(stop - start):
            if k > 0 and row_indices[k] == indices[out - 1]:
                data[out - 1] += row_data[k]
                if ffm and row_fields[k] != fields[out - 1] and conflict_row < 0:
                    conflict_row = row
                    conflict_index = row_indices[k]
                continue
            indices[out] = row_indices[k]
            data[out] = row_data[k]
            if ffm:
                fields[out] = row_fields[k]
            out += 1
    indptr[n_rows] = out
    return out, conflict_row, conflict_index


@njit(cache=True, nogil=True)
def assign_fields(indices, fields, field_of, stop_at_conflict):
    """Record each feature's field in ``field_of`` (-1: not seen yet), first field wins.

    Returns the first entry whose field differs from the one recorded for its feature,
    or -1; with ``stop_at_conflict`` the scan ends there.
    """
    conflict = -1
    for p in range(indices.shape[0]):
        j = indices[p]
        if field_of[j] < 0:
            field_of[j] = fields[p]
        elif field_of[j] != fields[p] and conflict < 0:
            conflict = p
            if stop_at_conflict:
                break
    return conflict
