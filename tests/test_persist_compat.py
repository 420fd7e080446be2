"""Model files written by fmlearn 0.1.0 (format 1) still load, predict and continue exactly.

The files and their expected outputs were written by tests/data/make_models_0_1_0.py
with fmlearn 0.1.0: each model's predictions when saved, and after continuing training
from it with ``warm_start=True, random_state=5`` (the optimiser state or Markov chain in
the file must carry on exactly as it did in 0.1.0).

"Exactly" is to the last few bits, not bit for bit: the expected outputs were written on
one CPU, and numba compiles for the CPU it runs on, so the vector width of the fastmath
kernels (AVX2 or AVX-512) and numpy's SIMD exp change the last bits of a sum's order
(seen: ≤ 9e-16 absolute on an AVX-512 machine), as does a change of summation order in
a kernel (``row_predict``'s per-factor sums). A file whose state did not carry over
(optimiser memory or Markov chain lost, a parameter misread) differs by far more than
:data:`RTOL`.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fmlearn

FOLDER = Path(__file__).parent / "data" / "models-0.1.0"
NAMES = sorted(p.stem for p in FOLDER.glob("*.fmlearn"))
#: Relative tolerance of "the same outputs" across CPUs (see the module docstring).
RTOL = 1e-12


def _same(actual, desired):
    if actual.dtype.kind in "fc":
        np.testing.assert_allclose(actual, desired, rtol=RTOL, atol=RTOL)
    else:
        np.testing.assert_array_equal(actual, desired)


def _generator():
    spec = importlib.util.spec_from_file_location("make", FOLDER.parent / "make_models_0_1_0.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cases():
    make = _generator()
    X, y, X_test = make.data()
    targets = {
        "regressor": y,
        "classifier": np.where(y > np.median(y), "like", "dislike"),
        "ordinal": np.clip(np.round(y - y.mean() + 3), 1, 5).astype(int),
    }
    expected = dict(np.load(FOLDER / "expected.npz"))
    return X, targets, X_test, expected


def test_the_files_are_format_1():
    assert len(NAMES) == 9
    for name in NAMES:
        with zipfile.ZipFile(FOLDER / f"{name}.fmlearn") as zf:
            meta = json.loads(zf.read("metadata.json"))
        assert meta["format_version"] == 1 and meta["fmlearn_version"] == "0.1.0"


@pytest.mark.parametrize("name", NAMES)
def test_old_file_predicts_and_continues_exactly(cases, name):
    X, targets, X_test, expected = cases
    model = fmlearn.load(FOLDER / f"{name}.fmlearn")
    _same(model.predict(X_test), expected[f"{name}/predict"])
    if hasattr(model, "predict_proba"):
        _same(model.predict_proba(X_test), expected[f"{name}/predict_proba"])
    target = targets[name.split("_")[0]]
    groups = np.repeat([0, 1, 2], [20, 15, 3]) if name == "regressor_mcmc_samples" else None
    model.set_params(warm_start=True, random_state=5).fit(X, target, groups=groups)
    after = (
        model.predict_proba(X_test) if hasattr(model, "predict_proba") else model.predict(X_test)
    )
    _same(after, expected[f"{name}/continued"])


def test_old_file_saves_in_the_current_format(tmp_path):
    model = fmlearn.load(FOLDER / "regressor_mcmc_samples.fmlearn")
    fmlearn.save(model, tmp_path / "new.fmlearn")
    with zipfile.ZipFile(tmp_path / "new.fmlearn") as zf:
        assert (
            json.loads(zf.read("metadata.json"))["format_version"] == fmlearn.persist.FORMAT_VERSION
        )
    again = fmlearn.load(tmp_path / "new.fmlearn")
    assert len(again.samples_) == len(model.samples_) == 6
    for a, b in zip(again.samples_, model.samples_, strict=True):
        np.testing.assert_array_equal(a.V, b.V)


def _rewritten(tmp_path, name, edit):
    """A copy of a 0.1.0 file with its metadata changed by ``edit``."""
    source, target = FOLDER / f"{name}.fmlearn", tmp_path / f"{name}.fmlearn"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.namelist():
            content = zin.read(item)
            if item == "metadata.json":
                meta = json.loads(content)
                edit(meta)
                content = json.dumps(meta).encode()
            zout.writestr(item, content)
    return target


def test_old_state_is_read_as_the_optimiser_that_wrote_it(tmp_path, cases):
    # 0.1.0 saved the last fit's AdaGrad state even after set_params(solver="sgd")
    def relabel(meta):
        meta["params"]["solver"] = "sgd"

    model = fmlearn.load(_rewritten(tmp_path, "regressor_adagrad", relabel))
    _, _, X_test, expected = cases
    assert model.solver == "sgd" and model._state_solver == "adagrad"
    _same(model.predict(X_test), expected["regressor_adagrad/predict"])


@pytest.mark.parametrize("key", ["params", "optimizer", "chain"])
def test_damaged_old_metadata_gives_a_clear_error(tmp_path, key):
    name = "regressor_mcmc_samples" if key == "chain" else "regressor_adagrad"

    def damage(meta):
        meta[key] = [1, 2]

    with pytest.raises(ValueError, match="corrupt or inconsistent model file"):
        fmlearn.load(_rewritten(tmp_path, name, damage))
