"""fmlearn.plot draws history_: labelled axes, one line per metric, saved files."""

from __future__ import annotations

import pytest

from fmlearn import FMRegressor
from fmlearn.datasets import make_recommendation

pytest.importorskip("matplotlib")

from fmlearn.plot import learning_curve, save_learning_curve


@pytest.fixture(scope="module")
def model():
    X, y, _ = make_recommendation(3000, n_users=50, n_items=40, random_state=0)
    fm = FMRegressor(n_factors=3, max_iter=6, tol=None, random_state=0)
    return fm.fit(X[:2500], y[:2500], eval_set=[(X[2500:], y[2500:])])


def test_axes_show_the_history(model):
    ax = learning_curve(model)
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "training loss"
    (train_line,) = ax.get_lines()
    assert list(train_line.get_ydata()) == model.history_.train_loss
    right = ax.figure.axes[1]
    assert list(right.get_lines()[0].get_ydata()) == model.history_.valid["rmse"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["train loss", "validation rmse"]


def test_saved_png(model, tmp_path):
    path = tmp_path / "curve.png"
    save_learning_curve(model, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors(model):
    with pytest.raises(ValueError, match="needs a fitted model"):
        learning_curve(FMRegressor())
    with pytest.raises(ValueError, match=r"no metrics \['auc'\]"):
        learning_curve(model, metrics=["auc"])
