"""``fmlearn libfm``: libFM's command line, flags and output files, on fmlearn.

A script that runs ``libFM -task r -train a -test b -dim '1,1,8' -method mcmc -out p``
switches by changing the program name to ``fmlearn libfm``. Flags keep libFM's meaning
and defaults (Rendle 2012, "Factorization Machines with libFM", and libFM's README):
``-method mcmc`` by default, ``-learn_rate 0.1``, ``-regular`` 0 unless given, SGD in
file order, MCMC predictions averaged over every sweep. Output files use libFM's
formats, and stdout libFM's tab-separated ``#Iter=  i Train=… Test=…`` line per iteration (each
iteration also scores the training rows, as libFM does) before a ``Final`` line:
``-out`` one prediction per line (the probability of the positive class for
``-task c``), ``-rlog`` a tab-separated table with a header and one row per iteration,
``-save_model``/``-load_model`` libFM's text model (not for MCMC, as in libFM).

``-relation user,item`` (libFM's block structure, BS) reads libFM's files for each
relation — ``user.x`` or ``user.xt``, ``user.train``, ``user.test``, optional
``user.groups`` (:mod:`fmlearn.io.libfm_binary`) — numbers the blocks' features after the
main table's and their groups after ``-meta``'s, as libFM does (the main table may hold
only targets), and trains MCMC and ALS with the relational sweep (each block row once).
libFM refuses relations with SGD; ``-method sgd`` here trains on the flattened rows, with
a note, and ``-method sgda`` with ``-relation`` is refused (libFM reads no relation rows
for ``-validation``). ``-train`` and ``-test`` may name libFM's binary data (``NAME.x`` or
``NAME.xt`` with ``NAME.y``, as its ``convert`` writes them), which libFM reads in
preference to a text file ``NAME``.
``-cache_size`` is accepted and ignored (fmlearn reads the data into memory).
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
from scipy.special import ndtr

from fmlearn.callbacks import Callback
from fmlearn.cli._common import (
    HelpFormatter,
    UsageError,
    check_output,
    parse_regularization,
    read_data,
    read_groups,
)
from fmlearn.io import libfm_binary
from fmlearn.models import FMParams
from fmlearn.relations import combined_groups, flatten


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fmlearn libfm",
        description="libFM-compatible training and prediction (flags as libFM 1.4).",
        allow_abbrev=False,
        add_help=False,
        formatter_class=HelpFormatter,
    )
    add = p.add_argument
    add("-help", action="help", help="this screen")
    add("-task", choices=("r", "c"), required=True, help="r=regression, c=binary classification")
    add(
        "-train",
        required=True,
        help="training data (libFM text, or libFM's binary NAME.x/.xt with NAME.y)",
    )
    add("-test", required=True, help="test data: predicted into -out (text or binary)")
    add("-validation", help="validation data (libFM uses it only for SGDA)")
    add("-out", help="file for the test predictions, one per line")
    add("-dim", default="1,1,8", help="'k0,k1,k2': use bias, use 1-way, dim of 2-way")
    add(
        "-regular",
        help="'r0,r1,r2' or 'r' for SGD and ALS (default 0); ALS with -meta: "
        "also r0 then r1 per group then r2 per group",
    )
    add("-init_stdev", type=float, default=0.1, help="stdev of the 2-way factors' init")
    add("-iter", type=int, default=100, help="number of iterations")
    add("-learn_rate", type=float, default=0.1, help="learning rate for SGD")
    add(
        "-method",
        type=str.lower,  # libFM's -help writes them SGD, SGDA, ALS, MCMC
        choices=("sgd", "sgda", "als", "mcmc"),
        default="mcmc",
        help="learning method (als updates each feature's factors as one block: "
        "fewer iterations than libFM's scalar ALS)",
    )
    add("-verbosity", type=int, default=0, help="how much to print")
    add("-rlog", help="write measurements per iteration to this file")
    add("-seed", type=int, help="random seed (default: fresh entropy from the system)")
    add("-meta", help="groups file: one group id per feature, one per line")
    add("-save_model", help="write the model (libFM text format; not for MCMC)")
    add("-load_model", help="start from this model (libFM text format; not for MCMC)")
    add(
        "-relation",
        help="BS: relations, comma-separated file prefixes R: each reads R.x (or R.xt), "
        "R.train, R.test and R.groups if present (libFM's files)",
    )
    add("-cache_size", help="ignored (fmlearn reads the data into memory)")
    return p


def _dim(text: str) -> tuple[bool, bool, int]:
    try:
        k0, k1, k2 = (int(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"-dim must be 'k0,k1,k2' like '1,1,8'; got {text!r}.") from None
    if k2 < 1:
        raise UsageError("-dim with k2 = 0 (no pairwise interactions) is not supported.")
    return bool(k0), bool(k1), k2


def _regular(text: str | None, n_groups: int | None = None) -> dict:
    """libFM's ``-regular``; 0 for all three when absent (libFM's default). ``n_groups``
    (ALS with ``-meta``) also accepts its per-group form."""
    return parse_regularization(text, "-regular", n_groups) or dict.fromkeys(
        ("reg_bias", "reg_linear", "reg_factors"), 0.0
    )


class _IterationLines(Callback):
    """libFM's line per iteration, which scripts parse: ``#Iter=  i Train=… Test=…``
    (RMSE for regression, accuracy for classification; MCMC classification adds
    ``Test(ll)=``, the log-loss in base 10, as libFM computes it). Test scores the
    predictions ``-out`` would write (MCMC: the average over the sweeps so far); Train the
    training rows, eval set 1."""

    def __init__(self, regression: bool, mcmc: bool, y_test, y_train, first: int = 0):
        self.regression, self.mcmc = regression, mcmc
        self.y_test, self.y_train = y_test, y_train
        self.first = first  # the test set's position among the eval sets (SGDA: 1)
        self.count = 0

    def on_iteration(self, info):
        j = self.first
        if self.regression:
            test = info.scores["rmse" + (f"_{j}" if j else "")]
            train = info.scores[f"rmse_{j + 1}"]
        else:  # raw scores: > 0 means the positive class (probit MCMC averages keep the sign)
            train = float(np.mean((info.predictions[j + 1] > 0) == (self.y_train > 0)))
            test = float(np.mean((info.predictions[j] > 0) == (self.y_test > 0)))
        line = f"#Iter={self.count:3d}\tTrain={train:.6g}\tTest={test:.6g}"
        if self.mcmc and not self.regression:
            line += f"\tTest(ll)={info.scores['logloss'] / np.log(10.0):.6g}"
        print(line, flush=True)
        self.count += 1


class _LastPredictions(Callback):
    """Keeps the test-set predictions of the latest iteration (MCMC: the running average,
    which is what libFM writes to ``-out``); the test set is eval set ``first``."""

    def __init__(self, first: int = 0):
        self.first = first

    def on_iteration(self, info):
        self.raw = info.predictions[self.first]


def run(argv: list[str]) -> int:
    if not argv:
        build_parser().print_help()
        return 0
    args = build_parser().parse_args(argv)
    relation_names = _relation_names(args.relation)
    if args.method == "sgda" and relation_names:
        raise UsageError(
            "-method sgda with -relation: SGDA learns its regularisation on -validation, for "
            "which libFM reads no relation rows (only R.train and R.test), and libFM refuses "
            "relations with SGD; use -method mcmc or als."
        )
    if args.method == "sgda" and not args.validation:
        raise UsageError("-method sgda learns the regularisation on -validation: give one.")
    if args.cache_size:
        print("fmlearn libfm: -cache_size ignored (fmlearn reads the data into memory)")
    fit_intercept, fit_linear, k = _dim(args.dim)
    mcmc = args.method == "mcmc"
    for flag in ("save_model", "load_model"):
        if mcmc and getattr(args, flag):
            print(f"WARNING: -{flag} is not supported with MCMC (as in libFM); ignored.")
            setattr(args, flag, None)
    if args.validation and args.method != "sgda":
        print("fmlearn libfm: -validation is only used by -method sgda; ignored.")
    # fail before reading and training, not after, when an output cannot be written
    check_output(args.out, "prediction file (-out)")
    check_output(args.rlog, "log file (-rlog)")
    check_output(args.save_model, "model file (-save_model)")

    X, y = _read_libfm_data(args.train)
    X_test, y_test = _read_libfm_data(args.test)
    sgda = args.method == "sgda"
    X_val, y_val = _read_libfm_data(args.validation) if sgda else (X_test, y_test)
    n_features = max(X.shape[1], X_test.shape[1], X_val.shape[1])
    X = _widen(X, n_features)
    X_test = _widen(X_test, n_features)
    X_val = _widen(X_val, n_features)
    # libFM's block structure: each relation's rows for the training and the test rows
    train_blocks, test_blocks = [], []
    for name in relation_names:
        train, test = libfm_binary.load_relation(
            name, X.shape[0], X_test.shape[0], train_name=args.train, test_name=args.test
        )
        train_blocks.append(train)
        test_blocks.append(test)
    if train_blocks and args.method == "sgd":
        print("fmlearn libfm: note: libFM refuses -relation with SGD; fmlearn trains SGD on "
              "the flattened rows (main features, then each relation's).")  # fmt: skip
    if args.task == "c":  # libFM: a label > 0 is the positive class
        y, y_test = np.where(y > 0, 1, -1), np.where(y_test > 0, 1, -1)
        y_val = np.where(y_val > 0, 1, -1)
        if np.unique(y).size < 2:
            side = "> 0 (positive)" if y[0] > 0 else "≤ 0 (negative)"
            raise UsageError(
                f"-task c: libFM's classification labels are ≤ 0 (negative) or > 0 "
                f"(positive), and every label in {args.train} is {side}. For ratings, use "
                "-task r, or turn them into 1/−1 first (e.g. rating ≥ 4 → 1)."
            )

    if args.iter < 0:
        raise UsageError(f"-iter must be ≥ 0; got {args.iter}.")
    if args.iter == 0:  # libFM's way to score data with a saved model
        flat_test = flatten(X_test, test_blocks)[0] if test_blocks else X_test
        return _predict_only(args, y, flat_test, y_test, (fit_intercept, fit_linear, k))

    # libFM's block-structure main table may hold only targets (every feature in the
    # blocks); fmlearn's estimators need a column: one that is always 0, in the main
    # group, changes no prediction and is left out of -save_model and -load_model
    dummy = n_features == 0 and bool(train_blocks)
    if dummy:
        n_features = 1
        X, X_test, X_val = _widen(X, 1), _widen(X_test, 1), _widen(X_val, 1)

    from fmlearn.classification import FMClassifier
    from fmlearn.regression import FMRegressor

    cls = FMRegressor if args.task == "r" else FMClassifier
    params = dict(
        n_factors=k,
        solver=args.method,
        max_iter=args.iter,
        init_std=args.init_stdev,
        fit_intercept=fit_intercept,
        fit_linear=fit_linear,
        random_state=args.seed,
        verbose=int(args.verbosity > 0),
    )
    # libFM's -meta: MCMC's hyperprior groups, ALS's groups of per-group -regular and
    # SGDA's groups of learned strengths
    grouped = args.meta and args.method != "sgd"
    groups = read_groups(args.meta, n_features - dummy) if grouped else None
    if groups is not None and dummy:
        groups = np.zeros(1, np.int64)
    if mcmc:
        params["n_kept_samples"] = args.iter  # libFM averages every sweep
    elif sgda:  # learns the regularisation from 0; libFM ignores -regular here
        params.update(learning_rate=args.learn_rate, shuffle=False, tol=None)
    else:
        n_groups = int(groups.max()) + 1 if groups is not None and groups.size else None
        if train_blocks and args.method == "als":  # libFM's joined groups: main, then blocks'
            n_groups = int(combined_groups(n_features, train_blocks, groups).max()) + 1
        # an empty main table with -meta has no group in libFM; here the zero column has one
        unseen = int(bool(dummy and args.meta and n_groups))
        regular = _regular(args.regular, n_groups - unseen if n_groups else None)
        for name in ("reg_linear", "reg_factors"):
            if unseen and np.ndim(regular[name]) == 1:  # its strength changes nothing
                regular[name] = [regular[name][0], *regular[name]]
        params.update(regular)
    if args.method == "sgd":
        params.update(learning_rate=args.learn_rate, shuffle=False, tol=None, batch_size=1)
    model = cls(**params)
    first = 1 if sgda else 0  # SGDA's validation rows are the first eval set
    last = _LastPredictions(first)
    lines = _IterationLines(args.task == "r", mcmc, y_test, y, first)
    if train_blocks:
        eval_set = [(X_test, y_test, test_blocks), (X, y, train_blocks)]
    else:
        eval_set = [(X_test, y_test), (X, y)]
    fit_params = {"eval_set": [(X_val, y_val)] * sgda + eval_set, "callbacks": [last, lines]}
    if train_blocks:
        fit_params["relations"] = train_blocks
    if groups is not None:
        fit_params["groups"] = groups
    elif args.meta:
        print("fmlearn libfm: -meta is not used by -method sgd (libFM's SGD has no groups); "
              "ignored.")  # fmt: skip
    if args.load_model:  # libFM's model covers the blocks' features too, after the main ones
        n_all = n_features - dummy + sum(block.n_features for block in train_blocks)
        w0, w, V = load_libfm_model(args.load_model, n_all, k)
        if dummy:
            w, V = np.r_[0.0, w], np.vstack([np.zeros((1, k)), V])
        fit_params["init_params"] = FMParams(np.array([w0]), w, V)
    start = time.perf_counter()
    model.fit(X, y, **fit_params)
    seconds = time.perf_counter() - start
    if args.rlog:
        write_rlog(args.rlog, model)
    if mcmc:  # libFM's output: the average of every sweep's prediction of the test set
        pred = last.raw
        pred = np.clip(pred, model.y_min_, model.y_max_) if args.task == "r" else ndtr(pred)
    elif args.task == "r":
        pred = model.predict(X_test, relations=test_blocks or None)
    else:
        pred = model.predict_proba(X_test, relations=test_blocks or None)[:, 1]
    if args.task == "r":
        final = f"Test={np.sqrt(np.mean((pred - y_test) ** 2)):.6g}"
    else:
        final = f"Test={np.mean((pred > 0.5) == (y_test > 0)):.6g}"
    print(f"Final\t{final}\t({model.n_iter_} iterations, {seconds:.1f} s)")
    if args.out:
        np.savetxt(args.out, pred, fmt="%.10g")
    if args.save_model:
        write_libfm_model(args.save_model, model.w0_, model.w_[dummy:], model.V_[dummy:],
                          model.fit_intercept, model.fit_linear)  # fmt: skip
    return 0


def _predict_only(args, y, X_test, y_test, dim) -> int:
    """``-iter 0``: no training. The model is ``-load_model``'s (else libFM's initial one:
    zero biases, factors ~ N(0, -init_stdev²)); the test rows are scored as libFM scores
    them — regression clipped to the training targets' range, classification through the
    method's link (SGD: logistic; ALS: probit, as fmlearn's ALS classifier) — and
    ``-out``, ``-save_model`` and ``-rlog`` (a header) are written."""
    from fmlearn.models import FM

    fit_intercept, fit_linear, k = dim
    if args.method == "mcmc":
        raise UsageError(
            "-iter 0 scores data with a saved model (-load_model), which -method mcmc does not "
            "support (as in libFM); use -method sgd or als."
        )
    n_features = X_test.shape[1]
    if args.load_model:
        w0, w, V = load_libfm_model(args.load_model, n_features, k)
    else:
        rng = np.random.default_rng(args.seed)
        w0, w, V = 0.0, np.zeros(n_features), rng.normal(0.0, args.init_stdev, (n_features, k))
    w0, w = (w0 if fit_intercept else 0.0), (w if fit_linear else np.zeros(n_features))
    params = FMParams(np.array([w0]), w, V)
    raw = FM(k, args.init_stdev, np.float64).decision(X_test.tocsr(), params)
    if args.task == "r":
        pred = np.clip(raw, y.min(), y.max())
        final = f"Test={np.sqrt(np.mean((pred - y_test) ** 2)):.6g}"
    else:
        pred = ndtr(raw) if args.method == "als" else 1.0 / (1.0 + np.exp(-raw))
        final = f"Test={np.mean((pred > 0.5) == (y_test > 0)):.6g}"
    print(f"Final\t{final}\t(0 iterations)")
    if args.out:
        np.savetxt(args.out, pred, fmt="%.10g")
    if args.save_model:
        write_libfm_model(args.save_model, w0, w, V, fit_intercept, fit_linear)
    if args.rlog:  # the header of a run without iterations
        metrics = ["rmse", "rmse_train"] if args.task == "r" else ["ll", "auc", "loss_train"]
        with open(args.rlog, "w") as fh:
            fh.write("\t".join(["time_learn", *metrics]) + "\n")
    return 0


def _relation_names(text: str | None) -> list[str]:
    """libFM's ``-relation`` list: names separated by ',' or ';' (its delimiters for
    every list flag), empty ones skipped."""
    return [name for name in re.split(r"[,;]", text or "") if name]


def _read_libfm_data(path: str):
    """``(X, y)`` as libFM reads ``-train``/``-test``: its binary files ``PATH.x`` (or
    ``.xt``) with ``PATH.y`` when they exist — libFM prefers them — else the text file."""
    if libfm_binary.binary_data_files(path) is not None:
        return libfm_binary.load_binary_data(path)
    return read_data(path, "libfm")


def _widen(X, n_features: int):
    """Pad with empty columns: libFM sizes the model by the larger of train and test."""
    if X.shape[1] == n_features:
        return X
    X = X.tocsr(copy=True)
    X.resize((X.shape[0], n_features))
    return X


# ------------------------------------------------------------------- libFM's files
def write_rlog(path: str, model) -> None:
    """One row per iteration, tab-separated, libFM's column names where they exist."""
    h = model.history_
    mcmc = model.solver == "mcmc"
    regression = "rmse" in h.valid
    columns = {"time_learn": h.seconds}
    if regression:
        columns["rmse_mcmc_all" if mcmc else "rmse"] = h.valid["rmse"]
        columns["rmse_train"] = list(np.sqrt(2.0 * np.asarray(h.train_loss)))
    else:
        columns["ll_mcmc_all" if mcmc else "ll"] = h.valid["logloss"]
        columns["auc"] = h.valid["auc"]
        columns["loss_train"] = h.train_loss
    with open(path, "w") as fh:
        fh.write("\t".join(columns) + "\n")
        for row in zip(*columns.values(), strict=True):
            fh.write("\t".join(f"{v:.6g}" for v in row) + "\n")


