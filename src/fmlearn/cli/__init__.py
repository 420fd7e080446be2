"""The ``fmlearn`` command line: a thin layer over the Python API.

Built on argparse: it ships with Python (no dependency for a console script), gives
``--help`` for every subcommand with its defaults, and — unlike click or typer — accepts
libFM's single-dash long flags (``-task r -train f``), so ``fmlearn libfm`` can take a
libFM command line unchanged.

Exit codes: 0 success, 2 usage error (bad option or value), 1 data error (a message
naming the file and line). A user never sees a traceback unless they pass ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from fmlearn._progress import announce_compilation
from fmlearn._utils import physical_memory
from fmlearn.cli._common import (
    FORMATS,
    HelpFormatter,
    UsageError,
    add_table_options,
    check_output,
    check_rows,
    guess_format,
    parse_regularization,
    read_data,
    read_fields_data,
    read_groups,
    read_interactions,
    read_table,
    split_label,
    wants_table,
    write_data,
)
from fmlearn.io.stream import FileStream, Stream


# --------------------------------------------------------------------------- commands
def _estimator(task: str, model_type: str = "fm", **params):
    from fmlearn.classification import FMClassifier
    from fmlearn.ffm import FFMClassifier, FFMRegressor, FwFMClassifier, FwFMRegressor
    from fmlearn.ordinal import FMOrdinalRegressor
    from fmlearn.regression import FMRegressor

    cls = {
        ("fm", "regression"): FMRegressor,
        ("fm", "classification"): FMClassifier,
        ("fm", "ordinal"): FMOrdinalRegressor,
        ("ffm", "regression"): FFMRegressor,
        ("ffm", "classification"): FFMClassifier,
        ("fwfm", "regression"): FwFMRegressor,
        ("fwfm", "classification"): FwFMClassifier,
    }[model_type, task]
    return cls(**params)


#: n_factors when -k is not given: libffm's 4 for the FFM, the FM's 8 otherwise.
_DEFAULT_K = {"fm": 8, "ffm": 4, "fwfm": 8}


def _check_ffm_options(args) -> None:
    """The field-aware models: libffm data, the SGD family, no hyperprior groups."""
    refused = [
        (args.task == "ordinal", "--task ordinal"),
        (args.solver in ("als", "mcmc"), f"--solver {args.solver}"),
        (args.groups is not None, "--groups"),
        (args.factor_update != "auto", f"--factor-update {args.factor_update}"),
        (args.degree != 2, f"--degree {args.degree}"),
    ]
    given = [flag for bad, flag in refused if bad]
    if given:
        raise UsageError(
            f"--model-type {args.model_type} trains with sgd, adagrad, adam or ftrl for "
            f"regression or classification: remove {' and '.join(given)}."
        )


def _train_ranking(args) -> int:
    """``--task ranking``: an FMRecommender from a 'user item [value]' file."""
    from fmlearn.recommender import FMRecommender

    given = [flag for flag, value in (
        ("--format", args.format), ("--model-type", args.model_type != "fm" or None),
        ("--l1", args.l1), ("--groups", args.groups),
        ("--n-features", args.n_features), ("--plot", args.plot),
        ("--factor-update", args.factor_update != "auto" or None),
        ("--degree", args.degree != 2 or None),
        ("--keep-samples", args.keep_samples != "auto" or None),
        ("--label", args.label), ("--sep", args.sep), ("--header", args.header),
        ("--categorical", args.categorical), ("--multi-valued", args.multi_valued),
    ) if value]  # fmt: skip
    if args.solver not in ("sgd", "adagrad", "adam"):
        given.append(f"--solver {args.solver}")
    if given:
        raise UsageError(
            f"--task ranking trains an FMRecommender on 'user item [value]' lines with sgd, "
            f"adagrad or adam: remove {' and '.join(given)}."
        )
    shape = None
    if args.shape:
        try:
            shape = tuple(int(v) for v in args.shape.split(","))
        except ValueError:
            shape = ()
        if len(shape) != 2 or min(shape) < 1:
            raise UsageError(f"--shape takes USERS,ITEMS like 943,1682; got {args.shape!r}.")
    check_output(args.model, "model file")
    R = read_interactions(args.train, shape)
    params = dict(
        loss=args.loss or "warp",
        solver=args.solver,
        max_iter=30 if args.iter is None else args.iter,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    if args.factors is not None:
        params["n_factors"] = args.factors
    if args.init_std is not None:
        params["init_std"] = args.init_std
    if args.learning_rate is not None:
        params["learning_rate"] = args.learning_rate
    if args.reg is not None:
        try:
            reg = [float(v) for v in args.reg.split(",")]
        except ValueError:
            reg = []
        if len(reg) not in (1, 2) or min(reg) < 0:
            raise UsageError(
                f"--task ranking: --reg takes 'r' or 'r_linear,r_factors' (≥ 0); got {args.reg!r}."
            )
        params["reg_linear"], params["reg_factors"] = reg[0], reg[-1]
    model = FMRecommender(**params)
    eval_set = read_interactions(args.valid, R.shape) if args.valid else None
    start = time.perf_counter()
    model.fit(R, eval_set=eval_set)
    seconds = time.perf_counter() - start
    model.save(args.model)
    print(f"trained FMRecommender ({model.loss}, k={model.n_factors}) on {R.nnz:,} "
          f"interactions of {R.shape[0]:,} users × {R.shape[1]:,} items in {seconds:.1f} s "
          f"→ {args.model}")  # fmt: skip
    if args.valid:
        scores = {k: v[-1] for k, v in model.history_.valid.items()}
        print("validation: " + "  ".join(f"{k} {v:.5f}" for k, v in scores.items()))
    return 0


#: A training file streams (``fit(FileStream)``) without ``--stream`` when its text
#: takes more than this share of the machine's memory: its CSR arrays take about as much
#: as the text, and a fit in memory holds them and a copy.
STREAM_MEMORY_SHARE = 0.4


def _streams(args) -> bool:
    """Whether ``fmlearn train`` reads the file chunk by chunk (issue 22): ``--stream``,
    or a libFM / libSVM / libffm file too large for memory, with an SGD-family solver."""
    if not Path(args.train).exists():
        return False  # the reader says so, as without streaming
    fmt = guess_format(args.train, args.format)
    text_file = fmt in ("libfm", "libsvm", "libffm")
    online = args.task in ("regression", "classification") and args.solver in (
        "sgd",
        "adagrad",
        "adam",
        "ftrl",
    )
    if args.stream:
        if not (text_file and online):
            raise UsageError(
                "--stream reads a libFM, libSVM or libffm file chunk by chunk, for "
                "--task regression or classification with an SGD-family --solver (sgd, "
                "adagrad, adam, ftrl)."
            )
        return True
    memory = physical_memory()
    if not (text_file and online and memory):
        return False
    large = os.path.getsize(args.train) > STREAM_MEMORY_SHARE * memory
    if large:
        print(f"{args.train} is larger than {STREAM_MEMORY_SHARE:.0%} of this machine's memory: "
              "streaming it (--stream)")  # fmt: skip
    return large


class _PositiveLabels(Stream):
    """A stream whose labels follow libFM's rule for two classes: > 0 is positive."""

    def __init__(self, inner: Stream):
        self.inner = inner
        self.n_features, self.fields = inner.n_features, inner.fields

    def __repr__(self) -> str:
        return repr(self.inner)

    def n_chunks(self):
        return self.inner.n_chunks()

    def chunks(self, order=None):
        for chunk in self.inner.chunks(order):
            chunk.y = np.where(chunk.y > 0, 1, -1)
            yield chunk


