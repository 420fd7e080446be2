"""The coordinate sweep (ALS / MCMC) against a slow, obvious coordinate descent.

The reference treats ŷ as a black box: it finds each parameter's ``h = ∂ŷ/∂θ`` and the
rest ``g`` by evaluating the naive O(n²k) FM at θ = 0 and θ = 1 (ŷ is linear in any one
parameter), then sets θ to the minimiser of the weighted squared error plus the fixed
L2 penalty ½ λ θ² (libFM's ALS). The kernel must produce the same parameters, and its
caches must equal a fresh prediction, after each sweep.
"""

from __future__ import annotations

import numpy as np
import pytest

from fmlearn.kernels import coordinate as K
from fmlearn.kernels import truncated_normal as TN
from fmlearn.models import FMParams
from fmlearn.solvers.coordinate import ChainState, CoordinateConfig, _fixed_strengths
from reference import kernel_csr, naive_predict, random_csr, random_params


def _reference_als_sweep(X, y, sw, w0, w, V, reg, fit_intercept=True, fit_linear=True, block=False):
    """One ALS sweep in the kernel's order: w0, then per feature w_i, v_i1 … v_ik — or,
    with ``block``, the whole v_i at once: the least-squares solution over that vector
    (ŷ is linear in v_i, columns h_f = ŷ(v_i = e_f) − ŷ(v_i = 0))."""
    reg_bias, reg_linear, reg_factors = reg

    def update(array, index, reg_strength):
        old = array[index]
        array[index] = 0.0
        g = naive_predict(X, w0, w, V)
        array[index] = 1.0
        h = naive_predict(X, w0, w, V) - g
        precision = np.sum(sw * h * h) + reg_strength
        if precision <= 0:
            array[index] = old
            return
        array[index] = np.sum(sw * h * (y - g)) / precision

    def update_block(i):
        k = V.shape[1]
        V[i] = 0.0
        g = naive_predict(X, w0, w, V)
        H = np.empty((X.shape[0], k))
        for f in range(k):
            V[i] = np.eye(k)[f]
            H[:, f] = naive_predict(X, w0, w, V) - g
        A = H.T @ (sw[:, None] * H) + reg_factors * np.eye(k)
        V[i] = np.linalg.solve(A, H.T @ (sw * (y - g)))

    if fit_intercept:
        update(w0, 0, reg_bias)
    for i in range(V.shape[0]):
        if fit_linear:
            update(w, i, reg_linear)
        if block:
            update_block(i)
            continue
        for f in range(V.shape[1]):
            update(V, (i, f), reg_factors)


