"""The cutpoints of ordinal (ordered probit) regression: their Metropolis–Hastings step.

An ordinal FM gives class j when ``c_{j−1} < z ≤ c_j`` for a latent ``z ~ N(ŷ, 1)``
(``c_{−1} = −∞``, ``c_{J−1} = ∞``). The coordinate sweep (:mod:`fmlearn.kernels.coordinate`)
fits the FM to latent targets drawn within each row's class interval; the cutpoints
``c_0 < … < c_{J−2}`` are the extra parameters of this task, sampled here once per MCMC
sweep, before the latent targets. Kept apart from the sweep because they belong to the
task, not to the FM.
"""

import math

import numpy as np
from numba import njit

from fmlearn.kernels.truncated_normal import log_prob_between


@njit(cache=True, nogil=True)
def class_bounds(cut, c):
    """The latent interval ``(c_{c−1}, c_c]`` of class ``c``, infinite at the ends."""
    lo = cut[c - 1] if c > 0 else -np.inf
    hi = cut[c] if c < cut.shape[0] else np.inf
    return lo, hi


@njit(cache=True, nogil=True)
def update_cutpoints(rng, y, e, t, cut, step, adapt):
    """Metropolis–Hastings on each cutpoint with the latent z integrated out (Cowles 1996).

    Drawing c_j given z (Albert & Chib's uniform step) barely moves with many rows; the
    collapsed likelihood Π Φ(c_y − ŷ) − Φ(c_{y−1} − ŷ) does not have that problem. The
    prior on ordered cutpoints is flat. ``adapt`` tunes each random-walk step towards an
    acceptance rate of 0.44 (done only during burn-in, so the kept chain is a valid one).
    ``ŷ_n = e_n + t_n`` comes from the sweep's caches; ``cut`` and ``step`` are updated
    in place.
    """
    n_cut = cut.shape[0]
    for j in range(n_cut):
        lower = cut[j - 1] if j > 0 else -np.inf
        upper = cut[j + 1] if j + 1 < n_cut else np.inf
        proposal = cut[j] + step[j] * rng.standard_normal()
        accepted = False
        if lower < proposal < upper:
            delta = 0.0
            for n in range(y.shape[0]):
                c = int(y[n])
                if c != j and c != j + 1:
                    continue
                p = e[n] + t[n]
                lo, hi = class_bounds(cut, c)
                current = log_prob_between(lo - p, hi - p)
                if c == j:
                    hi = proposal
                else:
                    lo = proposal
                delta += log_prob_between(lo - p, hi - p) - current
            accepted = math.log(rng.random()) < delta
            if accepted:
                cut[j] = proposal
        if adapt:
            step[j] *= math.exp(0.2 * ((1.0 if accepted else 0.0) - 0.44))
