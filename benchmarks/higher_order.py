"""Higher-order FMs (issue 20, item 3): accuracy, cost per row and defaults of degree 3…5.

``FMRegressor(degree=d)`` / ``FMClassifier(degree=d)`` with d > 2 train the higher-order
FM of Blondel et al. (2016) with separate factors per order (``V_`` of shape
(n_features, d − 1, k)); d = 2 is the classic FM (kernels/sgd.py). Four parts:

Part 1 — planted degree-3 data, generated here (``planted_*``): ŷ = w0 + Σ w_i x_i + the
order-2 and order-3 ANOVA terms of a planted :class:`fmlearn.models.HOFM`, plus N(0, 0.1²)
noise, so an FM (degree 2) cannot express the order-3 part and the best RMSE is ≈ 0.1.

* ``small``: 5 one-hot fields × 6 values, planted rank 2, w ~ N(0, 0.3²), factors of both
  orders ~ N(0, 0.6²): the generator of tests/test_higher_order.py, with 100,000 rows
  (80,000 train, 20,000 test);
* ``ctr``: closer to click data: 10 one-hot fields of 3 … 30,000 values (44,481 columns),
  values drawn from a Zipf law (exponent 1.1, so most ids are rare), planted rank 4, each
  order's factors scaled so that the linear, order-2 and order-3 parts have standard
  deviations ≈ 0.5, 1 and 1 (σ_m = (s_m² / (k · C(10, m)))^(1/2m)); 120,000 train rows,
  30,000 test rows.

Models: FM (degree 2) and HOFM degree 3 and 4, k = 4 (small) / 8 (ctr), AdaGrad. Each
takes the best point of the grid ``PLANTED_GRID`` (learning_rate × reg_factors ×
init_std), chosen on a validation split: the first 10 % of the training rows are held out,
every point fits the other 90 % with ``early_stopping=True`` watching that split
(``eval_set``; n_iter_no_change 5, best epoch restored, max_iter 100), the point with the
best validation RMSE is kept and its test RMSE reported. ``fit s`` is the wall time of
that point's fit (early stopping included), ``ep`` its epochs. Target: the degree-3 HOFM's
test RMSE ≤ 0.7 × the FM's, on both sets.

Part 2 — cost per row as the non-zeros per row grow 8, 16, 32, 64, 128 (k = 16, 16,384
columns, values N(0, 1/nnz); ``complexity.rows_with_nnz``), for d = 2 … 5:

* prediction: the serial kernels on the CSR triplet, ``kernels.predict.predict_csr`` (the
  FM, d = 2 ``fm``) and ``kernels.anova.predict_anova_csr`` (the ANOVA kernel, every d,
  including d = 2); ``--predict-rows`` rows (20,000);
* one AdaGrad epoch of ``FMRegressor(n_factors=16, degree=d, tol=None, shuffle=False)``
  on ``--epoch-rows`` rows (10,000), timed per epoch by a :class:`fmlearn.callbacks.Timer`
  (first epoch dropped: the kernel's pass plus the epoch's bookkeeping, as in
  complexity.py). For d = 2 the estimator runs the FM kernel (``fm``); the ANOVA kernel at
  d = 2 is forced through a subclass (:class:`_AnovaDegree2`), for the growth in d.

Timing as in complexity.py: a warm-up call, then the best of ``--repeats`` (5) repeats of
at least ``--min-time`` (0.1) seconds; the reference machine is a shared 2-core VM, so
single cells move by ±20 % between runs. Slope = ``np.polyfit(log nnz, log time, 1)``;
target ≤ 1.2 for every d. Growth in d: cost(d) ÷ cost(ANOVA kernel at d = 2) at each nnz,
against ``d − 1`` (linear in d, the issue's wording) and ``Σ_{m=2}^{d} m / 2`` (= 1, 2.5,
4.5, 7: the multiply-adds of the kernel with separate factors per order, O(d²),
kernels/anova.py), also at nnz 128 with k = 64 (a quarter of the rows), where the factor
loops dominate; summarised as the exponent of (d − 1) (log-log slope over d = 2 … 5: 1 is
linear, 1.40 the multiply-add count). "Linear in d" counts as met where that exponent is
≤ 1.2.

Part 3 — Frappe (``../shared/data/frappe``; only the NFM validation and test splits
exist, so as in ctr_fields.py / mcmc_ml100k.py the *validation* file is the training set
and the *test* file the test set; the first is split again 90/10 at random (seed 0) for
the grid). FMClassifier k = 8, FM vs degree 3, grid ``FRAPPE_GRID``, chosen on validation
logloss (early stopping watches it) and reported as test AUC and logloss. BARS
(Frappe_x1, 70/20/10 split of all 288,609 rows, tuned embeddings) reports HOFM 0.9742 AUC
against FM 0.9671; here the training set is 51,950 rows (a quarter of BARS'), so the
numbers are not comparable, only the sign of the difference.

Part 4 — defaults. What a user gets who sets only ``degree`` (and ``random_state``):
``FMRegressor(degree=d)`` / ``FMClassifier(degree=d)`` fitted on the whole training set
with every other parameter at its default (n_factors 8, AdaGrad lr 0.1, reg_factors 0.1
regression / 0.03 classification, init_std "auto", max_iter 100, tol 1e-4 on the training
loss, no early stopping), for d = 2 and 3, and for d = 3 under candidate defaults: (a)
reg_factors ÷ 10, (b) reg_factors 0, (c) init_std 0.1 or 0.3, (d) combinations, and two
per-order initialisations passed through ``fit(init_params=…)`` (the library has one
init_std for every order): order 2 drawn as "auto" does, order m ≥ 3 with σ_m such that
its initial term has standard deviation s, k · P_m · σ_m^(2m) = s², P_m the mean over the
training rows of e_m(x_1², …, x_n²) (= C(nnz, m) for one-hot rows; "auto" is the m = 2
case with s = 0.01): (e) s = 0.01 (every order starts as small as auto's pairwise term)
with reg ÷ 10, (f) s = 0.3 with the default reg and with reg 0.01. Data: the two planted
sets, the same sets as classification (``*-cls``: label y > the training median,
FMClassifier), and Frappe, there also with ``early_stopping=True`` (ES: 10 % of the
training rows held out, best epoch restored). Checks of each candidate against the
default FM (d = 2): planted regression RMSE ≤ 0.7 ×, planted classification AUC ≥ + 0.005,
Frappe (no early stopping) AUC ≥ and logloss ≤ + 0.005. A table gives the initial spread
of each rule on 5-, 10- and 39-field one-hot rows (a fixed init_std does not scale with
the row length).

Run from the repository root (2 cores: ~6 min; --quick < 30 s)::

    python benchmarks/higher_order.py
    python benchmarks/higher_order.py --quick
    python benchmarks/higher_order.py --parts planted,cost
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from math import comb
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import log, machine_line
from complexity import best_time, csr_triplet, rows_with_nnz, slope
from sklearn.metrics import log_loss, roc_auc_score

from fmlearn import FMClassifier, FMRegressor
from fmlearn._base import auto_init_std
from fmlearn.callbacks import Timer
from fmlearn.kernels.anova import predict_anova_csr
from fmlearn.kernels.predict import predict_csr
from fmlearn.models import HOFM, HOFMParams

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PARTS = ("planted", "cost", "frappe", "defaults")
NOISE = 0.1
CTR_CARDS = (3, 8, 20, 50, 100, 300, 1_000, 3_000, 10_000, 30_000)
CTR_SCALES = {1: 0.5, 2: 1.0, 3: 1.0}  # std of the linear, order-2, order-3 parts
PLANTED_SETS = {  # name: (train rows, test rows, fitted k) at full size / --quick
    "small": ((80_000, 20_000, 4), (16_000, 4_000, 4)),
    "ctr": ((120_000, 30_000, 8), (24_000, 6_000, 8)),
}
PLANTED_GRID = {
    "learning_rate": (0.1, 0.3),
    "reg_factors": (0.0, 0.01, 0.1),
    "init_std": ("auto", 0.1, 0.3),
}
QUICK_PLANTED_GRID = {"learning_rate": (0.3,), "reg_factors": (0.0, 0.1), "init_std": ("auto",)}
FRAPPE_GRID = {
    "learning_rate": (0.05, 0.1, 0.2),
    "reg_factors": (0.001, 0.01, 0.03),
    "init_std": ("auto", 0.1),
}
QUICK_FRAPPE_GRID = {"learning_rate": (0.1,), "reg_factors": (0.01, 0.03), "init_std": ("auto",)}
FRAPPE_K = 8
BARS = {2: 0.9671, 3: 0.9742}
TARGET_RATIO = 0.7
TARGET_SLOPE = 1.2
COST_NNZ = (8, 16, 32, 64, 128)
COST_K = 16
COST_FEATURES = 16_384
DEGREES = (2, 3, 4, 5)
F_SPREAD = 0.3  # candidate (f): the initial order-m ≥ 3 term's standard deviation
WIDE_K = 64  # the growth in d once the factor loops dominate


# --------------------------------------------------------------------------- data
def one_hot(cols: np.ndarray, n_features: int) -> sp.csr_matrix:
    n, F = cols.shape
    indptr = np.arange(0, n * F + 1, F, dtype=np.int64)
    return sp.csr_matrix((np.ones(n * F), cols.ravel(), indptr), shape=(n, n_features))


def planted_small(n: int, rng) -> tuple:
    """tests/test_higher_order.py's planted degree-3 model (5 fields × 6 values, rank 2)."""
    F, per, k = 5, 6, 2
    X = one_hot(rng.integers(0, per, size=(n, F)) + np.arange(F) * per, F * per)
    truth = HOFMParams(
        np.zeros(1), rng.normal(0, 0.3, F * per), rng.normal(0, 0.6, (F * per, 2, k))
    )
    y = HOFM(k, degree=3).decision(X, truth) + rng.normal(0, NOISE, n)
    return X, y


