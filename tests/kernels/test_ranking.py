"""The ranking epoch (BPR, WARP, sampled log-loss): one plain-SGD step equals −lr × the
finite-difference gradient of the loss, computed on the FM by its definition over the
concatenated row [user features | item features]."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.kernels import ranking as K
from fmlearn.kernels.sgd import (
    ADAGRAD,
    ADAM,
    BETA1,
    BETA2,
    EPS,
    LR,
    N_HYPER,
    REG_BIAS,
    REG_FACTORS,
    REG_LINEAR,
    SGD,
)
from reference import fd_gradient, naive_predict

K_FACTORS = 3


def _setup(rng, n_items=2, shared=True):
    """One user (identity + 2 side features), items with identity + 2 genres; item 0 and
    item 1 share genre 0 when ``shared`` (the merged-gradient case)."""
    UX = sp.csr_matrix(np.array([[1.0, 0.5, -1.2]]))
    genres = np.zeros((n_items, 2))
    genres[0] = [1.0, 0.0] if not shared else [1.0, 0.7]
    genres[1:, 0] = 0.8 if shared else 0.0
    genres[1:, 1] = 0.0 if shared else 1.0
    IX = sp.hstack([sp.identity(n_items), sp.csr_matrix(genres)], format="csr")
    IX.eliminate_zeros()
    IX.sort_indices()
    n_u = UX.shape[1]
    n_features = n_u + IX.shape[1]
    w0 = rng.normal(size=1)
    w = 0.3 * rng.normal(size=n_features)
    V = 0.3 * rng.normal(size=(n_features, K_FACTORS))
    return UX, IX, (w0, w, V)


def _row(UX, IX, i):
    return np.hstack([UX[0].toarray().ravel(), IX[i].toarray().ravel()])


def _theta_loss(UX, IX, params, loss):
    """The loss as a function of the flat parameter vector θ = [w0, w, V]."""
    w0, w, V = params
    n = w.size

    def f(theta):
        p = (theta[:1], theta[1 : 1 + n], theta[1 + n :].reshape(n, K_FACTORS))
        return loss(lambda i: naive_predict(_row(UX, IX, i)[None, :], *p)[0])

    return f, np.concatenate([w0, w, V.ravel()])


def _epoch(UX, IX, params, loss_code, pairs, positives, *, identity=False, max_sampled=10,
           n_negatives=0, reg=(0.0, 0.0), reg_bias=0.0, opt=SGD, lr=1e-3, seed=0,
           bitset=False, weights=None):  # fmt: skip
    """Run the serial kernel over ``pairs`` (user, item) in order; ``positives`` is the
    users × items CSR of what each user has. Returns the new params, loss, steps."""
    n_items = IX.shape[0]
    n_u = UX.shape[1]
    U = (UX.indptr.astype(np.int64), UX.indices.astype(np.int64), UX.data)
    I = (IX.indptr.astype(np.int64), IX.indices.astype(np.int64) + n_u, IX.data)  # noqa: E741
    indptr, items = positives.indptr.astype(np.int64), positives.indices.astype(np.int64)
    bits = K.positive_bitset(indptr, items, n_items) if bitset else np.zeros((0, 0), np.uint64)
    pos = (indptr, items, bits)
    users, its = (np.asarray(a, dtype=np.int64) for a in pairs)
    w0, w, V = (a.copy() for a in params)
    empty = np.zeros(0, dtype=w.dtype)
    e2 = np.zeros((0, 0), dtype=w.dtype)
    if opt == ADAGRAD:
        state = (np.ones(1, w.dtype), empty, np.ones_like(w), empty, np.ones_like(V), e2)
    elif opt == ADAM:
        state = tuple(np.zeros_like(a) for a in (w0, w0, w, w, V, V))
    else:
        state = (empty, empty, empty, empty, e2, e2)
    hp = np.zeros(N_HYPER)
    hp[LR], hp[REG_LINEAR], hp[REG_FACTORS], hp[REG_BIAS] = lr, *reg, reg_bias
    hp[BETA1], hp[BETA2], hp[EPS] = 0.9, 0.999, 1e-8
    rcodes = np.array([loss_code, opt, max_sampled, n_negatives], dtype=np.int64)
    P, fused = K.fuse(V, w), K.fuse_state(state)
    packed = K.pack_pairs(users, its)
    weights = np.zeros(0) if weights is None else np.array(weights, dtype=np.float64)
    total, steps = K.ranking_epoch(U, I, identity, pos, (packed, weights), np.zeros(0), w0, P,
                                   fused, hp, rcodes, 0, seed)  # fmt: skip
    K.unfuse(P, w, V)
    return (w0, w, V), total, steps


def _step(UX, IX, params, loss_code, *, positives=(0,), **kwargs):
    """Run the kernel on the user's single positive (item 0); return the new params."""
    items = np.array(sorted(positives), dtype=np.int64)
    have = sp.csr_matrix((np.ones(items.size), items, [0, items.size]), shape=(1, IX.shape[0]))
    return _epoch(UX, IX, params, loss_code, ([0], [0]), have, **kwargs)


