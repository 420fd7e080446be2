"""solver="sgda": SGD with regularisation learned on a validation set (libFM's -method
sgda), against a numpy transcription of the update rules (kernels/sgda.py)."""

import numpy as np
import pytest
import scipy.sparse as sp

import fmlearn
from fmlearn import FFMRegressor, FMClassifier, FMRegressor
from fmlearn.datasets import make_recommendation
from fmlearn.models import FMParams


def reference_sgda(X, y, Xv, yv, w0, w, V, groups, n_groups, lr, epochs, y_range, task,
                   fit_intercept=True, fit_linear=True):  # fmt: skip
    """Plain loops over dense rows: θ step per training row, then (from the second epoch)
    a λ step on the next validation row, cycling, restarting each epoch."""
    X, Xv = X.toarray(), Xv.toarray()
    w0, w, V = float(w0), w.astype(float).copy(), V.astype(float).copy()
    n, k = V.shape
    reg_w, reg_v = np.zeros(n_groups), np.zeros((n_groups, k))
    grad_w, grad_V = np.zeros(n), np.zeros((n, k))

    def mult(p, t):
        if task == "r":
            return 2.0 * (np.clip(p, *y_range) - t)
        return t * (1.0 / (1.0 + np.exp(-t * p)) - 1.0)

    def predict(x, w0, w, V):
        q = x @ V
        return w0 + x @ w + 0.5 * np.sum(q * q - (x[:, None] ** 2 * V**2).sum(axis=0))

    for epoch in range(epochs):
        v_pos = 0
        for r in range(X.shape[0]):
            x = X[r]
            nz = np.flatnonzero(x)
            m = mult(predict(x, w0, w, V), y[r])
            q = x @ V
            if fit_intercept:
                w0 -= lr * m
            for i in nz:
                g = groups[i]
                if fit_linear:
                    grad_w[i] = m * x[i]
                    w[i] -= lr * (grad_w[i] + 2 * reg_w[g] * w[i])
                grad_V[i] = m * x[i] * (q - V[i] * x[i])
                V[i] = V[i] - lr * (grad_V[i] + 2 * reg_v[g] * V[i])
            if epoch == 0:
                continue
            if v_pos == Xv.shape[0]:
                v_pos = 0
            xv = Xv[v_pos]
            nzv = np.flatnonzero(xv)
            gv = groups
            w_d = w - lr * (grad_w + 2 * reg_w[gv] * w) if fit_linear else np.zeros(n)
            V_d = V - lr * (grad_V + 2 * reg_v[gv] * V)
            pd = (
                w0
                + xv @ w_d
                + 0.5 * np.sum((xv @ V_d) ** 2 - (xv[:, None] ** 2 * V_d**2).sum(axis=0))
            )
            gl = mult(pd, yv[v_pos])
            if fit_linear:
                for g in range(n_groups):
                    sel = nzv[groups[nzv] == g]
                    reg_w[g] = max(0.0, reg_w[g] - lr * gl * (-2 * lr * np.sum(xv[sel] * w[sel])))
            qd = xv @ V_d
            for g in range(n_groups):
                sel = nzv[groups[nzv] == g]
                s_g = (xv[sel, None] * V[sel]).sum(axis=0)
                c_g = (V_d[sel] * xv[sel, None] * V[sel] * xv[sel, None]).sum(axis=0)
                reg_v[g] = np.maximum(0.0, reg_v[g] - lr * gl * (-2 * lr * (qd * s_g - c_g)))
            v_pos += 1
    return w0, w, V, reg_w, reg_v


@pytest.mark.parametrize("task", ["r", "c"])
@pytest.mark.parametrize("flags", [{}, {"fit_linear": False}, {"fit_intercept": False}])
def test_matches_the_update_rules(task, flags):
    rng = np.random.default_rng(0)
    X = sp.random(60, 9, density=0.35, random_state=1, format="csr")
    X.data = rng.uniform(0.5, 1.5, X.nnz)
    Xv = sp.random(13, 9, density=0.4, random_state=2, format="csr")
    y = rng.integers(1, 6, 60).astype(float)
    yv = rng.integers(1, 6, 13).astype(float)
    if task == "c":
        y, yv = (y > 3).astype(int), (yv > 3).astype(int)
    groups = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    cls = FMRegressor if task == "r" else FMClassifier
    model = cls(n_factors=3, solver="sgda", learning_rate=0.05, max_iter=4, shuffle=False,
                tol=None, random_state=0, **flags)  # fmt: skip
    init = FMParams(np.zeros(1), np.zeros(9), rng.normal(0.0, 0.3, (9, 3)))
    model.fit(X, y, eval_set=[(Xv, yv)], groups=groups, init_params=init)
    yr = (1.0, 5.0) if task == "r" else (-np.inf, np.inf)
    ye, yve = (y, yv) if task == "r" else (np.where(y > 0, 1.0, -1.0), np.where(yv > 0, 1.0, -1.0))
    w0, w, V, reg_w, reg_v = reference_sgda(X, ye, Xv, yve, init.w0[0], init.w, init.V, groups,
                                            3, 0.05, 4, yr, task, **flags)  # fmt: skip
    np.testing.assert_allclose(model.V_, V, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.w_, w, rtol=1e-9, atol=1e-12)
    assert model.w0_ == pytest.approx(w0, rel=1e-9)
    np.testing.assert_allclose(model.reg_linear_, reg_w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.reg_factors_, reg_v, rtol=1e-9, atol=1e-12)
    assert model.reg_factors_.max() > 0  # the path moved


