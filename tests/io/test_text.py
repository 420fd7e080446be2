"""libSVM / libFM / libffm readers and writers: scikit-learn parity, round trips, errors."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import os
import re
import warnings
from decimal import Decimal, getcontext
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

import fmlearn.io.text as text_module
from fmlearn.io import (
    dump_libffm,
    dump_libfm,
    dump_libsvm,
    iter_libffm,
    iter_libfm,
    iter_libsvm,
    load_libffm,
    load_libfm,
    load_libsvm,
)

getcontext().prec = 50  # exact midpoints between doubles in hard_numbers
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
COMPRESS = {"": bytes, ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write(folder: Path, name: str, content: bytes | str) -> Path:
    """``content`` in ``folder/name``, compressed as the extension says."""
    if isinstance(content, str):
        content = content.encode()
    path = folder / name
    path.write_bytes(COMPRESS.get(os.path.splitext(name)[1], bytes)(content))
    return path


def assert_same(A, B):
    """Same shape, same stored entries (explicit zeros included), same values."""
    A, B = sp.csr_matrix(A), sp.csr_matrix(B)
    assert A.shape == B.shape
    B = B.sorted_indices()
    np.testing.assert_array_equal(A.indptr, B.indptr)
    np.testing.assert_array_equal(A.indices, B.indices)
    np.testing.assert_array_equal(A.data, B.data)
    assert A.dtype == B.dtype


# ------------------------------------------------------------------- random matrices
@st.composite
def matrices(draw, min_rows=0, max_rows=12, max_cols=25):
    """A random sparse (X, y): integers, round numbers and full-precision doubles."""
    n_rows = draw(st.integers(min_rows, max_rows))
    n_cols = draw(st.integers(1, max_cols))
    density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = sp.random(n_rows, n_cols, density=density, format="csr", rng=rng)
    kind = draw(st.sampled_from(["ones", "ints", "round", "full", "wide"]))
    n = X.data.shape[0]
    if kind == "ones":
        X.data[:] = 1.0
    elif kind == "ints":
        X.data[:] = rng.integers(-1000, 1000, n)
    elif kind == "round":
        X.data[:] = np.round(rng.normal(size=n), 3)
    elif kind == "full":
        X.data[:] = rng.normal(size=n)
    else:  # magnitudes across the double range, subnormals included
        X.data[:] = rng.normal(size=n) * 10.0 ** rng.integers(-320, 300, n)
    y = draw(st.sampled_from([rng.integers(0, 2, n_rows), rng.normal(size=n_rows)]))
    return X, np.asarray(y, dtype=np.float64)


def decorate(content: bytes, style: str) -> bytes:
    """The same data with CRLF ends, comments, blank lines or no final newline."""
    if style == "crlf":
        return content.replace(b"\n", b"\r\n")
    if style == "comments":
        lines = content.split(b"\n")
        body = b"\n".join(line + b"  # note: 1:2" if line else line for line in lines)
        return b"# header\n\n" + body + b"\n\t\n# end"
    if style == "no-final-newline":
        return content.rstrip(b"\n")
    return content


@SETTINGS
@given(
    data=matrices(min_rows=1),  # scikit-learn cannot dump an empty matrix
    sk_zero_based=st.booleans(),
    zero_based=st.sampled_from([True, False, "auto"]),
    style=st.sampled_from(["plain", "crlf", "comments", "no-final-newline"]),
    ext=st.sampled_from(["", ".gz", ".bz2", ".xz"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_same_matrix_as_sklearn(tmp_path, data, sk_zero_based, zero_based, style, ext, dtype):
    X, y = data
    buffer = io.BytesIO()
    dump_svmlight_file(X, y, buffer, zero_based=sk_zero_based)
    content = decorate(buffer.getvalue(), style)
    plain = write(tmp_path, "data.svm", content)
    path = write(tmp_path, "data.svm" + ext, content)
    if zero_based is False and sk_zero_based and X.nnz and X.indices.min() == 0:
        with pytest.raises(ValueError, match=r"data\.svm.*, line \d+: (index 0|the value)"):
            load_libsvm(path, zero_based=zero_based, dtype=dtype)
        return
    with np.errstate(over="ignore"):
        want_X, want_y = load_svmlight_file(str(plain), zero_based=zero_based, dtype=dtype)
    if not np.all(np.isfinite(want_X.data)):  # scikit-learn rounds 1e300 to float32 inf
        with pytest.raises(ValueError, match="too large for float32"):
            load_libsvm(path, zero_based=zero_based, dtype=dtype)
        return
    got_X, got_y = load_libsvm(path, zero_based=zero_based, dtype=dtype)
    if want_X.nnz == 0:  # scikit-learn reports one column for a file without features
        want_X = sp.csr_matrix((want_X.shape[0], 0), dtype=dtype)
    assert_same(got_X, want_X)
    np.testing.assert_array_equal(got_y, want_y)
    assert got_y.dtype == np.float64
    X_libfm, y_libfm = load_libfm(path, zero_based=zero_based, dtype=dtype)
    assert_same(X_libfm, got_X)
    np.testing.assert_array_equal(y_libfm, want_y)


@given(
    token=st.one_of(
        st.from_regex(
            r"[+-]?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?",
            fullmatch=True,
        ),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.17g}"),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.9e}"),
    )
)
@settings(max_examples=300, deadline=None)
def test_numbers_read_as_python_float(tmp_path_factory, token):
    """Fast path or not, every number is the double Python's float() gives (strtod)."""
    want = float(token)
    path = tmp_path_factory.getbasetemp() / "number.libfm"
    path.write_text(f"{token} 0:{token}\n")
    if not np.isfinite(want):
        with pytest.raises(ValueError, match="not finite"):
            load_libfm(path)
        return
    X, y = load_libfm(path)
    assert y[0] == want and np.signbit(y[0]) == np.signbit(want)
    assert X.data[0] == want and np.signbit(X.data[0]) == np.signbit(want)
    with np.errstate(over="ignore"):
        want32 = np.float32(want)
    if np.isinf(want32):
        with pytest.raises(ValueError, match="too large for float32"):
            load_libfm(path, dtype=np.float32)
    else:
        assert load_libfm(path, dtype=np.float32)[0].data[0] == want32


