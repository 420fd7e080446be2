"""libFM's block structure on the command line: ``fmlearn libfm -relation …`` reads libFM's
binary files (fmlearn.io.libfm_binary) and predicts as the estimators do with
``relations=``.

The byte layouts were checked by hand against libFM 1.4's own tools: ``convert`` and
``transpose`` wrote ``.x``/``.y``/``.xt`` files that read back equal to the text, and that
``write_binary_matrix``/``write_binary_vector`` reproduce byte for byte (rows sorted); and
libFM ran ``-relation`` on files written here. ``test_matrix_bytes_are_libfms`` pins that
layout without needing libFM.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import FMClassifier, FMRegressor, RelationBlock
from fmlearn.cli import main
from fmlearn.io import dump_libfm
from fmlearn.io.libfm_binary import (
    load_binary_data,
    load_relation,
    read_binary_matrix,
    read_binary_vector,
    read_groups,
    read_relation_index,
    write_binary_matrix,
    write_binary_vector,
    write_relation_index,
)


def _header(n_values, n_rows, n_cols, file_id=2, float_size=4):
    return struct.pack("<IIQII", file_id, float_size, n_values, n_rows, n_cols)


def _row(*entries):
    return struct.pack("<I", len(entries)) + b"".join(struct.pack("<If", i, v) for i, v in entries)


# ------------------------------------------------------------------ binary matrices
def test_matrix_bytes_are_libfms(tmp_path):
    """What libFM's convert writes for '0 0:1 2:0.5', '1 1:2.25', '0', '1 3:1 0:-1.5'
    (entries in the text's order; a row without features has size 0)."""
    libfm = _header(5, 4, 4) + _row((0, 1.0), (2, 0.5)) + _row((1, 2.25)) + _row()
    libfm += _row((3, 1.0), (0, -1.5))
    (tmp_path / "u.x").write_bytes(libfm)
    X = read_binary_matrix(tmp_path / "u.x")
    dense = [[1, 0, 0.5, 0], [0, 2.25, 0, 0], [0, 0, 0, 0], [-1.5, 0, 0, 1]]
    assert X.dtype == np.float32 and X.format == "csr" and X.has_canonical_format
    np.testing.assert_array_equal(X.toarray(), dense)
    # written back: the same bytes, except that the last row's entries come sorted
    write_binary_matrix(tmp_path / "w.x", X)
    sorted_row = _row((0, -1.5), (3, 1.0))
    assert (tmp_path / "w.x").read_bytes() == libfm[: -len(sorted_row)] + sorted_row
    # a repeated feature is one entry (summed), as fmlearn's text readers do
    (tmp_path / "d.x").write_bytes(_header(2, 1, 3) + _row((2, 1.0), (2, 0.5)))
    np.testing.assert_array_equal(read_binary_matrix(tmp_path / "d.x").toarray(), [[0, 0, 1.5]])


def test_matrix_round_trip_in_float32(tmp_path):
    rng = np.random.default_rng(0)
    X = sp.random(50, 30, density=0.2, format="csr", random_state=rng)
    X.data = X.data * 10 - 3  # float64 values: stored as float32
    X.resize(53, 32)  # empty rows and columns at the end survive through the header
    write_binary_matrix(tmp_path / "m.x", X)
    Y = read_binary_matrix(tmp_path / "m.x")
    assert Y.shape == (53, 32) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y.toarray(), X.toarray().astype(np.float32))
    write_binary_matrix(tmp_path / "m.xt", X.T)  # transpose's file: read as .T
    np.testing.assert_array_equal(read_binary_matrix(tmp_path / "m.xt").T.toarray(), Y.toarray())
    write_binary_matrix(tmp_path / "dense.x", np.eye(3))
    np.testing.assert_array_equal(read_binary_matrix(tmp_path / "dense.x").toarray(), np.eye(3))
    with pytest.raises(ValueError, match="not finite float32"):
        write_binary_matrix(tmp_path / "big.x", sp.csr_matrix([[1e300]]))
    assert not (tmp_path / "big.x").exists()  # atomic: nothing left behind


