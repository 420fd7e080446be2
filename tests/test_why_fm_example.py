"""examples/why_factorization_machines.py shows what it claims, on a reduced size.

On generated sparse ratings the FM must beat the linear model overall and poly2 on the
test rows whose (user, item) pair never occurs in training; on dense data with a
full-rank interaction matrix poly2 must be at least as good as a rank-2 FM.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "why_factorization_machines.py"


def _load():
    """The example as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("why_factorization_machines", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tables():
    module = _load()
    result = module.run(n_samples=20_000, n_dense=10_000, max_iter=30, include_ml100k=False)
    result["text"] = "\n".join(module.format_table(t) for t in result.values() if t)
    return result


def test_generated_data_has_many_unseen_pairs(tables):
    info = tables["generated"].info
    assert 0.3 <= info["unseen_share"] <= 0.7
    assert tables["ml100k"] is None  # skipped on request


def test_fm_beats_linear_overall(tables):
    rows = tables["generated"].rows
    # The planted pairwise terms carry over 40% of the target's variance: a linear
    # model leaves them in its error, the FM should get most of the way to the noise.
    assert rows["fm"].rmse < rows["linear"].rmse - 0.1
    assert rows["fm"].rmse < rows["mean"].rmse - 0.3


def test_fm_beats_poly2_on_unseen_pairs(tables):
    rows = tables["generated"].rows
    fm, poly2 = rows["fm"], rows["poly2"]
    assert fm.rmse_unseen < poly2.rmse_unseen - 0.1
    # ...and the lead is larger where poly2 has no weight for the pair.
    assert poly2.rmse_unseen - fm.rmse_unseen > poly2.rmse_seen - fm.rmse_seen


def test_poly2_matches_or_beats_low_rank_fm_on_dense_full_rank_data(tables):
    rows = tables["dense"].rows
    assert rows["poly2"].rmse <= rows["fm"].rmse + 0.01
    assert rows["poly2"].rmse < tables["dense"].info["oracle_rmse"] + 0.02
    assert rows["fm_full_rank"].rmse < rows["fm"].rmse  # the gap is the rank, not the fit


def test_tables_report_every_figure(tables):
    for table in (tables["generated"], tables["dense"]):
        for row in table.rows.values():
            assert np.isfinite(row.rmse) and row.seconds >= 0 and row.n_params >= 1
            assert row.label in tables["text"]
    rows = tables["generated"].rows
    assert rows["poly2"].n_params > rows["linear"].n_params  # one weight per seen pair


def test_sparse_pair_features_predict_like_polynomial_features():
    # The example's poly2 keeps only pair columns seen in training; the columns it drops are
    # all-zero there, so ridge gives them weight 0 and predictions are unchanged.
    import scipy.sparse as sp
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    module = _load()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, [6, 5, 3], size=(200, 3)) + np.array([0, 6, 11])  # one per field
    values = np.ones((200, 3))
    values[::7, 0] = 2.5  # a few non-binary values
    X = sp.csr_matrix((values.ravel(), ids.ravel(), np.arange(0, 601, 3)), shape=(200, 14))
    y = rng.normal(size=200)

    def ridge():
        return Ridge(alpha=1.0, solver="lsqr", tol=1e-12)

    sparse = make_pipeline(module.PairwiseProducts(), ridge()).fit(X[:150], y[:150])
    dense = make_pipeline(
        PolynomialFeatures(degree=2, interaction_only=True, include_bias=False), ridge()
    ).fit(X[:150].toarray(), y[:150])
    np.testing.assert_allclose(sparse.predict(X[150:]), dense.predict(X[150:].toarray()), atol=1e-8)
