"""Write the model files that tests/test_persist_compat.py loads.

The committed ``*.fmlearn`` files were written by fmlearn 0.1.0 (commit 0494521, model
format version 1) with this script; they must keep loading and predicting exactly as
they did then. ``expected.npz`` holds, for each file, the predictions the model made
when it was saved and the predictions after continuing training from it (a fixed
``random_state``), so a test can check that a loaded 0.1.0 chain or optimiser state
continues exactly as it would have in 0.1.0. Do not regenerate the files with a newer
fmlearn: their point is to be old.

    python tests/data/make_models_0_1_0.py tests/data/models-0.1.0
"""

import sys
from pathlib import Path

import numpy as np

from fmlearn import FMClassifier, FMOrdinalRegressor, FMRegressor
from fmlearn.datasets import make_recommendation


def data():
    X, y, _ = make_recommendation(
        n_samples=400, n_users=20, n_items=15, n_contexts=3, noise=0.5, random_state=0
    )
    return X[:300], y[:300], X[300:]


def main(folder: Path) -> None:
    X, y, X_test = data()
    labels = np.where(y > np.median(y), "like", "dislike")
    stars = np.clip(np.round(y - y.mean() + 3), 1, 5).astype(int)
    groups = np.repeat([0, 1, 2], [20, 15, 3])
    cases = {
        "regressor_adagrad": (FMRegressor(n_factors=3, max_iter=3, random_state=0), y, {}),
        "regressor_sgd_float32": (
            FMRegressor(n_factors=3, solver="sgd", max_iter=3, dtype="float32", random_state=0),
            y,
            {},
        ),
        "regressor_adam": (
            FMRegressor(n_factors=3, solver="adam", max_iter=3, random_state=0),
            y,
            {},
        ),
        "classifier_adagrad": (FMClassifier(n_factors=3, max_iter=3, random_state=0), labels, {}),
        "regressor_als": (
            FMRegressor(n_factors=3, solver="als", max_iter=4, random_state=0),
            y,
            {},
        ),
        "regressor_mcmc_samples": (
            FMRegressor(n_factors=3, solver="mcmc", max_iter=6, keep_samples=True, random_state=0),
            y,
            {"groups": groups},
        ),
        "regressor_mcmc_mean": (
            FMRegressor(n_factors=3, solver="mcmc", max_iter=6, keep_samples=False, random_state=0),
            y,
            {},
        ),
        "classifier_mcmc": (
            FMClassifier(n_factors=3, solver="mcmc", max_iter=6, keep_samples=True, random_state=0),
            labels,
            {},
        ),
        "ordinal_mcmc": (
            FMOrdinalRegressor(n_factors=2, max_iter=6, keep_samples=True, random_state=0),
            stars,
            {},
        ),
    }
    expected = {}
    for name, (model, target, fit_params) in cases.items():
        model.fit(X, target, **fit_params)
        model.save(folder / f"{name}.fmlearn")
        expected[f"{name}/predict"] = np.asarray(model.predict(X_test))
        if hasattr(model, "predict_proba"):
            expected[f"{name}/predict_proba"] = model.predict_proba(X_test)
        model.set_params(warm_start=True, random_state=5).fit(X, target, **fit_params)
        after = model.predict_proba(X_test) if hasattr(model, "predict_proba") else None
        expected[f"{name}/continued"] = model.predict(X_test) if after is None else after
    np.savez(folder / "expected.npz", **expected)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
