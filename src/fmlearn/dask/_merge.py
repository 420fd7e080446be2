"""Merging the partitions' local rounds into one model (``fmlearn.dask``); numpy only.

A round ships each partition the rows of the parameters (and optimiser state) of the
features it touches, the partition runs one ordinary ``partial_fit`` epoch over its rows on
those rows alone, and sends them back. This module cuts the model into those rows and puts
the results together again:

* parameters (``w0_``, ``w_``, ``V_``): with ``merge="average"`` each feature takes the mean
  of the partitions' values, weighted by how many of each partition's rows hold the
  feature (``w0_``: by rows) — model averaging, stable for any number of partitions; with
  ``merge="sum"`` the partitions' changes are added up, as if they had run one after the
  other from the same start (faster on rare features, riskier with many partitions);
* AdaGrad's accumulated squared gradients are statistics of every row seen: the partitions'
  increments are added, so a later step is as small as after a single-process epoch;
* Adam's moment estimates are averages already: averaged, weighted like the parameters.

Features no partition touched keep their rows unchanged, so only touched rows travel.
"""

from __future__ import annotations

import numpy as np

# the model file's names (BaseFM._to_file) of the arrays with one row per feature
PER_FEATURE = ("w_", "V_", "state/slot1_1", "state/slot2_1", "state/slot1_2", "state/slot2_2")
PER_MODEL = ("w0_", "state/slot1_0", "state/slot2_0")
MERGES = ("average", "sum")
#: how each optimiser's state slots combine: "add" the increments or "mean" the values
STATE_RULES = {"sgd": {}, "adagrad": {"slot1": "add"}, "adam": {"slot1": "mean", "slot2": "mean"}}


def touched(X) -> tuple[np.ndarray, np.ndarray]:
    """``(features, counts)``: the columns a CSR block uses, sorted, and in how many rows."""
    X = X.tocsr()
    X.sum_duplicates()
    return np.unique(X.indices, return_counts=True)


def rows_of(arrays: dict, features: np.ndarray) -> dict:
    """The model-file arrays cut to ``features``' rows (empty state slots stay empty)."""
    out = {}
    for name, value in arrays.items():
        if name in PER_FEATURE and value.shape[0]:
            out[name] = value[features]
        else:
            out[name] = value
    return out


def _rule(name: str, solver: str, merge: str) -> str:
    if name.startswith("state/"):
        return STATE_RULES[solver].get(name[len("state/") :].split("_")[0], "mean")
    return "mean" if merge == "average" else "add"


def merge_rounds(arrays: dict, results: list[dict], solver: str, merge: str) -> dict:
    """The global arrays after one round: ``results`` hold, per partition, ``features``,
    ``counts``, ``rows`` and ``arrays`` (the local model file's arrays, features' rows)."""
    merged = dict(arrays)
    for name in PER_FEATURE + PER_MODEL:
        old = arrays.get(name)
        if old is None or not old.shape[0]:
            continue
        rule = _rule(name, solver, merge)
        per_feature = name in PER_FEATURE
        if rule == "add":
            new = old.astype(np.float64, copy=True)
            for r in results:
                where = r["features"] if per_feature else slice(None)
                new[where] += r["arrays"][name] - old[where]
        else:
            total = np.zeros(old.shape, dtype=np.float64)
            weight = np.zeros(old.shape[0], dtype=np.float64)
            for r in results:
                where = r["features"] if per_feature else slice(None)
                w = r["counts"] if per_feature else np.full(old.shape[0], float(r["rows"]))
                total[where] += _scaled(r["arrays"][name], w)
                weight[where] += w
            new = old.astype(np.float64, copy=True)
            seen = weight > 0
            new[seen] = _scaled(total[seen], 1.0 / weight[seen])
        merged[name] = new.astype(old.dtype, copy=False)
    return merged


def _scaled(values: np.ndarray, weights) -> np.ndarray:
    """``values`` times one weight per row (a row of V has k entries)."""
    weights = np.asarray(weights, dtype=np.float64)
    return values * weights.reshape((-1,) + (1,) * (values.ndim - 1))
