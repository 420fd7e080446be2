"""Multiclass (softmax) FMClassifier against one-vs-rest, logistic regression and modern-fm
(issue 20 item 3): test log-loss, accuracy, fit and epoch time.

Data sets (each: train rows, of which a random 10 % — ``default_rng(seed)`` — is the
*validation* part used for early stopping and for every hyper-parameter choice; the test
rows are used for nothing but the reported numbers):

* ``gen C=5 sep``, ``gen C=5 shr``, ``gen C=20 sep``, ``gen C=20 shr``:
  ``fmlearn.datasets.make_multiclass(--rows + --test-rows, C, n_fields=8,
  n_features=1000, n_factors=4, layout="separate" | "shared", random_state=seed)``,
  the first ``--rows`` rows (default 150,000) for training, the last ``--test-rows``
  (30,000) for test. One call, then a split: ``make_multiclass(..., planted=truth)`` is
  *not* used for the test rows because it re-draws which ids of each field are popular
  (``_one_hot_fields`` draws a fresh ``rng.permutation`` per field), so its rows come
  from another distribution of X (correlation of the per-feature counts with the
  training rows' ≈ 0.7; a generator bug found when this script was written, which
  make_ctr and make_field_aware_ctr share). ``Bayes`` rows: the planted
  model's own probabilities (``truth.predict_proba``) on the test rows, the best any
  model can do.
* ``ML-100K``: ``../shared/data/ml-100k/{train,test}.tsv`` (``--data-dir``; the fixed
  uniform 90/10 split of its README: 90,000 / 10,000 ratings), the rating 1–5 as the
  class 0–4; user one-hot (column ``user_id − 1``) and item one-hot (``n_users +
  item_id − 1``), 2 non-zeros per row, 2,625 columns (as benchmarks/sgd_ml100k.py).

Models, k = 8 for every FM, one thread everywhere (fmlearn ``n_jobs=1``, modern-fm
``n_jobs=1``, OvR serial), ``random_state=0``:

* ``fm shared`` / ``fm separate``: ``FMClassifier(8, multiclass=…, solver="adagrad",
  learning_rate=lr, max_iter=--max-iter, early_stopping=True, n_iter_no_change=3)``
  fitted on the train part with ``eval_set=[validation]`` (early stopping watches its
  log-loss and restores the best epoch); default regularisation and dtype (float64).
* ``ovr fm``: ``OneVsRestClassifier(FMClassifier(8, learning_rate=lr, …))`` — C binary
  AdaGrad FMs; ``OneVsRestClassifier`` cannot hand each binary model the validation
  part with its own 0/1 labels, so each stops early on its own ``validation_fraction=0.1``
  of the train part (it trains on 90 % of the rows the softmax models train on).
  ``predict_proba``: scikit-learn's (the C sigmoids, normalised to sum 1).
* ``mfm``: modern-fm's ``FMClassifier(n_factors=8, optimizer="adagrad",
  learning_rate=lr, max_iter=--max-iter, patience=3)`` with ``eval_set=validation``:
  its softmax FM, one FM per class (the ``separate`` layout), early-stopped on the
  validation part, best epoch restored; its other defaults (L2 1e-5, init 0.01, float32).
* ``logreg``: scikit-learn ``LogisticRegression(C=c, tol=1e-3, max_iter=1000)``
  (lbfgs, multinomial), c ∈ {0.1, 1} chosen on validation (tol 1e-3 rather than the
  default 1e-4 halves its time; it moved the validation log-loss by < 0.002 when this
  was written).

``lr`` ∈ ``--lrs`` (default 0.03, 0.1) for every FM, chosen by the validation log-loss;
``--reg-factors`` (default ``default``: the estimator's own, 0.03 for the SGD family) is a
comma-separated ``reg_factors`` grid for fmlearn's three FM rows (e.g.
``--reg-factors default,0.003``; modern-fm keeps its L2 1e-5), crossed with the lrs.

Columns: ``test LL`` (mean cross-entropy of ``predict_proba``, probabilities clipped to
≥ 1e-15), ``acc`` (argmax accuracy), ``val LL`` (the validation log-loss the choice was
made on), ``pick`` (the chosen lr, ``lr/reg_factors`` when a non-default one won, or
C), ``ep`` (epochs run by the chosen fit, ``*`` when it hit ``--max-iter`` without
stopping; ovr: the mean over its C models, ``*`` when any of them hit it), ``fit s``
(wall seconds of the chosen fit; ``tune s``: all of the grid's fits), ``s/ep``:
fmlearn — the fastest epoch of the chosen fit (``history_.seconds``; ovr: the sum over
its C binary models, i.e. one pass of every model); modern-fm — fit ÷ epochs (its
per-epoch validation included, marked ``~``). Under each set: ``class prior`` (the
train part's class frequencies) and, for generated sets, ``Bayes``.

Epoch table (the issue's speed target): on the train part of every set, a binary
``FMClassifier(8, learning_rate=0.1, tol=None)`` with ``y == 0`` and the two softmax
layouts, each ``--timing-epochs`` + 1 epochs with a :class:`fmlearn.callbacks.Timer`,
the first epoch dropped, interleaved over 3 rounds; ``cpu`` = the fastest epoch by the
thread's CPU time (what the target is judged on: the machine is shared and wall time
includes time descheduled), ``wall`` likewise by wall time. Ratio = softmax ÷ binary.

Targets (issue 20): softmax test log-loss ≤ one-vs-rest's and ≤ modern-fm's on every set
(judged per layout); the softmax epoch at C = 20 ≤ 5 × the binary epoch on the same rows.

Usage::

    python benchmarks/multiclass.py            # everything (~6 min on 2 busy cores)
    python benchmarks/multiclass.py --rows 200000 --test-rows 40000   # ~9 min
    python benchmarks/multiclass.py --quick    # 10,000 rows, 1 lr, 8 epochs (< 1 min)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import log, machine_line
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from fmlearn import FMClassifier
from fmlearn.callbacks import Timer
from fmlearn.datasets import make_multiclass

try:
    import modern_fm
except ImportError:  # pragma: no cover - optional peer
    modern_fm = None

K = 8
PATIENCE = 3
LOGREG_CS = (0.1, 1.0)
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ml-100k"
TIMING_ROUNDS = 3
EPOCH_TARGET = 5.0  # softmax epoch at C = 20 ≤ 5 × the binary epoch


# ------------------------------------------------------------------------------- data
def split_validation(X, y, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(X.shape[0])
    n_val = X.shape[0] // 10
    val, fit = np.sort(order[:n_val]), np.sort(order[n_val:])
    return X[fit], y[fit], X[val], y[val]


def generated_set(n_classes, layout, rows, test_rows, seed) -> dict:
    X, y, truth = make_multiclass(
        rows + test_rows, n_classes, n_fields=8, n_features=1000, n_factors=4,
        layout=layout, random_state=seed,
    )  # fmt: skip
    X_tr, y_tr, X_te, y_te = X[:rows], y[:rows], X[rows:], y[rows:]
    X_fit, y_fit, X_val, y_val = split_validation(X_tr, y_tr, seed)
    bayes = truth.predict_proba(X_te)
    short = "sep" if layout == "separate" else "shr"
    return {
        "name": f"gen C={n_classes} {short}", "C": n_classes,
        "fit": (X_fit, y_fit), "val": (X_val, y_val), "test": (X_te, y_te),
        "bayes": (logloss(bayes, y_te), accuracy(bayes, y_te)),
    }  # fmt: skip


def ml100k_set(data_dir: Path, seed, quick: bool) -> dict:
    def read(name):
        a = np.loadtxt(data_dir / name, delimiter="\t", skiprows=1, dtype=np.int64)
        return a[:, 0], a[:, 1], a[:, 2] - 1

    tr, te = read("train.tsv"), read("test.tsv")
    n_users = int(max(tr[0].max(), te[0].max()))
    n_items = int(max(tr[1].max(), te[1].max()))

    def design(users, items):
        n = users.shape[0]
        indices = np.column_stack([users - 1, n_users + items - 1]).astype(np.int32)
        indptr = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
        shape = (n, n_users + n_items)
        return sp.csr_matrix((np.ones(2 * n), indices.ravel(), indptr), shape=shape)

    X_tr, y_tr, X_te, y_te = design(tr[0], tr[1]), tr[2], design(te[0], te[1]), te[2]
    if quick:
        X_tr, y_tr = X_tr[:20_000], y_tr[:20_000]
    X_fit, y_fit, X_val, y_val = split_validation(X_tr, y_tr, seed)
    return {"name": "ML-100K", "C": 5, "fit": (X_fit, y_fit), "val": (X_val, y_val),
            "test": (X_te, y_te), "bayes": None}  # fmt: skip


# ---------------------------------------------------------------------------- metrics
def logloss(proba, y) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(y.shape[0]), y], 1e-15, 1.0))))


def accuracy(proba, y) -> float:
    return float(np.mean(proba.argmax(axis=1) == y))


def checked_proba(model, X, n_classes) -> np.ndarray:
    proba = model.predict_proba(X)
    if proba.shape != (X.shape[0], n_classes) or not np.allclose(proba.sum(axis=1), 1.0):
        raise AssertionError(f"{type(model).__name__}.predict_proba: shape {proba.shape}")
    return proba


# ----------------------------------------------------------------------------- models
def fmlearn_softmax(layout, lr, args, reg_factors=None):
    return FMClassifier(
        K, multiclass=layout, learning_rate=lr, reg_factors=reg_factors, max_iter=args.max_iter,
        early_stopping=True, n_iter_no_change=PATIENCE, random_state=0, n_jobs=1,
    )  # fmt: skip


def fmlearn_grid(args) -> list:
    """(lr, reg_factors) points for fmlearn's models; reg_factors None: the default."""
    return [(lr, reg) for reg in args.reg_factors for lr in args.lrs]


