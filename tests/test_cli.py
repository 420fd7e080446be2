"""The command line: train → predict → evaluate, exit codes, libFM compatibility."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import load
from fmlearn._libfm_compat import load_libfm_model, save_libfm_model
from fmlearn.cli import main
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
    assert main(["libfm", "-task", "r", "-train", "x", "-test", "y", "-relation", "r"]) == 2
    assert "not available" in capsys.readouterr().err


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
