"""Relation blocks through the estimators: the model is the flat model.

``fit(X, y, relations=…)`` must train the FM over ``[X | X_1[index_1] | …]``
(``fmlearn.relations.flatten``): predictions equal the flat model's for the same
parameters; the SGD family (which trains on the flattened rows) gives the flat fit bit
for bit; MCMC's relational sweep samples the same posterior as the flat one, and ALS's
stops where flat ALS would not move. The kernel's per-update exactness is tested in
tests/kernels/test_relational.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import fmlearn
from fmlearn import FMClassifier, FMOrdinalRegressor, FMRegressor, RelationBlock
from fmlearn.relations import flatten
from reference import naive_predict


def _data(seed=0, n=400, n_users=30, n_items=40, noise=0.1):
    """Ratings of users × items with a planted FM over [X | user block | item block]."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = rng.integers(0, n_items, n)
    X = sp.random(n, 3, density=0.5, random_state=seed, format="csr")
    user_block = sp.random(n_users, 12, density=0.3, random_state=seed + 1, format="csr")
    item_block = sp.random(n_items, 8, density=0.3, random_state=seed + 2, format="csr")
    relations = [RelationBlock(users, user_block), RelationBlock(items, item_block)]
    flat, groups = flatten(X, relations)
    w = rng.normal(scale=0.5, size=flat.shape[1])
    V = rng.normal(scale=0.4, size=(flat.shape[1], 2))
    y = naive_predict(flat.toarray(), 1.0, w, V) + noise * rng.normal(size=n)
    return X, y, relations, flat, groups


def _same_rows(relations, rows):
    return [RelationBlock(b.index[rows], b.X, b.groups) for b in relations]


CASES = [
    (FMRegressor, "als", {}),
    (FMRegressor, "mcmc", {}),
    (FMRegressor, "mcmc", {"factor_update": "block"}),
    (FMRegressor, "sgd", {}),
    (FMRegressor, "adagrad", {"degree": 3}),
    (FMClassifier, "mcmc", {}),
    (FMClassifier, "als", {}),
    (FMClassifier, "adagrad", {}),
    (FMOrdinalRegressor, "mcmc", {}),
]


@pytest.mark.parametrize("cls, solver, extra", CASES)
def test_predictions_equal_the_flat_model(cls, solver, extra):
    X, y, relations, flat, _ = _data()
    if cls is FMClassifier:
        y = y > np.median(y)
    elif cls is FMOrdinalRegressor:
        y = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))
    model = cls(solver=solver, max_iter=8, n_factors=2, random_state=0, **extra)
    model.fit(X, y, relations=relations)
    assert model.n_features_in_ == X.shape[1]
    assert model.relation_features_ == (12, 8)
    assert model.w_.shape == (flat.shape[1],)
    # the same fitted parameters, asked about the flat rows: the estimator's own
    # prediction kernel on the flattened matrix
    flat_model = cls(solver=solver, n_factors=2, **extra)
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("__"):
            setattr(flat_model, name, value)
    flat_model.__dict__.update(
        {k: v for k, v in vars(model).items() if k.startswith("_") and not k.startswith("__")}
    )
    flat_model.n_features_in_ = flat.shape[1]
    flat_model.relation_features_ = ()
    method = "predict" if cls is FMRegressor else "predict_proba"
    got = getattr(model, method)(X, relations=relations)
    expected = getattr(flat_model, method)(flat)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    # and a subset of rows, with its own index
    rows = np.arange(0, X.shape[0], 7)
    np.testing.assert_allclose(
        getattr(model, method)(X[rows], relations=_same_rows(relations, rows)),
        expected[rows],
        rtol=1e-10,
        atol=1e-10,
    )


@pytest.mark.parametrize("solver", ["sgd", "adam", "ftrl", "sgda"])
def test_the_sgd_family_trains_the_flat_model_bit_for_bit(solver):
    X, y, relations, flat, groups = _data(1)
    kwargs = {"max_iter": 4, "n_factors": 3, "random_state": 2}
    mine = FMRegressor(solver=solver, **kwargs).fit(X, y, relations=relations)
    flat_groups = {"groups": groups} if solver == "sgda" else {}
    theirs = FMRegressor(solver=solver, **kwargs).fit(flat, y, **flat_groups)
    np.testing.assert_array_equal(mine.V_, theirs.V_)
    np.testing.assert_array_equal(mine.w_, theirs.w_)
    assert mine.w0_ == theirs.w0_