def fit_softmax(layout):
    def fit(point, data, args):
        model = fmlearn_softmax(layout, point[0], args, reg_factors=point[1])
        model.fit(*data["fit"], eval_set=[data["val"]])
        if model.decision_function(data["val"][0][:3]).shape != (3, data["C"]):
            raise AssertionError("decision_function shape")
        capped = model.n_iter_ >= args.max_iter
        return model, model.n_iter_, min(model.history_.seconds), False, capped

    return fit


def fit_ovr(point, data, args):
    binary = FMClassifier(
        K, learning_rate=point[0], reg_factors=point[1], max_iter=args.max_iter,
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=PATIENCE,
        random_state=0, n_jobs=1,
    )  # fmt: skip
    model = OneVsRestClassifier(binary).fit(*data["fit"])
    n_iter = float(np.mean([e.n_iter_ for e in model.estimators_]))
    epoch = float(sum(min(e.history_.seconds) for e in model.estimators_))
    capped = any(e.n_iter_ >= args.max_iter for e in model.estimators_)
    return model, n_iter, epoch, False, capped


def fit_mfm(lr, data, args):
    model = modern_fm.FMClassifier(
        n_factors=K, optimizer="adagrad", learning_rate=lr, max_iter=args.max_iter,
        patience=PATIENCE, random_state=0, n_jobs=1,
    )  # fmt: skip
    start = time.perf_counter()
    model.fit(*data["fit"], eval_set=data["val"])
    seconds = time.perf_counter() - start
    return model, model.n_iter_, seconds / model.n_iter_, True, model.n_iter_ >= args.max_iter