def planted_ctr(n: int, rng) -> tuple:
    """10 Zipf-distributed one-hot fields of 3 … 30,000 values, planted rank 4."""
    cards = np.array(CTR_CARDS)
    F, k, n_features = len(cards), 4, int(cards.sum())
    offsets = np.concatenate([[0], np.cumsum(cards)[:-1]])
    cols = np.empty((n, F), dtype=np.int64)
    for f, c in enumerate(cards):
        p = 1.0 / np.arange(1, c + 1) ** 1.1
        cols[:, f] = offsets[f] + rng.choice(c, size=n, p=p / p.sum())
    X = one_hot(cols, n_features)
    sigma = {m: (CTR_SCALES[m] ** 2 / (k * comb(F, m))) ** (1 / (2 * m)) for m in (2, 3)}
    V = np.stack([rng.normal(0, sigma[m], (n_features, k)) for m in (2, 3)], axis=1)
    w = rng.normal(0, CTR_SCALES[1] / math.sqrt(F), n_features)
    y = HOFM(k, degree=3).decision(X, HOFMParams(np.zeros(1), w, V)) + rng.normal(0, NOISE, n)
    return X, y


def planted_set(name: str, quick: bool) -> dict:
    n_train, n_test, k = PLANTED_SETS[name][1 if quick else 0]
    rng = np.random.default_rng({"small": 0, "ctr": 1}[name])
    X, y = (planted_small if name == "small" else planted_ctr)(n_train + n_test, rng)
    n_val = n_train // 10  # rows are i.i.d.: the first 10 % of train are the validation split
    return dict(name=name, k=k, X=X[:n_train], y=y[:n_train], Xs=X[n_val:n_train],
                ys=y[n_val:n_train], Xv=X[:n_val], yv=y[:n_val], Xt=X[n_train:],
                yt=y[n_train:], regression=True)  # fmt: skip


