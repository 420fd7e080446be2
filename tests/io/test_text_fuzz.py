"""Fuzzing the text readers: random bytes and mutated valid files.

The property: a reader either raises a ``ValueError`` naming the file and a line, or
returns exactly what a slow, obvious reader written from the format's grammar returns —
and that reader rejects the file exactly when the fast one does. No other exception, no
silently different matrix.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmlearn.io import load_libffm, load_libfm, load_libsvm

MAX_INDEX = 2**31 - 2
DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INDEX = re.compile(rb"\+?[0-9]+")
QID = re.compile(rb"[+-]?[0-9]{1,18}")
ALPHABET = b"0123456789:.-+eE \t\r\n#qid\x0bnaf\x00\xff"


class Rejected(Exception):
    """The reference reader found the file malformed."""


def number(text: bytes) -> float:
    if not DECIMAL.fullmatch(text):
        raise Rejected(text)
    value = float(text)
    if not math.isfinite(value):
        raise Rejected(text)
    return value


def index(text: bytes) -> int:
    if not INDEX.fullmatch(text) or int(text) > MAX_INDEX:
        raise Rejected(text)
    return int(text)


def reference_rows(content: bytes, ffm: bool, allow_qid: bool):
    """Rows as lists of (field, index, value) in line order, labels, qids."""
    rows, labels = [], []
    for line in content.split(b"\n"):
        tokens = line.split(b"#", 1)[0].split()
        if not tokens:
            continue
        if b":" in tokens[0]:
            raise Rejected("missing label")
        labels.append(number(tokens[0]))
        entries = []
        for k, token in enumerate(tokens[1:]):
            if allow_qid and token.startswith(b"qid:"):
                if k != 0 or not QID.fullmatch(token[4:]):
                    raise Rejected("qid")
                continue
            parts = token.split(b":", 2 if ffm else 1)
            if len(parts) != (3 if ffm else 2):
                raise Rejected("syntax")
            field = index(parts[0]) if ffm else 0
            entries.append((field, index(parts[-2]), number(parts[-1])))
        rows.append(entries)
    return rows, labels


def reference_load(content: bytes, fmt: str, zero_based, n_features, field_conflict):
    """(X, y, fields) by the grammar in fmlearn.kernels.text_parse, slowly and obviously."""
    ffm = fmt == "libffm"
    rows, labels = reference_rows(content, ffm, fmt == "libsvm")
    all_indices = [i for row in rows for _, i, _ in row]
    if zero_based == "auto":
        base = int(bool(all_indices) and min(all_indices) > 0)
    else:
        base = int(not zero_based)
    if base and 0 in all_indices:
        raise Rejected("index 0 in a one-based file")
    if n_features is None:
        n_features = max(all_indices) + 1 - base if all_indices else 0
    if any(i - base >= n_features for i in all_indices):
        raise Rejected("index >= n_features")
    dense = np.zeros((len(rows), n_features))
    stored = np.zeros((len(rows), n_features), dtype=bool)
    field_of = np.full(n_features, -1)
    for r, row in enumerate(rows):
        in_row = {}
        for field, i, value in row:
            j = i - base
            dense[r, j] += value
            stored[r, j] = True
            if j in in_row and in_row[j] != field and field_conflict == "error":
                raise Rejected("two fields in one line")
            in_row.setdefault(j, field)
        for j, field in in_row.items():
            if field_of[j] < 0:
                field_of[j] = field
            elif field_of[j] != field and field_conflict == "error":
                raise Rejected("two fields")
    return dense, stored, np.array(labels), field_of


LOADERS = {"libsvm": load_libsvm, "libfm": load_libfm, "libffm": load_libffm}


def check_reader(tmp_path, content: bytes, fmt: str, zero_based, n_features, conflict):
    path = tmp_path / f"fuzz.{fmt}"
    path.write_bytes(content)
    kwargs = {"zero_based": zero_based, "n_features": n_features}
    if fmt == "libffm":
        kwargs["field_conflict"] = conflict
    try:
        want = reference_load(content, fmt, zero_based, n_features, conflict)
    except Rejected:
        want = None
    try:
        with warnings.catch_warnings(record=True):  # qid warnings
            got = LOADERS[fmt](path, **kwargs)
    except ValueError as error:
        assert re.match(rf"{re.escape(str(path))}, line \d+: ", str(error)), str(error)
        assert want is None, f"rejected a file the reference reads: {error}"
        return
    assert want is not None, "read a file the reference rejects"
    dense, stored, labels, field_of = want
    X = got[0]
    assert isinstance(X, sp.csr_matrix) and X.has_canonical_format
    assert X.shape == dense.shape
    np.testing.assert_array_equal(X.toarray(), dense)
    pattern = sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)
    np.testing.assert_array_equal(pattern.toarray() == 1, stored)
    np.testing.assert_array_equal(got[1], labels)
    if fmt == "libffm":
        np.testing.assert_array_equal(got[2], field_of)


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
OPTIONS = {
    "fmt": st.sampled_from(["libsvm", "libfm", "libffm"]),
    "zero_based": st.sampled_from([True, False, "auto"]),
    "n_features": st.sampled_from([None, 3, 12]),
    "conflict": st.sampled_from(["error", "first"]),
}


@FUZZ
@given(content=st.binary(max_size=80) | st.lists(st.sampled_from(ALPHABET)).map(bytes), **OPTIONS)
def test_random_bytes(tmp_path, content, fmt, zero_based, n_features, conflict):
    check_reader(tmp_path, content, fmt, zero_based, n_features, conflict)


@st.composite
def valid_files(draw, ffm: bool) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        tokens = [draw(st.sampled_from(["1", "-1", "0.5", "3e2", "7"]))]
        for _ in range(draw(st.integers(0, 4))):
            entry = (
                f"{draw(st.integers(0, 10))}:{draw(st.sampled_from(['1', '0.25', '-2', '1e-3']))}"
            )
            tokens.append(f"{draw(st.integers(0, 3))}:{entry}" if ffm else entry)
        lines.append(" ".join(tokens))
    return ("\n".join(lines) + draw(st.sampled_from(["", "\n"]))).encode()


@st.composite
def mutated(draw, ffm: bool) -> bytes:
    content = bytearray(draw(valid_files(ffm)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        pos = draw(st.integers(0, len(content)))
        byte = draw(st.sampled_from(ALPHABET))
        if op == "insert":
            content.insert(pos, byte)
        elif content and pos < len(content):
            if op == "delete":
                del content[pos]
            else:
                content[pos] = byte
    return bytes(content)


@FUZZ
@given(data=st.data(), **OPTIONS)
def test_mutated_valid_files(tmp_path, data, fmt, zero_based, n_features, conflict):
    content = data.draw(mutated(fmt == "libffm"))
    check_reader(tmp_path, content, fmt, zero_based, n_features, conflict)


@FUZZ
@given(data=st.data(), **OPTIONS)
def test_valid_files(tmp_path, data, fmt, zero_based, n_features, conflict):
    content = data.draw(valid_files(fmt == "libffm"))
    check_reader(tmp_path, content, fmt, zero_based, n_features, conflict)