def _train(args) -> int:
    if args.task == "ranking":
        return _train_ranking(args)
    if args.loss is not None or args.shape is not None:
        raise UsageError("--loss and --shape are for --task ranking.")
    if args.task == "ordinal":
        given = [f for f, v in (("--reg", args.reg), ("--learning-rate", args.learning_rate)) if v]
        if given or args.solver not in ("adagrad", "mcmc"):  # adagrad: --solver's default
            raise UsageError(
                "--task ordinal is always sampled by MCMC (no --solver, and the "
                f"regularisation is sampled): remove {' and '.join(given) or '--solver'}."
            )
    check_output(args.model, "model file")
    check_output(args.plot, "plot")
    field_aware = args.model_type in ("ffm", "fwfm")
    fit_params = {}
    encoder = None
    if field_aware:
        _check_ffm_options(args)
    if wants_table(args):
        if args.n_features is not None:
            raise UsageError("--n-features is for libFM/libSVM files; a table's width is its own.")
        encoder, X, y = _encode_table(args)
        if field_aware:
            fit_params["fields"] = encoder.fields_
        elif args.solver == "mcmc" and not args.groups and args.task != "ordinal":
            fit_params["groups"] = encoder.groups_  # one hyperprior group per column
    elif _streams(args):
        X = FileStream(args.train, format=guess_format(args.train, args.format),
                       n_features=args.n_features)  # fmt: skip
        first = next(iter(X.chunks()), None)
        y = first.y if first is not None else np.empty(0)
        if field_aware:
            fit_params["fields"] = X.fields
    elif field_aware:
        X, y, fit_params["fields"] = read_fields_data(
            args.train, args.format, args.n_features, args.field_conflict
        )
    else:
        X, y = read_data(args.train, args.format, args.n_features)
    if not isinstance(X, FileStream):
        check_rows(X, args.train)
    elif y.size == 0:
        raise UsageError(f"{args.train}: the file holds no rows.")
    params = dict(
        n_factors=args.factors if args.factors is not None else _DEFAULT_K[args.model_type],
        max_iter=100 if args.iter is None else args.iter,
        init_std="auto" if args.init_std is None else args.init_std,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
        **(parse_regularization(args.reg, "--reg") or {}),
    )
    if not field_aware:
        params["factor_update"] = args.factor_update
    if args.degree != 2:
        if args.task == "ordinal":
            raise UsageError("--degree is for regression and classification (SGD family).")
        params["degree"] = args.degree
    if args.keep_samples != "auto":
        params["keep_samples"] = args.keep_samples == "all"
    if args.task != "ordinal":
        params["solver"] = args.solver
    if args.learning_rate is not None:
        params["learning_rate"] = args.learning_rate
    if args.l1 is not None:
        if args.solver != "ftrl":
            raise UsageError("--l1 is FTRL's: add --solver ftrl")
        try:
            l1 = [float(v) for v in args.l1.split(",")]
        except ValueError:
            l1 = []
        if len(l1) not in (1, 2) or min(l1) < 0:
            raise UsageError(f"--l1 takes 'l1' or 'l1_linear,l1_factors' (≥ 0); got {args.l1!r}")
        params["l1_linear"], params["l1_factors"] = l1[0], l1[-1]
    # more than two whole-number labels are classes; anything else follows libFM's rule
    labels = np.unique(y) if args.task == "classification" else np.empty(0)
    n_labels = labels.size if np.array_equal(labels, np.round(labels)) else 0
    if n_labels > 2 and args.model_type == "fm":
        params["multiclass"] = args.multiclass  # a softmax FM over the labels as they are
    elif args.multiclass != "separate":
        raise UsageError("--multiclass is for --task classification with more than two labels.")
    model = _estimator(args.task, args.model_type, **params)
    # libFM's convention for two labels: a label > 0 is the positive class; more than two
    # labels are classes as they are
    positive = args.task == "classification" and n_labels <= 2
    width = X.n_features if isinstance(X, Stream) else X.shape[1]
    if positive and isinstance(X, FileStream):
        X = _PositiveLabels(X)
    elif positive:
        y = np.where(y > 0, 1, -1)
    if args.valid and encoder is not None:
        frame, y_valid = split_label(read_table(args.valid, args.sep), args.label_name, args.valid)
        X_valid = encoder.transform(frame)
        fit_params["eval_set"] = [(X_valid, np.where(y_valid > 0, 1, -1) if positive else y_valid)]
    elif args.valid:
        X_valid, y_valid = read_data(args.valid, None, width)
        check_rows(X_valid, args.valid)
        fit_params["eval_set"] = [(X_valid, np.where(y_valid > 0, 1, -1) if positive else y_valid)]
    if args.groups:
        fit_params["groups"] = read_groups(args.groups, width)
    start = time.perf_counter()
    if isinstance(X, Stream):
        model.fit(X, **fit_params)  # the labels come with the chunks
    else:
        model.fit(X, y, **fit_params)
    seconds = time.perf_counter() - start
    if encoder is not None:  # saved together, so that predict reads raw tables
        from sklearn.pipeline import make_pipeline

        from fmlearn.persist import save

        save(make_pipeline(encoder, model), args.model)
    else:
        model.save(args.model)
    summary = f"trained {type(model).__name__} ({model.solver}, k={model.n_factors}) "
    if isinstance(X, Stream):
        summary += f"streaming {args.train} ({model.n_features_in_:,} features) in {seconds:.1f} s"
    else:
        summary += f"on {X.shape[0]:,} rows × {X.shape[1]:,} features in {seconds:.1f} s"
    if encoder is not None:
        summary += f" (label column {args.label_name!r}, {len(encoder.columns_)} columns encoded)"
    size = f"{os.path.getsize(args.model) / 2**20:.1f} MiB"
    samples = len(getattr(model, "samples_", None) or [])
    if samples:  # MCMC keeps its samples for prediction: say what that costs
        size += f", {samples} MCMC samples kept; --keep-samples mean saves their mean only"
    print(summary + f" → {args.model} ({size})")
    if args.valid:
        scores = {k: v[-1] for k, v in model.history_.valid.items()}
        print("validation: " + "  ".join(f"{k} {v:.5f}" for k, v in scores.items()))
    if args.plot:
        from fmlearn.plot import save_learning_curve

        save_learning_curve(model, args.plot)
        print(f"learning curve → {args.plot}")
    return 0