def fit_logreg(c, data, args):
    model = LogisticRegression(C=c, tol=1e-3, max_iter=1000).fit(*data["fit"])
    return model, int(np.max(model.n_iter_)), float("nan"), False, False


def pick_text(value) -> str:
    """A grid point as printed: ``0.1`` (lr or C) or ``0.1/3e-03`` (lr/reg_factors)."""
    if isinstance(value, tuple):
        lr, reg = value
        return f"{lr:g}" if reg is None else f"{lr:g}/{reg:.0e}"
    return f"{value:g}"


def tuned(name, fit, grid, data, args) -> dict:
    """Fit every grid point on the train part, keep the best validation log-loss."""
    X_val, y_val = data["val"]
    best, tune_s = None, 0.0
    for value in grid:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model, n_iter, epoch, approx, capped = fit(value, data, args)
        seconds = time.perf_counter() - start
        tune_s += seconds
        val = logloss(checked_proba(model, X_val, data["C"]), y_val)
        log(f"  {data['name']:14} {name:12} {pick_text(value):<12} val LL {val:.4f}  "
            f"ep {n_iter:5.1f}  fit {seconds:6.1f} s")  # fmt: skip
        if best is None or val < best["val"]:
            best = {"model": model, "val": val, "pick": value, "ep": n_iter, "fit_s": seconds,
                    "epoch_s": epoch, "approx": approx, "capped": capped}  # fmt: skip
    X_te, y_te = data["test"]
    proba = checked_proba(best.pop("model"), X_te, data["C"])
    return {**best, "name": name, "test": logloss(proba, y_te), "acc": accuracy(proba, y_te),
            "tune_s": tune_s}  # fmt: skip


