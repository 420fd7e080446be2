"""Streams (fmlearn.io.stream) and fit(stream): the chunks are the file's rows, and a
streamed fit is the fit over those rows in the same order."""

import gzip

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import FMClassifier, FMOrdinalRegressor, FMRegressor
from fmlearn.datasets import make_ctr
from fmlearn.io import ChunkStream, FileStream, dump_libfm, load_libfm, load_libsvm


def _ctr(n=3000, n_features=400, seed=0):
    X, y, _ = make_ctr(n, n_fields=8, n_features=n_features, random_state=seed)
    return X, y


@pytest.fixture
def ctr_file(tmp_path):
    X, y = _ctr()
    path = tmp_path / "train.libfm"
    dump_libfm(X, y, path)
    return path, X, y


def _stacked(stream, order=None):
    chunks = list(stream.chunks(order))
    return sp.vstack([c.X for c in chunks], format="csr"), np.concatenate([c.y for c in chunks])


@pytest.mark.parametrize("chunk_bytes", [1, 100, 4096, 10**9])
def test_file_stream_chunks_are_the_files_rows(ctr_file, chunk_bytes):
    path, X, y = ctr_file
    stream = FileStream(path, n_features=X.shape[1], chunk_bytes=chunk_bytes)
    Xs, ys = _stacked(stream)
    assert (Xs != X).nnz == 0 and np.array_equal(ys, y)
    n = stream.n_chunks()
    assert n >= 1 and (n > 1) == (chunk_bytes < 10**5)
    # read back in a given order: the same chunks, in that order
    order = np.arange(n)[::-1]
    Xr, yr = _stacked(stream, order)
    assert Xr.shape == X.shape and np.array_equal(np.sort(yr), np.sort(y))
    last = next(iter(stream.chunks(order[:1])))
    assert (last.X != list(stream.chunks())[-1].X).nnz == 0


def test_file_stream_first_pass_finds_width_and_base(tmp_path):
    path = tmp_path / "a.svm"  # libSVM by its suffix: one-based indices found by the pass
    path.write_text("1 1:0.5 7:2\n# a comment\n\n-1 3:1\n0 2:1.5")  # no final newline
    stream = FileStream(path, chunk_bytes=8)
    X, y = load_libsvm(path)
    assert stream.format == "libsvm" and stream.n_features == 7 == X.shape[1]
    Xs, ys = _stacked(stream)
    assert (Xs != X).nnz == 0 and np.array_equal(ys, y)


def test_file_stream_compressed_reads_in_order_only(tmp_path):
    X, y = _ctr(500)
    plain = tmp_path / "t.libfm"
    dump_libfm(X, y, plain)
    packed = tmp_path / "t.libfm.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    stream = FileStream(packed, n_features=X.shape[1], chunk_bytes=2000)
    Xs, ys = _stacked(stream)
    assert (Xs != X).nnz == 0 and np.array_equal(ys, y)
    assert stream.n_chunks() is None  # not seekable: epochs go in file order


def test_file_stream_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.libfm"
    lines = [f"1 {j}:1" for j in range(50)]
    lines[37] = "1 3:abc"
    path.write_text("\n".join(lines) + "\n")
    stream = FileStream(path, n_features=60, chunk_bytes=64)
    with pytest.raises(ValueError, match=r"bad\.libfm, line 38: .*'3:abc'"):
        list(stream.chunks())
    with pytest.raises(ValueError, match="out of range for n_features=20"):
        list(FileStream(_good(tmp_path), n_features=20).chunks())
    # found after parsing, in a chunk read first (its lines before were never counted)
    lines[37] = "1 3:1 99:1"
    path.write_text("\n".join(lines) + "\n")
    stream = FileStream(path, n_features=60, chunk_bytes=64)
    last = stream.n_chunks() - 1
    late = next(
        j for j in range(last, -1, -1) if stream._starts[j] < path.read_bytes().index(b"99:1")
    )
    with pytest.raises(ValueError, match=r"bad\.libfm, line 38: index 99"):
        list(stream.chunks(order=[late]))
    with pytest.raises(FileNotFoundError):
        FileStream(tmp_path / "missing.libfm")
    with pytest.raises(ValueError, match="format"):
        FileStream(path, format="csv", n_features=3)


def _good(tmp_path):
    path = tmp_path / "good.libfm"
    path.write_text("1 0:1 25:1\n0 3:1\n")
    return path


# ------------------------------------------------------------------------ fit(stream)
def _model(cls=FMClassifier, **kw):
    params = dict(n_factors=4, solver="adagrad", max_iter=1, shuffle=False, tol=None,
                  random_state=0, init_std=0.05)  # fmt: skip
    params.update(kw)
    return cls(**params)


def _same_params(a, b):
    return a.w0_ == b.w0_ and np.array_equal(a.w_, b.w_) and np.array_equal(a.V_, b.V_)


