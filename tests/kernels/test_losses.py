"""Pointwise losses: values against numpy, derivatives against finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from fmlearn.kernels import losses as L
from reference import fd_gradient, loss, loss_derivative


@njit(cache=False)
def _values(code, p, y):
    out = np.empty(p.shape[0])
    for j in range(p.shape[0]):
        out[j] = L.loss_value(code, p[j], y[j])
    return out


@njit(cache=False)
def _derivatives(code, p, y):
    out = np.empty(p.shape[0])
    for j in range(p.shape[0]):
        out[j] = L.loss_derivative(code, p[j], y[j])
    return out


@njit(cache=False)
def _sigmoid(z):
    out = np.empty(z.shape[0])
    for j in range(z.shape[0]):
        out[j] = L.sigmoid(z[j])
    return out


@njit(cache=False)
def _log1p_exp(z):
    out = np.empty(z.shape[0])
    for j in range(z.shape[0]):
        out[j] = L.log1p_exp(z[j])
    return out


def _targets(code, n, rng):
    if code == L.SQUARED:
        return rng.normal(scale=3.0, size=n)
    return rng.choice([-1.0, 1.0], size=n)


def test_codes_match_enum():
    assert int(L.Loss.SQUARED) == L.SQUARED == 0
    assert int(L.Loss.LOGISTIC) == L.LOGISTIC == 1


@pytest.mark.parametrize("code", [L.SQUARED, L.LOGISTIC])
def test_loss_value_matches_reference(code):
    rng = np.random.default_rng(code)
    p = rng.normal(scale=5.0, size=200)
    y = _targets(code, 200, rng)
    np.testing.assert_allclose(_values(code, p, y), loss(code, p, y), rtol=1e-13, atol=1e-300)


def test_squared_loss_exact_forms():
    p = np.array([0.0, 1.5, -2.0, 3.0])
    y = np.array([0.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(_values(L.SQUARED, p, y), 0.5 * (p - y) ** 2)
    np.testing.assert_array_equal(_derivatives(L.SQUARED, p, y), p - y)


@pytest.mark.parametrize("code", [L.SQUARED, L.LOGISTIC])
def test_loss_derivative_matches_finite_differences(code):
    rng = np.random.default_rng(10 + code)
    p = rng.normal(scale=3.0, size=60)
    y = _targets(code, 60, rng)
    got = _derivatives(code, p, y)
    for j in range(p.size):

        def f(theta, j=j):
            return _values(code, theta, y[j : j + 1])[0]

        fd = fd_gradient(f, p[j : j + 1], eps=1e-6)[0]
        assert got[j] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(got, loss_derivative(code, p, y), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("code", [L.SQUARED, L.LOGISTIC])
def test_losses_finite_for_large_margins(code):
    p = np.array([-1e3, -700.0, -50.0, -1.0, 0.0, 1.0, 50.0, 700.0, 1e3] * 2)
    y = np.repeat([-1.0, 1.0], 9)
    with np.errstate(all="raise"):
        values = _values(code, p, y)
        derivs = _derivatives(code, p, y)
    assert np.all(np.isfinite(values))
    assert np.all(np.isfinite(derivs))
    assert np.all(values >= 0.0)
    np.testing.assert_allclose(values, loss(code, p, y), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(derivs, loss_derivative(code, p, y), rtol=1e-12, atol=1e-300)


def test_logistic_extremes():
    # confidently right: loss and gradient vanish (but stay ≥ 0); confidently wrong:
    # loss ≈ margin and the gradient saturates at −y
    p = np.array([1e3, -1e3, -1e3, 1e3])
    y = np.array([1.0, -1.0, 1.0, -1.0])
    values = _values(L.LOGISTIC, p, y)
    derivs = _derivatives(L.LOGISTIC, p, y)
    assert np.all(values[:2] >= 0.0) and np.all(values[:2] < 1e-300)
    assert abs(derivs[0]) < 1e-300 and abs(derivs[1]) < 1e-300
    np.testing.assert_allclose(values[2:], [1e3, 1e3], rtol=1e-15)
    np.testing.assert_allclose(derivs[2:], -y[2:], rtol=1e-15)


def test_sigmoid_reference_and_symmetry():
    z = np.concatenate([np.linspace(-40, 40, 161), [-1e3, -745.0, 745.0, 1e3, 0.0]])
    with np.errstate(all="raise"):
        s = _sigmoid(z)
        s_neg = _sigmoid(-z)
    assert np.all(np.isfinite(s)) and np.all((s >= 0.0) & (s <= 1.0))
    np.testing.assert_allclose(s, 0.5 * (1.0 + np.tanh(0.5 * z)), rtol=1e-14, atol=1e-16)
    # σ(z) + σ(−z) = 1, and σ(−z) is accurate in its tail (not 1 − σ(z))
    np.testing.assert_allclose(s + s_neg, 1.0, rtol=1e-15)
    tail = z < -5
    np.testing.assert_allclose(s[tail], np.exp(-np.logaddexp(0.0, -z[tail])), rtol=1e-13)
    assert _sigmoid(np.array([0.0]))[0] == 0.5


def test_log1p_exp_reference():
    z = np.concatenate([np.linspace(-50, 50, 201), [-1e3, 1e3, 710.0]])
    with np.errstate(all="raise"):
        got = _log1p_exp(z)
    np.testing.assert_allclose(got, np.logaddexp(0.0, z), rtol=1e-14, atol=1e-300)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([-1.0, 1.0]),
)
def test_logistic_properties(p, y):
    value = _values(L.LOGISTIC, np.array([p]), np.array([y]))[0]
    deriv = _derivatives(L.LOGISTIC, np.array([p]), np.array([y]))[0]
    assert np.isfinite(value) and value >= 0.0
    assert np.isfinite(deriv) and abs(deriv) <= 1.0
    assert deriv * y <= 0.0  # moving ŷ towards y lowers the loss
    # symmetry of the logistic loss: ℓ(p, y) = ℓ(−p, −y)
    assert value == _values(L.LOGISTIC, np.array([-p]), np.array([-y]))[0]
    assert value == pytest.approx(float(loss(L.LOGISTIC, p, y)), rel=1e-13, abs=1e-300)