def _flat(params):
    return np.concatenate([params[0], params[1], params[2].ravel()])


@pytest.mark.parametrize("shared", [True, False])
def test_bpr_step_is_minus_lr_times_the_gradient(shared):
    rng = np.random.default_rng(1)
    UX, IX, params = _setup(rng, shared=shared)
    new, total, steps = _step(UX, IX, params, K.BPR)
    f, theta = _theta_loss(UX, IX, params, lambda s: np.log1p(np.exp(-(s(0) - s(1)))))
    assert steps == 1
    np.testing.assert_allclose(total, f(theta), rtol=1e-12)
    np.testing.assert_allclose((theta - _flat(new)) / 1e-3, fd_gradient(f, theta), atol=1e-7)


def test_warp_step_is_the_rank_weighted_hinge_gradient():
    """Three items, positive 0, scores near 0 (every negative violates the margin): when
    the first draw is a negative (1 or 2), the estimated rank is ⌊2/1⌋ = 2 and the weight
    L(2) = 1 + 1/2; when it is the positive, the rank is ⌊2/2⌋ = 1 and L(1) = 1."""
    rng = np.random.default_rng(2)
    UX, IX, params = _setup(rng, n_items=3)
    params = (params[0], 0.01 * params[1], 0.01 * params[2])
    seen_weights = set()
    for seed in range(12):
        new, _total, steps = _step(UX, IX, params, K.WARP, seed=seed)
        if steps == 0:  # the positive drawn three times or more: rank ⌊2/t⌋ = 0, no step
            np.testing.assert_array_equal(_flat(new), _flat(params))
            continue
        assert steps == 1
        fits = []
        for j in (1, 2):
            for weight in (1.5, 1.0):
                f, theta = _theta_loss(
                    UX, IX, params, lambda s, j=j, a=weight: a * (1 - s(0) + s(j))
                )
                error = np.abs((theta - _flat(new)) / 1e-3 - fd_gradient(f, theta)).max()
                fits.append((error, weight))
        error, weight = min(fits)
        assert error < 1e-7
        seen_weights.add(weight)
    assert seen_weights == {1.0, 1.5}  # both draw counts occurred


def test_warp_weight_is_the_harmonic_number_of_the_rank():
    for rank in (1, 2, 5, 32, 33, 1000, 10**6):
        exact = sum(1.0 / r for r in range(1, rank + 1))
        assert K._rank_weight(rank) == pytest.approx(exact, rel=1e-8)


def test_logistic_negatives_each_see_the_previous_steps():
    """Two items, positive 0, n_negatives = 2: the kernel takes three plain-SGD steps —
    (0, label 1), then (1, label 0) twice — each at the parameters the last one left."""
    rng = np.random.default_rng(7)
    UX, IX, params = _setup(rng)
    new, _total, steps = _step(UX, IX, params, K.LOGISTIC, n_negatives=2)
    assert steps == 3
    theta = _theta_loss(UX, IX, params, lambda s: 0.0)[1]
    for item, label in ((0, 1.0), (1, 0.0), (1, 0.0)):
        n = params[1].size
        current = (theta[:1], theta[1 : 1 + n], theta[1 + n :].reshape(n, K_FACTORS))

        def log_loss(s, i=item, y=label):
            return np.log1p(np.exp(s(i))) - y * s(i)

        f, _ = _theta_loss(UX, IX, current, log_loss)
        theta = theta - 1e-3 * fd_gradient(f, theta)
    np.testing.assert_allclose(_flat(new), theta, atol=1e-9)


