"""Decimal text to the double that Python's ``float()`` gives, without leaving numba.

Numbers must come out exactly as Python's ``float()`` (``strtod``) gives them, so that a
file reads the same here as in scikit-learn. A decimal ``m · 10^e`` with ``m ≤ 2^53`` and
``|e| ≤ 22`` takes Clinger's fast path (W. D. Clinger, "How to read floating point numbers
accurately", PLDI 1990): one correctly rounded IEEE multiply or divide of two exact
doubles. Up to 19 significant digits and ``|e| ≤ 347`` take Eisel-Lemire (see
:func:`_eisel_lemire`), which decides the correctly rounded double or gives up. Every
other number — more digits, halfway cases, subnormals — comes back with ``fast`` False,
for the caller to hand to Python's ``float()``. The entry point is :func:`_scan_decimal`,
which the tokeniser (:mod:`fmlearn.kernels.text_parse`) calls on every label and value.
"""

import math

import numpy as np
from numba import njit

from fmlearn.kernels.text_ascii import _DOT, _MINUS, _PLUS, _ZERO, _is_digit

_POW10 = np.array([float(10**k) for k in range(23)])  # exact doubles
_MIN_EXP10, _MAX_EXP10 = -348, 347


def _powers_of_ten_128() -> np.ndarray:
    """``[low, high]`` 64-bit words of 10^e, e in [-348, 347], normalised to 128 bits
    (top bit set) and rounded down: the table of Eisel-Lemire (Go's detailedPowersOfTen).
    """
    table = np.empty((_MAX_EXP10 - _MIN_EXP10 + 1, 2), dtype=np.uint64)
    for e in range(_MIN_EXP10, _MAX_EXP10 + 1):
        if e >= 0:
            v = 10**e
            n = v.bit_length()
            v = v << (128 - n) if n <= 128 else v >> (n - 128)
        else:
            d = 10**-e
            v = (1 << (d.bit_length() + 127)) // d
        table[e - _MIN_EXP10] = (v & (2**64 - 1), v >> 64)
    return table


_POW10_128 = _powers_of_ten_128()
# uint64 constants: numba turns uint64-int64 arithmetic into float64, so none is mixed.
_U0, _U1, _U3, _U9, _U10, _U32 = (np.uint64(k) for k in (0, 1, 3, 9, 10, 32))
_U53, _U63, _U511, _U_ZERO = (np.uint64(k) for k in (53, 63, 511, 48))
_U2_53 = np.uint64(2**53)
_U_LOW32 = np.uint64(2**32 - 1)


@njit(cache=True, nogil=True, inline="always")
def _scan_decimal(buf, start, limit):
    """``(value, fast, stop)`` of the decimal ``[+-]digits[.digits][e[+-]digits]`` at
    ``start``; ``stop`` is the first byte after it. ``fast`` is False when the number is
    malformed or needs more than this kernel does (see :func:`_to_double`); ``value`` is
    then meaningless.
    """
    i = start
    negative = False
    if i < limit and (buf[i] == _PLUS or buf[i] == _MINUS):
        negative = buf[i] == _MINUS
        i += 1
    mantissa = _U0
    n_digits = 0  # significant digits in mantissa (leading zeros do not count)
    exponent = 0
    any_digit = False
    after_dot = False
    while i < limit:
        c = buf[i]
        if _is_digit(c):
            any_digit = True
            if n_digits > 0 or c != _ZERO:
                if n_digits == 19:  # 10^19 > 2^64: leave it to Python
                    return 0.0, False, i
                mantissa = mantissa * _U10 + (np.uint64(c) - _U_ZERO)
                n_digits += 1
            if after_dot:
                exponent -= 1
        elif c == _DOT and not after_dot:
            after_dot = True
        else:
            break
        i += 1
    if not any_digit:
        return 0.0, False, i
    if i < limit and (buf[i] == 69 or buf[i] == 101):  # 'E' or 'e'
        exponent, i, ok = _scan_exponent(buf, i + 1, limit, exponent)
        if not ok:
            return 0.0, False, i
    value, fast = _to_double(mantissa, exponent)
    return (-value if negative else value), fast, i


