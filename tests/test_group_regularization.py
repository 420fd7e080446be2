"""ALS with one L2 strength per feature group (libFM's per-group ``-regular`` with
``-meta``): ``reg_linear`` / ``reg_factors`` as lists, ``fit(..., groups=…)``."""

import numpy as np
import pytest

from fmlearn import FMRegressor
from fmlearn.cli import main
from fmlearn.datasets import make_recommendation
from fmlearn.io import dump_libfm


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_recommendation(2000, n_users=40, n_items=30, n_contexts=3, random_state=0)
    n_users, n_items = 40, 30
    groups = np.repeat([0, 1, 2], [n_users, n_items, X.shape[1] - n_users - n_items])
    return X, y, groups


def objective_gradient(model, X, y, lam0, lam_w, lam_v):
    """∂/∂θ of ½ Σ e² + ½ λ0 w0² + ½ Σ_i λ_w[g(i)] w_i² + ½ Σ_i λ_v[g(i)] ‖v_i‖², the
    objective ALS minimises coordinate by coordinate (kernels/coordinate.py)."""
    Xd = X.toarray()
    e = model.predict(X) - y
    q = Xd @ model.V_
    g_w0 = e.sum() + lam0 * model.w0_
    g_w = Xd.T @ e + lam_w * model.w_
    g_V = (Xd * e[:, None]).T @ q - (Xd**2 * e[:, None]).T.sum(axis=1)[:, None] * model.V_
    g_V += lam_v[:, None] * model.V_
    return g_w0, g_w, g_V


def test_als_reaches_the_per_group_objective_minimum(data):
    X, y, groups = data
    reg_w, reg_v = [2.0, 30.0, 0.5], [1.0, 50.0, 3.0]
    model = FMRegressor(n_factors=2, solver="als", max_iter=300, reg_bias=0.1,
                        reg_linear=reg_w, reg_factors=reg_v, clip_predictions=False,
                        random_state=0)  # fmt: skip
    model.fit(X, y, groups=groups)
    g_w0, g_w, g_V = objective_gradient(
        model, X, y, 0.1, np.take(reg_w, groups), np.take(reg_v, groups)
    )
    # near a stationary point of the per-group objective (coordinate descent on a
    # non-convex FM approaches it slowly: measured 0.37, 0.058, 0.061 after 300 sweeps, for
    # Σ|y| = 5598) ...
    scale = np.abs(y).sum()
    assert abs(g_w0) / scale < 2e-4
    assert np.abs(g_w).max() / scale < 5e-5 and np.abs(g_V).max() / scale < 5e-5
    # ... and far from one of the objective with one strength for all (8.0 and 14.7)
    one = objective_gradient(model, X, y, 0.1, np.full(len(groups), 2.0), np.ones(len(groups)))
    assert np.abs(one[1]).max() > 50 * np.abs(g_w).max()
    assert np.abs(one[2]).max() > 50 * np.abs(g_V).max()


def test_equal_groups_are_the_scalar_strengths(data):
    X, y, groups = data
    kw = dict(n_factors=3, solver="als", max_iter=5, random_state=0)
    scalar = FMRegressor(reg_linear=2.0, reg_factors=4.0, **kw).fit(X, y)
    grouped = FMRegressor(reg_linear=[2.0] * 3, reg_factors=[4.0] * 3, **kw).fit(
        X, y, groups=groups
    )
    np.testing.assert_allclose(grouped.V_, scalar.V_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grouped.w_, scalar.w_, rtol=1e-12, atol=1e-14)


def test_refusals(data):
    X, y, groups = data
    with pytest.raises(ValueError, match="reg_linear has 2 per-group values but groups name 3"):
        FMRegressor(solver="als", reg_linear=[1.0, 2.0]).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="no groups were given"):
        FMRegressor(solver="als", reg_factors=[1.0, 2.0]).fit(X, y)
    with pytest.raises(ValueError, match=r"solver='als' reads .* solver='adagrad' takes one value"):
        FMRegressor(reg_linear=[1.0, 2.0]).fit(X, y)
    with pytest.raises(ValueError, match="not available for solver='mcmc'"):
        FMRegressor(solver="mcmc", reg_linear=[1.0]).fit(X, y)
    with pytest.raises(ValueError, match="list of per-group values"):
        FMRegressor(solver="als", reg_linear=[1.0, -2.0]).fit(X, y)


def test_libfm_per_group_regular(data, tmp_path, capsys):
    """``fmlearn libfm -method als -meta m -regular r0,r1…,r2…`` = the Python fit."""
    X, y, groups = data
    dump_libfm(X[:1500], y[:1500], tmp_path / "train.libfm")
    dump_libfm(X[1500:], y[1500:], tmp_path / "test.libfm")
    np.savetxt(tmp_path / "meta.txt", groups, fmt="%d")
    out = tmp_path / "pred.txt"
    argv = ["libfm", "-task", "r", "-train", str(tmp_path / "train.libfm"),
            "-test", str(tmp_path / "test.libfm"), "-dim", "1,1,2", "-iter", "5",
            "-method", "als", "-meta", str(tmp_path / "meta.txt"),
            "-regular", "0.1,2,30,0.5,1,50,3", "-out", str(out), "-seed", "1"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    expected = FMRegressor(n_factors=2, solver="als", max_iter=5, reg_bias=0.1,
                           reg_linear=[2, 30, 0.5], reg_factors=[1, 50, 3], random_state=1,
                           init_std=0.1)  # fmt: skip
    expected.fit(X[:1500], y[:1500], groups=groups)
    np.testing.assert_allclose(np.loadtxt(out), expected.predict(X[1500:]), rtol=1e-6)
    bad = list(argv)
    bad[bad.index("-regular") + 1] = "0.1,2,30,1"
    assert main(bad) == 2
    assert "1 + 2×3" in capsys.readouterr().err