def classes_of(data: dict) -> dict:
    """The planted set as binary classification: label = y above the training median."""
    out = dict(data, name=data["name"] + "-cls", regression=False)
    cut = float(np.median(data["y"]))
    for key in ("y", "ys", "yv", "yt"):
        out[key] = (data[key] > cut).astype(int)
    return out


def frappe_set(folder: Path, max_rows: int | None = None) -> dict | None:
    from ctr_fields import load_frappe

    if not (folder / "frappe.validation.libfm").exists():
        return None
    X, y, Xt, yt, _ = load_frappe(folder)
    if max_rows is not None:  # --quick
        X, y = X[:max_rows], y[:max_rows]
    perm = np.random.default_rng(0).permutation(X.shape[0])
    val, sub = perm[: X.shape[0] // 10], perm[X.shape[0] // 10 :]
    return dict(name="frappe", k=FRAPPE_K, X=X, y=y, Xs=X[sub], ys=y[sub], Xv=X[val],
                yv=y[val], Xt=Xt, yt=yt, regression=False)  # fmt: skip


# --------------------------------------------------------------------------- fitting
def scores(model, X, y, regression: bool) -> dict:
    if regression:
        return {"rmse": float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))}
    p = model.predict_proba(X)[:, 1]
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, p))}


def estimator(data: dict, **params):
    cls = FMRegressor if data["regression"] else FMClassifier
    return cls(random_state=0, n_jobs=1, **params)


def warm_up(data: dict, degrees) -> None:
    """Compile / load every kernel the timed fits use (numba caches to disk)."""
    for d in degrees:
        m = estimator(data, n_factors=data["k"], degree=d, max_iter=2, early_stopping=True)
        m.fit(data["Xs"][:2000], data["ys"][:2000], eval_set=[(data["Xv"][:500], data["yv"][:500])])
        scores(m, data["Xt"][:500], data["yt"][:500], data["regression"])


def grid_points(grid: dict) -> list[dict]:
    return [dict(learning_rate=lr, reg_factors=r, init_std=s)
            for lr in grid["learning_rate"] for r in grid["reg_factors"]
            for s in grid["init_std"]]  # fmt: skip


def grid_search(data: dict, degree: int, grid: dict, max_iter: int) -> dict:
    """Every grid point on the 90 % split with early stopping on the 10 %; the best on
    validation (RMSE, or logloss for classes), scored on the test set."""
    key = "rmse" if data["regression"] else "logloss"
    best = None
    for point in grid_points(grid):
        m = estimator(data, n_factors=data["k"], degree=degree, max_iter=max_iter,
                      early_stopping=True, **point)  # fmt: skip
        t = time.perf_counter()
        m.fit(data["Xs"], data["ys"], eval_set=[(data["Xv"], data["yv"])])
        seconds = time.perf_counter() - t
        val = scores(m, data["Xv"], data["yv"], data["regression"])
        log(f"    d={degree} {point}: val {key} {val[key]:.4f}, {m.n_iter_} epochs, "
            f"{seconds:.1f} s")  # fmt: skip
        if best is None or val[key] < best["val"][key]:
            best = dict(point=point, val=val, model=m, seconds=seconds, epochs=m.n_iter_)
    best["test"] = scores(best.pop("model"), data["Xt"], data["yt"], data["regression"])
    best["degree"] = degree
    return best


