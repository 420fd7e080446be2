"""ONNX export: the graph run by onnxruntime predicts what fmlearn predicts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import (
    FFMClassifier,
    FFMRegressor,
    FMClassifier,
    FMOrdinalRegressor,
    FMRegressor,
    FwFMClassifier,
    FwFMRegressor,
    load,
    save,
)
from fmlearn.cli import main
from fmlearn.datasets import make_ctr, make_field_aware_ctr
from fmlearn.export import padded, save_onnx, to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(proto, X, dtype=np.float32, width=None):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    indices, values = padded(X, width=width, dtype=dtype)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"indices": indices, "values": values}), strict=True))


@pytest.fixture(scope="module")
def ctr():
    """10,000 test rows of 12 one-hot fields plus a numeric column (values ≠ 1)."""
    X, y = make_ctr(12_000, n_fields=12, n_features=3_000, random_state=0)[:2]
    rng = np.random.default_rng(0)
    X = sp.hstack([X, sp.csr_matrix(rng.normal(size=(X.shape[0], 1)))], format="csr")
    return X[:2000], y[:2000], X[2000:]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["adagrad", "als"])
def test_regressor_matches_predict(ctr, solver, dtype):
    X, y, X_test = ctr
    target = y + X[:, -1].toarray().ravel()
    model = FMRegressor(n_factors=6, solver=solver, max_iter=5, random_state=0).fit(X, target)
    got = _run(to_onnx(model, dtype=dtype), X_test, dtype)["predictions"]
    assert got.dtype == dtype
    bound = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, model.predict(X_test), rtol=0, atol=bound)


def test_regressor_clips_as_predict_does(ctr):
    X, y, X_test = ctr
    clipped = FMRegressor(n_factors=4, max_iter=3, random_state=0).fit(X, y)
    free = FMRegressor(n_factors=4, max_iter=3, random_state=0, clip_predictions=False).fit(X, y)
    got_clipped = _run(to_onnx(clipped, dtype=np.float64), X_test, np.float64)["predictions"]
    got_free = _run(to_onnx(free, dtype=np.float64), X_test, np.float64)["predictions"]
    np.testing.assert_allclose(got_clipped, clipped.predict(X_test), atol=1e-12)
    np.testing.assert_allclose(got_free, free.predict(X_test), atol=1e-12)
    assert got_clipped.min() >= clipped.y_min_ and got_clipped.max() <= clipped.y_max_
    assert got_free.min() < free.y_min_ or got_free.max() > free.y_max_  # clipping mattered


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_classifier_matches_predict_proba_and_decision(ctr, dtype):
    X, y, X_test = ctr
    model = FMClassifier(n_factors=6, max_iter=5, random_state=0).fit(X, np.where(y, "c", "n"))
    proto = to_onnx(model, dtype=dtype)
    out = _run(proto, X_test, dtype)
    bound = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X_test), atol=bound)
    np.testing.assert_allclose(out["decision"], model.decision_function(X_test), atol=bound)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["classes"] == "['c', 'n']" and meta["n_features"] == str(X.shape[1])


def test_mcmc_samples_are_averaged_as_predict_does(ctr):
    X, y, X_test = ctr
    reg = FMRegressor(n_factors=4, solver="mcmc", max_iter=20, random_state=0).fit(X, y)
    assert len(reg.samples_) > 1
    got = _run(to_onnx(reg), X_test[:2000])["predictions"]
    np.testing.assert_allclose(got, reg.predict(X_test[:2000]), atol=1e-5)
    clf = FMClassifier(n_factors=4, solver="mcmc", max_iter=20, random_state=0).fit(X, y)
    out = _run(to_onnx(clf, dtype=np.float64), X_test[:2000], np.float64)
    assert "decision" not in out  # Φ⁻¹ of an average: no ONNX operator (documented)
    # probit probabilities: onnxruntime's Erf is float32
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(X_test[:2000]), atol=1e-6)


def test_padding_width_does_not_change_predictions(ctr):
    X, y, X_test = ctr
    model = FMRegressor(n_factors=4, max_iter=2, random_state=0).fit(X, y)
    proto = to_onnx(model, dtype=np.float64)
    tight = _run(proto, X_test[:500], np.float64)["predictions"]
    wide = _run(proto, X_test[:500], np.float64, width=40)["predictions"]
    np.testing.assert_allclose(tight, wide, rtol=0, atol=1e-12)  # only the sum order moves


def test_padded_round_trips_and_refuses_a_short_width():
    X = sp.csr_matrix(np.array([[0, 2.0, 0, 3.0], [0, 0, 0, 0], [1.5, 0, 0, 0]]))
    indices, values = padded(X, dtype=np.float64)
    assert indices.shape == values.shape == (3, 2) and indices.dtype == np.int64
    rebuilt = np.zeros((3, 4))
    np.add.at(rebuilt, (np.repeat(np.arange(3), 2), indices.ravel()), values.ravel())
    np.testing.assert_array_equal(rebuilt, X.toarray())
    assert padded(sp.csr_matrix((2, 5)))[0].shape == (2, 1)  # no entries: width 1
    with pytest.raises(ValueError, match="row 0 has 2 stored values; width=1"):
        padded(X, width=1)


def test_refuses_what_it_cannot_export(ctr, tmp_path):
    X, y, _ = ctr
    with pytest.raises(ValueError, match="not fitted"):
        to_onnx(FMRegressor())
    with pytest.raises(ValueError, match="not fitted"):
        to_onnx(FFMRegressor())
    with pytest.raises(TypeError, match="FMRegressor, FMClassifier and the field-aware"):
        to_onnx(object())
    # an ordinal FM subclasses neither FM estimator: its cutpoints are not in the graph
    ordinal = FMOrdinalRegressor(n_factors=2, max_iter=2, random_state=0)
    ordinal.fit(X, y.astype(int) + (np.arange(len(y)) % 3 == 0))
    with pytest.raises(TypeError, match="got FMOrdinalRegressor"):
        to_onnx(ordinal)
    save(ordinal, tmp_path / "o.fmlearn")
    assert main(["export", str(tmp_path / "o.fmlearn"), "-o", str(tmp_path / "o.onnx")]) == 2
    assert not (tmp_path / "o.onnx").exists()
    model = FMRegressor(n_factors=2, max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="float32 or float64"):
        to_onnx(model, dtype=np.float16)


def test_save_onnx_and_the_command_line(ctr, tmp_path, capsys):
    X, y, X_test = ctr
    model = FMClassifier(n_factors=4, max_iter=2, random_state=0).fit(X, y)
    save_onnx(model, tmp_path / "a.onnx")
    save(model, tmp_path / "m.fmlearn")
    assert main(["export", str(tmp_path / "m.fmlearn"), "-o", str(tmp_path / "b.onnx")]) == 0
    assert "any N and W" in capsys.readouterr().out
    for name in ("a.onnx", "b.onnx"):
        proto = onnx.load(tmp_path / name)
        out = _run(proto, X_test[:100])
        np.testing.assert_allclose(
            out["probabilities"], load(tmp_path / "m.fmlearn").predict_proba(X_test[:100]),
            atol=1e-5,
        )  # fmt: skip
    assert main(["export", str(tmp_path / "missing.fmlearn"), "-o", str(tmp_path / "c.onnx")]) == 1
    assert not (tmp_path / "c.onnx").exists()


def test_external_data_beside_the_graph(ctr, tmp_path, monkeypatch):
    """Weights in ``<path>.data`` (what models past ONNX's 2 GiB file limit need): forced,
    and chosen by size when ``external_data`` is left to ``None``."""
    import fmlearn.export as export

    X, y, X_test = ctr
    model = FMClassifier(n_factors=4, max_iter=2, random_state=0).fit(X, y)
    expected = model.predict_proba(X_test[:200])
    save_onnx(model, tmp_path / "a.onnx", external_data=True)
    monkeypatch.setattr(export, "EXTERNAL_DATA_BYTES", 1000)
    save_onnx(model, tmp_path / "b.onnx")
    monkeypatch.setattr(export, "EXTERNAL_DATA_BYTES", 1 << 30)
    save_onnx(model, tmp_path / "c.onnx")
    assert (tmp_path / "a.onnx.data").exists() and (tmp_path / "b.onnx.data").exists()
    assert not (tmp_path / "c.onnx.data").exists()
    # the graph alone is small: V (3,013 × 4) and w live in the data file
    assert (tmp_path / "a.onnx").stat().st_size < 10_000 < (tmp_path / "a.onnx.data").stat().st_size
    for name in ("a.onnx", "b.onnx"):
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        indices, values = padded(X_test[:200])
        probs = session.run(["probabilities"], {"indices": indices, "values": values})[0]
        np.testing.assert_allclose(probs, expected, atol=1e-5)
    # past protobuf's 2 GiB, an in-memory graph is refused with the way out
    monkeypatch.setattr(export, "_IN_MEMORY_LIMIT", 1000)
    with pytest.raises(ValueError, match="save_onnx"):
        to_onnx(model)
    with pytest.raises(ValueError, match="save_onnx"):
        save_onnx(model, tmp_path / "d.onnx", external_data=False)
    assert not (tmp_path / "d.onnx").exists()
    # onnx's own loader resolves the side file too
    proto = onnx.load(tmp_path / "a.onnx")
    np.testing.assert_allclose(_run(proto, X_test[:200])["probabilities"], expected, atol=1e-5)


def test_more_models_match_predict(ctr):
    """No intercept or linear term, integer classes, a float32 model in a float64 graph
    (the graph rounds the values to float32 as predict does), and zero rows."""
    X, y, X_test = ctr
    bare = FMRegressor(n_factors=4, max_iter=3, random_state=0, fit_intercept=False,
                       fit_linear=False).fit(X, y)  # fmt: skip
    got = _run(to_onnx(bare, dtype=np.float64), X_test, np.float64)["predictions"]
    np.testing.assert_allclose(got, bare.predict(X_test), atol=1e-12)
    ints = FMClassifier(n_factors=4, max_iter=3, random_state=0).fit(X, np.where(y, 7, 3))
    proto = to_onnx(ints, dtype=np.float64)
    out = _run(proto, X_test, np.float64)
    np.testing.assert_allclose(out["probabilities"], ints.predict_proba(X_test), atol=1e-12)
    assert {p.key: p.value for p in proto.metadata_props}["classes"] == "[3, 7]"
    f32 = FMRegressor(n_factors=4, max_iter=3, random_state=0, dtype="float32").fit(X, y)
    got = _run(to_onnx(f32, dtype=np.float64), X_test, np.float64)["predictions"]
    np.testing.assert_allclose(got, f32.predict(X_test), rtol=0, atol=1e-12)
    empty = _run(to_onnx(f32), X_test[:0])["predictions"]
    assert empty.shape == (0,)


def test_padded_sums_duplicates_without_touching_its_input():
    X = sp.csr_matrix((np.array([1.0, 2.0, 4.0]), np.array([5, 5, 2]), np.array([0, 3])),
                      shape=(1, 6))  # fmt: skip
    before = (X.indptr.copy(), X.indices.copy(), X.data.copy())
    indices, values = padded(X, dtype=np.float64)
    assert sorted(zip(indices[0].tolist(), values[0].tolist(), strict=True)) == [(2, 4.0), (5, 3.0)]
    for a, b in zip((X.indptr, X.indices, X.data), before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layout", ["shared", "separate"])
@pytest.mark.parametrize("model_dtype", ["float64", "float32"])
def test_multiclass_matches_predict_proba_and_decision(layout, model_dtype):
    from fmlearn.datasets import make_multiclass

    X, y, _ = make_multiclass(12_000, n_classes=4, n_features=300, random_state=0)
    model = FMClassifier(n_factors=4, max_iter=2, multiclass=layout, dtype=model_dtype,
                         random_state=0).fit(X[:2_000], y[:2_000])  # fmt: skip
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        out = _run(to_onnx(model, dtype=dtype), X[2_000:], dtype)
        decision, proba = out["decision"], out["probabilities"]
        assert decision.shape == proba.shape == (10_000, 4)
        np.testing.assert_allclose(decision, model.decision_function(X[2_000:]), atol=tol)
        np.testing.assert_allclose(proba, model.predict_proba(X[2_000:]), atol=tol)


@pytest.mark.parametrize("degree", [3, 4, 5])
def test_higher_order_matches_predict(ctr, degree):
    """Newton's identities in the graph, the ANOVA recursion in the kernel: the same
    polynomial. Also on a model with large factors (planted degree-3 data, RMSE 0.1)."""
    X, y, X_test = ctr
    reg = FMRegressor(n_factors=6, degree=degree, max_iter=3, random_state=0).fit(X, y)
    clf = FMClassifier(n_factors=6, degree=degree, max_iter=3, random_state=0).fit(X, y)
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        got = _run(to_onnx(reg, dtype=dtype), X_test, dtype)["predictions"]
        np.testing.assert_allclose(got, reg.predict(X_test), rtol=0, atol=tol)
        got = _run(to_onnx(clf, dtype=dtype), X_test, dtype)
        np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X_test), atol=tol)
        np.testing.assert_allclose(got["decision"], clf.decision_function(X_test), atol=tol * 10)
    rng = np.random.default_rng(0)
    cols = rng.integers(0, 6, size=(3000, 5)) + np.arange(5) * 6
    Xp = sp.csr_matrix((np.ones(15000), cols.ravel(), np.arange(0, 15001, 5)), shape=(3000, 30))
    yp = rng.normal(size=3000) + (Xp @ rng.normal(size=30)) ** 3 / 10
    big = FMRegressor(n_factors=4, degree=degree, init_std=0.6, max_iter=5, random_state=0)
    big.fit(Xp, yp)
    got = _run(to_onnx(big, dtype=np.float32), Xp, np.float32)["predictions"]
    assert np.abs(big.V_).max() > 0.5
    np.testing.assert_allclose(got, big.predict(Xp), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def field_data():
    """12,000 rows of 8 one-hot fields (``make_field_aware_ctr``), a fifth of the entries
    dropped (rows of 3 to 10 entries: padding), and two numeric columns: one without a
    field (−1: linear only) and one in field 0 (pairs within a field). 10,000 test rows."""
    X, y, fields, _ = make_field_aware_ctr(12_000, n_fields=8, n_features=2_000, random_state=0)
    rng = np.random.default_rng(0)
    X = X.copy()
    X.data[rng.random(X.nnz) < 0.2] = 0
    X.eliminate_zeros()
    X = sp.hstack([X, sp.csr_matrix(rng.normal(size=(X.shape[0], 2)))], format="csr")
    fields = np.concatenate([fields, [-1, 0]])
    target = y + X[:, -2].toarray().ravel() + X[:, -1].toarray().ravel()  # for regressors
    return X[:2000], y[:2000], target[:2000], fields, X[2000:]


FIELD_AWARE = {"ffm": (FFMRegressor, FFMClassifier), "fwfm": (FwFMRegressor, FwFMClassifier)}


@pytest.mark.parametrize("family", ["ffm", "fwfm"])
def test_field_aware_regressor_matches_predict(field_data, family):
    """Rows of different lengths, a feature without a field and two of one field in a row;
    clipping (on and off), and a model without intercept and linear terms."""
    X, _, target, fields, X_test = field_data
    assert len(set(np.diff(X_test.indptr))) > 3 and (fields == -1).any()
    cls = FIELD_AWARE[family][0]
    clipped = cls(max_iter=3, random_state=0).fit(X, target, fields=fields)
    free = cls(max_iter=3, random_state=0, clip_predictions=False)
    free.fit(X, target, fields=fields)
    bare = cls(max_iter=3, random_state=0, fit_linear=False, fit_intercept=False)
    bare.fit(X, target, fields=fields)
    assert bare.w0_ == 0 and not bare.w_.any()
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for model in (clipped, free, bare):
            proto = to_onnx(model, dtype=dtype)
            got = _run(proto, X_test, dtype)["predictions"]
            assert got.dtype == dtype and got.shape == (X_test.shape[0],)
            np.testing.assert_allclose(got, model.predict(X_test), rtol=0, atol=tol)
    got = _run(to_onnx(clipped, dtype=np.float64), X_test, np.float64)["predictions"]
    assert got.min() >= clipped.y_min_ and got.max() <= clipped.y_max_
    got = _run(to_onnx(free, dtype=np.float64), X_test, np.float64)["predictions"]
    assert got.min() < free.y_min_ or got.max() > free.y_max_  # clipping mattered
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["n_fields"] == "8" and meta["n_features"] == str(X.shape[1])
    assert meta["estimator"] == cls.__name__ and "classes" not in meta


@pytest.mark.parametrize("family", ["ffm", "fwfm"])
def test_field_aware_classifier_matches_predict_proba_and_decision(field_data, family):
    X, y, _, fields, X_test = field_data
    cls = FIELD_AWARE[family][1]
    model = cls(max_iter=3, random_state=0).fit(X, np.where(y, "c", "n"), fields=fields)
    bare = cls(max_iter=3, random_state=0, fit_linear=False).fit(X, y, fields=fields)
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for fitted in (model, bare):
            proto = to_onnx(fitted, dtype=dtype)
            out = _run(proto, X_test, dtype)
            assert out["probabilities"].shape == (X_test.shape[0], 2)
            expected = fitted.predict_proba(X_test)
            np.testing.assert_allclose(out["probabilities"], expected, rtol=0, atol=tol)
            expected = fitted.decision_function(X_test)
            np.testing.assert_allclose(out["decision"], expected, rtol=0, atol=tol)
    meta = {p.key: p.value for p in to_onnx(model).metadata_props}
    assert meta["classes"] == "['c', 'n']" and meta["estimator"] == cls.__name__
    assert meta["n_fields"] == "8" and meta["n_factors"] == str(model.n_factors)


@pytest.mark.parametrize("family", ["ffm", "fwfm"])
def test_field_aware_edge_cases(field_data, family):
    """A float32 model in a float64 graph (the values rounded as predict rounds them),
    the padding width, zero rows, and a model in which no feature has a field."""
    X, _, target, fields, X_test = field_data
    cls = FIELD_AWARE[family][0]
    f32 = cls(max_iter=2, random_state=0, dtype="float32").fit(X, target, fields=fields)
    proto = to_onnx(f32, dtype=np.float64)
    got = _run(proto, X_test[:2000], np.float64)["predictions"]
    np.testing.assert_allclose(got, f32.predict(X_test[:2000]), rtol=0, atol=1e-12)
    wide = _run(proto, X_test[:2000], np.float64, width=25)["predictions"]
    np.testing.assert_allclose(wide, got, rtol=0, atol=1e-12)  # only the sum order moves
    assert _run(to_onnx(f32), X_test[:0])["predictions"].shape == (0,)
    linear = cls(max_iter=2, random_state=0).fit(X, target, fields=np.full(X.shape[1], -1))
    got = _run(to_onnx(linear, dtype=np.float64), X_test[:2000], np.float64)["predictions"]
    np.testing.assert_allclose(got, linear.predict(X_test[:2000]), rtol=0, atol=1e-12)


def test_field_aware_command_line_and_external_data(field_data, tmp_path, capsys):
    X, y, _, fields, X_test = field_data
    model = FFMClassifier(max_iter=2, random_state=0).fit(X, y, fields=fields)
    save(model, tmp_path / "ffm.fmlearn")
    assert main(["export", str(tmp_path / "ffm.fmlearn"), "-o", str(tmp_path / "a.onnx")]) == 0
    assert "any N and W" in capsys.readouterr().out
    save_onnx(model, tmp_path / "b.onnx", external_data=True)  # V_ in b.onnx.data
    assert (tmp_path / "b.onnx.data").stat().st_size > model.V_.size * 4
    expected = load(tmp_path / "ffm.fmlearn").predict_proba(X_test[:1000])
    for name in ("a.onnx", "b.onnx"):
        out = _run(onnx.load(tmp_path / name), X_test[:1000])
        np.testing.assert_allclose(out["probabilities"], expected, rtol=0, atol=1e-5)