def hard_numbers(n: int, seed: int = 0) -> list[str]:
    """Decimal texts that stress every path: full-precision doubles in several formats,
    19-digit mantissas over the whole exponent range, and (near-)halfway points between
    adjacent doubles, where a wrong rounding would show."""
    rng = np.random.default_rng(seed)
    doubles = rng.integers(0, 2**63, 4 * n, dtype=np.uint64).view(np.float64)
    doubles = doubles[np.isfinite(doubles)][:n].tolist()
    texts = [repr(v) for v in doubles] + [f"{-v:.16g}" for v in doubles]
    texts += [f"{v:.15e}" for v in rng.normal(size=n) * 10.0 ** rng.integers(-30, 30, n)]
    for digits, exponent in zip(
        rng.integers(1, 10**18, n), rng.integers(-360, 330, n), strict=True
    ):
        texts.append(f"{int(digits) * 10 + int(exponent) % 10}e{exponent}")  # 19 digits
    for v in doubles:
        above = math.nextafter(v, math.inf)
        if v and math.isfinite(above):
            middle = (Decimal(v) + Decimal(above)) / 2
            texts += [f"{middle:.25e}", f"{middle:.18e}", f"{middle:.17e}"]
    return [t for t in texts if math.isfinite(float(t))]


@pytest.mark.parametrize("table_rows", [None, 1, 3])
def test_hard_numbers_bitwise_equal_to_python_float(tmp_path, monkeypatch, table_rows):
    """(With a table of 1 or 3 slow numbers: the parser stops, hands them over, goes on,
    and doubles the table for a line holding more than it has room for.)"""
    if table_rows is not None:
        monkeypatch.setattr(text_module, "_SLOW_TABLE_ROWS", table_rows)
    texts = hard_numbers(3000)
    path = tmp_path / "numbers.libfm"
    wide = texts[-40:]  # a last line of 40 hard values
    line = " ".join(f"{j}:{t}" for j, t in enumerate(wide, start=1))
    path.write_text("".join(f"{t} 0:{t}\n" for t in texts) + f"{texts[0]} {line}\n")
    want = np.array([float(t) for t in texts])
    X, y = load_libfm(path)
    np.testing.assert_array_equal(y.view(np.int64), np.append(want, want[0]).view(np.int64))
    values = np.append(want, [float(t) for t in wide])
    np.testing.assert_array_equal(X.data.view(np.int64), values.view(np.int64))  # -0.0 too


