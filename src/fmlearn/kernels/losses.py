"""Pointwise losses, selected by an int code so that kernels stay cache-friendly.

Codes (mirrored by :class:`Loss`):

* ``SQUARED`` — ``½ (ŷ − y)²``; derivative ``ŷ − y`` (libFM's regression update).
* ``LOGISTIC`` — ``log(1 + exp(−y ŷ))`` with ``y ∈ {−1, +1}``; derivative
  ``−y σ(−y ŷ)``. Both are written to stay finite for any finite ``ŷ``.
* ``SOFTMAX`` — cross-entropy over C class scores: a loss of a vector of scores, so only
  the multiclass model's own epoch kernel (kernels/softmax.py) computes it;
  :func:`loss_value` and :func:`loss_derivative` are for the scalar codes above.
"""

from enum import IntEnum

import numpy as np
from numba import njit

SQUARED = 0
LOGISTIC = 1
SOFTMAX = 2


class Loss(IntEnum):
    SQUARED = SQUARED
    LOGISTIC = LOGISTIC
    SOFTMAX = SOFTMAX


@njit(cache=True, nogil=True, inline="always")
def sigmoid(z):
    """Numerically stable logistic function."""
    if z >= 0.0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@njit(cache=True, nogil=True, inline="always")
def log1p_exp(z):
    """``log(1 + exp(z))`` without overflow for large ``z``."""
    if z > 0.0:
        return z + np.log1p(np.exp(-z))
    return np.log1p(np.exp(z))


@njit(cache=True, nogil=True, inline="always")
def loss_value(code, p, y):
    if code == SQUARED:
        d = p - y
        return 0.5 * d * d
    return log1p_exp(-y * p)


@njit(cache=True, nogil=True, inline="always")
def loss_derivative(code, p, y):
    """``∂ loss / ∂ ŷ``."""
    if code == SQUARED:
        return p - y
    return -y * sigmoid(-y * p)
