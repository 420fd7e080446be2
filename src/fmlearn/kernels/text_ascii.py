"""The bytes of the text formats, named once for the parser, the number reader and the writer."""

from numba import njit

_NEWLINE, _HASH, _COLON, _PLUS, _MINUS, _DOT, _ZERO, _NINE = 10, 35, 58, 43, 45, 46, 48, 57


@njit(cache=True, nogil=True)
def _is_digit(c):
    return c >= _ZERO and c <= _NINE