def test_errors_after_the_slow_table_filled_name_their_line(tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "_SLOW_TABLE_ROWS", 1)
    slow = "0.1000000000000000000000001"  # 25 digits: float()'s
    path = write(tmp_path, "a.libfm", f"1 0:{slow}\n1 0:{slow} 1:{slow}\n1 0:abc\n")
    with pytest.raises(ValueError, match=r"a\.libfm, line 3: bad value 'abc'"):
        load_libfm(path)
    path = write(tmp_path, "b.libfm", f"1 0:{slow}\n1 0:{slow} 1:1e999\n")
    with pytest.raises(ValueError, match=r"b\.libfm, line 2: .*not finite"):
        load_libfm(path)


# ------------------------------------------------------------------- round trips
@SETTINGS
@given(
    data=matrices(),
    zero_based=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    ext=st.sampled_from(["", ".gz", ".bz2", ".xz"]),
    n_fields=st.integers(1, 5),
    seed=st.integers(0, 1000),
)
def test_round_trip_exact(tmp_path, data, zero_based, dtype, ext, n_fields, seed):
    X, y = data
    X.data = np.clip(X.data, -3e38, 3e38)  # finite in float32 too
    X = X.astype(dtype)
    n = X.shape[1]
    for dump, load in [(dump_libsvm, load_libsvm), (dump_libfm, load_libfm)]:
        path = tmp_path / ("data" + ext)
        dump(X, y, path, zero_based=zero_based)
        got_X, got_y = load(path, n_features=n, zero_based=zero_based, dtype=dtype)
        assert_same(got_X, X)
        np.testing.assert_array_equal(got_y, y)
    fields = np.random.default_rng(seed).integers(0, n_fields, n)
    path = tmp_path / ("data.ffm" + ext)
    dump_libffm(X, y, path, fields=fields, zero_based=zero_based)
    got_X, got_y, got_fields = load_libffm(path, n_features=n, zero_based=zero_based, dtype=dtype)
    assert_same(got_X, X)
    np.testing.assert_array_equal(got_y, y)
    used = np.unique(X.indices)
    np.testing.assert_array_equal(got_fields[used], fields[used])
    assert np.all(np.delete(got_fields, used) == -1)


def test_dump_writes_shortest_exact_numbers(tmp_path):
    X = sp.csr_matrix(np.array([[1.0, 0.0, 0.1], [0.0, 2.5e-300, 1 / 3]]))
    dump_libsvm(X, [1, -1], tmp_path / "a.svm")
    assert (tmp_path / "a.svm").read_text() == "1 1:1 3:0.1\n-1 2:2.5e-300 3:0.3333333333333333\n"
    dump_libffm(X, [0.5, 2], tmp_path / "a.ffm", fields=[3, 1, 0])
    assert (tmp_path / "a.ffm").read_text() == (
        "0.5 3:0:1 0:2:0.1\n2 1:1:2.5e-300 0:2:0.3333333333333333\n"
    )


def test_dump_accepts_dense_and_int_input(tmp_path):
    dump_libfm(np.array([[0, 3], [2, 0]]), np.array([1, 0]), tmp_path / "a.libfm")
    assert (tmp_path / "a.libfm").read_text() == "1 1:3\n0 0:2\n"


def test_dump_is_atomic(tmp_path):
    path = tmp_path / "a.svm"
    path.write_text("keep me\n")
    with pytest.raises(ValueError, match="NaN or infinity"):
        dump_libsvm(sp.csr_matrix([[np.nan]]), [1.0], path)
    assert path.read_text() == "keep me\n"
    dump_libsvm(sp.csr_matrix([[2.0]]), [1.0], path)
    assert path.read_text() == "1 1:2\n"
    assert os.listdir(tmp_path) == ["a.svm"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": [1.0, 2.0]}, r"y must have shape \(1,\)"),
        ({"y": [np.inf]}, "y contains NaN or infinity"),
        ({"fields": [0]}, r"fields must be an int array of shape \(2,\)"),
        ({"fields": [0, -1]}, "needs a field"),
        ({"fields": [0.5, 1.0]}, "fields must be an int array"),
    ],
)
def test_dump_rejects_bad_input(tmp_path, kwargs, match):
    args = {"X": sp.csr_matrix([[1.0, 2.0]]), "y": [1.0], "fields": [0, 1]} | kwargs
    with pytest.raises(ValueError, match=match):
        dump_libffm(args["X"], args["y"], tmp_path / "a.ffm", fields=args["fields"])