def test_vectors_and_binary_main_data(tmp_path):
    y = np.array([1.5, -2.0, 3.25])
    write_binary_vector(tmp_path / "d.y", y, np.float32)
    assert (tmp_path / "d.y").read_bytes() == struct.pack("<III3f", 1, 4, 3, *y)
    write_binary_matrix(tmp_path / "d.x", sp.csr_matrix([[1.0, 0], [0, 2.0], [1.0, 1.0]]))
    X, y_read = load_binary_data(tmp_path / "d")
    assert X.shape == (3, 2) and y_read.dtype == np.float64
    np.testing.assert_array_equal(y_read, y)
    np.testing.assert_array_equal(read_binary_vector(tmp_path / "d.y", np.float32), y)
    write_binary_vector(tmp_path / "short.y", y[:2], np.float32)
    (tmp_path / "short.x").write_bytes((tmp_path / "d.x").read_bytes())
    with pytest.raises(ValueError, match=r"short\.y: 2 targets, but .*short\.x has 3 rows"):
        load_binary_data(tmp_path / "short")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x02\x00\x00", "truncated: 3 bytes, less than the 24-byte header"),
        (_header(1, 1, 3, file_id=7) + _row((0, 1.0)), "not a libFM binary sparse matrix "
         "(file id 7"),
        (_header(1, 1, 3, float_size=8) + _row((0, 1.0)), "values of 8 bytes"),
        ((_header(2, 2, 3) + _row((0, 1.0)) + _row((1, 1.0)))[:-4], "truncated: the header "
         "announces 2 rows, and the file ends in row 1"),
        ((_header(1, 1, 3) + _row((0, 1.0)))[:-2], "truncated or corrupt: its rows take 10 bytes"),
        (_header(1, 1, 3) + _row((0, 1.0)) + b"\0" * 8, "corrupt: 8 bytes after the 1 rows"),
        (_header(3, 1, 3) + _row((0, 1.0)), "corrupt: its rows hold 1 values, its header says 3"),
        (_header(1, 1, 3) + _row((5, 1.0)), "corrupt: row 0 has column id 5, but the header says "
         "3 columns"),
        (_header(1, 1, 3) + _row((1, float("nan"))), "row 0: value nan for column 1"),
    ],
    ids=["header", "file id", "float size", "rows missing", "half a word", "trailing bytes",
         "value count", "column id", "nan"],
)  # fmt: skip
def test_bad_matrix_files_are_named_in_one_line(tmp_path, content, message):
    path = tmp_path / "block.x"
    path.write_bytes(content)
    with pytest.raises(ValueError) as exc:
        read_binary_matrix(path)
    assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- index and groups
def test_index_files_text_and_binary(tmp_path):
    index = np.array([3, 0, 2, 2, 1])
    write_relation_index(tmp_path / "r.bin", index)
    assert (tmp_path / "r.bin").read_bytes() == struct.pack("<III5I", 1, 4, 5, *index)
    write_relation_index(tmp_path / "r.txt", index, binary=False)
    assert (tmp_path / "r.txt").read_text() == "3\n0\n2\n2\n1\n"
    (tmp_path / "crlf.txt").write_bytes(b"3\r\n 0\r\n\r\n2\t\r\n2\r\n1")  # no final newline
    for name in ("r.bin", "r.txt", "crlf.txt"):
        got = read_relation_index(tmp_path / name, 5, 4)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, index)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"0\n1\n", "2 block row numbers, but the training data has 3 rows: one per data row, "
         "one per line"),
        (struct.pack("<III2I", 1, 4, 2, 0, 1), "2 block row numbers, but the training data has 3 "
         "rows: one per data row."),
        (b"0\n1\n4\n", ", line 3: block row 4, but the block has 4 rows (0…3)"),
        (b"0\n\n1\n9\n", ", line 4: block row 9, but the block has 4 rows"),
        (struct.pack("<III3I", 1, 4, 3, 0, 7, 1), ", entry 1: block row 7, but the block has 4"),
        (b"0\n-1\n2\n", ", line 2: '-1' is not a block row number (an integer ≥ 0, one per line)"),
        (b"0\n1.5\n2\n", ", line 2: '1.5' is not a block row number"),
        (b"0\n1 2\n", ", line 2: '1 2' holds more than one number"),
        (b"0\n1\n99999999999\n", ", line 3: '99999999999' is too large"),
        (struct.pack("<III3I", 1, 4, 3, 0, 1, 2)[:-2], "truncated: 22 bytes, but its header "
         "announces 3 values (24 bytes)"),
        (struct.pack("<III3Q", 1, 8, 3, 0, 1, 2), "a binary file, but not libFM's"),
    ],
    ids=["text rows", "binary rows", "range", "range after blank", "binary range", "negative",
         "float", "two per line", "too large", "truncated", "uint64"],
)  # fmt: skip
def test_bad_index_files_are_named_in_one_line(tmp_path, content, message):
    path = tmp_path / "user.train"
    path.write_bytes(content)
    with pytest.raises(ValueError) as exc:
        read_relation_index(path, 3, 4, rows_of="the training data")
    assert str(exc.value).startswith(str(path)) and message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_groups_file(tmp_path):
    (tmp_path / "g").write_text("0\n1\n1\n")
    np.testing.assert_array_equal(read_groups(tmp_path / "g", 3), [0, 1, 1])
    with pytest.raises(ValueError, match=r"g: 3 group ids for 4 features \(one per line\)"):
        read_groups(tmp_path / "g", 4)
    (tmp_path / "g").write_text("0\nuser\n")
    with pytest.raises(ValueError, match=r"g, line 2: 'user' is not a group id"):
        read_groups(tmp_path / "g", 2)


