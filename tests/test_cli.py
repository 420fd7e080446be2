"""The command line: train → predict → evaluate, exit codes, libFM compatibility."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import load
from fmlearn.cli import main
from fmlearn.cli.libfm import load_libfm_model, save_libfm_model
from fmlearn.datasets import make_recommendation


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    X, y, _ = make_recommendation(3000, n_users=40, n_items=30, n_contexts=3, random_state=0)
    paths = {}
    for name, rows in (("train", slice(0, 2500)), ("test", slice(2500, 3000))):
        table = np.column_stack([y[rows], X[rows].toarray()])
        paths[name] = folder / f"{name}.csv"
        np.savetxt(paths[name], table, delimiter=",", fmt="%.17g")
    return folder, paths


def test_train_predict_evaluate(csv_files, capsys):
    folder, paths = csv_files
    model = folder / "m.fmlearn"
    code = main(["train", str(paths["train"]), "-o", str(model), "-k", "4", "--iter", "20",
                 "--seed", "0", "--valid", str(paths["test"]), "-q"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "trained FMRegressor (adagrad, k=4)" in out and "validation: rmse" in out
    assert main(["predict", str(model), str(paths["test"]), "-o", str(folder / "p.txt")]) == 0
    pred = np.loadtxt(folder / "p.txt")
    table = np.loadtxt(paths["test"], delimiter=",")
    np.testing.assert_allclose(pred, load(model).predict(sp.csr_matrix(table[:, 1:])), rtol=1e-9)
    capsys.readouterr()
    assert main(["evaluate", str(model), str(paths["test"])]) == 0
    metrics = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    rmse = np.sqrt(np.mean((pred - table[:, 0]) ** 2))
    assert float(metrics["rmse"]) == pytest.approx(rmse, rel=1e-5)


def test_classification_and_plot(csv_files, capsys):
    pytest.importorskip("matplotlib")
    folder, paths = csv_files
    model, png = folder / "c.fmlearn", folder / "curve.png"
    args = ["train", str(paths["train"]), "-o", str(model), "--task", "classification",
            "--iter", "5", "--seed", "0", "--valid", str(paths["test"]),
            "--plot", str(png), "-q"]  # fmt: skip
    assert main(args) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["evaluate", str(model), str(paths["test"])]) == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["auc", "logloss", "accuracy"]


def test_multiclass_from_a_libfm_file(tmp_path, capsys):
    """--task classification with more than two labels: each label a class (softmax FM)."""
    from fmlearn.datasets import make_multiclass
    from fmlearn.io import dump_libfm

    X, y, _ = make_multiclass(3000, n_classes=4, n_features=60, random_state=0)
    for name, rows in (("train", slice(0, 2500)), ("test", slice(2500, 3000))):
        dump_libfm(X[rows], y[rows] + 1, tmp_path / f"{name}.libfm")
    model = tmp_path / "mc.fmlearn"
    args = ["train", str(tmp_path / "train.libfm"), "-o", str(model), "--task",
            "classification", "--iter", "3", "--seed", "0",
            "--valid", str(tmp_path / "test.libfm"), "-q"]  # fmt: skip
    assert main(args) == 0
    fitted = load(model)
    assert fitted.classes_.tolist() == [1, 2, 3, 4] and fitted.V_.ndim == 3
    capsys.readouterr()
    assert main(["evaluate", str(model), str(tmp_path / "test.libfm")]) == 0
    metrics = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert list(metrics) == ["logloss", "accuracy"]
    assert float(metrics["accuracy"]) == pytest.approx(fitted.score(X[2500:], y[2500:] + 1))
    out = tmp_path / "p.txt"
    assert (
        main(["predict", str(model), str(tmp_path / "test.libfm"), "--proba", "-o", str(out)]) == 0
    )
    np.testing.assert_allclose(np.loadtxt(out), fitted.predict_proba(X[2500:]), rtol=1e-8)
    two = ["train", str(tmp_path / "train.libfm"), "-o", str(model), "--multiclass", "shared"]
    assert main(two) == 2
    assert "--multiclass is for --task classification" in capsys.readouterr().err


def test_degree(csv_files, capsys):
    folder, paths = csv_files
    model = folder / "h.fmlearn"
    args = ["train", str(paths["train"]), "-o", str(model), "--degree", "3", "-k", "2",
            "--iter", "2", "--seed", "0", "-q"]  # fmt: skip
    assert main(args) == 0
    assert load(model).V_.shape[1:] == (2, 2)
    assert main([*args[:-1], "--solver", "mcmc", "-q"]) == 1
    assert "SGD family" in capsys.readouterr().err
    assert main([*args, "--model-type", "ffm"]) == 2


def test_exit_codes_and_messages(csv_files, capsys, tmp_path):
    paths = csv_files[1]
    assert main(["predict", str(tmp_path / "missing.fmlearn"), str(paths["test"])]) == 1
    assert "missing.fmlearn" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,x\n")
    assert main(["train", str(bad), "-o", str(tmp_path / "m")]) == 1
    assert "bad.csv" in capsys.readouterr().err
    assert main(["train", str(paths["train"]), "-o", "m", "--reg", "1,2"]) == 2
    assert "--reg takes 1 or 3 numbers" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "data.unknown"), "-o", "m"]) == 1  # no such file
    with pytest.raises(SystemExit) as exc:
        main(["train", str(paths["train"])])  # -o missing: argparse usage error
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["libfm", "-task", "r", "-train", "x", "-test", "y", "-dim", "1,1,8", "-bogus", "1"])
    assert exc.value.code == 2
    assert main(["libfm", "-task", "r", "-train", "x", "-test", "y", "-dim", "1,1"]) == 2
    assert "-dim must be 'k0,k1,k2'" in capsys.readouterr().err
    assert main(["libfm", "-task", "r", "-train", "x", "-test", "y", "-method", "sgda"]) == 2
    capsys.readouterr()
    assert main(["libfm", "-task", "r", "-train", "x", "-test", "y", "-method", "sgda",
                 "-validation", "v", "-relation", "r"]) == 2  # fmt: skip
    assert "-method sgda with -relation" in capsys.readouterr().err


def test_unwritable_outputs_fail_before_any_work(csv_files, capsys, tmp_path):
    """A missing folder is named at once, not after training, and not as a temporary file."""
    paths = csv_files[1]
    missing = tmp_path / "no" / "such" / "m.fmlearn"
    assert main(["train", str(paths["train"]), "-o", str(missing)]) == 2
    captured = capsys.readouterr()
    assert f"cannot write model file {missing}" in captured.err and "does not exist" in captured.err
    assert "trained" not in captured.out and ".tmp" not in captured.err
    assert main(["train", str(paths["train"]), "-o", str(tmp_path)]) == 2  # a folder
    assert "is a folder" in capsys.readouterr().err
    model = tmp_path / "m.fmlearn"
    assert main(["train", str(paths["train"]), "-o", str(model), "--iter", "1", "-q"]) == 0
    capsys.readouterr()
    for argv in (
        ["predict", str(model), str(paths["test"]), "-o", str(missing)],
        ["export", str(model), "-o", str(missing)],
        ["convert", str(paths["test"]), str(missing)],
    ):
        assert main(argv) == 2, argv
        assert "cannot write" in capsys.readouterr().err
    assert not missing.parent.exists()


def test_train_says_what_mcmc_samples_cost(libfm_files, tmp_path, capsys):
    folder = libfm_files[0]
    argv = ["train", str(folder / "train.libfm"), "--solver", "mcmc", "--iter", "30", "-q"]
    assert main([*argv, "-o", str(tmp_path / "all.fmlearn")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\(\d+\.\d MiB, \d+ MCMC samples kept; --keep-samples mean", out)
    assert main([*argv, "-o", str(tmp_path / "mean.fmlearn"), "--keep-samples", "mean"]) == 0
    assert "samples kept" not in capsys.readouterr().out
    assert load(tmp_path / "mean.fmlearn").samples_ == []
    sizes = [(tmp_path / f"{name}.fmlearn").stat().st_size for name in ("mean", "all")]
    assert sizes[0] * 5 < sizes[1]


def test_an_empty_data_file_is_named(tmp_path, capsys):
    empty = tmp_path / "empty.libfm"
    empty.write_text("")
    assert main(["train", str(empty), "-o", str(tmp_path / "m.fmlearn")]) == 2
    assert f"{empty}: no data rows" in capsys.readouterr().err


def test_a_closed_pipe_ends_predict_quietly(csv_files, tmp_path):
    """`fmlearn predict … | head -1`: no 'Broken pipe' error, exit status 0."""
    import subprocess
    import sys

    paths = csv_files[1]
    model = tmp_path / "m.fmlearn"
    assert main(["train", str(paths["train"]), "-o", str(model), "--iter", "1", "-q"]) == 0
    rows = tmp_path / "many.csv"  # more output than a pipe buffers (64 kB)
    table = np.loadtxt(paths["test"], delimiter=",")
    np.savetxt(rows, np.tile(table, (20, 1)), delimiter=",", fmt="%.17g")
    run = subprocess.Popen(
        [sys.executable, "-m", "fmlearn", "predict", str(model), str(rows)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    first = run.stdout.readline()
    run.stdout.close()  # what `head -1` does after its line
    err = run.stderr.read().decode()
    assert run.wait(timeout=120) == 0, err
    assert first.strip() and "Broken pipe" not in err and "Error" not in err


def test_a_plain_fm_ignores_libffm_field_conflicts(tmp_path, capsys):
    """xLearn's sample files write some features under two fields: a plain FM drops the
    fields and trains; a field-aware model stops and names the command-line flag."""
    lines = [f"{i % 2} 0:{i % 7}:1 1:{7 + i % 5}:1 2:{12 + i % 3}:0.5" for i in range(60)]
    lines[10] = "1 0:3:1 1:3:1 2:13:0.5"  # feature 3 in fields 0 and 1
    data = tmp_path / "conflict.ffm"
    data.write_text("\n".join(lines) + "\n")
    model = tmp_path / "m.fmlearn"
    argv = ["train", str(data), "-o", str(model), "--iter", "2", "-q", "--task", "classification"]
    assert main(argv) == 0
    assert main([*argv, "--model-type", "ffm"]) == 1
    err = capsys.readouterr().err
    assert "line 11" in err and "--field-conflict first" in err
    assert main([*argv, "--model-type", "ffm", "--field-conflict", "first"]) == 0


def test_convert_csv_round_trip(csv_files, tmp_path, capsys):
    _, paths = csv_files
    target = tmp_path / "copy.csv"
    assert main(["convert", str(paths["train"]), str(target)]) == 0
    np.testing.assert_array_equal(
        np.loadtxt(target, delimiter=","), np.loadtxt(paths["train"], delimiter=",")
    )


def test_libfm_model_text_format_round_trip(tmp_path):
    from fmlearn import FMRegressor

    X, y, _ = make_recommendation(500, n_users=10, n_items=8, n_contexts=2, random_state=1)
    fm = FMRegressor(n_factors=3, max_iter=3, random_state=0).fit(X, y)
    save_libfm_model(fm, tmp_path / "m.txt")
    text = (tmp_path / "m.txt").read_text().splitlines()
    assert text[0] == "#global bias W0" and text[2] == "#unary interactions Wj"
    w0, w, V = load_libfm_model(tmp_path / "m.txt", X.shape[1], 3)
    assert w0 == fm.w0_
    np.testing.assert_array_equal(w, fm.w_)
    np.testing.assert_array_equal(V, fm.V_)
    with pytest.raises(ValueError, match="-dim must match"):
        load_libfm_model(tmp_path / "m.txt", X.shape[1], 4)


@pytest.fixture(scope="module")
def libfm_files(tmp_path_factory):
    from fmlearn.io import dump_libfm

    folder = tmp_path_factory.mktemp("libfm")
    X, y, _ = make_recommendation(3000, n_users=40, n_items=30, n_contexts=3, random_state=2)
    dump_libfm(X[:2500], y[:2500], folder / "train.libfm")
    dump_libfm(X[2500:], y[2500:], folder / "test.libfm")
    return folder, X, y


def test_libfm_mcmc_regression_outputs(libfm_files, capsys):
    folder, _, y = libfm_files
    out, rlog = folder / "pred.txt", folder / "log.tsv"
    argv = ["libfm", "-task", "r", "-train", str(folder / "train.libfm"),
            "-test", str(folder / "test.libfm"), "-dim", "1,1,4", "-iter", "30",
            "-method", "mcmc", "-out", str(out), "-rlog", str(rlog), "-seed", "1"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    # libFM's lines, which scripts parse: one per iteration, then the final score
    iters = [line for line in printed if line.startswith("#Iter=")]
    assert len(iters) == 30 and printed[-1].startswith("Final\tTest=")
    assert re.fullmatch(r"#Iter=  0\tTrain=[0-9.]+\tTest=[0-9.]+", iters[0])
    assert iters[-1].split("Test=")[1] == printed[-1].split("Test=")[1].split("\t")[0]
    pred = np.loadtxt(out)
    assert pred.shape == (500,)
    assert np.sqrt(np.mean((pred - y[2500:]) ** 2)) < 0.8  # noise 0.5
    header, *rows = rlog.read_text().splitlines()
    assert header.split("\t") == ["time_learn", "rmse_mcmc_all", "rmse_train"]
    assert len(rows) == 30
    final_rmse = float(rows[-1].split("\t")[1])  # the running average, as -out holds
    assert final_rmse == pytest.approx(np.sqrt(np.mean((pred - y[2500:]) ** 2)), rel=1e-5)


def test_libfm_sgd_save_and_load_model(libfm_files, capsys):
    folder, *_ = libfm_files
    model = folder / "m.txt"
    base = ["libfm", "-task", "r", "-train", str(folder / "train.libfm"),
            "-test", str(folder / "test.libfm"), "-dim", "1,1,4", "-method", "sgd",
            "-learn_rate", "0.01", "-regular", "0,0,0.01", "-seed", "0"]  # fmt: skip
    assert main([*base, "-iter", "5", "-save_model", str(model)]) == 0
    first = float(capsys.readouterr().out.split("Final\tTest=")[1].split()[0])
    assert model.read_text().startswith("#global bias W0\n")
    assert main([*base, "-iter", "5", "-load_model", str(model)]) == 0
    continued = float(capsys.readouterr().out.split("Final\tTest=")[1].split()[0])
    assert continued < first  # 5 more epochs from the saved model, not from scratch


def test_libfm_classification_probabilities(libfm_files, tmp_path, capsys):
    _, X, y = libfm_files
    from fmlearn.io import dump_libfm

    labels = np.where(y > np.median(y), 1, -1)
    dump_libfm(X[:2500], labels[:2500], tmp_path / "train.libfm")
    dump_libfm(X[2500:], labels[2500:], tmp_path / "test.libfm")
    out = tmp_path / "p.txt"
    argv = ["libfm", "-task", "c", "-train", str(tmp_path / "train.libfm"),
            "-test", str(tmp_path / "test.libfm"), "-dim", "1,1,4", "-iter", "20",
            "-out", str(out), "-seed", "0"]  # fmt: skip
    assert main(argv) == 0
    p = np.loadtxt(out)
    assert np.all((p > 0) & (p < 1))
    accuracy = np.mean((p > 0.5) == (labels[2500:] > 0))
    assert accuracy > 0.7
    iters = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#Iter")]
    # MCMC classification: accuracy, and libFM's base-10 log-loss of the test set
    assert len(iters) == 20 and "\tTest(ll)=" in iters[-1]
    assert float(iters[-1].split("Test=")[1].split("\t")[0]) == pytest.approx(accuracy)
    ll10 = -np.mean(np.where(labels[2500:] > 0, np.log10(p), np.log10(1 - p)))
    assert float(iters[-1].split("Test(ll)=")[1]) == pytest.approx(ll10, rel=1e-4)
    # ratings are not labels: every one > 0 is one class, and the message says so
    dump_libfm(X[:2500], np.abs(y[:2500]) + 1, tmp_path / "ratings.libfm")
    argv[argv.index("-train") + 1] = str(tmp_path / "ratings.libfm")
    assert main(argv) == 2
    assert "labels are ≤ 0 (negative) or > 0 (positive)" in capsys.readouterr().err


def test_train_libfm_file_with_groups(libfm_files, tmp_path, capsys):
    folder = libfm_files[0]
    groups = tmp_path / "groups.txt"
    np.savetxt(groups, np.repeat([0, 1, 2], [40, 30, 3]), fmt="%d")
    argv = ["train", str(folder / "train.libfm"), "-o", str(tmp_path / "m.fmlearn"),
            "--solver", "mcmc", "--iter", "10", "--groups", str(groups), "-q"]  # fmt: skip
    assert main(argv) == 0
    assert load(tmp_path / "m.fmlearn").hyper_trace_["lambda_w"].shape[1] == 3
    assert main([*argv, "--factor-update", "block"]) == 0
    assert load(tmp_path / "m.fmlearn").factor_update == "block"
    bad = tmp_path / "bad_groups.txt"
    np.savetxt(bad, np.zeros(5), fmt="%d")
    argv[argv.index(str(groups))] = str(bad)
    assert main(argv) == 1
    assert "5 group ids for 73 features" in capsys.readouterr().err


def test_ordinal_task_refuses_what_mcmc_samples(csv_files, capsys, tmp_path):
    paths = csv_files[1]
    for extra in (["--reg", "0.1"], ["--learning-rate", "0.1"], ["--solver", "sgd"]):
        argv = ["train", str(paths["train"]), "-o", str(tmp_path / "m"), "--task", "ordinal"]
        assert main([*argv, *extra]) == 2
        assert "always sampled by MCMC" in capsys.readouterr().err


def test_predict_with_a_file_that_holds_no_estimator(csv_files, capsys, tmp_path):
    pd = pytest.importorskip("pandas")
    from fmlearn import FMEncoder, save

    paths = csv_files[1]
    encoder = FMEncoder().fit(pd.DataFrame({"city": ["a", "b"]}))
    save(encoder, tmp_path / "enc.fmlearn")
    assert main(["predict", str(tmp_path / "enc.fmlearn"), str(paths["test"])]) == 2
    assert "holds a FMEncoder, which does not predict" in capsys.readouterr().err


@pytest.fixture(scope="module")
def libffm_files(tmp_path_factory):
    from fmlearn.io import dump_libffm

    folder = tmp_path_factory.mktemp("ffm")
    rng = np.random.default_rng(0)
    n, n_fields, per = 3000, 4, 10
    cols = (np.arange(n_fields) * per)[None, :] + rng.integers(0, per, (n, n_fields))
    indptr = np.arange(0, n * n_fields + 1, n_fields)
    X = sp.csr_matrix((np.ones(n * n_fields), cols.ravel(), indptr), shape=(n, n_fields * per))
    fields = np.repeat(np.arange(n_fields), per)
    y = (np.sin(cols[:, 0]) * np.cos(cols[:, 1] + cols[:, 2]) > 0).astype(int)
    for name, rows in (("train", slice(0, 2500)), ("test", slice(2500, n))):
        dump_libffm(X[rows], y[rows], folder / f"{name}.ffm", fields=fields)
    return folder


def test_train_field_aware_model_from_libffm(libffm_files, capsys):
    model = libffm_files / "ffm.fmlearn"
    argv = ["train", str(libffm_files / "train.ffm"), "-o", str(model), "--model-type", "ffm"]
    argv += ["--task", "classification", "--iter", "5", "--seed", "0", "-q"]
    argv += ["--valid", str(libffm_files / "test.ffm")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "trained FFMClassifier (adagrad, k=4)" in out and "validation: logloss" in out
    fitted = load(model)
    assert fitted.V_.shape == (40, 4, 4)
    assert main(["evaluate", str(model), str(libffm_files / "test.ffm")]) == 0
    assert "auc" in capsys.readouterr().out


def test_train_field_weighted_model_with_ftrl_and_l1(libffm_files, capsys):
    model = libffm_files / "fwfm.fmlearn"
    argv = ["train", str(libffm_files / "train.ffm"), "-o", str(model), "--model-type", "fwfm"]
    argv += ["--task", "classification", "--iter", "3", "--seed", "0", "-q"]
    argv += ["--solver", "ftrl", "--l1", "0.5,0.1"]
    assert main(argv) == 0
    assert "trained FwFMClassifier (ftrl, k=8)" in capsys.readouterr().out
    fitted = load(model)
    assert fitted.R_.shape == (4, 4) and (fitted.l1_linear, fitted.l1_factors) == (0.5, 0.1)
    assert main([*argv[:-4], "--l1", "0.5"]) == 2
    assert "--l1 is FTRL's" in capsys.readouterr().err
    for bad in ("-1", "abc", "1,2,3"):
        assert main([*argv[:-1], bad]) == 2
        assert "--l1 takes" in capsys.readouterr().err


def test_field_aware_model_refuses_what_it_cannot_use(libffm_files, csv_files, capsys, tmp_path):
    train = str(libffm_files / "train.ffm")
    base = ["train", train, "-o", str(tmp_path / "m"), "--model-type", "ffm"]
    for extra in (["--solver", "mcmc"], ["--task", "ordinal"], ["--factor-update", "block"]):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert "--model-type ffm trains with sgd, adagrad, adam or ftrl" in err
        assert f"remove {' '.join(extra)}" in err
    csv = str(csv_files[1]["train"])
    assert main(["train", csv, "-o", str(tmp_path / "m"), "--model-type", "ffm"]) == 2
    assert "is not a libffm file" in capsys.readouterr().err


def _interaction_files(folder):
    from fmlearn.datasets import make_implicit_feedback
    from fmlearn.recommender import random_split

    data = make_implicit_feedback(300, 200, 6000, random_state=0)
    train, test = random_split(data.interactions, 0.2, random_state=0)
    paths = {}
    for name, R in (("train", train), ("test", test)):
        coo = R.tocoo()
        paths[name] = folder / f"{name}.tsv"
        lines = [f"{u}\t{i}" for u, i in zip(coo.row, coo.col, strict=True)]
        paths[name].write_text("# user item\n" + "\n".join(lines) + "\n")
    return paths, train, test


def test_ranking_train_evaluate_recommend(tmp_path, capsys):
    from fmlearn.metrics import precision_at_k

    paths, _train, test = _interaction_files(tmp_path)
    model_path = tmp_path / "rec.fmlearn"
    code = main(["train", str(paths["train"]), "--task", "ranking", "-o", str(model_path),
                 "-k", "16", "--iter", "10", "--seed", "0", "--valid", str(paths["test"]),
                 "--shape", "300,200", "-q"])  # fmt: skip
    assert code == 0
    assert "validation: precision@10" in capsys.readouterr().out
    model = load(model_path)
    assert main(["evaluate", str(model_path), str(paths["test"]), "--ranking", "-k", "5"]) == 0
    report = dict(line.split("\t") for line in capsys.readouterr().out.strip().splitlines())
    users = np.flatnonzero(np.diff(test.indptr))
    ids, _ = model.recommend(users, n=5)
    expected_precision = precision_at_k(ids, test, 5, users=users)
    assert float(report["precision@5"]) == pytest.approx(expected_precision, abs=1e-6)
    assert main(["recommend", str(model_path), "--users", "0,7", "-n", "3"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    expected, _scores = model.recommend([0, 7], n=3)
    assert [(int(u), int(r), int(i)) for u, r, i, _ in rows] == [
        (u, r + 1, int(expected[j, r])) for j, u in enumerate([0, 7]) for r in range(3)
    ]


def test_ranking_command_line_errors(tmp_path, capsys):
    paths, _, _ = _interaction_files(tmp_path)
    model_path = tmp_path / "rec.fmlearn"
    train = ["train", str(paths["train"]), "--task", "ranking", "-o", str(model_path)]
    assert main([*train, "--solver", "als"]) == 2
    assert main([*train, "--shape", "3"]) == 2
    assert main([*train, "--shape", "10,10"]) == 1  # ids outside the shape: a data error
    err = capsys.readouterr().err
    line, user, item = re.search(r": line (\d+): user (\d+) / item (\d+)", err).groups()
    # the file line named (comment line included) is the one holding that pair
    assert paths["train"].read_text().splitlines()[int(line) - 1].split() == [user, item]
    bad = tmp_path / "bad.tsv"
    bad.write_text("# user item\n0 1\n\n2 -3\n")
    assert main(["train", str(bad), "--task", "ranking", "-o", str(model_path)]) == 1
    assert f"{bad}: line 4:" in capsys.readouterr().err
    bad.write_text("# user item\n0 1\n2 x\n")
    assert main(["train", str(bad), "--task", "ranking", "-o", str(model_path)]) == 1
    assert f"{bad}: line 3:" in capsys.readouterr().err
    bad.write_text("0 1 1\n2 3 nan\n")
    assert main(["train", str(bad), "--task", "ranking", "-o", str(model_path)]) == 1
    assert f"{bad}: line 2: the value" in capsys.readouterr().err
    assert main(["train", str(paths["train"]), "-o", str(model_path), "--loss", "bpr"]) == 2
    assert main([*train, "--iter", "1", "-q"]) == 0
    assert main(["recommend", str(model_path), "--users", "a,b"]) == 2
    assert main(["recommend", str(model_path), "--users", "999"]) == 1
    assert main(["evaluate", str(model_path), str(paths["test"]), "-k", "0"]) == 2
    assert main([*train, "--reg", "0,0,1"]) == 2  # ranking: 'r' or 'r_linear,r_factors'
    assert main([*train, "--reg", "0,0.001", "--init-std", "0.05", "--iter", "2", "-q"]) == 0
    model = load(model_path)
    assert (model.reg_linear, model.reg_factors, model.init_std) == (0.0, 0.001, 0.05)
    assert main(["predict", str(model_path), str(paths["test"])]) == 2
    assert "fmlearn recommend" in capsys.readouterr().err
    assert main(["evaluate", str(model_path), str(paths["test"]), "--format", "csv"]) == 2


def test_train_predict_evaluate_on_a_table(tmp_path, capsys):
    """Issue 17: a real table (header row, ids, text, a set column) trains through
    FMEncoder, saved with the model, so predict and evaluate read raw tables too."""
    pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 3000
    users, items = rng.integers(1, 60, n), rng.integers(1, 40, n)
    taste, appeal = rng.normal(size=(60, 2)), rng.normal(size=(40, 2))
    rating = 3 + np.einsum("ij,ij->i", taste[users], appeal[items]) + rng.normal(0, 0.3, n)
    genres = np.array(["Action", "Comedy", "Drama", "Horror"])
    lines = ["user_id\tmovieId\tcity\tgenres\trating"]
    for u, i, r in zip(users, items, rating, strict=True):
        tags = " ".join(genres[[(i + j) % 4 for j in range(1 + i % 3)]])
        lines.append(f"{u}\t{i}\t{['Oslo', 'Lima', 'Pune'][u % 3]}\t{tags}\t{r:.3f}")
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text("\n".join(lines[:2501]) + "\n")
    test.write_text("\n".join([lines[0], *lines[2501:]]) + "\n")
    model = tmp_path / "m.fmlearn"
    argv = ["train", str(train), "--label", "rating", "-o", str(model), "--solver", "mcmc"]
    assert main([*argv, "--iter", "60", "-q", "--valid", str(test)]) == 0
    out = capsys.readouterr().out
    assert "label column 'rating', 4 columns encoded" in out
    rmse = float(out.split("validation: rmse ")[1].split()[0])
    assert rmse < 0.6 * np.std(rating)  # learns the user × item interaction
    saved = load(model)
    assert [c.kind for c in saved.steps[0][1].columns_] == [
        "categorical", "categorical", "categorical", "multi",
    ]  # fmt: skip
    # predict from the raw test table, with or without its label column
    assert main(["predict", str(model), str(test), "-o", str(tmp_path / "p.txt")]) == 0
    no_label = tmp_path / "features.tsv"
    kept = [line.rsplit("\t", 1)[0] for line in test.read_text().splitlines()]
    no_label.write_text("\n".join(kept) + "\n")
    assert main(["predict", str(model), str(no_label), "-o", str(tmp_path / "q.txt")]) == 0
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "p.txt"), np.loadtxt(tmp_path / "q.txt"))
    capsys.readouterr()
    assert main(["evaluate", str(model), str(test)]) == 0
    evaluated = float(capsys.readouterr().out.split("rmse\t")[1].split()[0])
    assert evaluated == pytest.approx(rmse, abs=1e-5)  # printed to 5 and 6 decimals
    # the mistakes: a label that is not there, text as a label, a table for a matrix model
    assert main(["train", str(train), "--label", "stars", "-o", str(model)]) == 2
    assert "no column 'stars' for --label" in capsys.readouterr().err
    assert main(["train", str(train), "--label", "city", "-o", str(model)]) == 2
    assert "label column 'city' is not numeric" in capsys.readouterr().err
    assert main(["evaluate", str(model), str(no_label)]) == 2
    assert "no label column" in capsys.readouterr().err
    libfm_file = tmp_path / "rows.libfm"
    libfm_file.write_text("1 0:1 3:1\n")
    assert main(["predict", str(model), str(libfm_file)]) == 2
    assert "trained on a table" in capsys.readouterr().err
    only_ids = tmp_path / "ids.tsv"
    only_ids.write_text("user_id\tmovieId\n1\t2\n")
    assert main(["predict", str(model), str(only_ids)]) == 2
    assert "no columns ['city', 'genres']" in capsys.readouterr().err
    ragged = tmp_path / "ragged.tsv"
    ragged.write_text("\n".join([*lines[:3], lines[3] + "\t9"]) + "\n")
    assert main(["train", str(ragged), "--label", "rating", "-o", str(model)]) == 1
    assert "line 4" in capsys.readouterr().err
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    assert main(["train", str(empty), "-o", str(model)]) == 2
    assert f"{empty}: no data rows" in capsys.readouterr().err


def test_a_csv_with_a_header_trains_as_a_table(csv_files, tmp_path, capsys):
    pytest.importorskip("pandas")
    table = tmp_path / "t.csv"
    rows = "".join(f"{i % 5},{20 + i % 7},c{i % 3}\n" for i in range(90))
    table.write_text("y,age,colour\n" + rows)
    model = tmp_path / "m.fmlearn"
    assert main(["train", str(table), "-o", str(model), "--iter", "2", "-q"]) == 1
    assert "--header" in capsys.readouterr().err  # the numeric reader says what to pass
    assert main(["train", str(table), "--header", "-o", str(model), "--iter", "2", "-q"]) == 0
    assert "label column 'y'" in capsys.readouterr().out
    # a model trained on a matrix refuses table options
    matrix_model = tmp_path / "mm.fmlearn"
    paths = csv_files[1]
    assert main(["train", str(paths["train"]), "-o", str(matrix_model), "--iter", "1", "-q"]) == 0
    assert main(["predict", str(matrix_model), str(paths["test"]), "--label", "y"]) == 2


@pytest.mark.parametrize("flag", ["-out", "-rlog", "-save_model"])
def test_libfm_checks_its_outputs_before_reading_or_training(libfm_files, capsys, flag):
    """A missing folder is reported at once (exit 2), as `fmlearn train` does; before,
    the run trained in full and then failed on the write."""
    folder, _, _ = libfm_files
    argv = ["libfm", "-task", "r", "-train", str(folder / "missing.libfm"),
            "-test", str(folder / "test.libfm"), "-method", "sgd", "-iter", "3",
            flag, str(folder / "nodir" / "x.txt")]  # fmt: skip
    assert main(argv) == 2  # the missing training file is not even looked at
    err = capsys.readouterr().err
    assert f"({flag})" in err and "nodir does not exist" in err


def test_help_shows_defaults_of_zero(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "(default: 0)" in capsys.readouterr().out


def test_libfm_iter_0_scores_with_a_saved_model(libfm_files, capsys):
    """libFM's predict-only run (issue 23): -iter 0 -load_model writes the loaded model's
    predictions, as the run that saved it predicted."""
    folder, *_ = libfm_files
    common = ["libfm", "-task", "r", "-train", str(folder / "train.libfm"),
              "-test", str(folder / "test.libfm"), "-dim", "1,1,4", "-method", "sgd",
              "-learn_rate", "0.01", "-seed", "1"]  # fmt: skip
    trained, scored = folder / "trained.txt", folder / "scored.txt"
    assert main([*common, "-iter", "20", "-save_model", str(folder / "m.txt"),
                 "-out", str(trained)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main([*common, "-iter", "0", "-load_model", str(folder / "m.txt"),
                 "-out", str(scored), "-rlog", str(folder / "r.tsv")]) == 0  # fmt: skip
    assert "(0 iterations)" in capsys.readouterr().out
    np.testing.assert_allclose(np.loadtxt(scored), np.loadtxt(trained), rtol=1e-9, atol=1e-9)
    assert (folder / "r.tsv").read_text() == "time_learn\trmse\trmse_train\n"
    assert main([*common[:-6], "-method", "mcmc", "-iter", "0"]) == 2
    assert "does not support" in capsys.readouterr().err
    assert main([*common, "-iter", "-1"]) == 2


# libFM 1.4.4's `libFM -help`, flag by flag (issue 23): each is implemented or refused
# with a one-line reason; the README's table says which.
LIBFM_FLAGS = [
    "-cache_size", "-dim", "-help", "-init_stdev", "-iter", "-learn_rate", "-load_model",
    "-meta", "-method", "-out", "-regular", "-relation", "-rlog", "-save_model", "-seed",
    "-task", "-test", "-train", "-validation", "-verbosity",
]  # fmt: skip
REFUSED = {
    ("-method", "sgda", "-relation", "x"): "-method sgda with -relation: SGDA learns",
    ("-method", "sgda"): "-method sgda learns the regularisation on -validation: give one",
    ("-regular", "0,0,0.1,0.2"): "per-group values: with -method als and -meta",
}


def test_every_libfm_flag_is_known_and_in_the_readme():
    from fmlearn.cli.libfm import build_parser

    known = {s for action in build_parser()._actions for s in action.option_strings}
    assert set(LIBFM_FLAGS) <= known, sorted(set(LIBFM_FLAGS) - known)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("| libFM flag |") :].split("\n\n")[0]
    for flag in LIBFM_FLAGS:
        assert f"`{flag}" in table, flag


@pytest.mark.parametrize("flag, message", list(REFUSED.items()), ids=str)
def test_libfm_flags_not_implemented_are_refused_in_one_line(libfm_files, capsys, flag, message):
    folder, *_ = libfm_files
    argv = ["libfm", "-task", "r", "-train", str(folder / "train.libfm"),
            "-test", str(folder / "test.libfm"), "-iter", "1", *flag]  # fmt: skip
    if flag[0] != "-method":
        argv += ["-method", "sgd"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_libfm_method_in_any_case(libfm_files, capsys):
    folder, *_ = libfm_files
    argv = ["libfm", "-task", "r", "-train", str(folder / "train.libfm"),
            "-test", str(folder / "test.libfm"), "-iter", "2", "-method", "SGD"]  # fmt: skip
    assert main(argv) == 0


def test_train_streams_a_file(tmp_path, capsys, monkeypatch):
    """--stream (or a file too large for memory) trains on the file chunk by chunk; the
    labels follow libFM's rule (> 0 positive) as in memory."""
    from fmlearn import cli
    from fmlearn.datasets import make_ctr
    from fmlearn.io import dump_libfm

    X, y, planted = make_ctr(6000, n_fields=8, n_features=500, random_state=0)
    train = tmp_path / "train.libfm"
    dump_libfm(X, np.where(y > 0, 1.0, -1.0), train)  # -1/1 labels, as libFM's own files
    X_test, y_test, _ = make_ctr(2000, planted=planted, random_state=1)
    test = tmp_path / "test.libfm"
    dump_libfm(X_test, y_test, test)
    args = ["train", str(train), "-o", str(tmp_path / "s.fmlearn"), "--task", "classification",
            "--iter", "4", "--seed", "0", "--stream", "-q"]  # fmt: skip
    assert main(args) == 0
    assert "streaming" in capsys.readouterr().out
    streamed = load(tmp_path / "s.fmlearn")
    assert streamed.classes_.tolist() == [-1, 1] and streamed.n_iter_ == 4
    in_memory = load(tmp_path / "s.fmlearn").fit(X, np.where(y > 0, 1, -1))
    auc = [roc_auc(m.decision_function(X_test), y_test) for m in (streamed, in_memory)]
    assert auc[0] > 0.6 and abs(auc[0] - auc[1]) < 0.02
    # without --stream, a file larger than the memory share streams too
    monkeypatch.setattr(cli, "STREAM_MEMORY_SHARE", 0.0)
    assert main([*args[:-2], "-q"]) == 0
    assert "streaming" in capsys.readouterr().out
    assert main([*args[:-2], "--solver", "mcmc", "--stream"]) == 2
    assert "--stream reads a libFM" in capsys.readouterr().err


def roc_auc(score, y):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, score)
