"""Learning curves from ``history_`` (needs the optional ``plot`` extra: matplotlib).

``history_`` is the one record of training, so the curve a user draws, the one the CLI
saves with ``--plot`` and the numbers in ``history_`` can never disagree.
"""

from __future__ import annotations

import os

from fmlearn.solvers.base import FitHistory, get_solver, solver_names


def learning_curve(model, ax=None, *, metrics: list[str] | None = None, title: str | None = None):
    """Draw training loss and validation metrics per epoch/sweep; returns the Axes.

    ``model`` is a fitted estimator (or its ``history_``). The training loss goes on the
    left axis; each validation metric (all of them, or ``metrics``) on a right axis of its
    own, in its colour, since their scales differ (RMSE vs ½·MSE; on one axis AUC near 0.9
    and log-loss near 0.3 both looked flat). Epochs are whole numbers; the legend sits
    below the plot, off the lines.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # no window: draw into memory
    >>> import matplotlib.pyplot as plt
    >>> from fmlearn import FMRegressor
    >>> from fmlearn.datasets import make_recommendation
    >>> from fmlearn.plot import learning_curve
    >>> X, y, _ = make_recommendation(n_samples=1000, n_users=50, n_items=20, random_state=0)
    >>> model = FMRegressor(n_factors=4, max_iter=5, random_state=0)
    >>> model = model.fit(X[:800], y[:800], eval_set=[(X[800:], y[800:])])
    >>> ax = learning_curve(model)
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['train loss', 'validation rmse']
    >>> plt.close(ax.figure)  # or ax.figure.savefig("curve.png"); see save_learning_curve
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    history = model if isinstance(model, FitHistory) else getattr(model, "history_", None)
    if history is None or len(history) == 0:
        raise ValueError("learning_curve needs a fitted model (its history_ is empty).")
    solver = getattr(model, "solver", None)
    unit = get_solver(solver).unit if solver in solver_names() else "epoch"
    unknown = sorted(set(metrics or ()) - set(history.valid))
    if unknown:  # before any figure is made: a refused call leaves none open
        raise ValueError(f"history_ has no metrics {unknown}; it has {sorted(history.valid)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    ax.plot(history.epoch, history.train_loss, color="tab:blue", marker=".", label="train loss")
    ax.set_xlabel(unit)
    ax.set_ylabel("training loss", color="tab:blue")
    ax.tick_params(axis="y", colors="tab:blue")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    names = [m for m in history.valid if metrics is None or m in metrics]
    handles, labels = ax.get_legend_handles_labels()
    colors = ["tab:orange", "tab:green", "tab:red", "tab:purple"]
    for j, name in enumerate(names):
        color = colors[j % len(colors)]
        right = ax.twinx()
        if j:  # a further right axis stands off the previous one
            right.spines["right"].set_position(("axes", 1.0 + 0.15 * j))
        (line,) = right.plot(
            history.epoch, history.valid[name], color=color, marker=".",
            label=f"validation {name}",
        )  # fmt: skip
        right.set_ylabel(f"validation {name}", color=color)
        right.tick_params(axis="y", colors=color)
        handles.append(line)
        labels.append(line.get_label())
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncol=len(labels), frameon=False)  # fmt: skip
    if title is None and model is not history:
        title = f"{type(model).__name__}(solver={solver!r})" if solver else type(model).__name__
    if title:
        ax.set_title(title)
    return ax


def save_learning_curve(model, path: str | os.PathLike, **kwargs) -> None:
    """Draw :func:`learning_curve` into a new figure and save it (PNG, SVG, PDF …)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    try:
        learning_curve(model, ax, **kwargs)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def _pyplot():
    try:
        import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves
    except ImportError:
        raise ImportError("Plotting needs matplotlib: pip install 'fmlearn[plot]'.") from None
    return plt