def run_set(data, args) -> list[dict]:
    rows = [
        tuned("fm shared", fit_softmax("shared"), fmlearn_grid(args), data, args),
        tuned("fm separate", fit_softmax("separate"), fmlearn_grid(args), data, args),
        tuned("ovr fm", fit_ovr, fmlearn_grid(args), data, args),
    ]
    if modern_fm is not None:
        rows.append(tuned("mfm", fit_mfm, args.lrs, data, args))
    rows.append(tuned("logreg", fit_logreg, args.logreg_cs, data, args))
    return rows


# ------------------------------------------------------------------------ epoch times
def epoch_times(data, args) -> dict:
    """Fastest epoch (CPU and wall) of binary and both softmax layouts on the train part."""
    X, y = data["fit"]
    configs = {"binary": (None, y == 0), "shared": ("shared", y), "separate": ("separate", y)}
    best = {name: [np.inf, np.inf] for name in configs}
    for _ in range(TIMING_ROUNDS):
        for name, (layout, target) in configs.items():
            kw = {} if layout is None else {"multiclass": layout}
            model = FMClassifier(K, learning_rate=0.1, max_iter=args.timing_epochs + 1, tol=None,
                                 random_state=0, n_jobs=1, **kw)  # fmt: skip
            timer = Timer()
            model.fit(X, target, callbacks=[timer])
            best[name][0] = min(best[name][0], min(timer.cpu[1:]))
            best[name][1] = min(best[name][1], min(timer.wall[1:]))
    log(f"  {data['name']:14} epochs (cpu, wall) s: {best}")
    return best


