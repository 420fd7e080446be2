"""ALS for the higher-order FM against coordinate minimisation written out with the
naive predictor (kernels/anova_coordinate.py)."""

import itertools

import numpy as np
import pytest

from fmlearn.kernels.anova_coordinate import anova_als_sweep, anova_caches
from reference import kernel_csr, naive_predict_anova, random_csr


def reference_sweep(Xd, y, sw, w0, w, V, regs, fit_intercept=True, fit_linear=True):
    """Each parameter in the kernel's order set to argmin ½ Σ s e² + ½ λ θ²: ŷ is linear
    in it, so h = ŷ(θ = 1) − ŷ(θ = 0) and θ = Σ s h (y − ŷ(0)) / (Σ s h² + λ)."""

    def coordinate(array, index, lam):
        old = array[index]
        array[index] = 0.0
        g = naive_predict_anova(Xd, w0, w, V)
        array[index] = 1.0
        h = naive_predict_anova(Xd, w0, w, V) - g
        array[index] = old
        denom = np.sum(sw * h * h) + lam
        if denom > 0:  # h ≡ 0: the penalty alone, minimised at 0
            array[index] = np.sum(sw * h * (y - g)) / denom

    if fit_intercept:
        coordinate(w0, 0, regs[0])
    for i in range(Xd.shape[1]):
        if not np.any(Xd[:, i]):
            continue
        if fit_linear:
            coordinate(w, i, regs[1])
        for j in range(V.shape[1]):
            for f in range(V.shape[2]):
                coordinate(V, (i, j, f), regs[2])


@pytest.mark.parametrize("degree", [2, 3, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_sweeps_match_coordinate_minimisation(degree, weighted):
    rng = np.random.default_rng(degree)
    X = random_csr(20, 6, 0.5, rng)
    y = rng.normal(size=20)
    sw = rng.uniform(0.5, 2.0, 20) if weighted else np.ones(20)
    w0, w = rng.normal(size=1), 0.3 * rng.normal(size=6)
    V = 0.4 * rng.normal(size=(6, degree - 1, 2))
    regs = np.array([0.1, 0.5, 0.7])
    expected = [a.copy() for a in (w0, w, V)]
    Xd = X.toarray()
    for _ in range(2):
        reference_sweep(Xd, y, sw, *expected, regs)
    E = np.empty((20, degree - 1, degree + 1, 2))
    e = np.empty(20)
    anova_caches(kernel_csr(X), y, w0, w, V, E, e)
    Xc = kernel_csr(X.tocsc())
    for _ in range(2):
        sse = anova_als_sweep(Xc, sw if weighted else np.empty(0), w0, w, V, E, e, regs, True, True)
    for got, want in zip((w0, w, V), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # the caches the sweeps kept up to date equal a fresh computation
    np.testing.assert_allclose(e, naive_predict_anova(Xd, w0, w, V) - y, atol=1e-10)
    assert sse == pytest.approx(np.sum(sw * e * e), rel=1e-10)


def test_objective_never_increases():
    rng = np.random.default_rng(7)
    X = random_csr(60, 10, 0.4, rng)
    y = rng.normal(size=60)
    w0, w, V = np.zeros(1), np.zeros(10), 0.3 * rng.normal(size=(10, 2, 3))
    regs = np.array([0.0, 0.5, 0.5])
    E, e = np.empty((60, 2, 4, 3)), np.empty(60)
    anova_caches(kernel_csr(X), y, w0, w, V, E, e)
    Xc = kernel_csr(X.tocsc())

    def objective():
        return 0.5 * e @ e + 0.5 * (regs[1] * w @ w + regs[2] * np.sum(V**2))

    values = [objective()]
    for _ in range(6):
        anova_als_sweep(Xc, np.empty(0), w0, w, V, E, e, regs, True, True)
        values.append(objective())
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(values))
    assert values[-1] < 0.9 * values[0]
