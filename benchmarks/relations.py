"""Relation blocks (issue 19): flat designs against ``RelationBlock`` sweeps, and myFM.

Issue 19's benchmark, in three parts (``--parts a,b,c``):

(a) ML-100K design (c) of benchmarks/mcmc_ml100k.py (user and item ids, age, gender,
    occupation, release year, genres, and the items each user rated, unit length),
    fitted flat and as relation blocks: main X = user one-hot | item one-hot, a user
    block (age, gender, occupation, rated-item set; 943 rows) and an item block (release
    year, genres; 1,682 rows). The same model, groups and seed either way (the block
    features are X's columns in another order). ``FMRegressor(solver="mcmc")`` rank 10,
    200 sweeps (195 kept), ``random_state=0``, one thread, ``factor_update`` "scalar"
    (the default) and "block"; and ``myfm.MyFMRegressor`` with ``myfm.RelationBlock``
    (same rank, sweeps, kept samples and ``group_shapes``: X's groups, then each block's
    in order, which is how myFM numbers relation features). Targets: RMSE ≤ 0.890 (as
    flat), time per sweep ≤ 0.1× flat and ≤ 0.5× myFM's relational sweep.
(b) "Bayesian timeSVD++ flipped" (Rendle, Zhang & Koren 2019, arXiv 1905.01395; myFM's
    ``relation-blocks`` tutorial and ``examples/ml-100k-regression.py``) on the same
    ML-100K split: main X = the day of the rating (one-hot over the training days, column
    0 for a day not seen in training, as myFM's encoder); user block = user id | the
    items the user rated; item block = item id | the users who rated the item ("flipped"),
    both sets unit length and taken from the training ratings only (the "stricter
    protocol" of myFM's script); 5 groups (day, user, user's items, item, item's users).
    Rank 10 and 32, 200 sweeps, fmlearn and myFM. myFM's docs report RMSE 0.889 on
    GroupLens fold u1 (80/20, rank 10, 300 sweeps, no groups): another split.
(c) Generated MovieLens-10M-sized ratings (``--ratings``, default 10 M; 70,000 users,
    10,000 items, Zipf-like item popularity and log-normal user activity, ratings from
    a planted rank-8 model rounded to half stars): main X = user | item one-hot, blocks =
    each user's rated-item set and each item's rater set (unit length); rank 32, a few
    sweeps; seconds per sweep (``history_.seconds`` after the first) and peak RSS
    (``VmHWM`` of a fresh subprocess per case: data, blocks and fit). Targets: one
    sweep ≤ 30 s, peak ≤ 8 GB. Then the time Rendle et al.'s ML-10M protocol would take
    (their k = 512 and 512 sampling steps; myFM's ml-10m script: k = 128), scaled
    linearly in rows and rank from the measured sweep.

Run from the repository root::

    python benchmarks/relations.py                  # everything (~12 min here)
    python benchmarks/relations.py --quick          # 30 sweeps, 1 M generated ratings
    python benchmarks/relations.py --parts a --skip-myfm --repeats 3
    python benchmarks/relations.py --parts c --ratings 3000000
    python benchmarks/relations.py --parts b --flat-b   # also (b) flat: same RMSE?

Timing: numba kernels are compiled (or loaded from cache) by small fits first; every fit
is single-threaded (fmlearn's default, myFM's sampler); "fit/sweep" is the whole ``fit``
wall time (no ``eval_set``) divided by the sweeps, the best of ``--repeats`` fits (the
machine is shared), "median" the median of ``history_.seconds`` of the first fit. RMSE:
``predict`` (the average of the kept samples' predictions, clipped to [1, 5]); myFM's
``predict`` clipped the same way. Parts (a) and (b) skip with a message when the ML-100K
files are absent; (c) needs nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _machine import log, machine_line, peak_rss_mib
from mcmc_ml100k import _no_callback, _one_hot, _quiet_myfm, _row_normalise, _table, load_ml100k

from fmlearn import FMRegressor, RelationBlock
from fmlearn.relations import flatten

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ML100K = ROOT / "shared" / "data" / "ml-100k"

RANK = 10
TARGET_RMSE = 0.890
TARGET_VS_FLAT = 0.1
TARGET_VS_MYFM = 0.5
TARGET_SWEEP_S = 30.0
TARGET_PEAK_GB = 8.0
# Rendle, Zhang & Koren 2019 on ML-10M: Bayesian timeSVD++ flipped, 512-dimensional
# embeddings and 512 sampling steps (their best, RMSE 0.7485), on the 90 % training part
# of a 90/10 split of the 10,000,054 ratings; myFM's ml-10m script uses k = 128.
ML10M_TRAIN_ROWS = 9_000_048
PROTOCOLS = (("Rendle et al. 2019", 512, 512), ("myFM ml-10m script", 128, 512))


def rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- data


@dataclass
class Problem:
    """Main X (train/test), relation blocks as (index, table) pairs and their groups."""

    name: str
    X: sp.csr_matrix
    y: np.ndarray
    X_test: sp.csr_matrix
    y_test: np.ndarray
    groups: np.ndarray  # main X's groups
    tables: list[sp.csr_matrix] = field(default_factory=list)
    index: list[np.ndarray] = field(default_factory=list)
    index_test: list[np.ndarray] = field(default_factory=list)
    table_groups: list[np.ndarray] = field(default_factory=list)

    def relations(self, test: bool = False) -> list[RelationBlock]:
        index = self.index_test if test else self.index
        return [
            RelationBlock(ix, T, g)
            for ix, T, g in zip(index, self.tables, self.table_groups, strict=True)
        ]

    @property
    def group_shapes(self) -> list[int]:
        """myFM's ``group_shapes``: main X's groups, then each block's, in order (every
        group a contiguous run of columns here)."""
        runs = [np.bincount(self.groups)]
        runs += [np.bincount(g) for g in self.table_groups]
        return [int(n) for r in runs for n in r]

    def describe(self) -> str:
        blocks = "; ".join(
            f"block {b}: {T.shape[0]:,} rows × {T.shape[1]:,} features, {T.nnz:,} nnz "
            f"({T.nnz / T.shape[0]:.1f}/row)"
            for b, T in enumerate(self.tables)
        )
        flat_nnz = self.X.nnz + sum(
            np.diff(T.indptr)[ix].sum() for T, ix in zip(self.tables, self.index, strict=True)
        )
        return (
            f"{self.name}: {self.X.shape[0]:,} train / {self.X_test.shape[0]:,} test rows; main X "
            f"{self.X.shape[1]:,} features, {self.X.nnz / self.X.shape[0]:.1f} nnz/row; "
            f"{blocks + '; ' if blocks else ''}flat {flat_nnz / self.X.shape[0]:.1f} nnz/row; "
            f"group_shapes {self.group_shapes}"
        )


def ml100k_blocks(data_dir: Path):
    """Design (c), flat (as mcmc_ml100k.py builds it) and as relation blocks."""
    d = load_ml100k(data_dir)["c"]
    names = [n for n, _ in d.blocks]
    widths = dict(d.blocks)
    bounds = dict(zip(names, np.cumsum([0] + [widths[n] for n in names]), strict=False))

    def cols(X: sp.csr_matrix, name: str) -> sp.csr_matrix:
        return X[:, bounds[name] : bounds[name] + widths[name]].tocsr()

    def ids(X: sp.csr_matrix, name: str) -> np.ndarray:
        one_hot = cols(X, name)
        assert np.all(np.diff(one_hot.indptr) == 1), name
        return one_hot.indices.astype(np.int64)

    def table(id_name: str, parts: list[str]):
        """One row per entity: its features, read off the first data row that has it
        (and checked against every row)."""
        n = widths[id_name]
        both = np.concatenate([ids(d.X_train, id_name), ids(d.X_test, id_name)])
        rows = sp.vstack(
            [sp.hstack([cols(X, p) for p in parts]) for X in (d.X_train, d.X_test)], format="csr"
        )
        present, first = np.unique(both, return_index=True)
        place = sp.csr_matrix(
            (np.ones(present.size), (present, np.arange(present.size))), shape=(n, present.size)
        )
        T = sp.csr_matrix(place @ rows[first])
        T.sort_indices()
        if (T[both] != rows).nnz:
            raise ValueError(f"the {parts} columns are not a function of {id_name}")
        groups = np.repeat(np.arange(len(parts)), [widths[p] for p in parts])
        return T, both[: d.X_train.shape[0]], both[d.X_train.shape[0] :], groups

    main = ["user", "item"]
    user = table("user", ["age", "gender", "occupation", "implicit"])
    item = table("item", ["year", "genre"])
    rel = Problem(
        "(a) ML-100K design (c) as blocks",
        sp.hstack([cols(d.X_train, n) for n in main], format="csr"),
        d.y_train,
        sp.hstack([cols(d.X_test, n) for n in main], format="csr"),
        d.y_test,
        np.repeat([0, 1], [widths["user"], widths["item"]]),
        [user[0], item[0]],
        [user[1], item[1]],
        [user[2], item[2]],
        [user[3], item[3]],
    )
    flat = Problem(
        "(a) ML-100K design (c) flat", d.X_train, d.y_train, d.X_test, d.y_test, d.groups
    )
    return flat, rel


def timesvdpp_flipped(data_dir: Path) -> Problem:
    """Part (b)'s feature set (module docstring) from the ML-100K files."""
    read = functools.partial(pd.read_csv, sep="\t")
    train, test = read(data_dir / "train.tsv"), read(data_dir / "test.tsv")
    users = np.sort(read(data_dir / "users.tsv")["user_id"].to_numpy())
    items = np.sort(read(data_dir / "items.tsv")["item_id"].to_numpy())
    n_users, n_items = users.size, items.size

    def codes(df):
        return (
            np.searchsorted(users, df["user_id"].to_numpy()),
            np.searchsorted(items, df["item_id"].to_numpy()),
        )

    u, i = codes(train)
    ut, it = codes(test)
    days = np.unique(train["timestamp"].to_numpy() // 86400)

    def day_one_hot(df) -> sp.csr_matrix:
        day = df["timestamp"].to_numpy() // 86400
        pos = np.minimum(np.searchsorted(days, day), days.size - 1)
        known = days[pos] == day
        return _one_hot(np.where(known, pos + 1, 0), days.size + 1)  # 0: a day unseen

    rated = sp.csr_matrix((np.ones(u.size), (u, i)), shape=(n_users, n_items))
    rated.data[:] = 1.0
    user_items = _row_normalise(rated, "l2")  # the items each user rated (train)
    item_users = _row_normalise(rated.T.tocsr(), "l2")  # the users who rated each item
    user_table = sp.hstack([sp.identity(n_users), user_items], format="csr")
    item_table = sp.hstack([sp.identity(n_items), item_users], format="csr")
    return Problem(
        "(b) ML-100K timeSVD++ flipped",
        day_one_hot(train),
        train["rating"].to_numpy(np.float64),
        day_one_hot(test),
        test["rating"].to_numpy(np.float64),
        np.zeros(days.size + 1, np.int64),
        [user_table, item_table],
        [u, i],
        [ut, it],
        [np.repeat([0, 1], [n_users, n_items]), np.repeat([0, 1], [n_items, n_users])],
    )


# --------------------------------------------------------------------------- fits


@dataclass
class Run:
    part: str
    case: str
    library: str
    update: str
    rank: int
    sweeps: int
    rmse: float
    fit_s: list[float]
    median_s: float | None = None

    @property
    def per_sweep(self) -> float:
        return min(self.fit_s) / self.sweeps


def fit_fmlearn(
    p: Problem,
    case: str,
    *,
    relational: bool,
    update: str,
    rank: int,
    sweeps: int,
    kept: int,
    repeats: int,
    part: str,
) -> Run:
    if relational:
        X, Xt, groups = p.X, p.X_test, p.groups
        fit_kw = {"relations": p.relations()}
        pred_kw = {"relations": p.relations(test=True)}
    elif p.tables:  # the blocks flattened into the rows: the model they stand for
        X, groups = flatten(p.X, p.relations(), p.groups)
        Xt, _ = flatten(p.X_test, p.relations(test=True), p.groups)
        fit_kw, pred_kw = {}, {}
    else:
        X, Xt, groups, fit_kw, pred_kw = p.X, p.X_test, p.groups, {}, {}
    times, score, median = [], float("nan"), None
    for r in range(repeats):
        model = FMRegressor(
            rank,
            solver="mcmc",
            max_iter=sweeps,
            n_kept_samples=kept,
            factor_update=update,
            random_state=0,
        )
        start = time.perf_counter()
        model.fit(X, p.y, groups=groups, **fit_kw)
        times.append(time.perf_counter() - start)
        if r == 0:
            score = rmse(model.predict(Xt, **pred_kw), p.y_test)
            median = float(np.median(model.history_.seconds))
        log(
            f"  {part} {case:<12} fmlearn {update:<6} k={rank:<3} RMSE {score:.4f}  "
            f"fit {times[-1]:.1f}s ({times[-1] / sweeps:.4f}s/sweep)  load {load_avg()}"
        )
    return Run(part, case, "fmlearn", update, rank, sweeps, score, times, median)


def fit_myfm(
    myfm,
    p: Problem,
    case: str,
    *,
    relational: bool,
    rank: int,
    sweeps: int,
    kept: int,
    repeats: int,
    part: str,
) -> Run:
    if relational:
        X, Xt = p.X, p.X_test
        rel = [myfm.RelationBlock(ix, T) for ix, T in zip(p.index, p.tables, strict=True)]
        rel_t = [myfm.RelationBlock(ix, T) for ix, T in zip(p.index_test, p.tables, strict=True)]
    else:
        X, _ = flatten(p.X, p.relations(), p.groups)
        Xt, _ = flatten(p.X_test, p.relations(test=True), p.groups)
        rel, rel_t = [], []
    low, high = p.y.min(), p.y.max()
    times, score = [], float("nan")
    for r in range(repeats):
        model = myfm.MyFMRegressor(rank=rank, random_seed=0)
        start = time.perf_counter()
        model.fit(
            X,
            p.y,
            X_rel=rel,
            n_iter=sweeps,
            n_kept_samples=kept,
            group_shapes=p.group_shapes,
            callback=_no_callback,
        )
        times.append(time.perf_counter() - start)
        if r == 0:
            score = rmse(np.clip(model.predict(Xt, X_rel=rel_t), low, high), p.y_test)
        log(
            f"  {part} {case:<12} myFM           k={rank:<3} RMSE {score:.4f}  "
            f"fit {times[-1]:.1f}s ({times[-1] / sweeps:.4f}s/sweep)  load {load_avg()}"
        )
    return Run(part, case, "myFM", "scalar", rank, sweeps, score, times)


def warm_up(p: Problem) -> float:
    """Compile (or load from numba's cache) the flat and relational MCMC kernels."""
    start = time.perf_counter()
    small = Problem(
        "warm-up",
        p.X[:3000],
        p.y[:3000],
        p.X_test[:300],
        p.y_test[:300],
        p.groups,
        p.tables,
        [ix[:3000] for ix in p.index],
        [ix[:300] for ix in p.index_test],
        p.table_groups,
    )
    for relational in (True, False):
        for update in ("scalar", "block"):
            fit_fmlearn(
                small,
                "warm-up",
                relational=relational,
                update=update,
                rank=RANK,
                sweeps=3,
                kept=2,
                repeats=1,
                part="-",
            )
    return time.perf_counter() - start


def _s(x: float) -> str:
    return f"{x:.4f}s"


def _rows(runs: list[Run]) -> list[list[str]]:
    return [
        [
            r.case,
            r.library,
            r.update if r.library == "fmlearn" else "-",
            str(r.rank),
            f"{r.rmse:.4f}",
            _s(r.per_sweep),
            _s(r.median_s) if r.median_s else "-",
            str(len(r.fit_s)),
        ]
        for r in runs
    ]


HEAD = ["case", "library", "update", "k", "RMSE", "fit/sweep", "median", "fits"]
Target = tuple[str, str, str, bool]


def part_a(args, myfm, sweeps: int, kept: int, targets: list[Target]) -> None:
    flat, rel = ml100k_blocks(args.data_dir)
    print(f"\n{flat.describe()}\n{rel.describe()}")
    log(f"numba warm-up (compile or cache load): {warm_up(rel):.1f}s")
    print(f"load average before (a): {load_avg()}")
    runs: dict[tuple[str, str, str], Run] = {}
    kw = {"rank": RANK, "sweeps": sweeps, "kept": kept, "repeats": args.repeats, "part": "a"}
    for update in ("scalar", "block"):
        runs["rel", "fmlearn", update] = fit_fmlearn(
            rel, "relational", relational=True, update=update, **kw
        )
        runs["flat", "fmlearn", update] = fit_fmlearn(
            flat, "flat", relational=False, update=update, **kw
        )
    if myfm is not None:
        runs["rel", "myFM", "scalar"] = fit_myfm(myfm, rel, "relational", relational=True, **kw)
        if args.myfm_flat:
            runs["flat", "myFM", "scalar"] = fit_myfm(
                myfm, rel, "flat", relational=False, **{**kw, "repeats": 1}
            )
    print(f"load average after (a): {load_avg()}")
    print(
        f"\n(a) ML-100K design (c): flat vs relation blocks, MCMC k={RANK}, {sweeps} sweeps "
        f"({kept} kept), 1 thread"
    )
    _table(HEAD, _rows(list(runs.values())))
    my = runs.get(("rel", "myFM", "scalar"))
    for update in ("scalar", "block"):
        r, f = runs["rel", "fmlearn", update], runs["flat", "fmlearn", update]
        vs_flat = r.per_sweep / f.per_sweep
        line = f"  {update}: relational / flat {vs_flat:.3f}×, RMSE {r.rmse - f.rmse:+.4f}"
        targets.append(
            (
                f"(a) {update} RMSE (relational)",
                f"≤ {TARGET_RMSE:.3f}",
                f"{r.rmse:.4f}",
                r.rmse <= TARGET_RMSE,
            )
        )
        targets.append(
            (
                f"(a) {update} s/sweep rel / flat",
                f"≤ {TARGET_VS_FLAT}×",
                f"{vs_flat:.3f}×",
                vs_flat <= TARGET_VS_FLAT,
            )
        )
        if my is not None:
            vs_my = r.per_sweep / my.per_sweep
            line += f"; fmlearn / myFM relational {vs_my:.2f}×"
            targets.append(
                (
                    f"(a) {update} s/sweep rel / myFM rel",
                    f"≤ {TARGET_VS_MYFM}×",
                    f"{vs_my:.2f}×",
                    vs_my <= TARGET_VS_MYFM,
                )
            )
        print(line)
    my_flat = runs.get(("flat", "myFM", "scalar"))
    if my is not None and my_flat is not None:
        print(f"  myFM: relational / flat {my.per_sweep / my_flat.per_sweep:.3f}×")


def part_b(args, myfm, sweeps: int, kept: int) -> None:
    p = timesvdpp_flipped(args.data_dir)
    print(f"\n{p.describe()}")
    warm_up(p)
    print(f"load average before (b): {load_avg()}")
    runs = []
    for rank in args.b_ranks:
        kw = {"rank": rank, "sweeps": sweeps, "kept": kept, "repeats": 1, "part": "b"}
        runs.append(fit_fmlearn(p, "relational", relational=True, update="scalar", **kw))
        if args.flat_b:
            runs.append(fit_fmlearn(p, "flat", relational=False, update="scalar", **kw))
        if myfm is not None:
            runs.append(fit_myfm(myfm, p, "relational", relational=True, **kw))
    print(f"load average after (b): {load_avg()}")
    print(
        f"\n(b) ML-100K timeSVD++ flipped (day | user, user's items | item, item's users), "
        f"MCMC, {sweeps} sweeps ({kept} kept), 1 thread"
    )
    _table(HEAD, _rows(runs))
    print(
        "  myFM's docs: RMSE 0.889 on GroupLens fold u1 (80/20 split, k=10, 300 sweeps, "
        "no groups); this is the 90/10 split of ../shared/data/ml-100k"
    )


# --------------------------------------------------------------------------- (c)


def generate(n_ratings: int, n_users: int = 70_000, n_items: int = 10_000, seed: int = 0):
    """(users, items, ratings): distinct (user, item) pairs, skewed, from a planted model."""
    rng = np.random.default_rng(seed)
    item_p = 1.0 / (np.arange(n_items) + 50.0)  # Zipf-like: top item ≈ 0.4 % of ratings
    item_p = rng.permutation(item_p / item_p.sum())
    user_p = rng.lognormal(0.0, 1.0, n_users)
    user_p /= user_p.sum()
    keys = np.empty(0, np.int64)
    while keys.size < n_ratings:  # draw, drop repeated pairs (sort + mask), top up
        extra = int((n_ratings - keys.size) * 1.15) + 1000
        new = rng.choice(n_users, extra, p=user_p) * np.int64(n_items)
        new += rng.choice(n_items, extra, p=item_p)
        keys = np.sort(np.concatenate([keys, new]))
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    keys = keys[rng.permutation(keys.size)[:n_ratings]]  # random order, n_ratings of them
    users, items = keys // n_items, keys % n_items
    rank = 8
    P = rng.normal(0, 0.5, (n_users, rank))
    Qf = rng.normal(0, 0.5, (n_items, rank))
    score = 3.5 + rng.normal(0, 0.3, n_users)[users] + rng.normal(0, 0.4, n_items)[items]
    score += np.einsum("nf,nf->n", P[users], Qf[items]) + rng.normal(0, 0.8, n_ratings)
    return users, items, np.clip(np.round(score * 2) / 2, 0.5, 5.0)


def generated_problem(n_ratings: int, blocks: bool):
    users, items, y = generate(n_ratings)
    n_users, n_items = 70_000, 10_000
    n = y.size
    cols = np.column_stack([users, n_users + items]).ravel()
    X = sp.csr_matrix(
        (np.ones(2 * n), cols, np.arange(0, 2 * n + 1, 2)), shape=(n, n_users + n_items)
    )
    groups = np.repeat([0, 1], [n_users, n_items])
    if not blocks:
        return X, y, groups, []
    rated = sp.csr_matrix((np.ones(n), (users, items)), shape=(n_users, n_items))
    user_items = _row_normalise(rated, "l2")
    item_users = _row_normalise(rated.T.tocsr(), "l2")
    del rated
    return X, y, groups, [RelationBlock(users, user_items), RelationBlock(items, item_users)]


def _rss_gb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def child_c(spec: dict) -> dict:
    """One case of part (c), in its own process: its VmHWM is this case's peak."""
    # compile / load the kernels on a tiny problem first
    X, y, groups, rel = generated_problem(20_000, spec["blocks"])
    FMRegressor(spec["rank"], solver="mcmc", max_iter=2, random_state=0).fit(
        X, y, groups=groups, relations=rel
    )
    del X, y, rel
    start = time.perf_counter()
    X, y, groups, rel = generated_problem(spec["ratings"], spec["blocks"])
    gen_s = time.perf_counter() - start
    data_gb = (
        X.data.nbytes
        + X.indices.nbytes
        + X.indptr.nbytes
        + sum(
            b.X.data.nbytes + b.X.indices.nbytes + b.X.indptr.nbytes + b.index.nbytes for b in rel
        )
    ) / 2**30
    rss_before = _rss_gb()
    model = FMRegressor(spec["rank"], solver="mcmc", max_iter=spec["sweeps"], random_state=0)
    start = time.perf_counter()
    model.fit(X, y, groups=groups, relations=rel)
    fit_s = time.perf_counter() - start
    seconds = [float(s) for s in model.history_.seconds]
    return {
        "gen_s": gen_s,
        "fit_s": fit_s,
        "seconds": seconds,
        "data_gb": data_gb,
        "rss_before_gb": rss_before,
        "peak_gb": peak_rss_mib() / 1024,
        "train_rmse": float(np.sqrt(2 * model.history_.train_loss[-1])),
        "block_nnz": int(sum(b.X.nnz for b in rel)),
    }


def part_c(args, targets: list[Target]) -> None:
    print(
        f"\n(c) generated ratings: {args.ratings:,} ratings, 70,000 users × 10,000 items, "
        f"MCMC k={args.c_rank}, {args.c_sweeps} sweeps, 1 thread; one subprocess per case"
    )
    print(f"load average before (c): {load_avg()}")
    rows, results = [], {}
    for case, blocks in (("ids only", False), ("ids + 2 blocks", True)):
        spec = {
            "ratings": args.ratings,
            "blocks": blocks,
            "rank": args.c_rank,
            "sweeps": args.c_sweeps,
        }
        log(f"  c {case}: {spec}")
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--child-c", json.dumps(spec)],
                capture_output=True,
                text=True,
                timeout=args.c_timeout,
            )
        except subprocess.TimeoutExpired:
            print(f"  {case}: did not finish within {args.c_timeout} s")
            continue
        if done.returncode != 0:
            tail = (done.stderr.strip() or "no output").splitlines()[-3:]
            print(f"  {case}: failed (exit status {done.returncode}): {' | '.join(tail)}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        results[case] = r
        later = r["seconds"][1:] or r["seconds"]
        setup = r["fit_s"] - sum(r["seconds"])
        rows.append(
            [
                case,
                "fmlearn",
                f"{r['block_nnz']:,}",
                f"{r['gen_s']:.1f}s",
                f"{setup:.1f}s",
                f"{r['seconds'][0]:.2f}s",
                f"{np.mean(later):.2f}s",
                f"{min(later):.2f}s",
                f"{r['data_gb']:.2f}",
                f"{r['rss_before_gb']:.2f}",
                f"{r['peak_gb']:.2f}",
                f"{r['train_rmse']:.3f}",
            ]
        )
        log(f"    {r}")
    print(f"load average after (c): {load_avg()}")
    if not rows:
        return
    _table(
        [
            "case",
            "library",
            "block nnz",
            "generate",
            "setup",
            "sweep 1",
            "sweep",
            "best",
            "data GB",
            "RSS fit GB",
            "peak GB",
            "train RMSE",
        ],
        rows,
    )
    print(
        "  setup = fit wall time − Σ sweeps (validation, block arrays, caches); sweep = mean\n"
        "  of the sweeps after the first, best = their min; data GB = X and the blocks'\n"
        "  arrays; RSS fit GB = resident set just before fit; peak GB = VmHWM of the\n"
        "  case's process (generation, blocks and fit)."
    )
    r = results.get("ids + 2 blocks")
    if r is None:
        return
    sweep = float(np.mean(r["seconds"][1:] or r["seconds"]))
    targets.append(
        ("(c) one sweep", f"≤ {TARGET_SWEEP_S:.0f} s", f"{sweep:.2f} s", sweep <= TARGET_SWEEP_S)
    )
    targets.append(
        (
            "(c) peak RSS",
            f"≤ {TARGET_PEAK_GB:.0f} GB",
            f"{r['peak_gb']:.2f} GB",
            r["peak_gb"] <= TARGET_PEAK_GB,
        )
    )
    per_row_k = sweep / (args.ratings * args.c_rank)
    print(
        f"\nProjection to ML-10M ({ML10M_TRAIN_ROWS:,} training ratings of a 90/10 split), "
        f"linear in rows and rank from {sweep:.2f} s per sweep at k={args.c_rank}:"
    )
    for who, k, n_sweeps in PROTOCOLS:
        one = per_row_k * ML10M_TRAIN_ROWS * k
        cache_gb = ML10M_TRAIN_ROWS * k * 8 / 2**30
        print(
            f"  {who}: k={k}, {n_sweeps} sweeps: {one:.0f} s per sweep, "
            f"{one * n_sweeps / 3600:.1f} h in all; the per-row cache Q alone is "
            f"{ML10M_TRAIN_ROWS:,} × {k} × 8 B = {cache_gb:.1f} GB"
        )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_ML100K, help="ML-100K folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="30 sweeps (25 kept), 1 M generated ratings, one fit per case",
    )
    parser.add_argument("--skip-myfm", action="store_true", help="run fmlearn only")
    parser.add_argument("--parts", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="fits per (a) case, the best timed (default 2; --quick 1)",
    )
    parser.add_argument(
        "--myfm-flat",
        action="store_true",
        help="(a): also myFM on the flat design (~4 min at 200 sweeps)",
    )
    parser.add_argument("--b-ranks", default=None, help="(b) ranks (default 10,32; --quick 10)")
    parser.add_argument("--flat-b", action="store_true", help="(b): also fmlearn flat")
    parser.add_argument(
        "--ratings",
        type=int,
        default=None,
        help="(c) generated ratings (default 10,000,000; --quick 1,000,000)",
    )
    parser.add_argument("--c-rank", type=int, default=32)
    parser.add_argument("--c-sweeps", type=int, default=4)
    parser.add_argument("--c-timeout", type=int, default=1200, help="(c) seconds per case")
    parser.add_argument("--child-c", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_c:
        print(json.dumps(child_c(json.loads(args.child_c))))
        return 0
    parts = {s.strip() for s in args.parts.split(",") if s.strip()}
    if parts - {"a", "b", "c"}:
        parser.error(f"--parts: unknown part(s) {sorted(parts - {'a', 'b', 'c'})}")
    sweeps, kept = (30, 25) if args.quick else (200, 195)
    args.repeats = args.repeats or (1 if args.quick else 2)
    args.b_ranks = [int(k) for k in (args.b_ranks or ("10" if args.quick else "10,32")).split(",")]
    args.ratings = args.ratings or (1_000_000 if args.quick else 10_000_000)

    myfm = None if args.skip_myfm else _quiet_myfm()
    if myfm is None and not args.skip_myfm:
        log("myfm is not installed (pip install myfm): running fmlearn only")
    version = getattr(myfm, "__version__", "?") if myfm is not None else "not run"
    print(f"{machine_line()} | myfm {version}")
    targets: list[Target] = []
    ml100k = parts & {"a", "b"}
    if ml100k and not (args.data_dir / "train.tsv").exists():
        print(
            f"skipped part(s) {','.join(sorted(ml100k))}: {args.data_dir} is absent "
            "(give --data-dir)"
        )
        parts -= ml100k
    if "a" in parts:
        part_a(args, myfm, sweeps, kept, targets)
    if "b" in parts:
        part_b(args, myfm, sweeps, kept)
    if "c" in parts:
        part_c(args, targets)
    if targets:
        print("\nTargets (issue 19)")
        for what, target, value, ok in targets:
            print(f"  {what:<36} {target:>8}  {value:>9}  {'met' if ok else 'NOT met'}")
    if args.quick:
        print("\n--quick: fewer sweeps and ratings than the issue's protocol; indicative only.")
    print(f"\nload avg at the end: {load_avg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