def save_libfm_model(model, path: str) -> None:
    """libFM's text model of a fitted estimator (see :func:`write_libfm_model`)."""
    write_libfm_model(path, model.w0_, model.w_, model.V_, model.fit_intercept, model.fit_linear)


def write_libfm_model(path: str, w0, w, V, fit_intercept=True, fit_linear=True) -> None:
    """libFM's text model: ``#global bias W0``, ``#unary interactions Wj``, ``#pairwise…``."""
    lines = []
    if fit_intercept:
        lines += ["#global bias W0", f"{w0:.17g}"]
    if fit_linear:
        lines.append("#unary interactions Wj")
        lines += [f"{v:.17g}" for v in w]
    lines.append("#pairwise interactions Vj,f")
    lines += [" ".join(f"{v:.17g}" for v in row) for row in V]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def load_libfm_model(path: str, n_features: int, n_factors: int):
    """``(w0, w, V)`` from libFM's text model; absent sections are zeros."""
    sections: dict[str, list[list[float]]] = {}
    current = None
    with open(path) as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                current = sections.setdefault(line, [])
                continue
            if current is None:
                raise ValueError(f"{path}, line {number}: values before any section header.")
            try:
                current.append([float(v) for v in line.split()])
            except ValueError:
                raise ValueError(f"{path}, line {number}: not a number: {line[:40]!r}.") from None
    bias = sections.get("#global bias W0", [[0.0]])
    unary = sections.get("#unary interactions Wj")
    pairwise = sections.get("#pairwise interactions Vj,f", [])
    w = np.zeros(n_features)
    if unary is not None:
        if len(unary) != n_features:
            raise ValueError(f"{path}: {len(unary)} unary weights for {n_features} features.")
        w = np.array([row[0] for row in unary])
    if len(pairwise) != n_features or any(len(row) != n_factors for row in pairwise):
        raise ValueError(
            f"{path}: the pairwise section must hold {n_features} lines of {n_factors} values "
            "(-dim must match the saved model)."
        )
    return float(bias[0][0]), w, np.array(pairwise, dtype=np.float64).reshape(n_features, -1)