def _encode_table(args):
    """``(encoder, X, y)`` from a table: the label column split off, the others through
    an :class:`~fmlearn.FMEncoder` (fitted here, saved with the model)."""
    from fmlearn.io.encoder import FMEncoder

    frame = read_table(args.train, args.sep)
    features, y = split_label(frame, args.label, args.train)
    args.label_name = str(frame.columns[0]) if args.label is None else args.label

    def names(text):
        return None if text is None else [c.strip() for c in text.split(",") if c.strip()]

    try:  # before encoding: a wrong label column is found at once
        y = np.asarray(y, dtype=np.float64)
    except ValueError:
        raise UsageError(
            f"{args.train}: the label column {args.label_name!r} is not numeric; name the "
            "label with --label."
        ) from None
    encoder = FMEncoder(categorical=names(args.categorical), multi_valued=names(args.multi_valued))
    return encoder, encoder.fit_transform(features), y


def _table_encoder(model):
    """The FMEncoder of a model trained on a table (a Pipeline that starts with one)."""
    from sklearn.pipeline import Pipeline

    from fmlearn.io.encoder import FMEncoder

    if isinstance(model, Pipeline) and isinstance(model.steps[0][1], FMEncoder):
        return model.steps[0][1]
    return None


def _read_for(model, args):
    """``(X, y)`` for predicting with ``model``: a raw table for a model trained on one
    (its label column, if present, split off), else a libFM / libSVM / CSV matrix."""
    encoder = _table_encoder(model)
    if encoder is None:
        if args.label or args.sep:
            raise UsageError("--label and --sep are for models trained on a table.")
        return read_data(args.data, args.format, model.n_features_in_)
    fmt = args.format
    if fmt is None:
        try:
            fmt = guess_format(args.data, None)
        except UsageError:  # no known suffix: read it as the table the model expects
            fmt = None
    if fmt not in (None, "table", "csv"):
        raise UsageError(
            f"{args.model} was trained on a table: give it one (named columns), not a {fmt} file."
        )
    frame = read_table(args.data, args.sep)
    columns = list(encoder.feature_names_in_)
    missing = [c for c in columns if c not in {str(n) for n in frame.columns}]
    if missing:
        raise UsageError(f"{args.data}: no columns {missing}; the model reads {columns}.")
    return split_label(frame, args.label, args.data, keep=columns)


