"""save/load: exact round trips, atomic writes, clear errors for damaged files."""

import json
import os
import zipfile

import numpy as np
import pytest

import fmlearn
from fmlearn import FMClassifier, FMRegressor
from fmlearn.datasets import make_ctr, make_recommendation


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_recommendation(n_samples=3000, n_users=50, n_items=40, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return FMRegressor(n_factors=3, max_iter=3, random_state=0).fit(X, y)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_regressor_round_trip_is_exact(tmp_path, data, dtype):
    X, y = data
    fm = FMRegressor(n_factors=3, max_iter=3, random_state=0, dtype=dtype).fit(X, y)
    fm.save(tmp_path / "m.fmlearn")
    loaded = fmlearn.load(tmp_path / "m.fmlearn")
    assert type(loaded) is FMRegressor
    assert loaded.get_params() == fm.get_params()
    assert np.array_equal(loaded.predict(X), fm.predict(X))
    assert loaded.V_.dtype == fm.V_.dtype
    assert (loaded.y_min_, loaded.y_max_, loaded.n_iter_) == (fm.y_min_, fm.y_max_, 3)
    assert loaded.history_.to_dict() == fm.history_.to_dict()


def test_classifier_round_trip_with_string_labels(tmp_path):
    X, y, _ = make_ctr(n_samples=2000, n_fields=4, n_features=60, random_state=0)
    labels = np.where(y == 1, "yes", "no")
    clf = FMClassifier(max_iter=2, random_state=0).fit(X, labels)
    clf.save(tmp_path / "c.fmlearn")
    loaded = fmlearn.load(tmp_path / "c.fmlearn")
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert list(loaded.predict(X)) == list(clf.predict(X))


def test_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(100, 2)), columns=["age", "price"])
    fm = FMRegressor(max_iter=2, random_state=0).fit(df, rng.normal(size=100))
    fm.save(tmp_path / "m")
    loaded = fmlearn.load(tmp_path / "m")
    assert list(loaded.feature_names_in_) == ["age", "price"]
    assert np.array_equal(loaded.predict(df), fm.predict(df))


def test_loaded_model_continues_training(tmp_path, data):
    X, y = data
    fm = FMRegressor(max_iter=2, tol=None, warm_start=True, random_state=0).fit(X, y)
    fm.save(tmp_path / "m")
    loaded = fmlearn.load(tmp_path / "m")
    loaded.fit(X, y)
    fm.fit(X, y)
    assert loaded.n_iter_ == 4
    # same parameters and AdaGrad state: only the shuffling seed stream differs
    assert np.sqrt(np.mean((loaded.predict(X) - fm.predict(X)) ** 2)) < 0.05


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, fitted, monkeypatch):
    target = tmp_path / "m.fmlearn"
    fitted.save(target)
    before = target.read_bytes()

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken_write)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.fmlearn"]


def test_unfitted_model_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FMRegressor().save(tmp_path / "m")