@pytest.mark.parametrize("solver", ["sgd", "adagrad", "adam", "ftrl"])
def test_streamed_epochs_equal_in_memory_epochs_in_file_order(ctr_file, solver):
    """Without shuffling, the chunks are the rows in file order: the same updates."""
    path, X, y = ctr_file
    stream = FileStream(path, n_features=X.shape[1], chunk_bytes=5000)
    assert stream.n_chunks() is None or stream.n_chunks() > 1
    a = _model(solver=solver, max_iter=3).fit(stream)
    b = _model(solver=solver, max_iter=3).fit(X, y)
    assert stream.n_chunks() > 5
    assert _same_params(a, b)
    np.testing.assert_allclose(a.history_.train_loss, b.history_.train_loss, rtol=1e-10)
    assert a.n_iter_ == 3 and a.n_features_in_ == X.shape[1]


def test_streamed_fit_equals_partial_fit_over_the_chunks(ctr_file):
    path, X, _y = ctr_file
    stream = FileStream(path, n_features=X.shape[1], chunk_bytes=20_000)
    a = _model(shuffle=True).fit(stream)  # shuffles within chunks: partial_fit can't match
    b = _model()
    for Xc, yc in stream:
        b.partial_fit(Xc, yc, classes=[0, 1])
    c = _model().fit(stream)
    assert _same_params(b, c) and not _same_params(a, c)


def test_streamed_shuffle_is_reproducible_and_visits_chunks_at_random(ctr_file):
    path, X, _y = ctr_file
    stream = FileStream(path, n_features=X.shape[1], chunk_bytes=2000)
    fits = [_model(shuffle=True, max_iter=2).fit(stream) for _ in range(2)]
    assert _same_params(*fits)
    other = _model(shuffle=True, max_iter=2, random_state=1).fit(stream)
    assert not _same_params(fits[0], other)
    orders = []
    original = FileStream.chunks

    def spy(self, order=None):
        orders.append(None if order is None else list(order))
        return original(self, order)

    FileStream.chunks = spy
    try:
        _model(shuffle=True, max_iter=3).fit(stream)
    finally:
        FileStream.chunks = original
    epochs = [o for o in orders[1:4]]  # orders[0]: the first chunk, read to set up
    assert all(o is not None and sorted(o) == list(range(stream.n_chunks())) for o in epochs)
    assert epochs[0] != epochs[1] and epochs[0] != sorted(epochs[0])


def test_streamed_fit_learns(ctr_file):
    path, X, y = ctr_file
    X_test, _y_test = _ctr(2000, seed=5)  # another draw: a different planted model
    model = FMRegressor(n_factors=4, max_iter=20, random_state=0).fit(
        FileStream(path, n_features=X.shape[1], chunk_bytes=8000)
    )
    baseline = np.sqrt(np.mean((y - y.mean()) ** 2))
    assert model.history_.train_loss[-1] < model.history_.train_loss[0]
    assert np.sqrt(2 * model.history_.train_loss[-1]) < baseline
    assert model.predict(X_test).shape == (2000,)


def test_path_is_a_file_stream(ctr_file):
    path, X, y = ctr_file
    a = _model(max_iter=2).fit(str(path))
    b = _model(max_iter=2).fit(X, y)
    assert _same_params(a, b)


def test_chunk_stream_list_and_function():
    X, y = _ctr(1200)
    parts = [(X[i : i + 400], y[i : i + 400]) for i in range(0, 1200, 400)]
    a = _model(max_iter=2).fit(ChunkStream(parts))
    b = _model(max_iter=2).fit(ChunkStream(lambda: iter(parts)))
    c = _model(max_iter=2).fit(X, y)
    assert _same_params(a, b) and _same_params(a, c)
    shuffled = _model(max_iter=2, shuffle=True).fit(ChunkStream(parts))
    assert shuffled.n_iter_ == 2 and not _same_params(a, shuffled)
    with pytest.raises(TypeError, match="generator can be read only once"):
        ChunkStream(p for p in parts)


def test_chunk_stream_weights_and_narrow_chunks():
    X, y = _ctr(900)
    w = np.random.default_rng(0).random(900) * 2
    parts = [(X[i : i + 300], y[i : i + 300], w[i : i + 300]) for i in range(0, 900, 300)]
    a = _model(max_iter=2).fit(ChunkStream(parts))
    b = _model(max_iter=2).fit(X, y, sample_weight=w)
    assert _same_params(a, b)
    # a later sparse chunk narrower than the first is widened (missing columns are zeros)
    narrow = [(X[:300], y[:300]), (X[300:600, :200], y[300:600])]
    assert _model().fit(ChunkStream(narrow)).n_features_in_ == X.shape[1]


def test_regressor_target_range_covers_every_chunk():
    rng = np.random.default_rng(0)
    parts = [(sp.random(50, 10, 0.3, random_state=j, format="csr"), rng.normal(j, 1, 50))
             for j in range(4)]  # fmt: skip
    model = _model(FMRegressor, max_iter=2).fit(ChunkStream(parts))
    ys = np.concatenate([p[1] for p in parts])
    assert (model.y_min_, model.y_max_) == (ys.min(), ys.max())