# ------------------------------------------------------------------- streaming
@SETTINGS
@given(
    data=matrices(max_rows=30),
    chunk_rows=st.sampled_from([1, 3, 7, 1000]),
    block_bytes=st.sampled_from([7, 64, 1 << 20]),
    give_n_features=st.booleans(),
    ext=st.sampled_from(["", ".gz"]),
)
def test_iter_chunks_stack_to_load(
    tmp_path, monkeypatch, data, chunk_rows, block_bytes, give_n_features, ext
):
    monkeypatch.setattr(text_module, "_BLOCK_BYTES", block_bytes)
    X, y = data
    n = X.shape[1] if give_n_features else None
    fields = np.arange(X.shape[1]) % 3
    cases = [
        (dump_libsvm, load_libsvm, iter_libsvm, {}),
        (dump_libfm, load_libfm, iter_libfm, {}),
        (dump_libffm, load_libffm, iter_libffm, {"fields": fields}),
    ]
    for dump, load, iterate, extra in cases:
        path = tmp_path / ("data" + ext)
        dump(X, y, path, **extra)
        whole = load(path, n_features=n)
        chunks = list(iterate(path, chunk_rows=chunk_rows, n_features=n))
        assert all(c[0].shape[0] == chunk_rows for c in chunks[:-1])
        assert all(0 < c[0].shape[0] <= chunk_rows for c in chunks)
        assert len({c[0].shape[1] for c in chunks} | {whole[0].shape[1]}) == 1
        if X.shape[0] == 0:
            assert chunks == []
            continue
        assert_same(sp.vstack([c[0] for c in chunks], format="csr"), whole[0])
        np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), whole[1])
        if extra:
            np.testing.assert_array_equal(chunks[-1][2], whole[2])


def test_iter_errors_name_the_global_line(tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "_BLOCK_BYTES", 16)
    lines = [f"1 {i}:1" for i in range(50)]
    lines[37] = "1 5:x"
    path = write(tmp_path, "big.libfm", "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"big\.libfm, line 38: bad value 'x' in token '5:x'"):
        list(iter_libfm(path, n_features=100))
    with pytest.raises(ValueError, match=r"line 38: bad value"):  # in the first pass
        iter_libfm(path).__next__()


def test_iter_with_n_features_is_lazy_and_aligned(tmp_path):
    path = write(tmp_path, "a.libfm", "1 0:1\n0 2:1\n1 1:1 3:2\n")
    chunks = iter_libfm(path, chunk_rows=2, n_features=10)
    X, y = next(chunks)
    assert X.shape == (2, 10)
    np.testing.assert_array_equal(y, [1, 0])
    X, y = next(chunks)
    assert X.shape == (1, 10)
    assert X.toarray()[0, :4].tolist() == [0, 1, 0, 2]


def test_iter_libffm_fields_grow_and_conflicts_cross_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "_BLOCK_BYTES", 8)
    path = write(tmp_path, "a.ffm", "1 0:0:1\n0 1:2:1\n1 1:0:1\n")
    chunks = iter_libffm(path, chunk_rows=1, n_features=4)
    assert next(chunks)[2].tolist() == [0, -1, -1, -1]
    assert next(chunks)[2].tolist() == [0, -1, 1, -1]
    with pytest.raises(
        ValueError, match=r"a\.ffm, line 3: feature 0 in token '1:0:1' is in field 1"
    ):
        next(chunks)
    *_, last = iter_libffm(path, chunk_rows=1, field_conflict="first")
    assert last[2].tolist() == [0, -1, 1]


def test_iter_checks_parameters_eagerly(tmp_path):
    with pytest.raises(ValueError, match="'chunk_rows' parameter of iter_libsvm"):
        iter_libsvm(tmp_path / "missing", chunk_rows=0)
    with pytest.raises(FileNotFoundError):
        iter_libsvm(tmp_path / "missing")