@pytest.fixture(scope="module")
def ratings():
    X, y, _ = make_recommendation(30_000, n_users=300, n_items=200, n_contexts=6, noise=0.5,
                                  random_state=1)  # fmt: skip
    return X[:20_000], y[:20_000], X[20_000:25_000], y[20_000:25_000], X[25_000:], y[25_000:]


def rmse(model, X, y):
    return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))


def test_beats_unregularised_sgd_without_a_grid(ratings):
    X, y, Xv, yv, Xt, yt = ratings
    kw = dict(n_factors=8, learning_rate=0.01, max_iter=40, tol=None, random_state=0)
    sgda = FMRegressor(solver="sgda", **kw).fit(X, y, eval_set=[(Xv, yv)])
    plain = FMRegressor(solver="sgd", reg_factors=0.0, **kw).fit(X, y, eval_set=[(Xv, yv)])
    assert rmse(sgda, Xt, yt) < rmse(plain, Xt, yt) - 0.01  # measured 0.542 against 0.559
    assert sgda.reg_linear_.shape == (1,) and sgda.reg_factors_.shape == (1, 8)


def test_held_out_rows_save_load_and_continue(ratings, tmp_path):
    X, y, _, _, Xt, _ = ratings
    model = FMRegressor(n_factors=4, solver="sgda", max_iter=3, random_state=0).fit(X, y)
    assert model.history_.valid  # validation_fraction of the rows was set aside
    model.save(tmp_path / "m")
    loaded = fmlearn.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(Xt), model.predict(Xt))
    np.testing.assert_array_equal(loaded.reg_factors_, model.reg_factors_)
    for m in (model, loaded):
        m.set_params(warm_start=True, max_iter=1).fit(X, y)
    np.testing.assert_array_equal(loaded.predict(Xt), model.predict(Xt))


def test_refusals(ratings):
    X, y, *_ = ratings
    with pytest.raises(ValueError, match="reg_factors is not available for solver='sgda'"):
        FMRegressor(solver="sgda", reg_factors=0.1).fit(X, y)
    with pytest.raises(ValueError, match="no sample weights"):
        FMRegressor(solver="sgda", max_iter=1).fit(X, y, sample_weight=np.full(len(y), 2.0))
    with pytest.raises(ValueError, match="solver='sgda' cannot train it"):
        FMRegressor(solver="sgda", degree=3, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="'solver' parameter of FFMRegressor must be one of"):
        FFMRegressor(solver="sgda", max_iter=1).fit(X, y, fields=np.zeros(X.shape[1], int))
    with pytest.raises(ValueError, match=r"Only binary classification .*solver='sgda'"):
        FMClassifier(solver="sgda", max_iter=1).fit(X, np.arange(len(y)) % 3)
    assert not hasattr(FMRegressor(solver="sgda"), "partial_fit")


def test_libfm_command_line_is_the_python_fit(ratings, tmp_path, capsys):
    """``fmlearn libfm -method sgda -validation v`` trains as FMRegressor(solver="sgda")
    with the validation file as its first eval set, rows in file order."""
    from fmlearn.cli import main
    from fmlearn.io import dump_libfm

    X, y, Xv, yv, Xt, yt = ratings
    for name, (A, b) in {"train": (X, y), "valid": (Xv, yv), "test": (Xt, yt)}.items():
        dump_libfm(A, b, tmp_path / f"{name}.libfm")
    out = tmp_path / "pred.txt"
    argv = ["libfm", "-task", "r", "-method", "sgda", "-train", str(tmp_path / "train.libfm"),
            "-validation", str(tmp_path / "valid.libfm"), "-test", str(tmp_path / "test.libfm"),
            "-dim", "1,1,4", "-iter", "5", "-learn_rate", "0.01", "-seed", "3",
            "-out", str(out)]  # fmt: skip
    assert main(argv) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("#Iter=")]
    assert len(lines) == 5
    model = FMRegressor(n_factors=4, solver="sgda", learning_rate=0.01, max_iter=5,
                        shuffle=False, tol=None, random_state=3, init_std=0.1)  # fmt: skip
    model.fit(X, y, eval_set=[(Xv, yv)])
    np.testing.assert_allclose(np.loadtxt(out), model.predict(Xt), rtol=1e-8)
    assert float(lines[-1].split("Test=")[1]) == pytest.approx(rmse(model, Xt, yt), rel=1e-5)
