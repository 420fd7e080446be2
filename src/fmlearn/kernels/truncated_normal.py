"""Truncated standard normals and probit helpers: the latent targets of probit models.

The coordinate sweep (:mod:`fmlearn.kernels.coordinate`) handles a probit link by data
augmentation (Albert & Chib 1993): each row gets a latent target ``z ~ N(ŷ, 1)``
restricted to the side of its label — ``(0, ∞)`` or ``(−∞, 0)`` for binary
classification, the class's interval ``(c_{y−1}, c_y]`` for ordinal regression — and
the FM is then fitted to ``z`` under a Gaussian likelihood. MCMC draws ``z`` from that
truncated normal; ALS (then EM) uses its expectation. The ordinal cutpoint sampler
(:mod:`fmlearn.kernels.ordinal`) needs the interval probabilities ``Φ(hi) − Φ(lo)`` in
log space. These are self-contained numerics, kept apart so that the sweep reads as one
pass over the parameters.

Random numbers come from the caller's ``numpy.random.Generator`` (numba draws from it
and advances its state), so the draws are repeatable bit for bit.
"""

import math

from numba import njit


@njit(cache=True, nogil=True)
def _std_normal_above(rng, a):
    """A draw from N(0, 1) truncated to (a, ∞) — Robert (1995) for the tail."""
    if a < 0.45:
        while True:  # acceptance ≥ 1 − Φ(0.45) ≈ 0.33
            z = rng.standard_normal()
            if z > a:
                return z
    lam = 0.5 * (a + math.sqrt(a * a + 4.0))
    while True:
        z = a + rng.exponential(1.0 / lam)
        if rng.random() <= math.exp(-0.5 * (z - lam) * (z - lam)):
            return z


@njit(cache=True, nogil=True)
def truncated_normal(rng, mean, positive):
    """A draw from N(mean, 1) truncated to (0, ∞) if ``positive`` else (−∞, 0)."""
    if positive:
        return mean + _std_normal_above(rng, -mean)
    return mean - _std_normal_above(rng, mean)


@njit(cache=True, nogil=True)
def std_normal_between(rng, lo, hi):
    """A draw from N(0, 1) truncated to (lo, hi), lo < hi (either may be infinite).

    Mirrors the left tail onto the right; on the right, a narrow interval uses uniform
    proposals (Robert 1995) and a wide one the one-sided sampler, rejecting above ``hi``.
    Every branch accepts with probability ≥ ~0.3.
    """
    if hi <= 0.0:
        return -std_normal_between(rng, -hi, -lo)
    if lo < 0.0:  # the interval holds 0
        if hi - lo >= 1.0:
            while True:
                z = rng.standard_normal()
                if lo < z < hi:
                    return z
        while True:
            z = lo + (hi - lo) * rng.random()
            if rng.random() <= math.exp(-0.5 * z * z):
                return z
    if hi - lo < 1.0 and lo * (hi - lo) <= 0.7:
        while True:
            z = lo + (hi - lo) * rng.random()
            if rng.random() <= math.exp(0.5 * (lo * lo - z * z)):
                return z
    while True:
        z = _std_normal_above(rng, lo)
        if z < hi:
            return z


@njit(cache=True, nogil=True)
def log_prob_between(lo, hi):
    """log(Φ(hi) − Φ(lo)) for lo < hi, accurate in both tails."""
    r = 1.0 / math.sqrt(2.0)
    if lo > 0.0:  # upper tail: difference of survival functions
        p = 0.5 * (math.erfc(lo * r) - math.erfc(hi * r))
    elif hi < 0.0:
        p = 0.5 * (math.erfc(-hi * r) - math.erfc(-lo * r))
    else:
        p = 1.0 - 0.5 * (math.erfc(hi * r) + math.erfc(-lo * r))
    return math.log(max(p, 1e-300))


@njit(cache=True, nogil=True)
def _normal_pdf_over_cdf(z):
    """φ(z) / Φ(z), stable for very negative z (Mills ratio asymptote)."""
    if z < -30.0:
        return -z
    phi = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return phi / (0.5 * math.erfc(-z / math.sqrt(2.0)))


@njit(cache=True, nogil=True)
def probit_latent_mean(mean, positive):
    """E[z] for z ~ N(mean, 1) truncated to the side of the label (the EM target)."""
    if positive:
        return mean + _normal_pdf_over_cdf(mean)
    return mean - _normal_pdf_over_cdf(-mean)
