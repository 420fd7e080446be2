"""``fmlearn.reference``, the readable numpy FM (issue 21): right by itself (the identity
equals the double sum, the gradients equal finite differences), equal to the numba kernels
(prediction and one SGD epoch, float64, to 1e-12), the twin of the estimators (same seed,
same model), and importable with numpy alone."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fmlearn import FMClassifier, FMRegressor
from fmlearn import reference as R
from fmlearn.datasets import make_ctr, make_recommendation
from fmlearn.kernels import sgd as K
from fmlearn.kernels.losses import LOGISTIC, SQUARED
from fmlearn.kernels.predict import predict_csr
from reference import codes, fd_gradient, fresh_state, hyper, kernel_csr, random_csr


def _params(n, k, rng, scale=0.3):
    return float(rng.normal()), scale * rng.normal(size=n), scale * rng.normal(size=(n, k))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 6), density=st.floats(0.05, 0.9))
def test_the_identity_equals_the_double_sum(seed, k, density):
    rng = np.random.default_rng(seed)
    X = random_csr(12, 9, density, rng)
    w0, w, V = _params(9, k, rng)
    fast, naive = R.predict(X, w0, w, V), R.predict_naive(X, w0, w, V)
    np.testing.assert_allclose(fast, naive, rtol=1e-12, atol=1e-12)
    # a dense array is read the same way as its CSR matrix
    np.testing.assert_array_equal(R.predict(X.toarray(), w0, w, V), fast)


@pytest.mark.parametrize("k", [1, 4, 16])
def test_the_numba_prediction_equals_the_reference(k):
    rng = np.random.default_rng(k)
    X = random_csr(300, 60, 0.1, rng)
    w0, w, V = _params(60, k, rng)
    out = np.empty(X.shape[0])
    predict_csr(*kernel_csr(X), w0, w, V, out)
    np.testing.assert_allclose(out, R.predict(X, w0, w, V), rtol=1e-12, atol=1e-12)


def test_the_gradient_equals_finite_differences():
    rng = np.random.default_rng(3)
    X = random_csr(5, 8, 0.6, rng, empty_rows=False)
    w0, w, V = _params(8, 3, rng)
    for idx, x in R.rows(X):
        d0, dw, dV = R.gradient(idx, x, V)

        def yhat(w0=w0, w=w, V=V, idx=idx, x=x):
            return R.predict_row(idx, x, w0, w, V)

        assert fd_gradient(lambda t: yhat(w0=t[0]), np.array([w0]))[0] == pytest.approx(d0)
        np.testing.assert_allclose(fd_gradient(lambda t: yhat(w=t), w)[idx], dw, atol=1e-8)
        np.testing.assert_allclose(fd_gradient(lambda t: yhat(V=t), V)[idx], dV, atol=1e-8)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_the_loss_derivative_equals_finite_differences(loss):
    for p in [-30.0, -2.0, 0.0, 0.7, 40.0]:
        for y in [-1.0, 1.0]:
            value, d = R.loss_gradient(p, y, loss)
            up, down = R.loss_gradient(p + 1e-6, y, loss)[0], R.loss_gradient(p - 1e-6, y, loss)[0]
            assert np.isfinite(value) and d == pytest.approx((up - down) / 2e-6, abs=1e-6)
    with pytest.raises(ValueError, match="loss must be"):
        R.loss_gradient(0.0, 1.0, "hinge")


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_one_numba_sgd_epoch_equals_the_reference_epoch(loss):
    """The kernel's plain-SGD epoch (lazy L2 on all three) against ``sgd_epoch``, float64."""
    rng = np.random.default_rng(11)
    X = random_csr(400, 50, 0.08, rng)
    y = rng.normal(size=400) if loss == "squared" else rng.choice([-1.0, 1.0], size=400)
    w0, w, V = _params(50, 5, rng, scale=0.1)
    order = rng.permutation(400)
    reg, lr = (0.01, 0.02, 0.05), 0.05
    want = R.sgd_epoch(X, y, w0, w, V, order, learning_rate=lr, reg=reg, loss=loss)

    params = (np.array([w0]), w.copy(), V.copy())
    hp = hyper(lr=lr, reg_bias=reg[0], reg_linear=reg[1], reg_factors=reg[2])
    code = SQUARED if loss == "squared" else LOGISTIC
    state = fresh_state(K.SGD, params, hp)
    total = K.sgd_epoch(
        kernel_csr(X), y, np.empty(0), order.astype(np.int64), params, state, hp,
        codes(loss_code=code, optimizer=K.SGD), 0, 1,
    )  # fmt: skip
    assert params[0][0] == pytest.approx(want[0], abs=1e-12)
    np.testing.assert_allclose(params[1], want[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(params[2], want[2], rtol=0, atol=1e-12)
    assert total / 400 == pytest.approx(want[3], rel=1e-12)


def test_reference_fm_is_the_twin_of_fm_regressor():
    """Same seed, init_std, learning rate and L2: the same draws, the same model."""
    X, y, _ = make_recommendation(n_samples=2_000, n_users=80, n_items=60, random_state=1)
    ref = R.ReferenceFM(n_factors=4, max_iter=4, random_state=5).fit(X, y)
    fm = FMRegressor(
        n_factors=4, solver="sgd", learning_rate=0.01, max_iter=4, init_std=0.1, tol=None,
        clip_predictions=False, shuffle=True, random_state=5,
    ).fit(X, y)  # fmt: skip
    assert ref.w0_ == pytest.approx(fm.w0_, abs=1e-12)
    np.testing.assert_allclose(ref.w_, fm.w_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ref.V_, fm.V_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ref.predict(X), fm.predict(X), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ref.history_, fm.history_.train_loss, rtol=1e-10)


def test_reference_fm_logistic_is_the_twin_of_fm_classifier():
    X, y, _ = make_ctr(1_500, random_state=2)
    ref = R.ReferenceFM(
        n_factors=3, loss="logistic", learning_rate=0.05, max_iter=3, reg=(0, 0, 0.03),
        init_std=0.05, random_state=0,
    ).fit(X, y)  # fmt: skip
    fm = FMClassifier(
        n_factors=3, solver="sgd", learning_rate=0.05, max_iter=3, init_std=0.05, tol=None,
        shuffle=True, random_state=0,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(ref.V_, fm.V_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ref.predict(X), fm.predict_proba(X)[:, 1], rtol=0, atol=1e-10)


def test_reference_fm_learns_a_planted_interaction():
    """Ratings that are only a user × item interaction: linear terms cannot fit them."""
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 20, 600), rng.integers(0, 15, 600)
    U, W = rng.normal(size=(20, 2)), rng.normal(size=(15, 2))
    y = (U[users] * W[items]).sum(axis=1)
    X = sp.csr_matrix(np.hstack([np.eye(20)[users], np.eye(15)[items]]))
    model = R.ReferenceFM(n_factors=2, learning_rate=0.05, max_iter=80, reg=(0, 0, 0.0),
                          init_std=0.3, random_state=0).fit(X, y)  # fmt: skip
    rmse = np.sqrt(np.mean((model.predict(X) - y) ** 2))
    assert rmse < 0.2 * y.std()
    assert model.history_[-1] < 0.1 * model.history_[0]


def test_the_module_needs_numpy_alone(tmp_path):
    """``from fmlearn.reference import ReferenceFM`` with numba, scipy and scikit-learn
    unimportable (issue 21): fmlearn's __init__ imports its estimators only on demand."""
    script = tmp_path / "check.py"
    script.write_text(
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in {'numba', 'scipy', 'sklearn'}:\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from fmlearn.reference import ReferenceFM\n"
        "import numpy as np\n"
        "X = np.eye(4)[[0, 1, 2, 3, 0]]\n"
        "m = ReferenceFM(n_factors=2, max_iter=2, random_state=0).fit(X, np.arange(5.0))\n"
        "print(m.predict(X).shape, sorted(k for k in sys.modules if k.startswith('scipy')))\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(5,) []"


def test_a_model_file_loads_in_a_fresh_process_through_persist_alone(tmp_path):
    """With the lazy __init__, ``fmlearn.persist.load`` imports the class a file names."""
    X, y, _ = make_recommendation(n_samples=500, n_users=20, n_items=10, random_state=0)
    path = tmp_path / "m.fmlearn"
    FMRegressor(n_factors=2, max_iter=2, random_state=0).fit(X, y).save(path)
    code = f"from fmlearn.persist import load; print(type(load({str(path)!r})).__name__)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "FMRegressor"