def test_classes_of_a_stream():
    X, y = _ctr(600)
    first_only_zeros = [(X[:100], np.zeros(100, int)), (X[100:], y[100:])]
    with pytest.raises(ValueError, match="two or more classes"):
        _model().fit(ChunkStream(first_only_zeros))
    model = _model().fit(ChunkStream(first_only_zeros, classes=[0, 1]))
    assert model.classes_.tolist() == [0, 1]
    unseen = [(X[:300], y[:300]), (X[300:], np.where(y[300:] == 1, 2, 0))]
    with pytest.raises(ValueError, match="chunk 1 of the stream"):
        _model().fit(ChunkStream(unseen))


def test_ordinal_regressor_needs_rows_in_memory():
    X, y = _ctr(300)
    with pytest.raises(ValueError, match="needs all rows in memory"):
        FMOrdinalRegressor().fit(ChunkStream([(X, y)]))


def test_stream_arguments_that_make_no_sense(ctr_file):
    path, X, y = ctr_file
    stream = FileStream(path, n_features=X.shape[1])
    with pytest.raises(ValueError, match="needs all rows in memory"):
        FMRegressor(solver="mcmc").fit(stream)
    with pytest.raises(ValueError, match="takes no y"):
        _model().fit(stream, y)
    with pytest.raises(ValueError, match="needs an eval_set"):
        _model(early_stopping=True).fit(stream)
    empty = ChunkStream([])
    with pytest.raises(ValueError, match=r"ChunkStream\(0 chunks\) holds no rows"):
        _model().fit(empty)
    with pytest.raises(TypeError, match="give a stream to fit"):
        _model().partial_fit(stream, None, classes=[0, 1])


def test_eval_set_and_early_stopping_on_a_stream(ctr_file):
    path, X, _y = ctr_file
    X_valid, y_valid = _ctr(800, seed=0)
    stream = FileStream(path, n_features=X.shape[1], chunk_bytes=10_000)
    model = _model(max_iter=30, early_stopping=True, n_iter_no_change=2, learning_rate=0.5)
    model.fit(stream, eval_set=[(X_valid, y_valid)])
    assert "logloss" in model.history_.valid and 1 <= model.n_iter_ <= 30


def test_a_bad_chunk_leaves_the_fitted_model_as_it_was(tmp_path, ctr_file):
    path, X, y = ctr_file
    model = _model().fit(X, y)
    before = (model.w0_, model.w_.copy(), model.V_.copy(), model.n_iter_)
    bad = tmp_path / "bad.libfm"
    text = path.read_text().splitlines()
    text[2500] = "1 3:nan"
    bad.write_text("\n".join(text) + "\n")
    stream = FileStream(bad, n_features=X.shape[1], chunk_bytes=4000)
    with pytest.raises(ValueError, match=r"bad\.libfm, line 2501"):
        model.fit(stream)
    assert model.w0_ == before[0] and np.array_equal(model.w_, before[1])
    assert np.array_equal(model.V_, before[2]) and model.n_iter_ == before[3]


def test_warm_start_continues_on_a_stream(ctr_file):
    path, X, y = ctr_file
    stream = FileStream(path, n_features=X.shape[1], chunk_bytes=6000)
    a = _model(warm_start=True)
    a.fit(stream)
    a.fit(stream)
    b = _model(max_iter=2).fit(X, y)
    assert a.n_iter_ == 2 and _same_params(a, b)


def test_float32_stream(ctr_file):
    path, X, y = ctr_file
    stream = FileStream(path, n_features=X.shape[1], dtype=np.float32, chunk_bytes=9000)
    a = _model(dtype="float32", max_iter=2).fit(stream)
    b = _model(dtype="float32", max_iter=2).fit(X.astype(np.float32), y)
    assert a.V_.dtype == np.float32 and _same_params(a, b)
    Xl, _ = load_libfm(path, n_features=X.shape[1])
    assert (Xl != X).nnz == 0


def test_field_aware_models_stream_a_libffm_file(tmp_path):
    from fmlearn import FFMClassifier, FwFMClassifier
    from fmlearn.io import dump_libffm, load_libffm

    X, y = _ctr(1500, n_features=300)
    fields = np.searchsorted(np.linspace(0, 300, 9)[1:-1], np.arange(300), side="right")
    path = tmp_path / "train.ffm"
    dump_libffm(X, y, path, fields=fields)
    X_file, y_file, _ = load_libffm(path)
    for cls in (FFMClassifier, FwFMClassifier):
        stream = FileStream(path, chunk_bytes=3000)  # no n_features: a first pass finds fields
        assert stream.format == "libffm" and stream.n_chunks() > 3
        a = _model(cls, max_iter=2).fit(stream)
        b = _model(cls, max_iter=2).fit(X_file, y_file)
        assert _same_params(a, b) and np.array_equal(a.fields_, b.fields_)
    with pytest.raises(ValueError, match="needs every feature's field"):
        FFMClassifier().fit(FileStream(path, n_features=X_file.shape[1]))