# ----------------------------------------------------------------------------- output
def print_results(results) -> None:
    head = (f"{'set':14} {'model':12} {'test LL':>8} {'acc':>6} {'val LL':>7} {'pick':>9} "
            f"{'ep':>6} {'fit s':>6} {'tune s':>7} {'s/ep':>7}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for data, rows in results:
        for r in rows:
            ep = "" if r["name"] == "logreg" else f"{r['ep']:.0f}" + ("*" if r["capped"] else "")
            if r["name"] == "ovr fm":
                ep = f"{r['ep']:.1f}" + ("*" if r["capped"] else "")
            sec = "" if np.isnan(r["epoch_s"]) else f"{r['epoch_s']:.3f}"
            sec = ("~" if r["approx"] else "") + sec
            print(f"{data['name']:14} {r['name']:12} {r['test']:8.4f} {r['acc']:6.3f} "
                  f"{r['val']:7.4f} {pick_text(r['pick']):>9} {ep:>6} {r['fit_s']:6.1f} "
                  f"{r['tune_s']:7.1f} {sec:>7}")  # fmt: skip
        y_fit = data["fit"][1]
        prior = np.bincount(y_fit, minlength=data["C"]) / y_fit.shape[0]
        y_te = data["test"][1]
        p = np.tile(prior, (y_te.shape[0], 1))
        print(f"{data['name']:14} {'class prior':12} {logloss(p, y_te):8.4f} "
              f"{accuracy(p, y_te):6.3f}")  # fmt: skip
        if data["bayes"] is not None:
            print(f"{data['name']:14} {'Bayes':12} {data['bayes'][0]:8.4f} {data['bayes'][1]:6.3f}")
        print()


def print_epochs(timings) -> None:
    print(f"{'set':14} {'rows':>8} {'binary':>13} {'shared':>13} {'separate':>13} "
          f"{'shr/bin':>8} {'sep/bin':>8}   (fastest epoch, s: cpu / wall)")  # fmt: skip
    for data, t in timings:
        cells = " ".join(f"{t[n][0]:6.3f}/{t[n][1]:6.3f}" for n in ("binary", "shared", "separate"))
        rs = t["shared"][0] / t["binary"][0]
        rp = t["separate"][0] / t["binary"][0]
        print(f"{data['name']:14} {data['fit'][0].shape[0]:8,} {cells} {rs:8.2f} {rp:8.2f}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_targets(results, timings) -> None:
    print("targets (issue 20):")
    for layout in ("fm shared", "fm separate"):
        for peer in ("ovr fm", "mfm"):
            losses = []
            for data, rows in results:
                by = {r["name"]: r for r in rows}
                if peer in by:
                    losses.append((data["name"], by[layout]["test"], by[peer]["test"]))
            if not losses:
                print(f"  {layout} test LL ≤ {peer}'s: peer not run")
                continue
            failed = [f"{n} {a:.4f} > {b:.4f}" for n, a, b in losses if a > b]
            detail = "; ".join(failed) if failed else f"all {len(losses)} sets"
            print(f"  {layout} test LL ≤ {peer}'s on every set: {verdict(not failed)} ({detail})")
    for data, t in timings:
        if data["C"] != 20:
            continue
        for layout in ("shared", "separate"):
            ratio = t[layout][0] / t["binary"][0]
            wall = t[layout][1] / t["binary"][1]
            print(f"  {data['name']}: {layout} epoch ≤ {EPOCH_TARGET:g} × binary (cpu): "
                  f"{verdict(ratio <= EPOCH_TARGET)} ({ratio:.2f}×; wall {wall:.2f}×)")  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=150_000, help="generated train rows")
    ap.add_argument("--test-rows", type=int, default=30_000)
    ap.add_argument("--max-iter", type=int, default=60)
    ap.add_argument("--lrs", default="0.03,0.1", help="AdaGrad learning rates, comma-separated")
    ap.add_argument("--reg-factors", default="default",
                    help="reg_factors grid of fmlearn's FMs, comma-separated ('default': the "
                         "estimator's own)")  # fmt: skip
    ap.add_argument("--timing-epochs", type=int, default=4)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="10,000 rows, lr 0.1, 8 epochs")
    args = ap.parse_args(argv)
    args.lrs = [float(v) for v in args.lrs.split(",")]
    args.reg_factors = [None if v == "default" else float(v) for v in args.reg_factors.split(",")]
    args.logreg_cs = LOGREG_CS
    if args.quick:
        args.rows, args.test_rows, args.max_iter, args.timing_epochs = 10_000, 5_000, 8, 2
        args.lrs, args.logreg_cs = [0.1], (1.0,)

    start = time.perf_counter()
    log("warm-up (numba compilation)")
    warm = generated_set(3, "shared", 600, 100, 0)
    for layout in ("shared", "separate"):
        fmlearn_softmax(layout, 0.1, argparse.Namespace(max_iter=1)).fit(*warm["fit"])
    FMClassifier(K, max_iter=1).fit(warm["fit"][0], warm["fit"][1] == 0)

    sets = [(c, layout) for c in (5, 20) for layout in ("separate", "shared")]
    results, timings = [], []
    for c, layout in sets:
        data = generated_set(c, layout, args.rows, args.test_rows, args.seed)
        results.append((data, run_set(data, args)))
        timings.append((data, epoch_times(data, args)))
    if (args.data_dir / "train.tsv").exists():
        data = ml100k_set(args.data_dir, args.seed, args.quick)
        results.append((data, run_set(data, args)))
        timings.append((data, epoch_times(data, args)))
    else:
        log(f"no {args.data_dir / 'train.tsv'}: ML-100K skipped")

    print()
    print(machine_line())
    mfm = getattr(modern_fm, "__version__", "installed") if modern_fm else "not installed"
    print(f"generated: make_multiclass, {args.rows:,} train rows (10 % validation) + "
          f"{args.test_rows:,} test, 8 fields, 1,000 features, planted rank 4; ML-100K "
          f"ratings as 5 classes (the shared folder's fixed 90/10 split). k={K}, AdaGrad, lr "
          f"{args.lrs} × fmlearn reg_factors {args.reg_factors} (None: default) chosen on "
          f"validation, early stopping (patience {PATIENCE}, max_iter "
          f"{args.max_iter}), 1 thread; modern-fm {mfm}")  # fmt: skip
    print_results(results)
    print_epochs(timings)
    print()
    print_targets(results, timings)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