def point_text(point: dict) -> str:
    s = point["init_std"]
    return f"lr {point['learning_rate']:g} / reg {point['reg_factors']:g} / init {s}"


# --------------------------------------------------------------------------- part 1
def part_planted(args) -> dict:
    grid = QUICK_PLANTED_GRID if args.quick else PLANTED_GRID
    max_iter = 30 if args.quick else 100
    out = {}
    for name in PLANTED_SETS:
        data = planted_set(name, args.quick)
        log(f"planted {name}: {data['X'].shape[0]:,} train rows, {data['Xt'].shape[0]:,} test, "
            f"{data['X'].shape[1]:,} columns; grid of {len(grid_points(grid))} points")  # fmt: skip
        warm_up(data, (2, 3, 4))
        out[name] = [grid_search(data, d, grid, max_iter) for d in (2, 3, 4)]
    print(f"\nPart 1 — planted degree-3 data (noise {NOISE}: best RMSE ≈ {NOISE}), AdaGrad, "
          f"grid {len(grid_points(grid))} points chosen on validation RMSE, "
          f"max_iter {max_iter}")  # fmt: skip
    print(f"{'set':6} {'model':9} {'k':>2} {'val RMSE':>9} {'test RMSE':>10} {'÷ FM':>6} "
          f"{'fit s':>6} {'ep':>4}  chosen point")  # fmt: skip
    for name, rows in out.items():
        fm = rows[0]["test"]["rmse"]
        k = PLANTED_SETS[name][1 if args.quick else 0][2]
        for r in rows:
            label = "FM d=2" if r["degree"] == 2 else f"HOFM d={r['degree']}"
            print(f"{name:6} {label:9} {k:>2} {r['val']['rmse']:>9.4f} {r['test']['rmse']:>10.4f} "
                  f"{r['test']['rmse'] / fm:>6.2f} {r['seconds']:>6.1f} {r['epochs']:>4}  "
                  f"{point_text(r['point'])}")  # fmt: skip
    return out


# --------------------------------------------------------------------------- part 2
class _AnovaDegree2(FMRegressor):
    """FMRegressor whose degree-2 model is the ANOVA kernel's HOFM (timing only: the
    fitted V_ is 3-d, which the degree-2 prediction path does not read)."""

    def _make_model(self, fitted: bool = False, n_factors: int | None = None):
        model = super()._make_model(fitted, n_factors)
        if not fitted and self.degree == 2:
            return HOFM(model.n_factors, model.init_std, model.dtype, degree=2)
        return model


def predict_cost(nnz: int, rows: int, k: int, args, rng, fm: bool = True) -> dict:
    """Seconds per row of the serial prediction kernels: ``fm`` and ANOVA d = 2 … 5."""
    X = rows_with_nnz(rows, nnz, COST_FEATURES, rng)
    indptr, indices, data = csr_triplet(X)
    w = rng.normal(0, 0.1, COST_FEATURES)
    out = np.empty(rows)
    res = {}
    if fm:
        V2 = rng.normal(0, 0.1, (COST_FEATURES, k))
        t, _ = best_time(lambda: predict_csr(indptr, indices, data, 0.0, w, V2, out),
                         args.min_time, args.repeats)  # fmt: skip
        res["fm"] = t / rows
    for d in DEGREES:
        V = rng.normal(0, 0.1, (COST_FEATURES, d - 1, k))
        t, _ = best_time(lambda V=V: predict_anova_csr(indptr, indices, data, 0.0, w, V, out),
                         args.min_time, args.repeats)  # fmt: skip
        res[d] = t / rows
    return res


def epoch_cost(nnz: int, rows: int, k: int, args, rng, fm: bool = True) -> dict:
    """Seconds per row of one AdaGrad epoch of fit: ``fm`` and ANOVA d = 2 … 5."""
    X = rows_with_nnz(rows, nnz, COST_FEATURES, rng)
    y = rng.normal(0, 0.1, rows)
    runs = [(d, _AnovaDegree2 if d == 2 else FMRegressor, d) for d in DEGREES]
    if fm:
        runs.insert(0, ("fm", FMRegressor, 2))
    res = {}
    for label, cls, d in runs:

        def fit(n_epochs, cls=cls, d=d):
            timer = Timer()
            cls(n_factors=k, degree=d, max_iter=n_epochs, tol=None, shuffle=False,
                init_std=0.01, random_state=0, n_jobs=1).fit(X, y, callbacks=[timer])  # fmt: skip
            return timer

        first = fit(1).wall[0]  # warm-up
        number = max(1, math.ceil(args.min_time / max(first, 1e-9)))
        wall = np.array(fit(1 + args.repeats * number).wall[1:])
        res[label] = float(wall.reshape(args.repeats, number).mean(axis=1).min()) / rows
    return res


def d_exponent(ratios) -> float:
    """Slope of log(cost(d) / cost(2)) against log(d − 1), d = 2 … 5: 1 = linear in d."""
    return slope(np.array(DEGREES) - 1, np.asarray(ratios))


OPS_EXPONENT = d_exponent([sum(range(2, d + 1)) / 2 for d in DEGREES])  # ≈ 1.40