def test_logistic_step_on_the_positive_moves_every_term_of_the_score():
    rng = np.random.default_rng(3)
    UX, IX, params = _setup(rng)
    new, total, steps = _step(UX, IX, params, K.LOGISTIC, n_negatives=0)
    f, theta = _theta_loss(UX, IX, params, lambda s: np.log1p(np.exp(-s(0))))
    assert steps == 1
    np.testing.assert_allclose(total, f(theta), rtol=1e-12)
    np.testing.assert_allclose((theta - _flat(new)) / 1e-3, fd_gradient(f, theta), atol=1e-7)


def test_regularisation_shrinks_only_what_the_step_touches():
    rng = np.random.default_rng(4)
    UX, IX, params = _setup(rng, n_items=3, shared=False)
    plain, _, _ = _step(UX, IX, params, K.BPR)
    reg, _, _ = _step(UX, IX, params, K.BPR, reg=(0.5, 0.25))
    n_u = UX.shape[1]
    touched_w = np.flatnonzero(plain[1] != params[1])  # items' linear weights only
    assert set(touched_w) <= set(range(n_u, n_u + IX.shape[1]))
    np.testing.assert_allclose(
        (plain[1] - reg[1])[touched_w] / 1e-3, 0.5 * params[1][touched_w], rtol=1e-9
    )
    # the user's linear weights get no step in a pairwise loss; untouched item unchanged
    np.testing.assert_array_equal(reg[1][:n_u], params[1][:n_u])
    # the identity vectors of the positive and the one drawn negative move, not the third
    changed = [i for i in range(3) if not np.array_equal(reg[2][n_u + i], params[2][n_u + i])]
    assert 0 in changed and len(changed) == 2


def test_a_user_holding_every_item_gets_no_step():
    rng = np.random.default_rng(5)
    UX, IX, params = _setup(rng, n_items=2)
    for code in (K.BPR, K.WARP):
        new, total, steps = _step(UX, IX, params, code, positives=(0, 1))
        assert steps == 0 and total == 0.0
        for a, b in zip(new, params, strict=True):
            np.testing.assert_array_equal(a, b)


def test_adagrad_runs_the_shared_optimiser_step():
    """AdaGrad from Σg² = 1: Δθ = −lr g / (√(1 + g²) + ε), g the BPR gradient."""
    rng = np.random.default_rng(6)
    UX, IX, params = _setup(rng)
    new, _, _ = _step(UX, IX, params, K.BPR, opt=ADAGRAD, lr=0.1)
    f, theta = _theta_loss(UX, IX, params, lambda s: np.log1p(np.exp(-(s(0) - s(1)))))
    g = fd_gradient(f, theta)
    touched = np.abs(g) > 1e-12
    expected = theta - 0.1 * g / (np.sqrt(1 + g * g) + 0.0)
    np.testing.assert_allclose(_flat(new)[touched], expected[touched], atol=1e-8)


def test_negatives_are_drawn_in_proportion_to_the_cdf():
    from numba import njit

    @njit
    def draws(n_items, cdf, n, seed):
        state = K._random_seed(seed)  # the kernels' generator, seeded as they seed it
        out = np.zeros(n_items, dtype=np.int64)
        for _ in range(n):
            state, item = K._draw_item(state, n_items, cdf)
            out[item] += 1
        return out

    weights = np.array([1.0, 0.0, 3.0, 6.0])
    n = 200_000
    counts = draws(4, np.cumsum(weights), n, 0)
    expected = n * weights / weights.sum()
    assert counts[1] == 0
    assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected + 1))
    uniform = draws(4, np.zeros(0), n, 1)
    assert np.all(np.abs(uniform - n / 4) <= 5 * np.sqrt(n / 4))