def _rewrite(src, dst, change):
    """Copy a model zip, letting ``change(name, bytes)`` alter (or drop: None) entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            content = change(name, zin.read(name))
            if content is not None:
                zout.writestr(name, content)


def _meta_change(key, value):
    def change(name, content):
        if name != "metadata.json":
            return content
        meta = json.loads(content)
        meta[key] = value
        return json.dumps(meta)

    return change


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[: len(b) // 2], "not a readable fmlearn model"),
        (lambda b: b"hello world", "not a readable fmlearn model"),
        (lambda b: b"", "not a readable fmlearn model"),
    ],
)
def test_damaged_files_raise_clear_errors(tmp_path, fitted, damage, message):
    good = tmp_path / "good"
    fitted.save(good)
    bad = tmp_path / "bad"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(ValueError, match=message) as info:
        fmlearn.load(bad)
    assert str(bad) in str(info.value)


def test_flipped_bytes_are_detected(tmp_path, fitted):
    good = tmp_path / "good"
    fitted.save(good)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("V_.npy")
    data[info.header_offset + 30 + len("V_.npy") + 200] ^= 0xFF  # inside V_'s payload
    bad = tmp_path / "bad"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a readable fmlearn model"):
        fmlearn.load(bad)


@pytest.mark.parametrize(
    "change, message",
    [
        (_meta_change("format_version", 99), "Upgrade fmlearn"),
        (_meta_change("format", "something-else"), "not an fmlearn model file"),
        (_meta_change("estimator", "os.system"), "unknown estimator"),
        (_meta_change("params", {"n_factors": -1}), "n_factors"),
        (lambda n, c: None if n == "V_.npy" else c, "missing array V_"),
        (lambda n, c: None if n == "metadata.json" else c, "no metadata.json"),
        (lambda n, c: b"{not json" if n == "metadata.json" else c, "corrupt model metadata"),
    ],
)
def test_inconsistent_files_raise_clear_errors(tmp_path, fitted, change, message):
    fitted.save(tmp_path / "good")
    _rewrite(tmp_path / "good", tmp_path / "bad", change)
    with pytest.raises(ValueError, match=message):
        fmlearn.load(tmp_path / "bad")


def test_pickled_arrays_are_refused(tmp_path, fitted):
    import io

    fitted.save(tmp_path / "good")

    def swap(name, content):
        if name != "w_.npy":
            return content
        buf = io.BytesIO()
        np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
        return buf.getvalue()

    _rewrite(tmp_path / "good", tmp_path / "bad", swap)
    with pytest.raises(ValueError, match="corrupt array w_"):
        fmlearn.load(tmp_path / "bad")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        fmlearn.load(tmp_path / "nope")


def test_pipeline_of_encoder_and_model_round_trips_without_pickle(tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn.pipeline import make_pipeline

    from fmlearn import FMEncoder

    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "user": rng.choice([f"u{j}" for j in range(30)], n),
            "item": rng.integers(0, 20, n),
            "genres": rng.choice(["Action|Comedy", "Drama", "Comedy|Drama|War"], n),
            "age": rng.normal(35, 10, n),
            "city": rng.choice(["Oslo", "Lima", None], n),
        }
    )
    y = rng.normal(size=n)
    encoder = FMEncoder(
        categorical=["item"],
        multi_valued=["genres"],
        numeric="bin",
        handle_unknown="other",
        min_frequency=2,
    )
    pipe = make_pipeline(encoder, FMRegressor(n_factors=3, max_iter=3, random_state=0))
    pipe.fit(frame, y)
    fmlearn.save(pipe, tmp_path / "pipe.fmlearn")
    with zipfile.ZipFile(tmp_path / "pipe.fmlearn") as zf:
        assert all(name.endswith((".npy", ".json")) for name in zf.namelist())
    back = fmlearn.load(tmp_path / "pipe.fmlearn")
    assert [name for name, _ in back.steps] == ["fmencoder", "fmregressor"]
    unseen = frame.assign(user="nobody-seen")  # unknown categories: documented behaviour
    for X in (frame, unseen):
        np.testing.assert_array_equal(back.predict(X), pipe.predict(X))
    np.testing.assert_array_equal(back[0].groups_, pipe[0].groups_)
    assert list(back[0].get_feature_names_out()) == list(pipe[0].get_feature_names_out())
    assert back[0].get_params() == pipe[0].get_params()
    assert (back[0].transform(frame) != pipe[0].transform(frame)).nnz == 0


def test_encoder_alone_and_unsupported_objects(tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from fmlearn import FMEncoder

    frame = pd.DataFrame({"id": ["a", "b", "c", "a"], "n": [1.0, 2.0, 3.0, 4.0]})
    encoder = FMEncoder(hashing=True, n_features=64).fit(frame)
    encoder.save(tmp_path / "enc.fmlearn")
    back = fmlearn.load(tmp_path / "enc.fmlearn")
    assert (back.transform(frame) != encoder.transform(frame)).nnz == 0
    with pytest.raises(TypeError, match="Cannot save a Ridge"):
        fmlearn.save(make_pipeline(FMEncoder(), Ridge()).fit(frame, [1, 2, 3, 4]), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_saved_files_get_ordinary_permissions(tmp_path, fitted):
    umask = os.umask(0o022)
    try:
        fitted.save(tmp_path / "m.fmlearn")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.fmlearn").stat().st_mode & 0o777 == 0o644


def test_an_unwritable_path_is_named_not_its_temporary_file(tmp_path, fitted):
    target = tmp_path / "no such folder" / "m.fmlearn"
    with pytest.raises(OSError, match=r"cannot write .*no such folder/m\.fmlearn") as exc:
        fitted.save(target)
    assert ".tmp" not in str(exc.value)


def test_numpy_integer_random_state_is_kept(tmp_path, data):
    X, y = data
    fm = FMRegressor(n_factors=2, max_iter=2, random_state=np.int64(7)).fit(X, y)
    fmlearn.save(fm, tmp_path / "m.fmlearn")
    assert fmlearn.load(tmp_path / "m.fmlearn").random_state == 7


def test_rank_changed_after_fit_still_loads(tmp_path, fitted, data):
    X, _ = data
    fm = fmlearn.load(_saved(tmp_path, fitted))
    fm.set_params(n_factors=8)  # not refitted: still the rank-3 model
    fmlearn.save(fm, tmp_path / "changed.fmlearn")
    again = fmlearn.load(tmp_path / "changed.fmlearn")
    assert again.n_factors == 8 and again.V_.shape[1] == 3
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))


def _saved(tmp_path, model):
    path = tmp_path / "saved.fmlearn"
    fmlearn.save(model, path)
    return path


def _fitted_change(key, value):
    def change(name, content):
        if name != "metadata.json":
            return content
        meta = json.loads(content)
        meta["fitted"][key] = value
        return json.dumps(meta)

    return change


def test_nonsense_fitted_targets_are_refused(tmp_path, fitted, data):
    X, y = data
    clf = FMClassifier(n_factors=2, max_iter=2, random_state=0).fit(X, y > np.median(y))
    clf.save(tmp_path / "clf")
    _rewrite(tmp_path / "clf", tmp_path / "bad", _fitted_change("link_", "banana"))
    with pytest.raises(ValueError, match=r"link_ of 2 classes must be in \('logit', 'probit'\)"):
        fmlearn.load(tmp_path / "bad")
    fitted.save(tmp_path / "reg")
    _rewrite(tmp_path / "reg", tmp_path / "bad2", _fitted_change("y_min_", "low"))
    with pytest.raises(ValueError, match="must be finite numbers"):
        fmlearn.load(tmp_path / "bad2")
