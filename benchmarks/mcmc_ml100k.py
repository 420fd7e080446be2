"""Bayesian FM (MCMC Gibbs sampling) and ALS: fmlearn against myFM on ML-100K and frappe.

Issue 4's benchmark. On the 90/10 ML-100K split in ``../shared/data/ml-100k`` it builds
three design matrices (CSR, float64), the same for both libraries, columns ordered by
block, one hyperprior group per block:

  (a) user one-hot + item one-hot;
  (b) (a) + user age decade, gender, occupation (one-hot) + item release year (one-hot)
      and genres (multi-hot, normalised to unit length);
  (c) (b) + implicit feedback: the items the user rated, weights 1/√|N(u)|, as a block of
      n_items columns (SVD++ / libFM grouped features). N(u) is taken from train AND test
      rows: *which* items a user rated is known at prediction time, only the ratings are
      not (the SVD++/libFM practice); no test rating enters the features.

Each is fitted with ``FMRegressor(solver="mcmc")`` (rank 10, 200 sweeps, 195 kept) and
``myfm.MyFMRegressor`` (same rank, sweeps, kept samples and groups). Also ALS on (a), and
probit classification on frappe (train: ``frappe.validation.libfm``, test:
``frappe.test.libfm``; one group per field) against ``myfm.MyFMClassifier``.

Run from the repository root::

    python benchmarks/mcmc_ml100k.py            # full run (a few minutes)
    python benchmarks/mcmc_ml100k.py --quick    # 40 sweeps, 35 kept
    python benchmarks/mcmc_ml100k.py --only a,als --skip-myfm

Timing: numba kernels are compiled (or loaded from cache) by a small warm-up fit before
anything is timed; fmlearn fits on one thread (its default), as myFM's sampler does.
"fit/sweep" is the whole ``fit`` wall time divided by the number of sweeps, for both
libraries; fmlearn's includes predicting and scoring the test set after every sweep (for
``history_``), myFM's does not, so fmlearn is fitted a second time without ``eval_set``
("no-eval", the like-for-like number). "median" is the median of ``history_.seconds``.
The speed target is shown against both. The load average is printed before and after:
the timings are only as good as the machine was quiet.

``--libfm PATH`` (or the environment variable ``FMLEARN_LIBFM``) also runs C++ libFM
(built from its source with ``make``; the path of its ``bin/libFM``) on the same matrices,
written as libFM text files: MCMC on each of (a), (b), (c) with the same groups (``-meta``),
rank and sweeps, and ALS on (a) with fmlearn's default regularisation, all with ``-seed 0``.
Its fit/sweep is the sum of its rlog's ``time_learn`` (user CPU seconds per iteration,
including its test-set prediction, excluding file loading) divided by the sweeps.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _machine import log, machine_line
from scipy.special import ndtr
from sklearn.metrics import log_loss, roc_auc_score

from fmlearn import FMClassifier, FMRegressor
from fmlearn.io import load_libfm

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ML100K = ROOT / "shared" / "data" / "ml-100k"
DEFAULT_FRAPPE = ROOT / "shared" / "data" / "frappe"

RANK = 10
TARGETS_RMSE = {"a": 0.900, "b": 0.895, "c": 0.890}
TARGET_SPEED_RATIO = 0.5
TARGET_FRAPPE_AUC = 0.950
TARGET_FRAPPE_LOGLOSS = 0.248
TARGET_ALS_RMSE = 0.912
CASES = ("a", "b", "c", "block", "frappe", "als", "als-scalar")


# --------------------------------------------------------------------------- data


@dataclass
class Design:
    """A train/test design matrix pair with its feature groups."""

    name: str
    X_train: sp.csr_matrix
    y_train: np.ndarray
    X_test: sp.csr_matrix
    y_test: np.ndarray
    blocks: list[tuple[str, int]] = field(default_factory=list)  # (block name, n columns)

    @property
    def group_shapes(self) -> list[int]:
        return [size for _, size in self.blocks]

    @property
    def groups(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.blocks)), self.group_shapes).astype(np.int64)

    def describe(self) -> str:
        nnz = self.X_train.nnz / self.X_train.shape[0]
        blocks = ", ".join(f"{n} {s}" for n, s in self.blocks)
        return (
            f"({self.name}) {self.X_train.shape[0]:,} train / {self.X_test.shape[0]:,} test rows, "
            f"{self.X_train.shape[1]:,} features, {nnz:.1f} nnz/row; groups: {blocks}"
        )


def _one_hot(codes: np.ndarray, n: int) -> sp.csr_matrix:
    rows = np.arange(codes.shape[0])
    data = np.ones(codes.shape[0])
    return sp.csr_matrix((data, (rows, codes)), shape=(codes.shape[0], n))


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    cats = np.sort(values.unique())
    return np.searchsorted(cats, values.to_numpy()), len(cats)


def _row_normalise(m: sp.csr_matrix, norm: str = "l1") -> sp.csr_matrix:
    """Rows scaled to sum 1 (``"l1"``) or to unit length (``"l2"``: 1/√n for n ones)."""
    sums = np.asarray((m if norm == "l1" else m.multiply(m)).sum(axis=1)).ravel()
    if norm == "l2":
        sums = np.sqrt(sums)
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ m)


def load_ml100k(data_dir: Path) -> dict[str, Design]:
    """The three ML-100K designs (a), (b), (c)."""
    read = functools.partial(pd.read_csv, sep="\t")
    train, test = read(data_dir / "train.tsv"), read(data_dir / "test.tsv")
    users, items = read(data_dir / "users.tsv"), read(data_dir / "items.tsv")
    users = users.set_index("user_id").sort_index()
    items = items.set_index("item_id").sort_index()
    n_users, n_items = len(users), len(items)
    uid = {u: i for i, u in enumerate(users.index)}
    iid = {m: i for i, m in enumerate(items.index)}

    # per-entity feature tables (rows = users / items), then gathered per rating row
    age_c, n_age = _codes(users["age"] // 10)
    gender_c, n_gender = _codes(users["gender"])
    occ_c, n_occ = _codes(users["occupation"])
    year_c, n_year = _codes(items["release_year"].astype(str))
    genre_lists = items["genres"].fillna("").str.split()
    genre_names = sorted({g for gs in genre_lists for g in gs})
    gpos = {g: j for j, g in enumerate(genre_names)}
    g_rows = [i for i, gs in enumerate(genre_lists) for _ in gs]
    g_cols = [gpos[g] for gs in genre_lists for g in gs]
    genres = _row_normalise(
        sp.csr_matrix((np.ones(len(g_rows)), (g_rows, g_cols)), shape=(n_items, len(genre_names))),
        "l2",
    )
    # implicit feedback: items rated by each user, in train and test (not the ratings)
    both = pd.concat([train, test])
    implicit = sp.csr_matrix(
        (
            np.ones(len(both)),
            (both["user_id"].map(uid).to_numpy(), both["item_id"].map(iid).to_numpy()),
        ),
        shape=(n_users, n_items),
    )
    implicit.data[:] = 1.0  # a duplicate (user, item) pair would have summed
    implicit = _row_normalise(implicit, "l2")

    def blocks_for(df: pd.DataFrame) -> dict[str, sp.csr_matrix]:
        u = df["user_id"].map(uid).to_numpy()
        i = df["item_id"].map(iid).to_numpy()
        return {
            "user": _one_hot(u, n_users),
            "item": _one_hot(i, n_items),
            "age": _one_hot(age_c[u], n_age),
            "gender": _one_hot(gender_c[u], n_gender),
            "occupation": _one_hot(occ_c[u], n_occ),
            "year": _one_hot(year_c[i], n_year),
            "genre": genres[i],
            "implicit": implicit[u],
        }

    tr, te = blocks_for(train), blocks_for(test)
    layouts = {
        "a": ["user", "item"],
        "b": ["user", "item", "age", "gender", "occupation", "year", "genre"],
        "c": ["user", "item", "age", "gender", "occupation", "year", "genre", "implicit"],
    }
    designs = {}
    for name, names in layouts.items():
        X_train = sp.hstack([tr[b] for b in names], format="csr", dtype=np.float64)
        X_test = sp.hstack([te[b] for b in names], format="csr", dtype=np.float64)
        X_train.sort_indices()
        X_test.sort_indices()
        designs[name] = Design(
            name,
            X_train,
            train["rating"].to_numpy(np.float64),
            X_test,
            test["rating"].to_numpy(np.float64),
            [(b, tr[b].shape[1]) for b in names],
        )
    return designs


def load_frappe(data_dir: Path) -> Design:
    """Train on the NFM validation split, test on the test split; one group per field.

    Every row has 10 one-hot fields whose feature ids lie in consecutive ranges (user,
    item, daytime, weekday, isweekend, homework, cost, weather, country, city); a field's
    range starts at the smallest id seen in that position.
    """
    Xv, yv = load_libfm(data_dir / "frappe.validation.libfm")
    Xt, yt = load_libfm(data_dir / "frappe.test.libfm")
    n_features = max(Xv.shape[1], Xt.shape[1])
    Xv.resize((Xv.shape[0], n_features))
    Xt.resize((Xt.shape[0], n_features))
    fields = ["user", "item", "daytime", "weekday", "isweekend", "homework", "cost",
              "weather", "country", "city"]  # fmt: skip
    both = sp.vstack([Xv, Xt], format="csr")
    per_row = np.diff(both.indptr)
    if not np.all(per_row == len(fields)):
        raise ValueError("frappe rows should have exactly 10 features each")
    pos = both.indices.reshape(-1, len(fields))
    starts = pos.min(axis=0)
    ends = pos.max(axis=0)
    if not (starts[0] == 0 and np.all(ends[:-1] < starts[1:])):
        raise ValueError("frappe fields are not in consecutive feature ranges")
    bounds = np.append(starts, n_features)
    blocks = [(f, int(bounds[j + 1] - bounds[j])) for j, f in enumerate(fields)]
    return Design("frappe", Xv, yv, Xt, yt, blocks)


# --------------------------------------------------------------------------- runs


def rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def warm_up(designs: dict[str, Design], frappe: Design | None) -> float:
    """Compile (or load from numba's cache) the coordinate kernels before timing."""
    t0 = time.perf_counter()
    d = next(iter(designs.values()), None)
    if d is not None:
        X, y, Xt, yt = d.X_train[:2000], d.y_train[:2000], d.X_test[:200], d.y_test[:200]
        for solver in ("mcmc", "als"):
            kw = {"groups": d.groups} if solver == "mcmc" else {}
            m = FMRegressor(RANK, solver=solver, max_iter=3, random_state=0)
            m.fit(X, y, eval_set=[(Xt, yt)], **kw).predict(Xt)
    if frappe is not None:
        X, y, Xt, yt = frappe.X_train[:2000], frappe.y_train[:2000], frappe.X_test[:200], \
            frappe.y_test[:200]  # fmt: skip
        m = FMClassifier(RANK, solver="mcmc", max_iter=3, random_state=0)
        m.fit(X, y, eval_set=[(Xt, yt)], groups=frappe.groups).predict_proba(Xt)
    return time.perf_counter() - t0


def _quiet_myfm():
    """Import myFM with its tqdm progress bar switched off (None if not installed)."""
    try:
        import myfm
        import myfm.base
    except ImportError:
        return None
    myfm.base.tqdm = functools.partial(myfm.base.tqdm, disable=True)
    return myfm


def _no_callback(i, fm, hyper, history):
    return False, None


@dataclass
class Result:
    case: str
    library: str
    sweeps: int
    fit_s: float
    median_sweep_s: float | None = None  # fmlearn: median of history_.seconds
    noeval_sweep_s: float | None = None  # fmlearn: fit/sweep of a timing fit without eval_set
    rmse_exact: float | None = None  # history_: average of the kept samples' predictions
    rmse_predict: float | None = None  # predict() of the fitted model
    rmse_params: float | None = None  # fmlearn: the posterior-mean parameters w_, V_
    auc_exact: float | None = None
    logloss_exact: float | None = None
    auc_params: float | None = None
    logloss_params: float | None = None

    @property
    def per_sweep(self) -> float:
        return self.fit_s / self.sweeps


def _timed_fit(model, X, y, **fit_kw) -> float:
    t0 = time.perf_counter()
    model.fit(X, y, **fit_kw)
    return time.perf_counter() - t0


def _noeval_sweep_s(make, d: Design, n_iter: int, **fit_kw) -> float:
    """fit/sweep of the same fit without eval_set, as myFM's fit (no test-set scoring)."""
    return _timed_fit(make(n_iter), d.X_train, d.y_train, **fit_kw) / n_iter


def mean_param_scores(model, X: sp.csr_matrix) -> np.ndarray:
    """ŷ(x) of the posterior-mean parameters ``w0_, w_, V_`` (what keep_samples=False uses)."""
    V = model.V_.astype(np.float64)
    XV = np.asarray(X @ V)
    X2V2 = np.asarray(X.multiply(X) @ (V * V))
    pairwise = 0.5 * (XV * XV - X2V2).sum(axis=1)
    return model.w0_ + np.asarray(X @ model.w_.astype(np.float64)).ravel() + pairwise


def run_fmlearn_regression(
    d: Design, solver: str, n_iter: int, n_kept: int, update: str = "auto"
) -> Result:
    mcmc = solver == "mcmc"

    def make(n: int) -> FMRegressor:
        kw = {"n_kept_samples": n_kept} if mcmc else {}
        return FMRegressor(
            RANK, solver=solver, max_iter=n, random_state=0, factor_update=update, **kw
        )

    fit_kw = {"groups": d.groups} if mcmc else {}
    model = make(n_iter)
    fit_s = _timed_fit(model, d.X_train, d.y_train, eval_set=[(d.X_test, d.y_test)], **fit_kw)
    case = d.name if mcmc else f"{d.name} ALS"
    return Result(
        case if update == "auto" else f"{case} {update}",
        "fmlearn",
        n_iter,
        fit_s,
        median_sweep_s=float(np.median(model.history_.seconds)),
        noeval_sweep_s=_noeval_sweep_s(make, d, n_iter, **fit_kw),
        rmse_exact=model.history_.valid["rmse"][-1],
        rmse_predict=rmse(model.predict(d.X_test), d.y_test),
        rmse_params=rmse(
            np.clip(mean_param_scores(model, d.X_test), model.y_min_, model.y_max_), d.y_test
        ),
    )


def run_myfm_regression(myfm, d: Design, n_iter: int, n_kept: int) -> Result:
    model = myfm.MyFMRegressor(rank=RANK, random_seed=0)
    fit_s = _timed_fit(
        model, d.X_train, d.y_train, n_iter=n_iter, n_kept_samples=n_kept,
        group_shapes=d.group_shapes, callback=_no_callback,
    )  # fmt: skip
    pred = model.predict(d.X_test)
    low, high = d.y_train.min(), d.y_train.max()
    return Result(
        d.name,
        "myFM",
        n_iter,
        fit_s,
        rmse_exact=rmse(np.clip(pred, low, high), d.y_test),  # clipped like fmlearn/libFM
        rmse_predict=rmse(pred, d.y_test),  # myFM's own (unclipped) prediction
    )


def _write_libfm(path: Path, X: sp.csr_matrix, y: np.ndarray) -> None:
    """X, y as a libFM text file (``label idx:val …``, 0-based indices, exact floats)."""
    with open(path, "w") as f:
        for i in range(X.shape[0]):
            row = slice(X.indptr[i], X.indptr[i + 1])
            pairs = zip(X.indices[row], X.data[row], strict=True)
            cells = "".join(f" {j}:{v:.17g}" for j, v in pairs)
            f.write(f"{y[i]:.17g}{cells}\n")


def libfm_version(path: str) -> str | None:
    """The version that ``libFM -help`` prints (None if it does not run or is not libFM)."""
    try:
        out = subprocess.run([path, "-help"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"libFM\s+Version:\s*(\S+)", out)
    return m.group(1) if m else None


def run_libfm(path: str, d: Design, method: str, n_iter: int) -> Result:
    """libFM ``-method mcmc`` (d's groups as ``-meta``) or ``als`` on d's matrices, seed 0."""
    with tempfile.TemporaryDirectory(prefix="libfm_") as tmp:
        train, test, meta, rlog = (Path(tmp) / n for n in ("train", "test", "meta", "rlog"))
        _write_libfm(train, d.X_train, d.y_train)
        _write_libfm(test, d.X_test, d.y_test)
        cmd = [path, "-task", "r", "-method", method, "-train", train, "-test", test,
               "-dim", f"1,1,{RANK}", "-iter", str(n_iter), "-init_stdev", "0.1",
               "-seed", "0", "-rlog", rlog]  # fmt: skip
        if method == "mcmc":
            meta.write_text("".join(f"{g}\n" for g in d.groups))
            cmd += ["-meta", meta]
        else:
            cmd += ["-regular", "0,5,13"]  # fmlearn's default ALS reg_bias, reg_linear, reg_factors
        run = subprocess.run(cmd, capture_output=True, text=True)
        # libFM reports errors as "ERROR: …" on stderr and still exits 0
        if run.returncode or "ERROR" in run.stderr or not rlog.exists():
            tail = (run.stderr.strip() or run.stdout.strip() or "no output").splitlines()[-1]
            raise RuntimeError(f"exit status {run.returncode}: {tail}")
        log_df = pd.read_csv(rlog, sep="\t")
    # MCMC: `rmse` scores the running average of ALL iterations' clipped predictions (libFM
    # has no burn-in). ALS: `rmse` would average the iterates too, so take `rmse_mcmc_this`,
    # the current model's RMSE (libFM computes it from the UNclipped predictions).
    col = "rmse" if method == "mcmc" else "rmse_mcmc_this"
    fit_s = float(log_df["time_learn"].sum())  # user CPU s; includes its test prediction
    case = d.name if method == "mcmc" else f"{d.name} ALS"
    return Result(case, "libFM", n_iter, fit_s, rmse_exact=float(log_df[col].iloc[-1]))


def _clf_scores(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    y01 = (y > 0).astype(int)
    return float(roc_auc_score(y01, p)), float(log_loss(y01, np.clip(p, 1e-15, 1 - 1e-15)))


def run_fmlearn_classification(d: Design, n_iter: int, n_kept: int) -> Result:
    def make(n: int) -> FMClassifier:
        return FMClassifier(RANK, solver="mcmc", max_iter=n, n_kept_samples=n_kept, random_state=0)

    model = make(n_iter)
    eval_set = [(d.X_test, d.y_test)]
    fit_s = _timed_fit(model, d.X_train, d.y_train, eval_set=eval_set, groups=d.groups)
    positive = list(model.classes_).index(1.0)
    auc, ll = _clf_scores(model.predict_proba(d.X_test)[:, positive], d.y_test)
    hist_auc, hist_ll = model.history_.valid["auc"][-1], model.history_.valid["logloss"][-1]
    if abs(auc - hist_auc) > 1e-6 or abs(ll - hist_ll) > 1e-6:
        log(
            f"note: frappe predict_proba gives AUC {auc:.5f} logloss {ll:.5f}, history_ "
            f"{hist_auc:.5f} {hist_ll:.5f} (predict_proba is not the exact sample average)"
        )
    scores = mean_param_scores(model, d.X_test)
    p_mean = ndtr(scores if model.classes_[1] == 1.0 else -scores)
    auc_p, ll_p = _clf_scores(p_mean, d.y_test)
    return Result(
        d.name,
        "fmlearn",
        n_iter,
        fit_s,
        median_sweep_s=float(np.median(model.history_.seconds)),
        noeval_sweep_s=_noeval_sweep_s(make, d, n_iter, groups=d.groups),
        auc_exact=hist_auc,
        logloss_exact=hist_ll,
        auc_params=auc_p,
        logloss_params=ll_p,
    )


def run_myfm_classification(myfm, d: Design, n_iter: int, n_kept: int) -> Result:
    model = myfm.MyFMClassifier(rank=RANK, random_seed=0)
    y01 = (d.y_train > 0).astype(np.int64)
    fit_s = _timed_fit(
        model, d.X_train, y01, n_iter=n_iter, n_kept_samples=n_kept,
        group_shapes=d.group_shapes, callback=_no_callback,
    )  # fmt: skip
    auc, ll = _clf_scores(model.predict_proba(d.X_test), d.y_test)
    return Result(d.name, "myFM", n_iter, fit_s, auc_exact=auc, logloss_exact=ll)


# --------------------------------------------------------------------------- report


def _f(x: float | None, fmt: str = "{:.4f}") -> str:
    return "-" if x is None or not np.isfinite(x) else fmt.format(x)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def _table(head: list[str], rows: list[list[str]]) -> None:
    """Print rows as a plain-text table: the first two columns left-, the rest right-aligned."""
    widths = [max(len(r[j]) for r in [head, *rows]) for j in range(len(head))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return " ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in pairs).rstrip()

    print(line(head))
    print("-" * len(line(head)))
    for r in rows:
        print(line(r))


def print_report(results: list[Result], quick: bool) -> None:
    by = {(r.case, r.library): r for r in results}
    cases = list(dict.fromkeys(r.case for r in results))
    targets: list[tuple[str, str, str, bool]] = []  # (what, target, value, met)
    sec = "{:.4f}s"

    def speed(case: str, fm: Result, my: Result | None) -> tuple[str, str]:
        r1 = _ratio(fm.per_sweep, my.per_sweep if my else None)
        r2 = _ratio(fm.noeval_sweep_s, my.per_sweep if my else None)
        for label, r in (("fit/sweep", r1), ("no-eval", r2)):
            if r is not None:
                what = f"{case} speed vs myFM ({label})"
                ok = r <= TARGET_SPEED_RATIO
                targets.append((what, f"≤ {TARGET_SPEED_RATIO}×", f"{r:.2f}×", ok))
        return _f(r1, "{:.2f}"), _f(r2, "{:.2f}")

    rows = []
    libfm = any(r.library == "libFM" for r in results)
    for case in (c for c in cases if c != "frappe"):
        base = case.split()[0]  # "c block" is design (c) with factor_update="block"
        fm, my = by.get((case, "fmlearn")), by.get((base, "myFM"))
        lf = by.get((case, "libFM"))
        als = "ALS" in case
        if fm:
            target = TARGET_ALS_RMSE if als else TARGETS_RMSE[base]
            ok = fm.rmse_exact <= target
            targets.append((f"{case} RMSE", f"≤ {target:.3f}", f"{fm.rmse_exact:.5f}", ok))
            r1, r2 = ("-", "-") if als else speed(case, fm, my)
            rows.append(
                [case, "fmlearn", _f(fm.rmse_exact), _f(fm.rmse_predict), _f(fm.rmse_params),
                 _f(fm.per_sweep, sec), _f(fm.median_sweep_s, sec), _f(fm.noeval_sweep_s, sec),
                 r1, r2]
                + ([_f(_ratio(fm.noeval_sweep_s, lf.per_sweep if lf else None), "{:.2f}")]
                   if libfm else [])
            )  # fmt: skip
        if my and case == base:
            rows.append(
                [case, "myFM", _f(my.rmse_exact), _f(my.rmse_predict), "-",
                 _f(my.per_sweep, sec), "", "", "", ""] + [""] * libfm
            )  # fmt: skip
        if lf:
            rows.append(
                [case, "libFM", _f(lf.rmse_exact), "-", "-", _f(lf.per_sweep, sec), "", "", "",
                 "", ""]
            )  # fmt: skip
    if rows:
        print("\nML-100K regression: test RMSE and seconds per sweep")
        head = ["case", "library", "RMSE", "predict", "mean-θ", "fit/sweep", "median", "no-eval",
                "ratio", "ratio'"] + ["ratio''"] * libfm  # fmt: skip
        _table(head, rows)
        print(
            "RMSE: fmlearn = history_ (average of the kept samples' predictions, clipped to\n"
            "  [1, 5]); myFM = predict(), clipped to [1, 5]. predict: RMSE of predict() (fmlearn\n"
            "  default keep_samples='auto'; myFM unclipped). mean-θ: fmlearn's posterior-mean\n"
            "  parameters w_, V_ (what predict() uses with keep_samples=False), clipped."
        )
        if libfm:
            print(
                "libFM: RMSE = its rlog's `rmse` (average of ALL sweeps' clipped predictions, no\n"
                "  burn-in); ALS: `rmse_mcmc_this` (the last model, unclipped). fit/sweep = sum\n"
                "  of `time_learn` (user CPU s, with its test prediction, without file loading) /\n"
                "  sweeps; ratio'' = fmlearn no-eval / libFM fit/sweep."
            )
    fm, my = by.get(("frappe", "fmlearn")), by.get(("frappe", "myFM"))
    rows = []
    if fm:
        auc_ok, ll_ok = fm.auc_exact >= TARGET_FRAPPE_AUC, fm.logloss_exact <= TARGET_FRAPPE_LOGLOSS
        targets.append(("frappe AUC", f"≥ {TARGET_FRAPPE_AUC:.3f}", f"{fm.auc_exact:.5f}", auc_ok))
        targets.append(
            ("frappe logloss", f"≤ {TARGET_FRAPPE_LOGLOSS:.3f}", f"{fm.logloss_exact:.5f}", ll_ok)
        )
        r1, r2 = speed("frappe", fm, my)
        rows.append(
            ["frappe", "fmlearn", _f(fm.auc_exact), _f(fm.logloss_exact), _f(fm.auc_params),
             _f(fm.logloss_params), _f(fm.per_sweep, sec), _f(fm.median_sweep_s, sec),
             _f(fm.noeval_sweep_s, sec), r1, r2]
        )  # fmt: skip
    if my:
        rows.append(
            ["frappe", "myFM", _f(my.auc_exact), _f(my.logloss_exact), "-", "-",
             _f(my.per_sweep, sec), "", "", "", ""]
        )  # fmt: skip
    if rows:
        print("\nfrappe probit classification (train: validation split, test: test split)")
        head = ["case", "library", "AUC", "logloss", "mean-θ AUC", "mean-θ logloss",
                "fit/sweep", "median", "no-eval", "ratio", "ratio'"]  # fmt: skip
        _table(head, rows)
        print(
            "AUC/logloss: average of the kept samples' probabilities (fmlearn: history_, equal to\n"
            "  predict_proba; myFM: predict_proba). mean-θ: fmlearn's posterior-mean parameters,\n"
            "  Φ(ŷ(x; w_, V_)) (what predict_proba uses with keep_samples=False)."
        )
    print(
        "fit/sweep = fit wall time / sweeps (fmlearn's includes predicting and scoring the\n"
        "  test set after every sweep; myFM's does not); median = median of history_.seconds;\n"
        "  no-eval = the same fmlearn fit again without eval_set, wall time / sweeps;\n"
        "  ratio = fmlearn fit/sweep / myFM fit/sweep; ratio' = fmlearn no-eval / myFM fit/sweep."
    )
    if targets:
        print("\nTargets (issue 4)")
        for what, target, value, ok in targets:
            print(f"  {what:<34} {target:>8}  {value:>8}  {'met' if ok else 'NOT met'}")
    if quick:
        print("\n--quick: fewer sweeps than the issue's protocol; targets are indicative only.")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_ML100K, help="ML-100K folder")
    parser.add_argument("--frappe-dir", type=Path, default=DEFAULT_FRAPPE, help="frappe folder")
    parser.add_argument("--quick", action="store_true", help="40 sweeps, 35 kept (ALS: 20)")
    parser.add_argument("--skip-myfm", action="store_true", help="run fmlearn only")
    parser.add_argument(
        "--libfm",
        default=os.environ.get("FMLEARN_LIBFM"),
        metavar="PATH",
        help="libFM binary: also run libFM on (a), (b), (c), als (default: $FMLEARN_LIBFM)",
    )
    parser.add_argument(
        "--only",
        default=",".join(CASES),
        help=f"comma-separated subset of {','.join(CASES)} (block: MCMC with "
        "factor_update='block' on (b) and (c); als-scalar: ALS with scalar updates)",
    )
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(CASES)
    if unknown:
        parser.error(f"--only: unknown case(s) {sorted(unknown)}")
    n_iter, n_kept, als_iter = (40, 35, 20) if args.quick else (200, 195, 60)

    myfm = None if args.skip_myfm else _quiet_myfm()
    if myfm is None and not args.skip_myfm:
        log("myfm is not installed (pip install myfm): running fmlearn only")
    myfm_version = getattr(myfm, "__version__", "?") if myfm is not None else "not run"
    print(f"{machine_line()} | myfm {myfm_version}")
    libfm = args.libfm
    if libfm:
        version = libfm_version(libfm)
        if version is None:
            log(f"libFM: {libfm} does not run (or is not libFM): running without libFM")
            libfm = None
        else:
            print(f"libFM {version}: {libfm}")
    print(
        f"rank {RANK}; MCMC {n_iter} sweeps, {n_kept} kept; ALS {als_iter} sweeps; "
        "fmlearn fit on 1 thread (default)"
    )

    designs = {}
    if only & {"a", "b", "c", "als", "als-scalar", "block"}:
        designs = load_ml100k(args.data_dir)
        for name in ("a", "b", "c"):
            if name in only:
                print(designs[name].describe())
        if only & {"c", "block"}:
            print(
                "(c) implicit block: items each user rated in train+test (which items, not "
                "the ratings), weights 1/√|N(u)|"
            )
    frappe = load_frappe(args.frappe_dir) if "frappe" in only else None
    if frappe is not None:
        print(frappe.describe())
    log(f"numba warm-up (compile or cache load): {warm_up(designs, frappe):.1f}s")

    results: list[Result] = []

    def record(r: Result) -> None:
        results.append(r)
        score = (
            f"RMSE {r.rmse_exact:.4f}" if r.rmse_exact is not None
            else f"AUC {r.auc_exact:.4f} logloss {r.logloss_exact:.4f}"
        )  # fmt: skip
        log(f"  {r.case:<12} {r.library:<8} {score}  fit {r.fit_s:.1f}s")

    def record_libfm(d: Design, method: str, n: int) -> None:
        nonlocal libfm
        if libfm:
            try:
                record(run_libfm(libfm, d, method, n))
            except (OSError, RuntimeError, KeyError, ValueError, IndexError) as e:
                log(f"libFM {method} on ({d.name}) failed ({e}): continuing without libFM")
                libfm = None

    for name in ("a", "b", "c"):
        if name not in only:
            continue
        record(run_fmlearn_regression(designs[name], "mcmc", n_iter, n_kept))
        if myfm is not None:
            record(run_myfm_regression(myfm, designs[name], n_iter, n_kept))
        record_libfm(designs[name], "mcmc", n_iter)
    if "block" in only:
        for name in ("b", "c"):
            record(run_fmlearn_regression(designs[name], "mcmc", n_iter, n_kept, "block"))
    if "als" in only:
        record(run_fmlearn_regression(designs["a"], "als", als_iter, 0))
        record_libfm(designs["a"], "als", als_iter)
    if "als-scalar" in only:
        record(run_fmlearn_regression(designs["a"], "als", als_iter, 0, "scalar"))
    if frappe is not None:
        record(run_fmlearn_classification(frappe, n_iter, n_kept))
        if myfm is not None:
            record(run_myfm_classification(myfm, frappe, n_iter, n_kept))

    print_report(results, args.quick)
    print(f"\nload avg at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
