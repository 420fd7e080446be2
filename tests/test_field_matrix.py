"""Matrices that carry their fields: FMEncoder and load_libffm hand ``fields`` on with X, so
a Pipeline(FMEncoder, FFM) works and a field-aware fit needs no ``fields=``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from fmlearn import FFMClassifier, FMClassifier, FwFMClassifier
from fmlearn.io import FMEncoder, dump_libffm, iter_libffm, load_libffm
from fmlearn.io.field_matrix import FieldMatrix, fields_of

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def clicks():
    """A small click table: the label depends on the (site, ad) pair."""
    rng = np.random.default_rng(0)
    n = 3000
    site, ad, hour = rng.integers(0, 8, n), rng.integers(0, 6, n), rng.integers(0, 24, n)
    logit = np.where((site % 2) == (ad % 2), 1.5, -1.5) + 0.02 * (hour - 12)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {"site": [f"s{s}" for s in site], "ad": [f"a{a}" for a in ad], "hour": hour.astype(str)}
    )
    return frame, y


def _encoder():
    return FMEncoder(categorical=["site", "ad", "hour"])


@pytest.mark.parametrize("cls", [FFMClassifier, FwFMClassifier])
def test_a_pipeline_hands_the_encoders_fields_to_the_model(clicks, cls):
    frame, y = clicks
    pipe = make_pipeline(_encoder(), cls(max_iter=3, random_state=0)).fit(frame[:2500], y[:2500])
    encoder = _encoder().fit(frame[:2500])
    X = encoder.transform(frame)
    by_hand = cls(max_iter=3, random_state=0).fit(
        sp.csr_matrix(X[:2500]), y[:2500], fields=encoder.fields_
    )
    np.testing.assert_array_equal(pipe[-1].fields_, encoder.fields_)
    np.testing.assert_array_equal(
        pipe.predict_proba(frame[2500:]), by_hand.predict_proba(sp.csr_matrix(X[2500:]))
    )
    assert pipe.score(frame[2500:], y[2500:]) > 0.6


def test_row_selections_keep_the_fields_and_column_changes_drop_them(clicks):
    frame, _ = clicks
    X = _encoder().fit_transform(frame)
    fields = fields_of(X)
    assert isinstance(X, FieldMatrix) and fields is not None and fields.dtype == np.int32
    rows = np.array([5, 1, 7])
    for kept in (X[rows], X[2:9], X[rows, :], X.copy(), X.astype(np.float32), 2 * X):
        np.testing.assert_array_equal(fields_of(kept), fields)
    train, _ = train_test_split(X, test_size=0.25, random_state=0)
    np.testing.assert_array_equal(fields_of(train), fields)
    for dropped in (X[:, 1:], X[:, [0, 2]], sp.hstack([X, X]).tocsr(), X.T.tocsr()):
        assert fields_of(dropped) is None
    assert "fields" in repr(X)


def test_plain_fms_take_the_matrix_as_any_csr(clicks):
    frame, y = clicks
    X = _encoder().fit_transform(frame)
    a = FMClassifier(max_iter=3, random_state=0).fit(X, y).predict_proba(X)
    b = FMClassifier(max_iter=3, random_state=0).fit(sp.csr_matrix(X), y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_libffm_files_carry_their_fields(clicks, tmp_path):
    frame, y = clicks
    encoder = _encoder().fit(frame)
    X = encoder.transform(frame)
    dump_libffm(X, y, tmp_path / "train.ffm")
    Xf, yf, fields = load_libffm(tmp_path / "train.ffm", n_features=X.shape[1])
    np.testing.assert_array_equal(fields_of(Xf), fields)
    implicit = FFMClassifier(max_iter=2, random_state=0).fit(Xf, yf)
    explicit = FFMClassifier(max_iter=2, random_state=0).fit(Xf, yf, fields=fields)
    np.testing.assert_array_equal(implicit.V_, explicit.V_)


def test_a_file_that_leaves_columns_unused_still_predicts_and_continues(clicks, tmp_path):
    """load_libffm(n_features=…) marks columns a file never uses with field −1: no clash."""
    frame, y = clicks
    encoder = _encoder().fit(frame)
    X = encoder.transform(frame)
    model = FFMClassifier(max_iter=2, random_state=0).fit(X, y)
    few = frame["site"].isin(["s0", "s1"]).to_numpy()
    dump_libffm(X[few], y[few], tmp_path / "part.ffm", fields=encoder.fields_)
    Xp, yp, fields = load_libffm(tmp_path / "part.ffm", n_features=X.shape[1])
    assert (fields == -1).any()
    np.testing.assert_array_equal(model.predict_proba(Xp), model.predict_proba(sp.csr_matrix(Xp)))
    model.partial_fit(Xp, yp)


def test_fields_that_disagree_are_refused(clicks):
    frame, y = clicks
    X = _encoder().fit_transform(frame)
    other = fields_of(X).copy()
    other[0] = (other[0] + 1) % 3
    with pytest.raises(ValueError, match="differ from the fields X carries"):
        FFMClassifier(max_iter=1).fit(X, y, fields=other)
    model = FFMClassifier(max_iter=1, random_state=0).fit(X, y)
    relabelled = FieldMatrix.wrap(sp.csr_matrix(X), other)
    with pytest.raises(ValueError, match=r"fields_ on 1 columns \(column 0"):
        model.predict(relabelled)
    with pytest.raises(ValueError, match="X carries fields for 2 columns"):
        model.predict(FieldMatrix.wrap(sp.csr_matrix(X[:, :2]), [0, 1]))
    with pytest.raises(ValueError, match="fields has shape"):
        FieldMatrix.wrap(sp.csr_matrix(X), [0, 1])


def test_a_continued_fit_fills_in_fields_for_columns_seen_later(tmp_path):
    """Column 2 is unused by the first file (field −1 in the model) and used by the second:
    the continued fit gives it its field (its vectors were never used), but refuses a
    field that contradicts the model's or one the model has no vectors for."""
    first = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]] * 5))
    second = sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]] * 5))
    y = np.array([1, 0] * 5)
    model = FFMClassifier(solver="sgd", max_iter=1, random_state=0)
    model.fit(FieldMatrix.wrap(first, [0, 1, -1]), y)
    untouched = model.V_[2].copy()
    model.partial_fit(FieldMatrix.wrap(second, [0, -1, 1]), y)
    np.testing.assert_array_equal(model.fields_, [0, 1, 1])
    assert not np.array_equal(model.V_[2], untouched)  # column 2 now takes part in pairs
    with pytest.raises(ValueError, match=r"fields_ on 1 columns \(column 0"):
        model.partial_fit(FieldMatrix.wrap(second, [1, 1, 1]), y)
    fresh = FFMClassifier(solver="sgd", max_iter=1, random_state=0)
    fresh.fit(FieldMatrix.wrap(first, [0, 1, -1]), y)
    with pytest.raises(ValueError, match=r"fitted with 2 fields .* cannot add one"):
        fresh.partial_fit(FieldMatrix.wrap(second, [0, 1, 2]), y)
    with pytest.raises(ValueError, match="fitted with 2 fields"):
        fresh.partial_fit(second, y, fields=[0, 1, 2])
    np.testing.assert_array_equal(fresh.fields_, [0, 1, -1])  # a refused call changes nothing
    fresh.partial_fit(second, y, fields=[0, -1, 1])  # explicit fields: −1 says nothing
    np.testing.assert_array_equal(fresh.fields_, [0, 1, 1])
    fields = fields_of(FieldMatrix.wrap(first, [0, 1, -1]))
    with pytest.raises(ValueError, match="read-only"):
        fields[0] = 5