# ------------------------------------------------------------------- formats
def test_comments_crlf_blank_lines_and_whitespace(tmp_path):
    content = b"# head: 1:2\r\n\r\n 1\t0:1.5  2:-2 # tail 3:4\r\n\x0b\r\n-1 1:.5e1#x\r\n0"
    X, y = load_libfm(write(tmp_path, "a.libfm", content))
    np.testing.assert_array_equal(y, [1, -1, 0])
    np.testing.assert_array_equal(X.toarray(), [[1.5, 0, -2], [0, 5, 0], [0, 0, 0]])


def test_repeated_and_unsorted_indices_are_sorted_and_summed(tmp_path):
    path = write(tmp_path, "a.svm", "1 3:1 1:2 3:0.5\n0 2:1 2:-1\n")
    X, _ = load_libsvm(path)
    assert X.has_canonical_format
    np.testing.assert_array_equal(X.indices, [0, 2, 1])
    np.testing.assert_array_equal(X.data, [2, 1.5, 0])
    with pytest.raises(ValueError, match="sorted and unique"):  # scikit-learn refuses these
        load_svmlight_file(str(path))


def test_zero_based_auto_and_n_features(tmp_path):
    one_based = write(tmp_path, "one.svm", "1 1:1 3:1\n")
    assert load_libsvm(one_based)[0].toarray().tolist() == [[1, 0, 1]]
    assert load_libsvm(one_based, zero_based=True)[0].toarray().tolist() == [[0, 1, 0, 1]]
    assert load_libsvm(one_based, n_features=5)[0].shape == (1, 5)
    assert load_libfm(one_based)[0].shape == (1, 4)  # libFM: zero-based


def test_empty_and_comment_only_files(tmp_path):
    for content in ["", "\n\n", "# nothing\n  \n"]:
        X, y = load_libsvm(write(tmp_path, "e.svm", content))
        assert X.shape == (0, 0) and y.shape == (0,)
        X, y, fields = load_libffm(write(tmp_path, "e.ffm", content), n_features=3)
        assert X.shape == (0, 3) and fields.tolist() == [-1, -1, -1]
    X, y = load_libsvm(write(tmp_path, "labels.svm", "1\n0\n"))
    assert X.shape == (2, 0)
    np.testing.assert_array_equal(y, [1, 0])


def test_qid_ignored_with_one_warning_or_returned(tmp_path):
    path = write(tmp_path, "q.svm", "3 qid:1 1:1\n2 qid:1 2:1\n1 qid:-2 1:0.5\n0 1:1\n")
    with pytest.warns(UserWarning, match="qid") as record:
        X, y = load_libsvm(path)
    assert len(record) == 1
    X2, y2, qid = load_libsvm(path, query_id=True)
    assert qid.tolist() == [1, 1, -2, -1]
    want_X, want_y = load_svmlight_file(str(path))
    assert_same(X, want_X)
    assert_same(X2, want_X)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(y2, want_y)
    with pytest.warns(UserWarning, match="qid") as record:
        list(iter_libsvm(path, chunk_rows=1, n_features=2, zero_based=False))
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_libsvm(write(tmp_path, "noq.svm", "1 1:1\n"))


def test_float32_matches_sklearn(tmp_path):
    path = write(tmp_path, "a.svm", "0.1 1:0.1 2:16777217 3:3.4028235e38 4:1e-46\n")
    got, _ = load_libsvm(path, dtype=np.float32)
    want, _ = load_svmlight_file(str(path), dtype=np.float32)
    assert got.dtype == np.float32
    assert_same(got, want)