# ------------------------------------------------------------------------ relations
def _relation_data(folder, classification=False):
    """Main table (3 contexts) and two relations: users (id + 2 attributes, .x, text
    index files) and items (id + 1 attribute, .xt only, binary index files, .groups)."""
    rng = np.random.default_rng(5)
    n_users, n_items, n_train, n_test = 25, 15, 500, 120
    n = n_train + n_test
    users = sp.hstack([sp.identity(n_users), rng.integers(0, 2, (n_users, 2))], format="csr")
    items = sp.hstack([sp.identity(n_items), rng.integers(0, 2, (n_items, 1))], format="csr")
    u, i, ctx = rng.integers(0, n_users, n), rng.integers(0, n_items, n), rng.integers(0, 3, n)
    pu, pi = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    y = np.round(3 + (pu[u] * pi[i]).sum(1) + 0.3 * ctx + rng.normal(0, 0.3, n), 2)
    if classification:
        y = np.where(y > 3, 1.0, -1.0)
    X = sp.csr_matrix((np.ones(n), (np.arange(n), ctx)), shape=(n, 3))
    tr, te = slice(0, n_train), slice(n_train, n)
    dump_libfm(X[tr], y[tr], folder / "train.libfm")
    dump_libfm(X[te], y[te], folder / "test.libfm")
    write_binary_matrix(folder / "user.x", users)
    write_relation_index(folder / "user.train", u[tr], binary=False)
    write_relation_index(folder / "user.test", u[te], binary=False)
    write_binary_matrix(folder / "item.xt", items.T)
    write_relation_index(folder / "item.train", i[tr])
    write_relation_index(folder / "item.test", i[te])
    item_groups = np.r_[np.zeros(n_items, int), 1]
    (folder / "item.groups").write_text("".join(f"{g}\n" for g in item_groups))
    train = [RelationBlock(u[tr], users), RelationBlock(i[tr], items, item_groups)]
    test = [RelationBlock(u[te], users), RelationBlock(i[te], items, item_groups)]
    return X[tr], y[tr], X[te], y[te], train, test


def test_load_relation_reads_libfms_files(tmp_path):
    X, _, X_test, _, train, test = _relation_data(tmp_path)
    user_train, user_test = load_relation(tmp_path / "user", X.shape[0], X_test.shape[0])
    item_train, item_test = load_relation(tmp_path / "item", X.shape[0], X_test.shape[0])
    assert user_train.X is user_test.X  # one block matrix for train and test rows
    assert user_train.groups is None and item_train.groups.tolist() == train[1].groups.tolist()
    for got, expected in ((user_train, train[0]), (user_test, test[0]), (item_train, train[1]),
                          (item_test, test[1])):  # fmt: skip
        np.testing.assert_array_equal(got.index, expected.index)
        np.testing.assert_array_equal(got.X.toarray(), expected.X.toarray())


