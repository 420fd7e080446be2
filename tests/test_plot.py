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


def test_each_validation_metric_has_its_own_axis():
    """A classifier's log-loss (~0.5) and AUC (~0.8) on one axis both looked flat: each
    metric gets its own right axis; epochs are integers; the legend is off the data."""
    import numpy as np

    from fmlearn import FMClassifier

    X, y, _ = make_recommendation(3000, n_users=50, n_items=40, random_state=0)
    labels = (y > np.median(y)).astype(int)
    clf = FMClassifier(n_factors=3, max_iter=7, tol=None, random_state=0)
    clf.fit(X[:2500], labels[:2500], eval_set=[(X[2500:], labels[2500:])])
    ax = learning_curve(clf)
    figure = ax.figure
    figure.canvas.draw()
    assert len(figure.axes) == 1 + len(clf.history_.valid)  # logloss and auc apart
    for axis, name in zip(figure.axes[1:], clf.history_.valid, strict=True):
        assert axis.get_ylabel() == f"validation {name}"
        low, high = axis.get_ylim()
        values = clf.history_.valid[name]
        assert (max(values) - min(values)) > 0.3 * (high - low)  # the curve fills its axis
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert all(float(t).is_integer() for t in ticks)
    renderer = figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0  # below the plotting area


def test_saved_png(model, tmp_path):
    path = tmp_path / "curve.png"
    save_learning_curve(model, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors(model):
    with pytest.raises(ValueError, match="needs a fitted model"):
        learning_curve(FMRegressor())
    with pytest.raises(ValueError, match=r"no metrics \['auc'\]"):
        learning_curve(model, metrics=["auc"])


def test_a_refused_call_leaves_no_figure_open(model, tmp_path):
    import matplotlib.pyplot as plt

    plt.close("all")
    with pytest.raises(ValueError, match="no metrics"):
        learning_curve(model, metrics=["auc"])
    with pytest.raises(ValueError, match="no metrics"):
        save_learning_curve(model, tmp_path / "x.png", metrics=["auc"])
    assert plt.get_fignums() == []