def _load_model(path: str):
    from fmlearn.persist import load

    return load(path)


def _predict(args) -> int:
    model = _load_model(args.model)
    if hasattr(model, "recommend") and not hasattr(model, "predict"):
        raise UsageError(f"{args.model} holds a recommender: use 'fmlearn recommend'.")
    if not hasattr(model, "predict"):
        raise UsageError(
            f"{args.model} holds a {type(model).__name__}, which does not predict; "
            "save the fitted estimator (or a Pipeline ending in one) instead."
        )
    check_output(args.out, "output file")
    X, _ = _read_for(model, args)
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise UsageError(f"--proba needs a classifier; {args.model} holds a regressor.")
        proba = model.predict_proba(X)
        values = proba[:, 1] if proba.shape[1] == 2 else proba
    else:
        values = model.predict(X)
    out = sys.stdout if args.out in (None, "-") else open(args.out, "w")
    try:
        np.savetxt(out, np.atleast_1d(values), fmt="%.10g")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def evaluate_predictions(model, X, y) -> dict:
    """RMSE/MAE for regression, AUC/log-loss/accuracy for classification (log-loss and
    accuracy for more than two classes)."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    from fmlearn.tasks.binary import known_labels

    classes = getattr(model, "classes_", np.empty(0))
    if hasattr(model, "predict_proba") and classes.size > 2 and model.link_ == "softmax":
        y = known_labels(y, classes)
        return {
            "logloss": log_loss(y, model.predict_proba(X), labels=classes),
            "accuracy": accuracy_score(y, model.predict(X)),
        }
    if hasattr(model, "predict_proba") and classes.size == 2:
        y = np.where(np.asarray(y) > 0, model.classes_[1], model.classes_[0])
        p = model.predict_proba(X)[:, 1]
        positive = y == model.classes_[1]
        return {
            "auc": roc_auc_score(positive, p) if 0 < positive.sum() < y.size else float("nan"),
            "logloss": log_loss(positive, p, labels=[False, True]),
            "accuracy": accuracy_score(y, model.predict(X)),
        }
    pred = model.predict(X)
    return {
        "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "mae": float(np.mean(np.abs(pred - y))),
    }


def _recommender(model, path: str):
    from fmlearn.recommender import FMRecommender

    if not isinstance(model, FMRecommender):
        raise UsageError(
            f"{path} holds a {type(model).__name__}; this needs a model trained with "
            "'fmlearn train … --task ranking'."
        )
    return model


def _evaluate_ranking(args, model) -> int:
    from fmlearn.metrics import ranking_report

    model = _recommender(model, args.model)
    if args.k < 1:
        raise UsageError(f"-k must be ≥ 1; got {args.k}.")
    test = read_interactions(args.data, (model.n_users_, model.n_items_))
    users = np.flatnonzero(np.diff(test.indptr))
    if users.size == 0:
        raise ValueError(f"{args.data}: no held-out interaction.")
    ids, _ = model.recommend(users, n=args.k)
    report = ranking_report(ids, test, args.k, users=users, n_items=model.n_items_)
    for name, value in report.items():
        label = name if name in ("n_users", "coverage") else f"{name}@{args.k}"
        print(f"{label}\t{value:.6f}" if isinstance(value, float) else f"{label}\t{value}")
    return 0


def _recommend(args) -> int:
    model = _recommender(_load_model(args.model), args.model)
    if args.users:
        try:
            users = np.array([int(u) for u in args.users.split(",")], dtype=np.int64)
        except ValueError:
            raise UsageError(f"--users takes ids like 0,5,9; got {args.users!r}.") from None
    else:
        users = np.arange(model.n_users_)
    if args.n < 1:
        raise UsageError(f"-n must be ≥ 1; got {args.n}.")
    check_output(args.out, "output file")
    ids, scores = model.recommend(users, n=args.n, filter_seen=not args.keep_seen)
    out = sys.stdout if args.out in (None, "-") else open(args.out, "w")
    try:
        for row, user in enumerate(users):
            for rank in range(ids.shape[1]):
                if ids[row, rank] >= 0:
                    out.write(f"{user}\t{rank + 1}\t{ids[row, rank]}\t{scores[row, rank]:.6g}\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _evaluate(args) -> int:
    model = _load_model(args.model)
    from fmlearn.recommender import FMRecommender

    if args.ranking or isinstance(model, FMRecommender):
        if args.format is not None:
            raise UsageError("--format: a recommender is evaluated on 'user item' lines.")
        return _evaluate_ranking(args, model)
    X, y = _read_for(model, args)
    if y is None:
        raise UsageError(f"{args.data}: no label column to evaluate against; name it with --label.")
    for name, value in evaluate_predictions(model, X, y).items():
        print(f"{name}\t{value:.6f}")
    return 0


def _export(args) -> int:
    from fmlearn.export import save_onnx

    check_output(args.out, "ONNX file")
    model = _load_model(args.model)
    dtype = np.float64 if args.float64 else np.float32
    try:
        save_onnx(model, args.out, dtype=dtype)
    except TypeError as exc:  # not an exportable model: the user's choice of file
        raise UsageError(f"{args.model}: {exc}") from exc
    print(
        f"{args.model} → {args.out}: inputs indices int64 [N, W] and values "
        f"{np.dtype(dtype).name} [N, W], any N and W; {len(model.w_):,} features"
    )
    return 0


def _convert(args) -> int:
    check_output(args.target, "output file")
    X, y = read_data(args.source, args.source_format)
    write_data(args.target, guess_format(args.target, args.target_format), X, y)
    print(f"{args.source} → {args.target}: {X.shape[0]:,} rows, {X.shape[1]:,} features")
    return 0


def _fetch(args) -> int:
    from fmlearn.datasets import fetch_frappe, fetch_movielens

    kwargs = {"data_home": args.data_home} if args.data_home else {}
    if args.name == "frappe":
        fetch_frappe(**kwargs)
    else:
        fetch_movielens(args.name.removeprefix("movielens-"), **kwargs)
    print(f"{args.name}: ready")
    return 0


def _demo(args) -> int:
    from fmlearn.demo import format_demo, run_demo

    if args.rows < 100:
        raise UsageError("--rows must be at least 100.")
    results, info = run_demo(n_samples=args.rows, random_state=args.seed, verbose=args.verbose)
    print(format_demo(results, info))
    return 0


def _libfm(args) -> int:
    from fmlearn.cli import libfm

    remaining = args.libfm_args[1:] if args.libfm_args[:1] == ["--"] else args.libfm_args
    return libfm.run(remaining)


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from fmlearn._version import __version__

    parser = argparse.ArgumentParser(
        prog="fmlearn", description="Factorization Machines: train, predict, evaluate."
    )
    parser.add_argument("--version", action="version", version=f"fmlearn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, run, help_):
        p = sub.add_parser(
            name,
            help=help_,
            description=help_,
            formatter_class=HelpFormatter,
        )
        p.set_defaults(run=run)
        return p

    train = command("train", _train, "fit a model on a data file and save it")
    train.add_argument("train", help="training data (libFM, libSVM, libffm, CSV or TSV)")
    train.add_argument("-o", "--model", required=True, help="model file to write")
    train.add_argument("--format", choices=FORMATS, help="data format (default: from suffix)")
    add_table_options(train, training=True)
    train.add_argument(
        "--task",
        choices=("regression", "classification", "ordinal", "ranking"),
        default="regression",
        help="classification: a label > 0 is the positive class (as libFM), or, with more "
        "than two whole-number labels, each label a class (a softmax FM); ranking: "
        "implicit feedback, lines 'user item [value]' (0-based ids) → an FMRecommender",
    )
    train.add_argument(
        "--multiclass",
        choices=("separate", "shared"),
        default="separate",
        help="more than two classes: each class has its own factors, or the classes share "
        "them (one projection each; faster, less memory)",
    )
    train.add_argument(
        "--loss", choices=("warp", "bpr", "logistic"), help="--task ranking (default warp)"
    )
    train.add_argument(
        "--shape", help="--task ranking: USERS,ITEMS (default: the largest ids in the file + 1)"
    )
    train.add_argument(
        "--solver",
        choices=("sgd", "adagrad", "adam", "ftrl", "als", "mcmc"),
        default="adagrad",
        help="optimiser (ordinal: always mcmc)",
    )
    train.add_argument(
        "--model-type",
        choices=("fm", "ffm", "fwfm"),
        default="fm",
        help="fm: factorization machine; ffm: field-aware FM (libffm's model); fwfm: "
        "field-weighted FM. ffm and fwfm need a libffm file and train with "
        "sgd/adagrad/adam/ftrl",
    )
    train.add_argument(
        "--field-conflict",
        choices=("error", "first"),
        default="error",
        help="ffm/fwfm on a libffm file: a feature written with two fields is an error, or "
        "keeps its first (a plain FM drops the fields and ignores this)",
    )
    train.add_argument(
        "-k", "--factors", type=int, default=None, help="n_factors (rank k; default 8, ffm 4)"
    )
    train.add_argument(
        "--l1", help="FTRL's L1 'l1_linear,l1_factors' or 'l1' for both (exact zeros)"
    )
    train.add_argument(
        "--iter", type=int, default=None, help="epochs or sweeps (default 100; ranking 30)"
    )
    train.add_argument("--learning-rate", type=float, help="default: the solver's")
    train.add_argument("--reg", help="L2 'r0,r1,r2' or 'r' (default: the solver's)")
    train.add_argument(
        "--init-std", type=float, default=None, help="std of initial V (default: 'auto')"
    )
    train.add_argument(
        "--degree",
        type=int,
        default=2,
        help="the highest order of interactions: 2 is the FM, 3-5 a higher-order FM (SGD family)",
    )
    train.add_argument(
        "--factor-update",
        choices=("auto", "scalar", "block"),
        default="auto",
        help="ALS/MCMC: update each feature's factors one at a time or as a block "
        "(auto: block for ALS, scalar for MCMC)",
    )
    train.add_argument(
        "--keep-samples",
        choices=("auto", "all", "mean"),
        default="auto",
        help="MCMC: save every averaged sample (exact libFM/myFM predictions; the file grows "
        "with them), only their mean, or all while they take ≤ 512 MiB",
    )
    train.add_argument("--seed", type=int, default=None, help="random_state")
    train.add_argument("--valid", help="validation file, recorded per epoch")
    train.add_argument("--groups", help="libFM -meta file: one group id per feature (MCMC)")
    train.add_argument("--n-features", type=int, help="features (default: as the data has)")
    train.add_argument(
        "--stream",
        action="store_true",
        help="read the file chunk by chunk while training (SGD family; memory holds two "
        "chunks, not the file; with --task classification, the labels of the first chunk "
        "decide two classes or more); the default for files larger than 40%% of memory",
    )
    train.add_argument("--plot", help="save the learning curve to this image file")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    predict = command("predict", _predict, "write one prediction per line")
    predict.add_argument("model", help="model file from 'fmlearn train'")
    predict.add_argument("data", help="data file")
    predict.add_argument("-o", "--out", help="output file (default: stdout)")
    predict.add_argument("--format", choices=FORMATS)
    add_table_options(predict, training=False)
    predict.add_argument("--proba", action="store_true", help="classifier: P(positive)")

    evaluate = command(
        "evaluate", _evaluate, "print RMSE/MAE, AUC/log-loss/accuracy or ranking metrics"
    )
    evaluate.add_argument("model")
    evaluate.add_argument("data", help="data file; for a recommender, held-out 'user item' lines")
    evaluate.add_argument("--format", choices=FORMATS)
    add_table_options(evaluate, training=False)
    evaluate.add_argument(
        "--ranking", action="store_true", help="precision/recall/nDCG/MAP@k of top-k lists "
        "(the default for a model trained with --task ranking)"
    )  # fmt: skip
    evaluate.add_argument("-k", type=int, default=10, help="list length for --ranking")

    recommend = command("recommend", _recommend, "write top-n lists: 'user rank item score'")
    recommend.add_argument("model", help="model file from 'fmlearn train --task ranking'")
    recommend.add_argument("--users", help="comma-separated user ids (default: every user)")
    recommend.add_argument("-n", type=int, default=10, help="items per user")
    recommend.add_argument("--keep-seen", action="store_true", help="list training items too")
    recommend.add_argument("-o", "--out", help="output file (default: stdout)")

    export = command(
        "export", _export, "write a model as ONNX (rows as padded feature indices and values)"
    )
    export.add_argument("model", help="model file from 'fmlearn train' (FM)")
    export.add_argument("-o", "--out", required=True, help="ONNX file to write")
    export.add_argument(
        "--float64", action="store_true", help="compute in float64 (default float32)"
    )

    convert = command("convert", _convert, "convert between libfm, libsvm, libffm and csv")
    convert.add_argument("source")
    convert.add_argument("target")
    convert.add_argument("--from", dest="source_format", choices=FORMATS)
    convert.add_argument("--to", dest="target_format", choices=FORMATS)

    fetch = command("fetch", _fetch, "download a dataset into the local cache")
    fetch.add_argument(
        "name",
        choices=(
            "movielens-100k",
            "movielens-1m",
            "movielens-10m",
            "movielens-20m",
            "movielens-25m",
            "movielens-latest-small",
            "frappe",
        ),
    )
    fetch.add_argument("--data-home", help="cache directory (default ~/fmlearn_data)")

    demo = command("demo", _demo, "train on generated data and compare with a linear model")
    demo.add_argument("--rows", type=int, default=200_000, help="rows to generate")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--verbose", type=int, default=0, help="1: one line per epoch")

    libfm = command("libfm", _libfm, "run with libFM's command-line flags (see -help)")
    libfm.add_argument("libfm_args", nargs=argparse.REMAINDER, help="libFM flags")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if "libfm" in argv and set(argv[: argv.index("libfm")]) <= {"--debug"}:
        # libFM's flags start with one dash; hand them over untouched
        split = argv.index("libfm")
        argv = [*argv[:split], "libfm", "--", *argv[split + 1 :]]
    args = parser.parse_args(argv)  # exits with code 2 on usage errors
    try:
        if getattr(args, "quiet", False):
            return args.run(args)
        with announce_compilation():  # a new install's first run compiles for seconds
            return args.run(args)
    except UsageError as exc:
        if args.debug:
            raise
        print(f"fmlearn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`fmlearn predict … | head -1`): what it wanted it has; stop
        # quietly, and keep the interpreter's final flush from writing to the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError, ImportError, MemoryError) as exc:
        if args.debug:
            raise
        print(f"fmlearn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fmlearn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