@pytest.mark.parametrize("cls", [FFMClassifier, FwFMClassifier])
def test_streaming_a_libffm_file_into_partial_fit(tmp_path, monkeypatch, cls):
    """iter_libffm(n_features=…) names a column's field once a chunk has used it: chunk by
    chunk partial_fit takes them (issue 21's review found it refused the second chunk)."""
    import fmlearn.io.text as text
    from fmlearn.datasets import make_field_aware_ctr

    X, y, fields, _ = make_field_aware_ctr(3_000, n_fields=5, n_features=2_000, random_state=0)
    path = tmp_path / "clicks.ffm"
    dump_libffm(X, y, path, fields=fields)
    monkeypatch.setattr(text, "_BLOCK_BYTES", 4096)  # many blocks: fields grow chunk by chunk
    model = cls(max_iter=1, random_state=0)
    seen = []
    for X_chunk, y_chunk, chunk_fields in iter_libffm(path, chunk_rows=500, n_features=2_000):
        model.partial_fit(X_chunk, y_chunk, fields=chunk_fields, classes=[0, 1])
        seen.append(int((chunk_fields >= 0).sum()))
    assert seen[0] < seen[-1]  # the fields did grow
    used = X.getnnz(axis=0) > 0
    np.testing.assert_array_equal(model.fields_[used], fields[used])