@pytest.mark.parametrize(
    "remove, write, message",
    [
        ("user.x", None, "user.x: no such file (nor {p}/user.xt): relation {p}/user needs"),
        ("user.test", None, "user.test: no such file: relation {p}/user needs the block row of "
         "every test row"),
        (None, ("user.train", "0\n1\n"), "user.train: 2 block row numbers, but the training data "
         "has 500 rows"),
        (None, ("user.test", "0\n" * 119 + "25\n"), "user.test, line 120: block row 25, but the "
         "block has 25 rows"),
        (None, ("item.groups", "0\n" * 15 + "2\n"), "item.groups: groups must number groups 0..G−1 "
         "without gaps"),
        (None, ("item.groups", "0\n" * 15), "item.groups: 15 group ids for 16 features"),
    ],
    ids=["no matrix", "no index", "index rows", "index range", "group gap", "group count"],
)  # fmt: skip
def test_bad_relation_files_are_named(tmp_path, remove, write, message):
    X, _, X_test, *_ = _relation_data(tmp_path)
    if remove:
        (tmp_path / remove).unlink()
    if write:
        (tmp_path / write[0]).write_text(write[1])
    with pytest.raises((ValueError, FileNotFoundError)) as exc:
        for name in ("user", "item"):
            load_relation(tmp_path / name, X.shape[0], X_test.shape[0],
                          train_name="the training data")  # fmt: skip
    assert message.format(p=tmp_path) in str(exc.value) and "\n" not in str(exc.value)


# ---------------------------------------------------------------- the command line
def _libfm(folder, *flags):
    return ["libfm", "-train", str(folder / "train.libfm"), "-test", str(folder / "test.libfm"),
            "-relation", f"{folder / 'user'},{folder / 'item'}", "-out", str(folder / "p.txt"),
            "-dim", "1,1,3", "-seed", "3", *flags]  # fmt: skip


def test_cli_mcmc_predicts_as_the_estimator(tmp_path, capsys):
    X, y, X_test, y_test, train, test = _relation_data(tmp_path)
    rlog = tmp_path / "rlog.tsv"
    argv = _libfm(tmp_path, "-task", "r", "-method", "mcmc", "-iter", "12", "-rlog", str(rlog))
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("#Iter=") for line in printed) == 12
    model = FMRegressor(solver="mcmc", n_factors=3, max_iter=12, n_kept_samples=12,
                        init_std=0.1, random_state=3).fit(X, y, relations=train)  # fmt: skip
    expected = np.clip(model.predict(X_test, relations=test), y.min(), y.max())
    pred = np.loadtxt(tmp_path / "p.txt")
    np.testing.assert_allclose(pred, expected, rtol=1e-8, atol=1e-9)
    assert np.sqrt(np.mean((pred - y_test) ** 2)) < np.std(y_test)
    # the combined groups, libFM's: main table, users, items' two
    assert model.hyper_trace_["lambda_w"].shape[1] == 4
    assert len(rlog.read_text().splitlines()) == 13


def test_cli_als_and_sgd_with_saved_model(tmp_path, capsys):
    X, y, X_test, _, train, test = _relation_data(tmp_path)
    model_file = tmp_path / "m.txt"
    argv = _libfm(tmp_path, "-task", "r", "-method", "als", "-iter", "4", "-regular", "0.5",
                  "-save_model", str(model_file))  # fmt: skip
    assert main(argv) == 0
    model = FMRegressor(solver="als", n_factors=3, max_iter=4, init_std=0.1, random_state=3,
                        reg_bias=0.5, reg_linear=0.5, reg_factors=0.5)  # fmt: skip
    model.fit(X, y, relations=train)
    pred = np.loadtxt(tmp_path / "p.txt")
    np.testing.assert_allclose(pred, model.predict(X_test, relations=test), rtol=1e-8, atol=1e-9)
    n_all = 3 + 27 + 16  # libFM's model: the main features, then each block's
    assert len(model_file.read_text().splitlines()) == 2 + 1 + n_all + 1 + n_all
    # per-group -regular counts libFM's joined groups: 1 (main) + 1 (users) + 2 (items)
    argv = _libfm(tmp_path, "-task", "r", "-method", "als", "-iter", "2",
                  "-regular", "0.1,1,1,1,1,2,2,2,2")  # fmt: skip
    assert main(argv) == 0
    # SGD: libFM refuses relations; fmlearn trains on the flattened rows, and says so
    capsys.readouterr()
    argv = _libfm(tmp_path, "-task", "r", "-method", "sgd", "-iter", "2", "-learn_rate", "0.01",
                  "-load_model", str(model_file))  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "libFM refuses -relation with SGD" in out and "flattened rows" in out
    assert np.loadtxt(tmp_path / "p.txt").shape == (X_test.shape[0],)


