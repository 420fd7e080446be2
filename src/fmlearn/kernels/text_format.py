"""CSR rows to libSVM / libFM / libffm text in one numba pass, for the writers of ``fmlearn.io``.

No float is formatted here: the caller formats each distinct number once, in Python, with
the shortest text that reads back exactly, and the kernel copies those strings.
"""

import numpy as np
from numba import njit

from fmlearn.kernels.text_ascii import _COLON, _NEWLINE, _ZERO


@njit(cache=True, nogil=True)
def _n_digits(value):
    n = 1
    while value >= 10:
        value //= 10
        n += 1
    return n


@njit(cache=True, nogil=True)
def _write_uint(out, pos, value):
    """Decimal digits of ``value >= 0`` at ``out[pos:]``; returns the position after."""
    n = _n_digits(value)
    for k in range(n - 1, -1, -1):
        out[pos + k] = _ZERO + value % 10
        value //= 10
    return pos + n


@njit(cache=True, nogil=True)
def _write_text(out, pos, table, offsets, k):
    """Copy string ``k`` of a table (concatenated bytes + offsets) to ``out[pos:]``."""
    for i in range(offsets[k], offsets[k + 1]):
        out[pos] = table[i]
        pos += 1
    return pos


@njit(cache=True, nogil=True)
def format_rows(indptr, indices, value_ids, field_of, label_ids, base, ffm, values, labels, rows):
    """The text of rows ``rows[0]:rows[1]`` as ``uint8`` bytes, one line per row.

    Numbers are written by copying strings the caller formatted once per distinct value
    (``values``/``labels``: ``(concatenated bytes, offsets)``; ``value_ids``/``label_ids``:
    which string each entry/row uses), so the kernel never formats a float itself.
    """
    table, offsets = values
    label_table, label_offsets = labels
    size = 0
    for row in range(rows[0], rows[1]):
        size += label_offsets[label_ids[row] + 1] - label_offsets[label_ids[row]] + 1
        for p in range(indptr[row], indptr[row + 1]):
            k = value_ids[p]
            size += 2 + _n_digits(indices[p] + base) + offsets[k + 1] - offsets[k]
            if ffm:
                size += 1 + _n_digits(field_of[indices[p]])
    out = np.empty(size, dtype=np.uint8)
    pos = 0
    for row in range(rows[0], rows[1]):
        pos = _write_text(out, pos, label_table, label_offsets, label_ids[row])
        for p in range(indptr[row], indptr[row + 1]):
            out[pos] = 32
            pos += 1
            if ffm:
                pos = _write_uint(out, pos, field_of[indices[p]])
                out[pos] = _COLON
                pos += 1
            pos = _write_uint(out, pos, indices[p] + base)
            out[pos] = _COLON
            pos = _write_text(out, pos + 1, table, offsets, value_ids[p])
        out[pos] = _NEWLINE
        pos += 1
    return out
