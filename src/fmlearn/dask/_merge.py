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

from fmlearn.kernels.merge import add_changes, add_weighted_rows, divide_rows, ftrl_duals

# the model file's names (BaseFM._to_file) of the arrays with one row per feature
PER_FEATURE = ("w_", "V_", "state/slot1_1", "state/slot2_1", "state/slot1_2", "state/slot2_2")
# … and with one value (or one table, FwFM's field-pair strengths R) for the whole model
PER_MODEL = ("w0_", "state/slot1_0", "state/slot2_0", "R_", "state/slot1_3", "state/slot2_3")
# cut to a block's features but never merged: the field-aware models' feature → field
CUT_ONLY = ("fields_",)
MERGES = ("average", "sum")
#: how each optimiser's state slots combine: "add" the increments or "mean" the values
STATE_RULES = {
    "sgd": {},
    "adagrad": {"slot1": "add"},
    "adam": {"slot1": "mean", "slot2": "mean"},
    # FTRL: n = Σg² adds up; z is then set from the merged weights (below)
    "ftrl": {"slot1": "duals", "slot2": "add"},
}
# FTRL: which parameter each state slot index belongs to, and which L1 strength it takes
_FTRL_PARAMETERS = (("w0_", 0, None), ("w_", 1, 2), ("V_", 2, 3))


def rows_of(arrays: dict, features: np.ndarray) -> dict:
    """The model-file arrays cut to ``features``' rows (empty state slots stay empty); all
    copies, so that the merge can change the global arrays while it reads what was sent."""
    out = {}
    for name, value in arrays.items():
        if name in PER_FEATURE + CUT_ONLY and value.shape[0]:
            out[name] = value[features]
        else:
            out[name] = value.copy()
    return out


def _rule(name: str, solver: str, merge: str) -> str:
    if name.startswith("state/"):
        return STATE_RULES[solver].get(name[len("state/") :].split("_")[0], "mean")
    return "mean" if merge == "average" else "add"


def merge_rounds(arrays: dict, results: list[dict], sent: list[dict], solver: str,
                 merge: str, ftrl_hyper=None) -> dict:  # fmt: skip
    """The global arrays after one round, updated in place: ``results`` hold, per
    partition, ``features``, ``counts``, ``rows`` and ``arrays`` (its model file's arrays,
    cut to its features' rows), ``sent`` what it was sent. Only those rows are touched."""
    rows = [r["features"].astype(np.int64) for r in results]
    weight = np.zeros(arrays["w_"].shape[0])  # one scratch entry per feature
    for name in PER_FEATURE + PER_MODEL:
        old = arrays.get(name)
        if old is None or not old.shape[0] or _rule(name, solver, merge) == "duals":
            continue
        per_feature = name in PER_FEATURE
        shape = _columns if per_feature else _one_row
        target = shape(old)
        here = rows if per_feature else [np.zeros(1, dtype=np.int64)] * len(results)
        values = [shape(r["arrays"][name]) for r in results]
        if _rule(name, solver, merge) == "add":
            for part_rows, part_values, s in zip(here, values, sent, strict=True):
                add_changes(target, part_rows, part_values, shape(s[name]))
        else:
            w = [r["counts"] if per_feature else np.full(1, float(r["rows"])) for r in results]
            scratch = weight if per_feature else np.zeros(1)
            for part_rows, part_values, part_w in zip(here, values, w, strict=True):
                add_weighted_rows(target, scratch, part_rows, part_values, part_w)
            for part_rows in here:
                divide_rows(target, scratch, part_rows)
    if solver == "ftrl":
        _ftrl_duals(arrays, rows, ftrl_hyper)
    return arrays


def _ftrl_duals(arrays: dict, rows, hyper) -> None:
    """FTRL's z after a merge, for the rows the blocks touched (and w0): the one that gives
    back the merged weights. (Adding the blocks' z as well overcounts: each block's z
    subtracts σθ terms computed from its own running Σg², and those do not add up to the
    merged one's; measured, added z lost 0.05 AUC against one process.)"""
    alpha, beta = hyper[0], hyper[1]
    touched = np.unique(np.concatenate(list(rows))) if len(rows) else np.zeros(0, np.int64)
    for name, slot, l1_at in _FTRL_PARAMETERS:
        theta = arrays.get(name)
        if theta is None or not theta.shape[0]:
            continue
        at = np.zeros(1, dtype=np.int64) if name == "w0_" else touched
        shape = _one_row if name == "w0_" else _columns
        l1 = 0.0 if l1_at is None else float(hyper[l1_at])
        z, n = arrays[f"state/slot1_{slot}"], arrays[f"state/slot2_{slot}"]
        ftrl_duals(shape(z), shape(n), shape(theta), at, float(alpha), float(beta), l1)


def _one_row(values: np.ndarray) -> np.ndarray:
    """A whole-model array (w0, FwFM's R) as one row: a view."""
    return values.reshape(1, -1)


def _columns(values: np.ndarray) -> np.ndarray:
    """A parameter array as rows × columns (w, one value per feature, as one column): a
    view, so that the kernels write into the model's own array."""
    return values.reshape(values.shape[0], -1)