def test_mcmc_samples_the_flat_posterior():
    """Different sweep orders, the same posterior: the two chains' posterior-mean
    predictions agree to within a small fraction of their spread, and both fit."""
    X, y, relations, flat, groups = _data(2, n=600, noise=0.3)
    kwargs = {"solver": "mcmc", "n_factors": 2, "max_iter": 300, "random_state": 0}
    mine = FMRegressor(**kwargs).fit(X, y, relations=relations)
    theirs = FMRegressor(**kwargs).fit(flat, y, groups=groups)
    p_mine, p_theirs = mine.predict(X, relations=relations), theirs.predict(flat)
    assert np.sqrt(np.mean((p_mine - p_theirs) ** 2)) < 0.05 * np.std(y)
    for p in (p_mine, p_theirs):
        assert np.sqrt(np.mean((p - y) ** 2)) < 0.4
    # the noise precision's posterior, away from burn-in, is the same too
    a_mine = mine.hyper_trace_["alpha"][100:].mean()
    a_theirs = theirs.hyper_trace_["alpha"][100:].mean()
    assert abs(a_mine - a_theirs) < 0.15 * a_theirs


def test_als_stops_where_flat_als_would_not_move():
    X, y, relations, flat, _ = _data(3, n=200)
    reg = {"reg_bias": 0.1, "reg_linear": 0.5, "reg_factors": 0.5}
    model = FMRegressor(solver="als", n_factors=2, max_iter=400, random_state=0, **reg)
    model.fit(X, y, relations=relations)
    dense = flat.toarray()
    w0, w, V = np.array([model.w0_]), model.w_.copy(), model.V_.copy()
    # every parameter is the exact minimiser of ½ Σ e² + ½ λ θ² over the flat rows
    for array, index, lam in (
        [(w0, 0, 0.1)]
        + [(w, i, 0.5) for i in range(w.size)]
        + [(V, (i, f), 0.5) for i in range(V.shape[0]) for f in range(V.shape[1])]
    ):
        old = array[index]
        array[index] = 0.0
        g = naive_predict(dense, w0, w, V)
        array[index] = 1.0
        h = naive_predict(dense, w0, w, V) - g
        array[index] = old
        best = np.sum(h * (y - g)) / (np.sum(h * h) + lam)
        assert abs(best - old) < 1e-4 * (1 + abs(old)), (index, best, old)


def test_libfm_groups_and_block_groups():
    X, y, relations, _, _ = _data(4)
    model = FMRegressor(solver="mcmc", n_factors=2, max_iter=3, random_state=0)
    model.fit(X, y, relations=relations)
    assert model.hyper_trace_["mu_w"].shape == (3, 3)  # main table, then one per block
    grouped = [RelationBlock(relations[0].index, relations[0].X, np.arange(12) % 2), relations[1]]
    model.fit(X, y, groups=[0, 1, 1], relations=grouped)
    assert model.hyper_trace_["mu_w"].shape == (3, 5)  # 2 main, 2 in block 0, 1 in block 1


def test_eval_set_with_relations_scores_the_predictions():
    X, y, relations, _, _ = _data(5)
    train, test = np.arange(300), np.arange(300, 400)
    rel_train, rel_test = _same_rows(relations, train), _same_rows(relations, test)
    for solver in ("mcmc", "adagrad"):
        model = FMRegressor(solver=solver, n_factors=2, max_iter=5, random_state=0)
        model.fit(X[train], y[train], relations=rel_train,
                  eval_set=[(X[test], y[test], rel_test)])  # fmt: skip
        rmse = np.sqrt(np.mean((model.predict(X[test], relations=rel_test) - y[test]) ** 2))
        assert model.history_.valid["rmse"][-1] == pytest.approx(rmse, rel=1e-9)
        with pytest.raises(ValueError, match=r"eval_set\[0\]'s relations"):
            model.fit(X[train], y[train], relations=rel_train, eval_set=[(X[test], y[test])])


def test_save_load_and_continue(tmp_path):
    X, y, relations, _, _ = _data(6)
    model = FMRegressor(solver="mcmc", n_factors=2, max_iter=5, random_state=0, warm_start=True)
    model.fit(X, y, relations=relations)
    path = tmp_path / "model.fmlearn"
    model.save(path)
    loaded = fmlearn.load(path)
    assert loaded.relation_features_ == (12, 8)
    np.testing.assert_array_equal(
        loaded.predict(X, relations=relations), model.predict(X, relations=relations)
    )
    with pytest.raises(ValueError, match="fitted with 2 relation block"):
        loaded.predict(X)
    loaded.fit(X, y, relations=relations)  # the chain continues
    assert loaded.n_iter_ == 10
    with pytest.raises(ValueError, match=r"relations\[1\] has 9 features"):
        wider = RelationBlock(relations[1].index, np.ones((40, 9)))
        loaded.fit(X, y, relations=[relations[0], wider])