def _kernel_sweeps(X, y, sw, params, reg, n_sweeps, *, sample=False, task=K.REGRESSION, **flags):
    config = CoordinateConfig(
        likelihood=task,
        sample=sample,
        n_sweeps=n_sweeps,
        n_kept=0,
        reg_bias=reg[0],
        reg_linear=reg[1],
        reg_factors=reg[2],
        **flags,
    )
    n, k = X.shape[0], params[2].shape[1]
    Q, e, t = np.empty((n, k)), np.empty(n), np.empty(n)
    rng = np.random.default_rng(0)
    chain = ChainState.fresh(FMParams(*params), 1)
    if not sample:  # ALS: the fixed strengths in the group priors, as the solver sets them
        _fixed_strengths(chain, config, 1, False)
    groups = np.zeros(X.shape[1], dtype=np.int64)
    Xr, Xc = kernel_csr(X), kernel_csr(X.tocsc())
    Xc = (Xc[0], Xc[1], Xc[2])
    K.prepare_caches(rng, Xr, y, config.codes(), *params, Q, e, t, chain.cut)
    for _ in range(n_sweeps):
        K.sweep(
            rng, Xr, Xc, y, sw, params, chain.hyper(), groups, 1,
            config.prior(), config.codes(), Q, e, t,
        )  # fmt: skip
    return Q, e, t


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "flags",
    [{}, {"fit_intercept": False}, {"fit_linear": False}, {"block": True}],
    ids=["all", "no-w0", "no-w", "block"],
)
def test_als_sweep_matches_reference(weighted, flags):
    rng = np.random.default_rng(1)
    X = random_csr(25, 7, 0.4, rng)
    y = rng.normal(size=25)
    sw = rng.uniform(0.5, 2.0, 25) if weighted else np.ones(25)
    w0, w, V = random_params(7, 3, rng)
    if flags.get("fit_intercept") is False:
        w0[:] = 0.0
    if flags.get("fit_linear") is False:
        w[:] = 0.0
    reg = (0.1, 0.2, 0.3)
    expected = [a.copy() for a in (w0, w, V)]
    Xd = X.toarray()
    for _ in range(2):
        _reference_als_sweep(Xd, y, sw, *expected, reg, **flags)
    params = (w0, w, V)
    Q, e, _ = _kernel_sweeps(X, y, sw if weighted else np.empty(0), params, reg, 2, **flags)
    for got, want in zip(params, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # the caches the sweep kept up to date equal a fresh computation
    np.testing.assert_allclose(Q, Xd @ V, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e, naive_predict(Xd, w0, w, V) - y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("block", [False, True])
def test_als_never_increases_its_objective(block):
    """Coordinate descent: every sweep lowers (or keeps) the penalised squared error."""
    rng = np.random.default_rng(2)
    X = random_csr(60, 10, 0.3, rng)
    y = rng.normal(size=60)
    params = random_params(10, 4, rng)
    reg = (0.0, 0.5, 0.5)

    def objective():
        w0, w, V = params
        r = naive_predict(X.toarray(), w0, w, V) - y
        return 0.5 * (r @ r) + 0.5 * (reg[1] * np.sum(w**2) + reg[2] * np.sum(V**2))

    values = [objective()]
    for _ in range(5):
        _kernel_sweeps(X, y, np.empty(0), params, reg, 1, block=block)
        values.append(objective())
    assert np.all(np.diff(values) <= 1e-9 * values[0])
    assert values[-1] < values[0]


def test_probit_em_latent_targets_are_truncated_means():
    rng = np.random.default_rng(3)
    mean = rng.normal(0, 3, 200)
    for positive in (True, False):
        got = np.array([TN.probit_latent_mean(m, positive) for m in mean])
        # E[z | z > 0] for z ~ N(m, 1), by numerical integration
        grid = np.linspace(-40, 40, 400_001)
        want = []
        for m in mean:
            density = np.exp(-0.5 * (grid - m) ** 2) * ((grid > 0) if positive else (grid < 0))
            want.append(np.sum(grid * density) / np.sum(density))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        assert np.all(got > 0) if positive else np.all(got < 0)


def test_truncated_normal_draws_have_the_right_side_and_mean():
    rng = np.random.default_rng(4)
    for mean in (-6.0, -1.0, 0.0, 2.0, 8.0):
        draws = np.array([TN.truncated_normal(rng, mean, True) for _ in range(20_000)])
        assert np.all(draws > 0)
        assert abs(draws.mean() - TN.probit_latent_mean(mean, True)) < 0.02
        draws = np.array([TN.truncated_normal(rng, mean, False) for _ in range(20_000)])
        assert np.all(draws < 0)
        assert abs(draws.mean() - TN.probit_latent_mean(mean, False)) < 0.02


def test_conditional_is_the_gaussian_posterior():
    """Posterior of θ for y_n = g_n + θ h_n + N(0, 1/α), prior N(μ, 1/λ), written out."""
    rng = np.random.default_rng(5)
    h, r = rng.normal(size=30), rng.normal(size=30)  # r = y − g
    theta, alpha, mu, lam = 0.7, 2.5, 0.3, 4.0
    e = theta * h - r  # the residual ŷ − y at the current θ
    mean, var = K.conditional(np.sum(h * h), np.sum((theta * h - e) * h), alpha, mu, lam)
    precision = alpha * h @ h + lam
    assert var == pytest.approx(1 / precision)
    assert mean == pytest.approx((alpha * h @ r + lam * mu) / precision)
    # a never-seen feature under a flat prior has no posterior: left unchanged
    assert np.isnan(K.conditional(0.0, 0.0, alpha, 0.0, 0.0)[0])


def _block_problem(rng, m=40, k=4, unit_weights=False):
    """One feature's column (values, weights, residuals, q), its factors and prior."""
    xb = rng.uniform(0.2, 2.0, m)
    sb = np.ones(m) if unit_weights else rng.uniform(0.5, 2.0, m)
    eb = rng.normal(size=m)
    qb = rng.normal(size=(k, m))
    V = rng.normal(size=(1, k))
    lam = rng.uniform(0.5, 3.0, k)
    mu = rng.normal(0, 0.3, k)
    # the textbook conditional: P = α Hᵀ S H + Λ, mean P⁻¹ (α Hᵀ S (H v − e) + Λ μ)
    alpha = 1.7
    H = (xb * (qb - V[0][:, None] * xb)).T
    P = alpha * H.T @ (sb[:, None] * H) + np.diag(lam)
    mean = np.linalg.solve(P, alpha * H.T @ (sb * (H @ V[0] - eb)) + lam * mu)
    return (xb, sb, eb, qb, V, alpha, lam, mu), H, mean, np.linalg.inv(P)


def _call_block(args, rng, sample, weighted=True):
    xb, sb, eb, qb, V, alpha, lam, mu = args
    m, k = xb.size, V.shape[1]
    hb = np.ascontiguousarray(xb * (qb - V[0][:, None] * xb))  # what _gather buffers
    dv, P, rhs = np.empty(k), np.empty((k, k)), np.empty(k)
    # the prior as the kernel takes it: rows of (n_groups, k) arrays, here group 0
    lam2, mu2 = lam[None, :], mu[None, :]
    ok = K._block_update(
        rng, m, 0, sb, eb, hb, V, alpha, lam2, mu2, 0, sample, weighted, dv, P, rhs
    )
    return ok, dv


@pytest.mark.parametrize("weighted", [True, False])
def test_block_update_mean_is_the_exact_conditional_mean(weighted):
    rng = np.random.default_rng(7)
    args, H, mean, _ = _block_problem(rng, unit_weights=not weighted)
    eb_before, v_before = args[2].copy(), args[4][0].copy()
    ok, dv = _call_block(args, rng, sample=False, weighted=weighted)
    assert ok
    np.testing.assert_allclose(args[4][0], mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dv, mean - v_before, rtol=1e-10, atol=1e-12)
    # the buffered residuals follow: e' = e + H (v' − v)
    np.testing.assert_allclose(args[2], eb_before + H @ dv, rtol=1e-10, atol=1e-12)


def test_block_update_draws_from_the_joint_conditional():
    rng = np.random.default_rng(8)
    args, _, mean, cov = _block_problem(rng, k=3)
    v0, e0 = args[4][0].copy(), args[2].copy()
    draws = []
    for _ in range(20_000):
        args[4][0] = v0
        args[2][:] = e0
        ok, _ = _call_block(args, rng, sample=True)
        assert ok
        draws.append(args[4][0].copy())
    draws = np.array(draws)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * sd / np.sqrt(len(draws)))
    np.testing.assert_allclose(np.cov(draws.T), cov, rtol=0.05, atol=0.05 * sd.max() ** 2)


def test_block_update_refuses_a_singular_system():
    """λ = 0 and one row cannot determine k = 3 factors: the sweep falls back to scalar
    updates, and the block update changes nothing."""
    rng = np.random.default_rng(9)
    args, _, _, _ = _block_problem(rng, m=1, k=3)
    lam = np.zeros(3)
    args = (*args[:6], lam, args[7])
    v0 = args[4][0].copy()
    ok, _ = _call_block(args, rng, sample=False)
    assert not ok
    np.testing.assert_array_equal(args[4][0], v0)


def test_block_als_with_no_regularisation_still_descends():
    rng = np.random.default_rng(10)
    X = random_csr(12, 6, 0.4, rng)  # features with fewer rows than factors
    y = rng.normal(size=12)
    params = random_params(6, 4, rng)
    _kernel_sweeps(X, y, np.empty(0), params, (0.0, 0.0, 0.0), 3, block=True)
    assert all(np.isfinite(p).all() for p in params)