# ------------------------------------------------------------------- errors
ERRORS = [
    # (loader, kwargs, content, line, message pattern)
    (load_libsvm, {}, "1 1:1\n1 abc\n", 2, "expected 'index:value', got 'abc'"),
    (load_libsvm, {}, "1 1:1\n# c\n\n3:1 4:1\n", 4, "missing label: the line starts with '3:1'"),
    (load_libsvm, {}, "1 -3:1\n", 1, "negative index '-3' in token '-3:1'"),
    (load_libsvm, {}, "1 x:1\n", 1, "bad index 'x' in token 'x:1'"),
    (load_libsvm, {}, "1 1.5:1\n", 1, "bad index '1.5' in token '1.5:1'"),
    (
        load_libsvm,
        {},
        "1 99999999999:1\n",
        1,
        "index '99999999999' in token '99999999999:1' is too",
    ),
    (
        load_libsvm,
        {"n_features": 3},
        "1 1:1\n1 4:1\n",
        2,
        "index 4 in token '4:1' is out of range for n_features=3 \\(indices are one-based\\)",
    ),
    (
        load_libfm,
        {"n_features": 3},
        "1 1:1\n1 2:1 3:1\n",
        2,
        "index 3 in token '3:1' is out of range",
    ),
    (
        load_libsvm,
        {"zero_based": False},
        "1 1:1\n1 0:1\n",
        2,
        "index 0 in token '0:1', but zero_based=False",
    ),
    (load_libsvm, {}, "1 1:abc\n", 1, "bad value 'abc' in token '1:abc'"),
    (load_libsvm, {}, "1 1:1_0\n", 1, "bad value '1_0' in token '1:1_0'"),
    (load_libsvm, {}, "1 1:2:3\n", 1, "bad value '2:3' in token '1:2:3'"),
    (load_libsvm, {}, "1 1:nan\n", 1, "value 'nan' in token '1:nan' is not finite"),
    (
        load_libsvm,
        {},
        "1 1:-Infinity\n",
        1,
        "value '-Infinity' in token '1:-Infinity' is not finite",
    ),
    (load_libsvm, {}, "1 1:1e999\n", 1, "value '1e999' in token '1:1e999' is not finite"),
    (load_libsvm, {}, "inf 1:1\n", 1, "label 'inf' is not finite"),
    (
        load_libsvm,
        {"dtype": np.float32},
        "1 1:1\n0 2:1 3:-1e39\n",
        2,
        "the value of token '3:-1e39' is too large for float32",
    ),
    (load_libsvm, {}, "yes 1:1\n", 1, "bad label 'yes'; expected a number"),
    (load_libsvm, {}, "1 1:1\r\n0 3:", 2, "bad value '' in token '3:'"),
    (load_libsvm, {}, "1 1:1\n0 3", 2, "expected 'index:value', got '3'"),
    (load_libsvm, {}, "1 qid:x 1:1\n", 1, "bad query id in token 'qid:x'"),
    (load_libsvm, {}, "1 1:1 qid:2\n", 1, "'qid:2' must come right after the label"),
    (load_libfm, {}, "1 qid:2 1:1\n", 1, "bad index 'qid' in token 'qid:2'"),
    (load_libsvm, {}, "1 1:1 \xff\xfe:1\n", 1, r"bad index '\\\\xff\\\\xfe'"),
    (load_libffm, {}, "1 0:1:1\n1 2:1\n", 2, "expected 'field:index:value', got '2:1'"),
    (load_libffm, {}, "1 a:1:1\n", 1, "bad field 'a' in token 'a:1:1'"),
    (load_libffm, {}, "1 -1:1:1\n", 1, "negative field '-1' in token '-1:1:1'"),
    (load_libffm, {}, "1 0:b:1\n", 1, "bad index 'b' in token '0:b:1'"),
    (load_libffm, {}, "1 0:1:z\n", 1, "bad value 'z' in token '0:1:z'"),
    (
        load_libffm,
        {},
        "1 0:5:1\n\n0 1:5:1\n",
        3,
        "feature 5 in token '1:5:1' is in field 1, but it came with field 0 before on line 1",
    ),
    (
        load_libffm,
        {},
        "1 0:5:1 1:5:2\n",
        1,
        "feature 5 appears in one line with different fields \\('0:5:1', '1:5:2'\\)",
    ),
]


@pytest.mark.parametrize(("load", "kwargs", "content", "line", "message"), ERRORS)
def test_malformed_input_names_file_line_and_text(tmp_path, load, kwargs, content, line, message):
    path = write(tmp_path, "train.data", content.encode("latin-1"))
    with pytest.raises(ValueError) as info:
        load(path, **kwargs)
    text = str(info.value)
    assert text.startswith(f"{path}, line {line}: "), text
    assert re.search(message, text), text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dtype": np.int32}, "'dtype' parameter of load_libsvm must be float32 or float64"),
        ({"dtype": "float16"}, "float32 or float64"),
        ({"zero_based": "yes"}, "'zero_based' parameter of load_libsvm must be a bool or"),
        ({"n_features": 0}, r"'n_features' parameter of load_libsvm must be an int in the range"),
        ({"n_features": 2.0}, "'n_features'"),
        ({"query_id": 1}, "'query_id'"),
    ],
)
def test_bad_parameters(tmp_path, kwargs, match):
    path = write(tmp_path, "a.svm", "1 1:1\n")
    with pytest.raises(ValueError, match=match):
        load_libsvm(path, **kwargs)