def test_cli_classification(tmp_path, capsys):
    X, y, X_test, y_test, train, test = _relation_data(tmp_path, classification=True)
    assert main(_libfm(tmp_path, "-task", "c", "-iter", "10")) == 0  # libFM's default: mcmc
    model = FMClassifier(solver="mcmc", n_factors=3, max_iter=10, n_kept_samples=10,
                         init_std=0.1, random_state=3).fit(X, y, relations=train)  # fmt: skip
    p = np.loadtxt(tmp_path / "p.txt")
    np.testing.assert_allclose(p, model.predict_proba(X_test, relations=test)[:, 1], rtol=1e-7)
    assert np.mean((p > 0.5) == (y_test > 0)) > 0.6


def test_cli_binary_main_data_and_refusals(tmp_path, capsys):
    X, y, X_test, y_test, *_ = _relation_data(tmp_path)
    text = _libfm(tmp_path, "-task", "r", "-method", "als", "-iter", "2")
    assert main(text) == 0
    from_text = np.loadtxt(tmp_path / "p.txt")
    # libFM's binary data (convert's NAME.x + NAME.y), which libFM prefers to a text file
    for name, (Xs, ys) in (("train.libfm", (X, y)), ("test.libfm", (X_test, y_test))):
        write_binary_matrix(tmp_path / f"{name}.x", Xs)
        write_binary_vector(tmp_path / f"{name}.y", ys, np.float32)
        (tmp_path / name).write_text("not read\n")
    assert main(text) == 0
    np.testing.assert_allclose(np.loadtxt(tmp_path / "p.txt"), from_text, rtol=1e-5)
    capsys.readouterr()
    # SGDA's -validation has no relation rows in libFM: refused in one line
    argv = [*text, "-method", "sgda", "-validation", str(tmp_path / "test.libfm")]
    del argv[argv.index("als") - 1 : argv.index("als") + 1]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "-method sgda with -relation" in err and "\n" not in err
    # a missing relation file: exit 1, the file named
    (tmp_path / "item.test").unlink()
    assert main(text) == 1
    assert f"{tmp_path / 'item.test'}: no such file" in capsys.readouterr().err


def test_cli_main_table_of_targets_only(tmp_path, capsys):
    """libFM's BS main table may hold only targets, every feature in the blocks."""
    _, y, _, y_test, train, test = _relation_data(tmp_path)
    for name, targets in (("train.libfm", y), ("test.libfm", y_test)):
        (tmp_path / name).write_text("".join(f"{v!r}\n" for v in targets.tolist()))
    model_file = tmp_path / "m.txt"
    argv = _libfm(tmp_path, "-task", "r", "-method", "als", "-iter", "3", "-regular", "0.5",
                  "-save_model", str(model_file))  # fmt: skip
    assert main(argv) == 0
    model = FMRegressor(solver="als", n_factors=3, max_iter=3, init_std=0.1, random_state=3,
                        reg_bias=0.5, reg_linear=0.5, reg_factors=0.5)  # fmt: skip
    model.fit(sp.csr_matrix((len(y), 1)), y, relations=train)
    expected = model.predict(sp.csr_matrix((len(y_test), 1)), relations=test)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "p.txt"), expected, rtol=1e-8, atol=1e-9)
    n_all = 27 + 16  # as libFM writes it: the blocks' features only
    assert len(model_file.read_text().splitlines()) == 2 + 1 + n_all + 1 + n_all
    # -iter 0 scores with the saved model as the run that saved it predicted
    argv = _libfm(tmp_path, "-task", "r", "-method", "als", "-iter", "0", "-load_model",
                  str(model_file))  # fmt: skip
    assert main(argv) == 0
    np.testing.assert_allclose(np.loadtxt(tmp_path / "p.txt"), expected, rtol=1e-8, atol=1e-9)
    # an empty -meta: libFM counts no main group (user 1, item 2), so per-group -regular
    # has 1 + 2 × 3 values; the zero column's own group takes the first group's strengths
    (tmp_path / "empty.meta").write_text("")
    meta, regular = str(tmp_path / "empty.meta"), "0.1,0.1,0.1,0.1,0.2,0.2,0.2"
    argv = _libfm(tmp_path, "-task", "r", "-method", "als", "-iter", "2", "-meta", meta,
                  "-regular", regular)  # fmt: skip
    assert main(argv) == 0
    assert "Final" in capsys.readouterr().out