def part_cost(args) -> dict:
    rng = np.random.default_rng(0)
    pred, epoch = {}, {}
    for nnz in COST_NNZ:
        pred[nnz] = predict_cost(nnz, args.predict_rows, COST_K, args, rng)
        epoch[nnz] = epoch_cost(nnz, args.epoch_rows, COST_K, args, rng)
        cells = [", ".join(f"{k}: {v * 1e6:.2f}" for k, v in t[nnz].items()) for t in (pred, epoch)]
        log(f"  nnz={nnz}: predict µs/row {cells[0]} | epoch µs/row {cells[1]}")
    big_nnz = COST_NNZ[-1]
    wide = {
        "predict": predict_cost(big_nnz, args.predict_rows // 4, WIDE_K, args, rng, fm=False),
        "epoch": epoch_cost(big_nnz, args.epoch_rows // 4, WIDE_K, args, rng, fm=False),
    }
    nnz = np.array(COST_NNZ)
    labels = ["fm", *DEGREES]
    name = {"fm": "FM kernel d=2", 2: "ANOVA d=2", 3: "ANOVA d=3", 4: "ANOVA d=4", 5: "ANOVA d=5"}
    slopes = {}
    print(f"\nPart 2 — cost per row, k = {COST_K}, {COST_FEATURES:,} columns, best of "
          f"{args.repeats}: prediction on {args.predict_rows:,} rows (serial kernel), one AdaGrad "
          f"epoch of fit on {args.epoch_rows:,} rows (Timer)")  # fmt: skip
    for what, table in (("predict", pred), ("epoch", epoch)):
        print(f"\n{what} µs/row")
        print(f"{'nnz/row':>8} " + " ".join(f"{name[lab]:>14}" for lab in labels))
        for n in COST_NNZ:
            print(f"{n:>8} " + " ".join(f"{table[n][lab] * 1e6:>14.3f}" for lab in labels))
        s_all = [slope(nnz, np.array([table[n][lab] for n in COST_NNZ])) for lab in labels]
        big = nnz >= 32
        s_big = [slope(nnz[big], np.array([table[n][lab] for n in nnz[big]])) for lab in labels]
        print(f"{'slope':>8} " + " ".join(f"{s:>14.2f}" for s in s_all) + "   (nnz 8–128)")
        print(f"{'slope':>8} " + " ".join(f"{s:>14.2f}" for s in s_big) + "   (nnz 32–128)")
        slopes[what] = dict(zip(labels, s_all, strict=True))
    print(f"\ngrowth in d: cost(d) ÷ cost(ANOVA d=2) at each nnz (k = {COST_K}), and at nnz "
          f"{big_nnz} with k = {WIDE_K}; models: d − 1 (linear in d) and Σ_{{m=2..d}} m / 2 "
          f"(the kernel's multiply-adds, O(d²))")  # fmt: skip
    print(f"{'':7} {'d−1':>4} {'Σm/2':>5} " + " ".join(f"{'@' + str(n):>6}" for n in COST_NNZ)
          + f" {'k=' + str(WIDE_K):>6}")  # fmt: skip
    growth = {}
    for what, table in (("predict", pred), ("epoch", epoch)):
        per_nnz = {n: [table[n][d] / table[n][2] for d in DEGREES] for n in COST_NNZ}
        wide_r = [wide[what][d] / wide[what][2] for d in DEGREES]
        for j, d in enumerate(DEGREES):
            print(f"{what + ' d=' + str(d):<13} {d - 1:>4} {sum(range(2, d + 1)) / 2:>5.1f} "
                  + " ".join(f"{per_nnz[n][j]:>6.2f}" for n in COST_NNZ)
                  + f" {wide_r[j]:>6.2f}")  # fmt: skip
        fm5 = table[big_nnz][5] / table[big_nnz]["fm"]
        growth[what] = {
            "anova": d_exponent(per_nnz[big_nnz]), "wide": d_exponent(wide_r),
            "ratio5": per_nnz[big_nnz][-1], "wide5": wide_r[-1], "fm5": fm5,
        }  # fmt: skip
        print(f"{what:<13} exponent of d − 1 (1 = linear, {OPS_EXPONENT:.2f} = Σm/2): "
              f"{', '.join(f'{d_exponent(per_nnz[n]):.2f}' for n in COST_NNZ)} at nnz "
              f"{', '.join(map(str, COST_NNZ))}; {growth[what]['wide']:.2f} at k = {WIDE_K} "
              f"(nnz {big_nnz}); d=5 ÷ the FM kernel (what degree=2 runs) at nnz {big_nnz}, "
              f"k = {COST_K}: {fm5:.1f}×")  # fmt: skip
    fm_vs = [epoch[n][2] / epoch[n]["fm"] for n in COST_NNZ]
    print("ANOVA d=2 ÷ FM kernel, epoch: " + ", ".join(f"{r:.2f}" for r in fm_vs)
          + f" (nnz {COST_NNZ[0]}–{COST_NNZ[-1]})")  # fmt: skip
    return {"slopes": slopes, "growth": growth}


# --------------------------------------------------------------------------- part 3
def part_frappe(args) -> dict | None:
    data = frappe_set(args.data_dir / "frappe")
    if data is None:
        log(f"frappe: {args.data_dir / 'frappe'} not found, part 3 skipped")
        return None
    grid = QUICK_FRAPPE_GRID if args.quick else FRAPPE_GRID
    max_iter = 30 if args.quick else 100
    log(f"frappe: {data['Xs'].shape[0]:,} + {data['Xv'].shape[0]:,} validation rows, "
        f"{data['Xt'].shape[0]:,} test; grid of {len(grid_points(grid))} points")  # fmt: skip
    warm_up(data, (2, 3))
    rows = [grid_search(data, d, grid, max_iter) for d in (2, 3)]
    print(f"\nPart 3 — Frappe (train = NFM validation file split 90/10 for the grid, test = NFM "
          f"test file), FMClassifier k = {FRAPPE_K}, AdaGrad, grid {len(grid_points(grid))} "
          f"points chosen on validation logloss, max_iter {max_iter}")  # fmt: skip
    print(f"{'model':9} {'val AUC':>8} {'val LL':>7} {'test AUC':>9} {'test LL':>8} {'fit s':>6} "
          f"{'ep':>4} {'BARS AUC':>9}  chosen point")  # fmt: skip
    for r in rows:
        label = "FM d=2" if r["degree"] == 2 else f"HOFM d={r['degree']}"
        print(f"{label:9} {r['val']['auc']:>8.4f} {r['val']['logloss']:>7.4f} "
              f"{r['test']['auc']:>9.4f} {r['test']['logloss']:>8.4f} {r['seconds']:>6.1f} "
              f"{r['epochs']:>4} {BARS[r['degree']]:>9.4f}  {point_text(r['point'])}")  # fmt: skip
    print("BARS: Frappe_x1, 70/20/10 split of all 288,609 rows (≈ 202k train rows): not this "
          "split; compare the differences, not the levels")  # fmt: skip
    return {"rows": rows}


# --------------------------------------------------------------------------- part 4
def mean_esp(X: sp.csr_matrix, m: int) -> float:
    """Mean over the rows of e_m(x_1², …, x_n²) (C(nnz, m) for one-hot rows)."""
    X2 = X.multiply(X).tocsr()
    V = np.zeros((X.shape[1], m - 1, 1))
    V[:, m - 2, 0] = 1.0
    params = HOFMParams(np.zeros(1), np.zeros(X.shape[1]), V)
    return float(HOFM(1, degree=m).decision(X2, params).mean())


AUTO_SPREAD = 0.01  # init_std="auto": the initial pairwise term has standard deviation ≈ 0.01


def order_sigma(k: int, P: float, m: int, spread: float) -> float:
    """σ for which the initial order-m term has standard deviation ``spread``: k P σ^(2m) =
    spread² (P = mean e_m(x²)); with spread 0.01 and m = 2 exactly init_std="auto"."""
    return (spread**2 / max(k * P, 1.0)) ** (1 / (2 * m))


def per_order_init(X, k: int, degree: int, high_spread: float, seed: int = 0):
    """Candidates (e) / (f): w0 = w = 0, order 2 ~ N(0, auto²), order m ≥ 3 drawn so that
    its initial term has standard deviation ``high_spread``; returns (params, σ per order)."""
    sig = [order_sigma(k, mean_esp(X, m), m, AUTO_SPREAD if m == 2 else high_spread)
           for m in range(2, degree + 1)]  # fmt: skip
    rng = np.random.default_rng(seed)
    V = np.stack([rng.normal(0, s, (X.shape[1], k)) for s in sig], axis=1)
    return HOFMParams(np.zeros(1), np.zeros(X.shape[1]), V), sig


def spread_table() -> None:
    """Initial std of the order-2 / order-3 terms under each init rule, one-hot rows, k = 8."""
    k = 8
    print(f"\ninitial spread (std of the order-2 / order-3 terms at initialisation, one-hot rows, "
          f"k = {k}, analytic: √(k C(F, m)) σ_m^m)")  # fmt: skip
    print(f"{'fields F':>8} " + " ".join(f"{name:>17}" for name in
          ("auto", "0.1", "0.3", "(e)", "(f)")))  # fmt: skip
    for F in (5, 10, 39):
        cells = []
        for rule in ("auto", 0.1, 0.3, "e", "f"):
            std = []
            for m in (2, 3):
                P = comb(F, m)
                if rule == "auto":
                    sig = order_sigma(k, comb(F, 2), 2, AUTO_SPREAD)
                elif rule in ("e", "f"):
                    high = AUTO_SPREAD if rule == "e" else F_SPREAD
                    sig = order_sigma(k, P, m, AUTO_SPREAD if m == 2 else high)
                else:
                    sig = rule
                std.append(math.sqrt(k * P) * sig**m)
            cells.append(f"{std[0]:.3g} / {std[1]:.3g}")
        print(f"{F:>8} " + " ".join(f"{c:>17}" for c in cells))


def candidates(reg: float) -> list[tuple[str, int, dict, float | None]]:
    """(label, degree, parameters, per-order init: the order ≥ 3 spread, or None) for a
    task whose default reg_factors is ``reg``."""
    return [
        ("d=2 defaults (FM)", 2, {}, None),
        ("d=3 defaults", 3, {}, None),
        ("(a) reg/10", 3, {"reg_factors": reg / 10}, None),
        ("(b) reg 0", 3, {"reg_factors": 0.0}, None),
        ("(c) init 0.1", 3, {"init_std": 0.1}, None),
        ("(c) init 0.3", 3, {"init_std": 0.3}, None),
        ("(d) reg/10 + init 0.1", 3, {"reg_factors": reg / 10, "init_std": 0.1}, None),
        ("(d) reg/10 + init 0.3", 3, {"reg_factors": reg / 10, "init_std": 0.3}, None),
        ("(d) reg 0.03 + init 0.3", 3, {"reg_factors": 0.03, "init_std": 0.3}, None),
        ("(d) reg 0.01 + init 0.3", 3, {"reg_factors": 0.01, "init_std": 0.3}, None),
        ("(e) per-order + reg/10", 3, {"reg_factors": reg / 10}, AUTO_SPREAD),
        ("(f) spread 0.3", 3, {}, F_SPREAD),
        ("(f) spread 0.3 + reg 0.01", 3, {"reg_factors": 0.01}, F_SPREAD),
    ]


def part_defaults(args) -> dict:
    planted = [planted_set(name, args.quick) for name in PLANTED_SETS]
    sets = [*planted, *(classes_of(d) for d in planted)]
    frappe = frappe_set(args.data_dir / "frappe", 15_000 if args.quick else None)
    if frappe is not None:
        sets.append(frappe)
    max_iter = 30 if args.quick else 100
    results = {}
    print(f"\nPart 4 — defaults: estimator(degree=d, random_state=0) on the whole training set, "
          f"everything else at its default (n_factors 8, AdaGrad lr 0.1, init_std auto, "
          f"max_iter {max_iter}{' (--quick; default 100)' if args.quick else ''}, tol 1e-4 on "
          f"the training loss, no early stopping); test scores. *-cls: the planted set with "
          f"label y > median, FMClassifier. Frappe also with early_stopping=True (ES: 10 % of "
          f"the training rows held out).")  # fmt: skip
    for data in sets:
        reg = 0.1 if data["regression"] else 0.03
        X, y = data["X"], data["y"]
        sig = per_order_init(X, 8, 3, AUTO_SPREAD)[1] + per_order_init(X, 8, 3, F_SPREAD)[1][1:]
        rows = []
        for label, degree, params, spread in candidates(reg):
            row = dict(label=label, params=params)
            for es in (False, True) if data["name"] == "frappe" else (False,):
                m = estimator(data, degree=degree, max_iter=max_iter, early_stopping=es, **params)
                kw = {}
                if spread is not None:
                    kw["init_params"] = per_order_init(X, 8, degree, spread)[0]
                t = time.perf_counter()
                m.fit(X, y, **kw)
                seconds = time.perf_counter() - t
                sc = scores(m, data["Xt"], data["yt"], data["regression"])
                row.update({k + ("_es" if es else ""): v for k, v in sc.items()})
                row["seconds" + ("_es" if es else "")] = seconds
                row["epochs" + ("_es" if es else "")] = m.n_iter_
                log(f"  {data['name']} {label}{' ES' if es else ''}: {sc}, {m.n_iter_} epochs, "
                    f"{seconds:.1f} s")  # fmt: skip
            rows.append(row)
        results[data["name"]] = rows
        fm = rows[0]
        print(f"\n{data['name']} ({X.shape[0]:,} train rows; default reg_factors {reg:g}; "
              f"init_std auto = {auto_init_std(X, 8):.3f}; (e), (f): σ_2 = {sig[0]:.3f}, σ_3 = "
              f"{sig[1]:.3f} (e), {sig[2]:.3f} (f))")  # fmt: skip
        if data["regression"]:
            print(f"{'candidate':26} {'test RMSE':>10} {'÷ FM':>6} {'ep':>4} {'fit s':>6}")
            for r in rows:
                print(f"{r['label']:26} {r['rmse']:>10.4f} {r['rmse'] / fm['rmse']:>6.2f} "
                      f"{r['epochs']:>4} {r['seconds']:>6.1f}")  # fmt: skip
        else:
            es = data["name"] == "frappe"
            head = f" {'ES AUC':>8} {'Δ FM':>7} {'ES LL':>7} {'ep':>4}" if es else ""
            print(f"{'candidate':26} {'test AUC':>9} {'Δ FM':>7} {'test LL':>8} {'ep':>4} "
                  f"{'fit s':>6}{head}")  # fmt: skip
            for r in rows:
                tail = (f" {r['auc_es']:>8.4f} {r['auc_es'] - fm['auc_es']:>+7.4f} "
                        f"{r['logloss_es']:>7.4f} {r['epochs_es']:>4}") if es else ""  # fmt: skip
                print(f"{r['label']:26} {r['auc']:>9.4f} {r['auc'] - fm['auc']:>+7.4f} "
                      f"{r['logloss']:>8.4f} {r['epochs']:>4} "
                      f"{r['seconds']:>6.1f}{tail}")  # fmt: skip
    spread_table()
    return results


def checks(results: dict, j: int) -> list[tuple[str, str, bool]]:
    """(set, what, passed) for candidate row ``j``: planted regression RMSE ≤ 0.7 × the
    default FM's; planted classification AUC ≥ the default FM's + 0.005; Frappe AUC ≥ the
    default FM's and logloss ≤ the default FM's + 0.005 (no early stopping)."""
    out = []
    for name, rows in results.items():
        fm, r = rows[0], rows[j]
        if "rmse" in r:
            ratio = r["rmse"] / fm["rmse"]
            out.append((name, f"÷FM {ratio:.2f}", ratio <= TARGET_RATIO))
        elif name == "frappe":
            da, dl = r["auc"] - fm["auc"], r["logloss"] - fm["logloss"]
            out.append((name, f"ΔAUC {da:+.4f} ΔLL {dl:+.4f}", da >= 0 and dl <= 0.005))
        else:
            da = r["auc"] - fm["auc"]
            out.append((name, f"ΔAUC {da:+.4f}", da >= 0.005))
    return out


def recommend(results: dict) -> tuple[list[str], list[str]]:
    """The candidates passing the most checks, and one line per candidate."""
    labels = [r["label"] for r in next(iter(results.values()))]
    lines, passes = [], {}
    for j in range(1, len(labels)):
        c = checks(results, j)
        passes[labels[j]] = sum(ok for _, _, ok in c)
        lines.append(f"{labels[j]:26} {passes[labels[j]]}/{len(c)}: "
                     + "; ".join(f"{n} {w}{' ✓' if ok else ' ✗'}" for n, w, ok in c))  # fmt: skip
    most = max(passes.values())
    return [label for label, n in passes.items() if n == most], lines


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sets and grids (< 1 min)")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    ap.add_argument("--data-dir", type=Path, default=SHARED, help="holds frappe/")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per timed repeat")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--predict-rows", type=int, default=None)
    ap.add_argument("--epoch-rows", type=int, default=None)
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    args.min_time = args.min_time or (0.02 if args.quick else 0.1)
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.predict_rows = args.predict_rows or (1_000 if args.quick else 20_000)
    args.epoch_rows = args.epoch_rows or (1_500 if args.quick else 10_000)
    start = time.perf_counter()
    print(machine_line())
    planted = part_planted(args) if "planted" in parts else None
    cost = part_cost(args) if "cost" in parts else None
    frappe = part_frappe(args) if "frappe" in parts else None
    defaults = part_defaults(args) if "defaults" in parts else None

    print("\ntargets")
    if planted:
        for name, rows in planted.items():
            ratio = rows[1]["test"]["rmse"] / rows[0]["test"]["rmse"]
            met = "met" if ratio <= TARGET_RATIO else "NOT met"
            print(f"  planted {name}: HOFM d=3 test RMSE ≤ {TARGET_RATIO} × FM's: "
                  f"{rows[1]['test']['rmse']:.4f} / {rows[0]['test']['rmse']:.4f} = "
                  f"{ratio:.2f}  {met}")  # fmt: skip
    if cost:
        for what, sl in cost["slopes"].items():
            worst = max(sl.values())
            met = "met" if worst <= TARGET_SLOPE else "NOT met"
            print(f"  {what} log-log slope in nnz ≤ {TARGET_SLOPE} for every d: worst "
                  f"{worst:.2f} ({', '.join(f'{k}: {v:.2f}' for k, v in sl.items())})  "
                  f"{met}")  # fmt: skip
        for what, g in cost["growth"].items():
            for k, key, r5 in ((COST_K, "anova", "ratio5"), (WIDE_K, "wide", "wide5")):
                met = "met" if g[key] <= TARGET_SLOPE else "NOT met"
                print(f"  {what} cost linear in d (exponent of d − 1 ≤ {TARGET_SLOPE}), k = {k}, "
                      f"nnz {COST_NNZ[-1]}: {g[key]:.2f}, cost(5) ÷ cost(2) = {g[r5]:.1f} "
                      f"(linear 4, Σm/2 7)  {met}")  # fmt: skip
    if frappe:
        fm, ho = (r["test"] for r in frappe["rows"])
        print(f"  Frappe (no numeric target): HOFM d=3 − FM test AUC {ho['auc'] - fm['auc']:+.4f}, "
              f"logloss {ho['logloss'] - fm['logloss']:+.4f} (BARS: AUC "
              f"{BARS[3] - BARS[2]:+.4f})")  # fmt: skip
    if defaults:
        best, lines = recommend(defaults)
        print("\ndefaults for degree > 2, checks against the default FM (d=2): planted "
              f"regression RMSE ≤ {TARGET_RATIO} ×; planted classification AUC ≥ +0.005; Frappe "
              "AUC ≥ and logloss ≤ +0.005 (no early stopping)")  # fmt: skip
        for line in lines:
            print("  " + line)
        print(f"  most checks passed ({len(defaults)} sets): {', '.join(best)}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
