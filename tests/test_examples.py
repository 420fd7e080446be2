"""The quick examples run and show what they claim (skipped without ../shared data)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (ML100K / "train.tsv").exists(), reason="../shared/data/ml-100k absent")
def test_movielens_pipeline_side_information_helps():
    pytest.importorskip("pandas")
    results = dict((label, rmse) for label, rmse, _ in _load("movielens_pipeline").run(ML100K, 30))
    assert results["ids + side information"] < results["ids only"] - 0.01
    assert results["ids + side information"] < 0.93