def test_bad_field_conflict_option_and_corrupt_archive(tmp_path):
    with pytest.raises(ValueError, match="'field_conflict' parameter of load_libffm"):
        load_libffm(tmp_path / "a.ffm", field_conflict="last")
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(b"1 1:1\n" * 100)[:-20])
    with pytest.raises(ValueError, match=r"broken\.gz: cannot decompress"):
        load_libsvm(path)
    with pytest.raises(ValueError, match=r"broken\.gz: cannot decompress"):
        list(iter_libsvm(path, n_features=3, zero_based=False))


# ------------------------------------------------------------------- real files
FRAPPE = sorted((SHARED / "frappe").glob("*.libfm"))
CRITEO = sorted((SHARED / "criteo-sample").glob("*.ffm"))


@pytest.mark.skipif(not FRAPPE, reason="no frappe fixtures in ../shared/data")
@pytest.mark.parametrize("path", FRAPPE, ids=lambda p: p.name)
def test_frappe_same_as_sklearn(path):
    X, y = load_libfm(path)
    want_X, want_y = load_svmlight_file(str(path), zero_based=True)
    assert_same(X, want_X)
    np.testing.assert_array_equal(y, want_y)
    chunks = list(iter_libfm(path, chunk_rows=5000))
    assert_same(sp.vstack([c[0] for c in chunks], format="csr"), X)


def reference_libffm(path: Path):
    """A plain-Python libffm reader (first field wins) to check the real files against."""
    rows, cols, vals, y, field_of = [], [], [], [], {}
    for r, line in enumerate(path.read_text().splitlines()):
        label, *tokens = line.split()
        y.append(float(label))
        for token in tokens:
            field, index, value = token.split(":")
            rows.append(r)
            cols.append(int(index))
            vals.append(float(value))
            field_of.setdefault(int(index), int(field))
    X = sp.csr_matrix((vals, (rows, cols)), shape=(len(y), max(cols) + 1))
    fields = np.full(X.shape[1], -1)
    fields[list(field_of)] = list(field_of.values())
    return X, np.array(y), fields


@pytest.mark.skipif(not CRITEO, reason="no criteo fixtures in ../shared/data")
@pytest.mark.parametrize("path", CRITEO, ids=lambda p: p.name)
def test_criteo_libffm(path):
    with pytest.raises(ValueError, match=rf"{path.name}, line \d+: feature \d+ .*field"):
        load_libffm(path)
    X, y, fields = load_libffm(path, field_conflict="first")
    want_X, want_y, want_fields = reference_libffm(path)
    assert_same(X, want_X)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(fields, want_fields)


def test_the_parser_runs_in_pure_python(tmp_path):
    """Under NUMBA_DISABLE_JIT=1 (coverage runs) the parser's reference-count-free view of
    its buffer (a numba intrinsic) falls back to the array itself."""
    import os
    import subprocess
    import sys

    path = tmp_path / "a.libfm"
    path.write_text("1 0:1 3:2.5\n0 2:1\n")
    code = (
        "from fmlearn.io import load_libfm\n"
        f"X, y = load_libfm({str(path)!r})\n"
        "print(X.toarray().tolist(), y.tolist())\n"
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[[1.0, 0.0, 0.0, 2.5], [0.0, 0.0, 1.0, 0.0]] [1.0, 0.0]"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.text(alphabet="ab: ", max_size=40), max_size=30),
    trailing=st.booleans(),
    block=st.integers(1, 64),
)
def test_read_blocks_cut_whole_lines_and_count_them(tmp_path, lines, trailing, block):
    """The block reader the streaming readers share: blocks of whole lines (the last one
    may lack its line end), together the file, each with the lines before it; lines
    longer than a block included."""
    text = ("\n".join(lines) + ("\n" if trailing and lines else "")).encode()
    path = tmp_path / "blocks.txt"
    path.write_bytes(text)
    blocks = list(text_module._read_blocks(str(path), block))
    assert b"".join(bytes(b) for b, _ in blocks) == text
    before = 0
    for i, (b, line_base) in enumerate(blocks):
        assert line_base == before
        assert i == len(blocks) - 1 or bytes(b).endswith(b"\n")
        before += bytes(b).count(b"\n")