def test_bad_input_names_the_block_and_the_argument():
    X, y, relations, _, _ = _data(7)
    users = relations[0]
    with pytest.raises(ValueError, match="refers to block row 30, but X has 30 rows"):
        RelationBlock(np.r_[users.index[:-1], 30], users.X)
    with pytest.raises(ValueError, match="block-row numbers"):
        RelationBlock(users.index + 0.5, users.X)
    with pytest.raises(ValueError, match="NaN or infinity"):
        RelationBlock(users.index, np.full((30, 2), np.nan))
    with pytest.raises(ValueError, match=r"relations\[0\].index has 399 entries, but X has 400"):
        FMRegressor(solver="als").fit(X, y, relations=[RelationBlock(users.index[:-1], users.X)])
    with pytest.raises(TypeError, match=r"relations\[1\] must be a fmlearn.RelationBlock"):
        FMRegressor(solver="als").fit(X, y, relations=[users, users.X])
    plain = FMRegressor(solver="als", max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="fitted without relation blocks"):
        plain.predict(X, relations=relations)
    related = FMRegressor(solver="adagrad", max_iter=2).fit(X, y, relations=relations)
    with pytest.raises(ValueError, match="partial_fit takes no relation blocks"):
        related.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"relations\[0\] has 8 features, but .* block 0 has 12"):
        related.predict(X, relations=relations[::-1])


def test_the_encoder_makes_a_block_of_an_entity_table():
    pd = pytest.importorskip("pandas")
    from fmlearn import FMEncoder

    rng = np.random.default_rng(8)
    users = pd.DataFrame(
        {
            "age": rng.integers(18, 70, 20),
            "rated": [" ".join(map(str, rng.choice(30, 3, replace=False))) for _ in range(20)],
        },
        index=np.arange(100, 120),
    )
    ratings = pd.DataFrame(
        {"user_id": rng.integers(100, 120, 300), "item": rng.integers(0, 5, 300)}
    )
    encoder = FMEncoder(multi_valued=["rated"]).fit(users)
    block = encoder.relation_block(users, ratings["user_id"])
    # its rows, looked up per rating, are the encoding of the joined table
    joined = encoder.transform(users.loc[ratings["user_id"]])
    assert (block.X[block.index] != joined).nnz == 0
    np.testing.assert_array_equal(block.groups, encoder.groups_)
    # and a key column instead of the index
    keyed = users.rename_axis("uid").reset_index()
    same = FMEncoder(multi_valued=["rated"]).fit(keyed.drop(columns="uid"))
    other = same.relation_block(keyed, ratings["user_id"].to_numpy(), on="uid")
    np.testing.assert_array_equal(other.index, block.index)
    X = sp.csr_matrix(np.eye(5)[ratings["item"]])
    y = rng.normal(size=300)
    FMRegressor(solver="mcmc", max_iter=3, n_factors=2).fit(X, y, relations=[block])
    with pytest.raises(ValueError, match=r"1 of the 2 keys are not in the table \(e.g. \[7\]\)"):
        encoder.relation_block(users, [100, 7])
    with pytest.raises(ValueError, match="keys repeat"):
        encoder.relation_block(pd.concat([users, users.iloc[:1]]), [100])
    with pytest.raises(ValueError, match="no key column 'id'"):
        encoder.relation_block(users, [100], on="id")


def test_onnx_takes_the_flat_rows():
    pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    from fmlearn.export import padded, to_onnx

    X, y, relations, flat, _ = _data(9)
    model = FMRegressor(solver="als", n_factors=2, max_iter=5, random_state=0)
    model.fit(X, y, relations=relations)
    proto = to_onnx(model, dtype=np.float64)
    assert {p.key: p.value for p in proto.metadata_props}["n_features"] == str(flat.shape[1])
    session = onnxruntime.InferenceSession(proto.SerializeToString())
    indices, values = padded(flat, dtype=np.float64)
    (got,) = session.run(None, {"indices": indices, "values": values})
    np.testing.assert_allclose(got, model.predict(X, relations=relations), atol=1e-9)


def test_messages_that_say_what_to_do():
    X, y, relations, flat, _ = _data(10)
    assert RelationBlock([0, 1, 0], [[1.0, 0.0], [0.0, 2.0]]).X.shape == (2, 2)  # lists too
    model = FMRegressor(solver="als", max_iter=2).fit(X, y, relations=relations)
    with pytest.raises(ValueError, match="the flat rows of this model's 3 features and its 2"):
        model.predict(flat)  # what ONNX takes; predict wants the blocks
    plain = FMRegressor(solver="als", max_iter=2)
    with pytest.raises(ValueError, match=r"eval_set\[0\] carries relation blocks, but fit was"):
        plain.fit(X, y, eval_set=[(X, y, relations)])
    too_small = FMRegressor(solver="als").fit(X, y).__dict__  # params for X alone
    from fmlearn.models import FMParams

    init = FMParams(np.array([too_small["w0_"]]), too_small["w_"], too_small["V_"])
    with pytest.raises(ValueError, match=r"X and its relation blocks \(23 features in all\)"):
        FMRegressor(solver="als").fit(X, y, relations=relations, init_params=init)
    # a higher-order FM trains on the flat rows; a block's groups are for solvers with groups
    grouped = [RelationBlock(relations[0].index, relations[0].X, np.arange(12) % 2), relations[1]]
    FMRegressor(solver="als", degree=3, max_iter=2).fit(X, y, relations=grouped)
    FMRegressor(solver="adagrad", max_iter=2).fit(X, y, relations=grouped)