def test_the_generator_is_uniform_over_any_range_and_repeatable():
    """SplitMix64 scaled to [0, n): counts within 5σ of uniform for small and odd n, the
    mean of a range near 2³¹ where it should be, and one seed one stream."""
    from numba import njit

    @njit
    def below(n, count, seed):
        state = K._random_seed(seed)
        out = np.empty(count, dtype=np.int64)
        for t in range(count):
            state, out[t] = K._random_below(state, n)
        return out

    for n in (1, 2, 7, 1000):
        values = below(n, 300_000, n)
        assert values.min() >= 0 and values.max() < n
        counts = np.bincount(values, minlength=n)
        expected = values.size / n
        assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected) + 1e-9)
    big = 2**31 - 1
    values = below(big, 300_000, 5)
    assert values.max() < big
    assert abs(values.mean() / big - 0.5) < 5 * np.sqrt(1 / 12 / values.size)
    np.testing.assert_array_equal(below(1000, 100, 3), below(1000, 100, 3))
    assert not np.array_equal(below(1000, 100, 3), below(1000, 100, 4))


@pytest.mark.parametrize("code", [K.BPR, K.WARP, K.LOGISTIC])
def test_the_bitset_and_the_binary_search_agree(code):
    rng = np.random.default_rng(8)
    UX, IX, params = _setup(rng, n_items=70, shared=False)
    for positives in ((0,), (0, 3, 64, 69), tuple(range(0, 70, 2))):
        runs = [_step(UX, IX, params, code, positives=positives, n_negatives=3, seed=4,
                      bitset=b) for b in (False, True)]  # fmt: skip
        for a, b in zip(runs[0][0], runs[1][0], strict=True):
            np.testing.assert_array_equal(a, b)
        assert runs[0][1:] == runs[1][1:]
    bits = K.positive_bitset(np.array([0, 3, 3]), np.array([0, 63, 64]), 130)
    assert bits.shape == (2, 3) and bits[0].tolist() == [1 | (1 << 63), 1, 0]


def _identity_problem(rng, dtype=np.float64, n_users=6, n_items=9):
    """Identity user and item rows, random positives (every user has some, none has all),
    random parameters: users' linear weights too (a pointwise loss steps them)."""
    UX = sp.identity(n_users, format="csr", dtype=dtype)
    IX = sp.identity(n_items, format="csr", dtype=dtype)
    have = rng.random((n_users, n_items)) < 0.35
    have[:, 0] = True
    have[:, -1] = False
    positives = sp.csr_matrix(have.astype(float))
    pairs = positives.nonzero()
    n = n_users + n_items
    params = (rng.normal(size=1).astype(dtype), (0.3 * rng.normal(size=n)).astype(dtype),
              (0.3 * rng.normal(size=(n, K_FACTORS))).astype(dtype))  # fmt: skip
    return UX, IX, positives, pairs, params