@njit(cache=True, nogil=True)
def _to_double(mantissa, exponent):
    """``(mantissa · 10^exponent, True)`` correctly rounded, or ``(0.0, False)``.

    Clinger's fast path when both factors are exact doubles, else Eisel-Lemire; False
    only for the rare cases neither settles (halfway ambiguities, subnormal or infinite
    results), which Python's ``float()`` then parses.
    """
    if mantissa == _U0:
        return 0.0, True
    if mantissa <= _U2_53 and exponent >= -22 and exponent <= 22:
        if exponent >= 0:
            return np.float64(mantissa) * _POW10[exponent], True
        return np.float64(mantissa) / _POW10[-exponent], True
    return _eisel_lemire(mantissa, exponent)


@njit(cache=True, nogil=True)
def _eisel_lemire(mantissa, exponent):
    """Eisel-Lemire: ``mantissa · 10^exponent`` (uint64 ``mantissa`` > 0) to a double.

    D. Lemire, "Number Parsing at a Gigabyte per Second", Software: Practice and
    Experience 51(8), 2021, as written in Go's strconv (eisel_lemire.go): multiply the
    normalised mantissa by a 128-bit truncation of 10^exponent and round, giving up
    (``ok`` False) exactly where the truncation could change the rounding.
    """
    if exponent < _MIN_EXP10 or exponent > _MAX_EXP10:
        return 0.0, False
    clz = _leading_zeros(mantissa)
    man = mantissa << np.uint64(clz)
    exp2 = ((217706 * exponent) >> 16) + 64 + 1023 - clz  # 217706 / 2^16 ≈ log2(10)
    power_lo = _POW10_128[exponent - _MIN_EXP10, 0]
    power_hi = _POW10_128[exponent - _MIN_EXP10, 1]
    x_hi, x_lo = _mul_64(man, power_hi)
    if (x_hi & _U511) == _U511 and x_lo + man < man:  # refine with the low 64 bits
        y_hi, y_lo = _mul_64(man, power_lo)
        merged_lo = x_lo + y_hi
        merged_hi = x_hi + _U1 if merged_lo < x_lo else x_hi
        if (merged_hi & _U511) == _U511 and merged_lo + _U1 == _U0 and y_lo + man < man:
            return 0.0, False
        x_hi = merged_hi
        x_lo = merged_lo
    msb = x_hi >> _U63
    bits = x_hi >> (msb + _U9)
    exp2 -= 1 - np.int64(msb)
    if x_lo == _U0 and (x_hi & _U511) == _U0 and (bits & _U3) == _U1:
        return 0.0, False  # halfway: the rounding direction is not provable here
    bits = (bits + (bits & _U1)) >> _U1
    if (bits >> _U53) > _U0:
        bits >>= _U1
        exp2 += 1
    if exp2 <= 0 or exp2 >= 0x7FF:  # subnormal or infinite
        return 0.0, False
    return math.ldexp(np.float64(bits), int(exp2 - 1075)), True  # int(): also without JIT


@njit(cache=True, nogil=True)
def _mul_64(a, b):
    """``(high, low)`` 64-bit halves of the 128-bit product of uint64 ``a`` and ``b``."""
    a_lo = a & _U_LOW32
    a_hi = a >> _U32
    b_lo = b & _U_LOW32
    b_hi = b >> _U32
    p0 = a_lo * b_lo
    p1 = a_lo * b_hi
    p2 = a_hi * b_lo
    middle = (p0 >> _U32) + (p1 & _U_LOW32) + (p2 & _U_LOW32)
    high = a_hi * b_hi + (p1 >> _U32) + (p2 >> _U32) + (middle >> _U32)
    return high, (middle << _U32) | (p0 & _U_LOW32)


@njit(cache=True, nogil=True)
def _leading_zeros(x):
    """Leading zero bits of a nonzero uint64."""
    n = 0
    for shift in (32, 16, 8, 4, 2, 1):
        if (x >> np.uint64(64 - shift)) == _U0:
            x <<= np.uint64(shift)
            n += shift
    return n


@njit(cache=True, nogil=True)
def _scan_exponent(buf, i, limit, exponent):
    """``(exponent + e, position after e, ok)`` for the exponent digits at ``i``.

    The exponent saturates: a huge one is far outside the fast path anyway.
    """
    negative = False
    if i < limit and (buf[i] == _PLUS or buf[i] == _MINUS):
        negative = buf[i] == _MINUS
        i += 1
    if i == limit or not _is_digit(buf[i]):
        return exponent, i, False
    e = 0
    while i < limit and _is_digit(buf[i]):
        if e < 100_000:
            e = e * 10 + (np.int64(buf[i]) - _ZERO)
        i += 1
    return (exponent - e if negative else exponent + e), i, True
