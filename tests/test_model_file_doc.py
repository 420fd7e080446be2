"""docs/model-file.md's numpy reader, run as written, predicts what fmlearn predicts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import FMClassifier, FMRegressor, save

DOC = Path(__file__).resolve().parents[1] / "docs" / "model-file.md"


@pytest.fixture(scope="module")
def reader():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # the documented code, verbatim
    assert len(blocks[0].strip().splitlines()) <= 45  # "a short reader"
    return namespace["read_fm"], namespace["predict_fm"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = sp.random(400, 25, density=0.15, random_state=0, format="csr")
    y = X @ rng.normal(size=25) + rng.normal(0, 0.1, 400)
    return X, y


CASES = {
    "regressor adagrad float32": lambda: FMRegressor(n_factors=3, max_iter=5, dtype="float32"),
    "regressor unclipped": lambda: FMRegressor(n_factors=3, max_iter=5, clip_predictions=False),
    "regressor mcmc samples": lambda: FMRegressor(n_factors=3, solver="mcmc", max_iter=12),
    "classifier logit": lambda: FMClassifier(n_factors=3, max_iter=5),
    "classifier probit samples": lambda: FMClassifier(n_factors=3, solver="mcmc", max_iter=12),
    "classifier als probit": lambda: FMClassifier(n_factors=3, solver="als", max_iter=5),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reader_predicts_as_fmlearn(reader, data, tmp_path, case):
    read_fm, predict_fm = reader
    X, y = data
    model = CASES[case]().set_params(random_state=0)
    classifier = case.startswith("classifier")
    model.fit(X, np.where(y > 0, "yes", "no") if classifier else y)
    save(model, tmp_path / "m.fmlearn")
    meta, param_sets, classes = read_fm(tmp_path / "m.fmlearn")
    got = predict_fm(meta, param_sets, X.toarray())
    if classifier:
        assert list(classes) == list(model.classes_)
        want = model.predict_proba(X)[:, 1]
    else:
        assert classes is None
        want = model.predict(X)
    assert len(param_sets) == max(1, len(getattr(model, "samples_", [])))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_reader_refuses_a_foreign_file(reader, tmp_path):
    import zipfile

    read_fm, _ = reader
    with zipfile.ZipFile(tmp_path / "x.fmlearn", "w") as zf:
        zf.writestr("metadata.json", '{"format": "something-else"}')
    with pytest.raises(ValueError, match="not an fmlearn format-2 model file"):
        read_fm(tmp_path / "x.fmlearn")