@pytest.mark.parametrize("code", [K.BPR, K.WARP, K.LOGISTIC])
@pytest.mark.parametrize("opt", [SGD, ADAGRAD, ADAM])
def test_the_identity_path_takes_the_general_paths_steps(code, opt):
    """With identity rows the kernel takes its flat matrix-factorisation path: the same
    draws, losses and steps as the general FM path, to rounding — every loss, optimiser,
    penalty and weights."""
    rng = np.random.default_rng(11)
    UX, IX, positives, pairs, params = _identity_problem(rng)
    weights = rng.uniform(0.5, 2.0, size=pairs[0].size)
    weights[::4] = 0.0  # weight 0 is "absent": neither path steps, whatever the optimiser
    runs = [
        _epoch(UX, IX, params, code, pairs, positives, identity=flag, opt=opt, lr=0.05,
               reg=(0.1, 0.2), reg_bias=0.3, n_negatives=2, max_sampled=4, seed=3,
               weights=weights, bitset=True)
        for flag in (False, True)
    ]  # fmt: skip
    (general, total_g, steps_g), (flat, total_f, steps_f) = runs
    assert steps_g == steps_f > 0
    assert total_f == pytest.approx(total_g, rel=1e-12)
    for a, b in zip(general, flat, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13)
    assert not np.array_equal(flat[2], params[2])  # it did step


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("code", [K.BPR, K.WARP, K.LOGISTIC])
@pytest.mark.parametrize("opt", [SGD, ADAGRAD, ADAM])
def test_weight_zero_positives_change_nothing(code, opt, identity):
    """As the SGD family's weight 0: no step, no loss, no optimiser memory (Adam's moments
    would otherwise move the parameters on a zero gradient)."""
    rng = np.random.default_rng(13)
    UX, IX, positives, pairs, params = _identity_problem(rng)
    weights = np.zeros(pairs[0].size)
    new, total, steps = _epoch(UX, IX, params, code, pairs, positives, identity=identity,
                               opt=opt, lr=0.05, reg=(0.1, 0.2), reg_bias=0.3, n_negatives=2,
                               weights=weights)  # fmt: skip
    assert steps == 0 and total == 0.0
    for a, b in zip(new, params, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("code", [K.BPR, K.WARP])
def test_the_identity_path_in_float32(code):
    rng = np.random.default_rng(12)
    UX, IX, positives, pairs, params = _identity_problem(rng, np.float32, 20, 30)
    runs = [_epoch(UX, IX, params, code, pairs, positives, identity=flag, opt=ADAGRAD,
                   lr=0.05, seed=5)[0] for flag in (False, True)]  # fmt: skip
    for a, b in zip(*runs, strict=True):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_the_identity_path_is_minus_lr_times_the_gradient():
    """One BPR step on identity rows, against finite differences of the FM itself."""
    rng = np.random.default_rng(13)
    UX = sp.identity(1, format="csr")
    IX = sp.identity(2, format="csr")
    params = (rng.normal(size=1), 0.3 * rng.normal(size=3), 0.3 * rng.normal(size=(3, 3)))
    have = sp.csr_matrix(np.array([[1.0, 0.0]]))
    new, total, steps = _epoch(UX, IX, params, K.BPR, ([0], [0]), have, identity=True)
    f, theta = _theta_loss(UX, IX, params, lambda s: np.log1p(np.exp(-(s(0) - s(1)))))
    assert steps == 1
    np.testing.assert_allclose(total, f(theta), rtol=1e-12)
    np.testing.assert_allclose((theta - _flat(new)) / 1e-3, fd_gradient(f, theta), atol=1e-7)


def test_pairs_are_shuffled_in_place_and_kept():
    """The kernel reorders the positives it is given (and their weights alike), never
    loses or alters one."""
    rng = np.random.default_rng(14)
    UX, IX, positives, pairs, params = _identity_problem(rng, n_users=30, n_items=40)
    users, items = (np.asarray(a, dtype=np.int64) for a in pairs)
    packed = K.pack_pairs(users, items)
    weights = np.arange(packed.size, dtype=np.float64)
    before = dict(zip(packed.tolist(), weights.tolist(), strict=True))
    U = (UX.indptr.astype(np.int64), UX.indices.astype(np.int64), UX.data)
    I = (IX.indptr.astype(np.int64), IX.indices.astype(np.int64) + 30, IX.data)  # noqa: E741
    pos = (positives.indptr.astype(np.int64), positives.indices.astype(np.int64),
           np.zeros((0, 0), np.uint64))  # fmt: skip
    P = K.fuse(params[2], params[1])
    state = K.fuse_state((np.zeros(0),) * 4 + (np.zeros((0, 0)),) * 2)
    hp = np.zeros(N_HYPER)
    rcodes = np.array([K.BPR, SGD, 10, 1], dtype=np.int64)
    for flag in (True, False):
        K.ranking_epoch(U, I, flag, pos, (packed, weights), np.zeros(0), params[0].copy(), P,
                        state, hp, rcodes, 0, 1)  # fmt: skip
        assert not np.array_equal(packed, K.pack_pairs(users, items))
        assert dict(zip(packed.tolist(), weights.tolist(), strict=True)) == before
