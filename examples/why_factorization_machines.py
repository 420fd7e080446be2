"""
Why factorization machines: an FM scores feature pairs it never saw together; poly2 cannot
==========================================================================================

An explicit quadratic model ("poly2") learns one free weight per feature pair, so a
(user, item) pair absent from training has no weight at all. A factorization machine,

    ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j,

learns one latent vector v_i per feature from *all* the pairs it occurs in, so <v_u, v_i>
exists for every pair. The price is that the interaction matrix is approximated with rank
k; on dense, low-dimensional data with plenty of rows poly2 can be as good or better.

Three parts, each a table of held-out RMSE, fit time and number of learned weights:

1. generated ratings (users × items × context, one-hot, a planted low-rank FM plus noise)
   where a large share of the test (user, item) pairs never occur in training;
2. MovieLens-100K (../shared/data/ml-100k, skipped when absent);
3. dense Gaussian features with a full-rank interaction matrix, where poly2 catches up.

    python examples/why_factorization_machines.py [--quick] [--n-samples N]
"""

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from fmlearn import FMRegressor
from fmlearn.datasets import make_recommendation

# sphinx-gallery runs the examples from this folder, without __file__
EXAMPLES = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
ML100K = EXAMPLES.parents[1] / "shared" / "data" / "ml-100k"
RIDGE_ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0)  # picked on a hold-out, per model


# --------------------------------------------------------------------------------------
# poly2: one free weight per feature pair seen in training
# --------------------------------------------------------------------------------------


def _row_pairs(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, keys, values)`` for every pair i < j of non-zeros in each row.

    ``key = i · n_features + j`` names the pair, ``value = x_i · x_j``. A row with m
    non-zeros gives m(m−1)/2 pairs; rows are grouped by m so the work is vectorised.
    """
    X = sp.csr_matrix(X, copy=True)
    X.sort_indices()
    counts = np.diff(X.indptr)
    rows, keys, values = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    for m in np.unique(counts[counts >= 2]):
        which = np.flatnonzero(counts == m)
        positions = X.indptr[which][:, None] + np.arange(m)
        idx, val = X.indices[positions].astype(np.int64), X.data[positions]
        a, b = np.triu_indices(m, k=1)
        rows.append(np.repeat(which, len(a)))
        keys.append((idx[:, a] * X.shape[1] + idx[:, b]).ravel())
        values.append((val[:, a] * val[:, b]).ravel())
    return np.concatenate(rows), np.concatenate(keys), np.concatenate(values)


class PairwiseProducts(TransformerMixin, BaseEstimator):
    """``[X | x_i x_j for each pair (i, j) seen in fit]``: the poly2 design, kept sparse.

    Equivalent to ``PolynomialFeatures(degree=2, interaction_only=True)`` restricted to the
    columns that are non-zero somewhere in the training data; the others would get weight
    0 from any L2-penalised fit anyway, so dropping them changes no prediction. Pairs that
    first appear at predict time have no column, which is exactly poly2's weakness.
    """

    def fit(self, X, y=None):
        _, keys, _ = _row_pairs(sp.csr_matrix(X))
        self.pairs_ = np.unique(keys)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        X = sp.csr_matrix(X)
        rows, keys, values = _row_pairs(X)
        column = np.searchsorted(self.pairs_, keys)
        known = column < len(self.pairs_)
        known[known] = self.pairs_[column[known]] == keys[known]
        products = sp.csr_matrix(
            (values[known], (rows[known], column[known])), shape=(X.shape[0], len(self.pairs_))
        )
        return sp.hstack([X, products], format="csr")


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One model's scores on the test set (NaN where a subset is empty or not defined)."""

    label: str
    rmse: float
    rmse_unseen: float
    rmse_seen: float
    seconds: float
    n_params: int


@dataclass
class Table:
    """A part of the comparison: rows keyed "mean", "linear", "poly2", "fm", …"""

    title: str
    rows: dict[str, Row]
    info: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2))) if len(y) else float("nan")


def _score(label, pred, y_test, unseen, seconds, n_params) -> Row:
    return Row(
        label,
        _rmse(pred, y_test),
        _rmse(pred[unseen], y_test[unseen]) if unseen is not None else float("nan"),
        _rmse(pred[~unseen], y_test[~unseen]) if unseen is not None else float("nan"),
        seconds,
        int(n_params),
    )


def _pick_alpha(make_model, X, y, random_state) -> float:
    """The ridge strength with the lowest RMSE on a 10% hold-out of the training rows."""
    valid = np.random.default_rng(random_state).random(X.shape[0]) < 0.1
    scores = []
    for alpha in RIDGE_ALPHAS:
        model = make_model(alpha).fit(X[~valid], y[~valid])
        scores.append(_rmse(model.predict(X[valid]), y[valid]))
    return RIDGE_ALPHAS[int(np.argmin(scores))]


def _ridge(alpha) -> Ridge:
    # LSQR: the fastest and steadiest of sklearn's ridge solvers on these sparse designs.
    return Ridge(alpha=alpha, solver="lsqr", tol=1e-5)


def _linear(alpha):
    return make_pipeline(_ridge(alpha))


def _sparse_poly2(alpha):
    return make_pipeline(PairwiseProducts(), _ridge(alpha))


def _dense_poly2(alpha):
    return make_pipeline(
        PolynomialFeatures(degree=2, interaction_only=True, include_bias=False), _ridge(alpha)
    )


def _fm(n_factors, max_iter, random_state, solver="adagrad") -> FMRegressor:
    """An FMRegressor; the SGD family stops early on 10% of the training rows."""
    return FMRegressor(
        n_factors=n_factors,
        solver=solver,
        max_iter=max_iter,
        early_stopping=solver not in ("als", "mcmc"),
        random_state=random_state,
    )


def _compare(X_train, y_train, X_test, y_test, unseen, poly2, fms, random_state) -> dict:
    """Mean, ridge on X, ``poly2(alpha)`` (a pipeline ending in Ridge), each FM in ``fms``.

    Ridge strengths are picked on a hold-out of the training rows (not timed); SGD-family
    FMs hold out 10% of the training rows for early stopping (timed, part of their fit).
    """
    start = time.perf_counter()
    mean = np.full_like(y_test, y_train.mean())
    rows = {"mean": _score("mean", mean, y_test, unseen, time.perf_counter() - start, 1)}
    for key, make_model in (("linear", _linear), ("poly2", poly2)):
        alpha = _pick_alpha(make_model, X_train, y_train, random_state)
        start = time.perf_counter()
        model = make_model(alpha).fit(X_train, y_train)
        seconds = time.perf_counter() - start
        n_params = model[-1].coef_.size + 1
        label = f"{key} (ridge, alpha={alpha:g})"
        rows[key] = _score(label, model.predict(X_test), y_test, unseen, seconds, n_params)
    for key, fm in fms.items():
        start = time.perf_counter()
        fm.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        n_params = 1 + fm.w_.size + fm.V_.size
        unit = "sweeps" if fm.solver in ("als", "mcmc") else "epochs"
        label = f"FM (k={fm.n_factors}, {fm.solver}, {fm.n_iter_} {unit})"
        rows[key] = _score(label, fm.predict(X_test), y_test, unseen, seconds, n_params)
    return rows


def _unseen_pairs(users_train, items_train, users_test, items_test) -> np.ndarray:
    """True for test rows whose (user, item) pair never occurs in the training rows."""
    width = int(max(items_train.max(), items_test.max())) + 1
    seen = np.unique(users_train.astype(np.int64) * width + items_train)
    return ~np.isin(users_test.astype(np.int64) * width + items_test, seen)


# --------------------------------------------------------------------------------------
# Part 1: generated ratings with a planted low-rank FM
# --------------------------------------------------------------------------------------


def generated_ratings(n_samples: int, random_state: int = 0, max_iter: int = 50) -> Table:
    """Users × items × context, one-hot; about half the test (user, item) pairs are new.

    The numbers of users and items grow with √n_samples, so the number of (user, item)
    cells grows like the number of ratings and the share of unseen test pairs stays near
    one half at every size. The planted interactions have rank 2: make_recommendation
    draws factors of std 0.8/√k, so each pairwise term has variance ≈ 0.41/k, and at
    k = 2 the three pairwise terms together weigh about as much as the linear ones.
    """
    scale = np.sqrt(n_samples / 100_000)
    n_users, n_items, n_contexts = max(50, int(1_000 * scale)), max(25, int(500 * scale)), 12
    X, y, truth = make_recommendation(
        n_samples=n_samples,
        n_users=n_users,
        n_items=n_items,
        n_contexts=n_contexts,
        n_factors=2,
        noise=0.5,
        random_state=random_state,
    )
    n_train = int(0.8 * n_samples)
    ids = X.indices.reshape(n_samples, 3)  # one user, one item, one context per row
    unseen = _unseen_pairs(ids[:n_train, 0], ids[:n_train, 1], ids[n_train:, 0], ids[n_train:, 1])
    X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
    fms = {"fm": _fm(8, max_iter, random_state)}
    rows = _compare(X_train, y_train, X_test, y_test, unseen, _sparse_poly2, fms, random_state)
    oracle = truth.decision(X_test)
    info = {
        "n_train": n_train,
        "n_test": n_samples - n_train,
        "n_users": n_users,
        "n_items": n_items,
        "n_contexts": n_contexts,
        "unseen_share": float(unseen.mean()),
        "noise": truth.noise,
        "oracle_rmse": _rmse(oracle, y_test),
        "oracle_rmse_unseen": _rmse(oracle[unseen], y_test[unseen]),
        "oracle_rmse_seen": _rmse(oracle[~unseen], y_test[~unseen]),
    }
    title = (
        f"Part 1. Generated ratings: {n_train:,} train / {n_samples - n_train:,} test rows of "
        f"{n_users:,} users | {n_items:,} items | {n_contexts} contexts (one-hot), target = a "
        f"planted rank-2 FM + noise of std {truth.noise}.\n"
        f"{info['unseen_share']:.0%} of the test rows have a (user, item) pair that never "
        "occurs in training."
    )
    return Table(title, rows, info, _generated_notes(rows, info))


def _generated_notes(rows, info) -> list[str]:
    fm, poly2, linear = rows["fm"], rows["poly2"], rows["linear"]
    return [
        f"The planted model scores {info['oracle_rmse']:.4f} (the noise alone): a model "
        "that learns the interactions can approach it, a linear model cannot. The FM's "
        f"test RMSE is {_versus(fm.rmse, linear.rmse)} the linear model's.",
        f"On unseen pairs the FM's RMSE is {_versus(fm.rmse_unseen, poly2.rmse_unseen)} "
        f"poly2's; on seen pairs it is {_versus(fm.rmse_seen, poly2.rmse_seen)} poly2's. "
        "poly2 has no weight for a pair it never saw, so on those rows it falls back on its "
        "linear and (user, context)/(item, context) terms, while the FM scores every pair "
        "through <v_user, v_item>, learned from each id's other pairs: where its lead is "
        "larger on unseen pairs, that is the sparsity argument for FMs, measured.",
        f"poly2 learns {poly2.n_params - linear.n_params:,} pair weights, one per pair seen "
        f"in training, the FM {fm.n_params - linear.n_params:,} factor weights (k per "
        "feature): the FM's count grows with the number of features, poly2's with the "
        "number of distinct pairs in the data.",
    ]


# --------------------------------------------------------------------------------------
# Part 2: MovieLens-100K
# --------------------------------------------------------------------------------------


def _read_ratings(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``user_id, item_id, rating`` columns of a ``user_id item_id rating timestamp`` TSV."""
    table = np.loadtxt(path, delimiter="\t", skiprows=1, dtype=np.int64)
    return table[:, 0], table[:, 1], table[:, 2].astype(float)


def _user_item_one_hot(users, items, n_users, n_items) -> sp.csr_matrix:
    n = len(users)
    indices = np.column_stack([users, n_users + items]).ravel()
    indptr = np.arange(0, 2 * n + 1, 2)
    return sp.csr_matrix((np.ones(2 * n), indices, indptr), shape=(n, n_users + n_items))


def movielens(data_dir: Path | None, random_state: int = 0, max_iter: int = 50) -> Table | None:
    """The same comparison on MovieLens-100K (user | item one-hot); None without the data."""
    data_dir = Path(data_dir) if data_dir is not None else ML100K
    if not (data_dir / "train.tsv").exists() or not (data_dir / "test.tsv").exists():
        return None
    u_train, i_train, y_train = _read_ratings(data_dir / "train.tsv")
    u_test, i_test, y_test = _read_ratings(data_dir / "test.tsv")
    n_users = int(max(u_train.max(), u_test.max())) + 1
    n_items = int(max(i_train.max(), i_test.max())) + 1
    X_train = _user_item_one_hot(u_train, i_train, n_users, n_items)
    X_test = _user_item_one_hot(u_test, i_test, n_users, n_items)
    unseen = _unseen_pairs(u_train, i_train, u_test, i_test)
    fms = {"fm": _fm(8, max_iter, random_state)}
    rows = _compare(X_train, y_train, X_test, y_test, unseen, _sparse_poly2, fms, random_state)
    info = {"n_train": len(y_train), "n_test": len(y_test), "unseen_share": float(unseen.mean())}
    title = (
        f"Part 2. MovieLens-100K: {len(y_train):,} train / {len(y_test):,} test ratings, "
        f"user | item one-hot.\n{info['unseen_share']:.0%} of the test (user, item) pairs "
        "never occur in training."
    )
    fm, poly2, linear = rows["fm"], rows["poly2"], rows["linear"]
    notes = [
        "'Unseen pair' is degenerate here: a user rates an item once, so a test pair is "
        "new by construction, and (user, item) is the only pair in a row. poly2's pair "
        "weights can only memorise training ratings: no pair column is ever active on a "
        "test row, so at test time poly2 is a linear model (fitted beside pair weights that "
        "soak up part of the signal).",
        f"The FM's test RMSE is {_versus(fm.rmse, linear.rmse)} the linear model's and "
        f"{_versus(fm.rmse, poly2.rmse)} poly2's: whatever the FM gains here, it gains "
        "through <v_user, v_item> on pairs it has never seen.",
    ]
    return Table(title, rows, info, notes)


# --------------------------------------------------------------------------------------
# Part 3: dense, low-dimensional data with a full-rank interaction matrix
# --------------------------------------------------------------------------------------


def dense_full_rank(
    n_samples: int = 50_000, n_features: int = 10, random_state: int = 0, max_iter: int = 30
) -> Table:
    """Gaussian features, y = 3 + Xw + Σ_{i<j} W_ij x_i x_j + noise, W of full rank.

    Every pair is observed in every row, so poly2's pair weights are estimated from all the
    rows; an FM of rank k < n_features can only approximate W (the FM's diagonal is free,
    so k = n_features can represent any W). The FMs use ALS: on dense rows the SGD family's
    lazy L2 penalty is applied at every row, which is far too strong at its default
    (AdaGrad with k = 10 stalls near RMSE 0.61 there; with reg_factors=0.01 it matches ALS).
    """
    rng = np.random.default_rng(random_state)
    X = rng.normal(size=(n_samples, n_features))
    n_pairs = n_features * (n_features - 1) // 2
    upper = np.triu(rng.normal(0.0, n_pairs**-0.5, (n_features, n_features)), k=1)
    w = rng.normal(0.0, 0.5, n_features)
    noise = 0.5
    signal = 3.0 + X @ w + np.einsum("ni,ij,nj->n", X, upper, X)
    y = signal + rng.normal(0.0, noise, n_samples)
    n_train = int(0.8 * n_samples)
    X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
    small_k = 2
    fms = {
        "fm": _fm(small_k, max_iter, random_state, solver="als"),
        "fm_full_rank": _fm(n_features, max_iter, random_state, solver="als"),
    }
    rows = _compare(X_train, y_train, X_test, y_test, None, _dense_poly2, fms, random_state)
    rows["poly2"].label = rows["poly2"].label.replace("(ridge", "(PolynomialFeatures + ridge")
    eigenvalues = np.sort(np.abs(np.linalg.eigvalsh(upper + upper.T)))[::-1]
    info = {
        "n_train": n_train,
        "n_test": n_samples - n_train,
        "noise": noise,
        "oracle_rmse": _rmse(signal[n_train:], y_test),
        "rank_k_share": float(np.sum(eigenvalues[:small_k] ** 2) / np.sum(eigenvalues**2)),
    }
    title = (
        f"Part 3. Dense data: {n_train:,} train / {n_samples - n_train:,} test rows of "
        f"{n_features} Gaussian features, target = linear + a full-rank pairwise matrix W "
        f"+ noise of std {noise}."
    )
    fm, poly2 = rows["fm"], rows["poly2"]
    notes = [
        f"The planted model scores {info['oracle_rmse']:.4f}. The best rank-{small_k} "
        f"approximation of W keeps {info['rank_k_share']:.0%} of its squared eigenvalues; "
        "'unseen pairs' do not arise: every pair is non-zero in every row.",
        f"poly2's test RMSE is {_versus(poly2.rmse, fm.rmse)} the FM's with k={small_k}, "
        f"and {_versus(poly2.rmse, rows['fm_full_rank'].rmse)} the FM's with "
        f"k={n_features}. With every pair observed in every row there is nothing for "
        "factorization to share, so poly2's free weights cost nothing in accuracy, while an "
        "FM pays for its low-rank assumption when W is not low-rank; raising k to the "
        "number of features removes that bias, with more weights than poly2.",
    ]
    return Table(title, rows, info, notes)


# --------------------------------------------------------------------------------------
# Running and printing
# --------------------------------------------------------------------------------------


def run(
    n_samples: int = 100_000,
    random_state: int = 0,
    ml100k_dir: Path | None = None,
    n_dense: int = 50_000,
    max_iter: int = 50,
    include_ml100k: bool = True,
) -> dict[str, Table | None]:
    """The three parts as ``{"generated", "ml100k", "dense"}`` tables; prints nothing.

    ``"ml100k"`` is None when ``include_ml100k`` is False or the data is absent.
    ``max_iter`` caps the FMs' epochs (they stop early) and ALS sweeps in part 3.
    """
    _compile_kernels()
    return {
        "generated": generated_ratings(n_samples, random_state, max_iter),
        "ml100k": movielens(ml100k_dir, random_state, max_iter) if include_ml100k else None,
        "dense": dense_full_rank(n_dense, random_state=random_state, max_iter=max_iter),
    }


def _compile_kernels() -> None:
    """Fit two tiny FMs first, so that numba's compilation is not counted as fit time."""
    rng = np.random.default_rng(0)
    X, y = sp.random(64, 8, density=0.3, format="csr", random_state=0), rng.normal(size=64)
    for solver in ("adagrad", "als"):
        _fm(2, 2, 0, solver=solver).fit(X, y).predict(X)


def _versus(rmse: float, other: float) -> str:
    """'0.1234 lower than' / 'the same as' / '0.0100 higher than': rmse compared to other."""
    if abs(rmse - other) < 5e-5:
        return "the same (to 4 decimals) as"
    return f"{abs(rmse - other):.4f} {'lower' if rmse < other else 'higher'} than"


def _number(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.4f}"


def format_table(table: Table) -> str:
    """The title, an aligned plain-text table (oracle last where known) and the notes."""
    header = ("model", "test RMSE", "unseen pairs", "seen pairs", "fit s", "weights")
    cells = [
        (
            row.label,
            _number(row.rmse),
            _number(row.rmse_unseen),
            _number(row.rmse_seen),
            f"{row.seconds:.2f}",
            f"{row.n_params:,}",
        )
        for row in table.rows.values()
    ]
    info = table.info
    if "oracle_rmse" in info:
        nan = float("nan")
        cells.append(
            (
                "planted model (oracle)",
                _number(info["oracle_rmse"]),
                _number(info.get("oracle_rmse_unseen", nan)),
                _number(info.get("oracle_rmse_seen", nan)),
                "",
                "",
            )
        )
    widths = [max(len(line[c]) for line in [header, *cells]) for c in range(len(header))]
    lines = []
    for line in [header, *cells]:
        right = [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join([line[0].ljust(widths[0]), *right]))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join([table.title, "", *lines, "", *(f"* {note}" for note in table.notes)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Why factorization machines: an FM scores feature pairs it never saw "
        "together; poly2 cannot"
    )
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer epochs")
    parser.add_argument("--n-samples", type=int, default=None, help="rows of the part 1 data")
    parser.add_argument("--data-dir", type=Path, default=None, help="MovieLens-100K folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.n_samples is not None and args.n_samples < 2_000:
        parser.error("--n-samples must be at least 2000")
    start = time.perf_counter()
    tables = run(
        n_samples=args.n_samples or (30_000 if args.quick else 100_000),
        random_state=args.seed,
        ml100k_dir=args.data_dir,
        n_dense=20_000 if args.quick else 50_000,
        max_iter=30 if args.quick else 50,
    )
    for table in tables.values():
        if table is None:
            where = args.data_dir or ML100K
            print(f"Part 2. MovieLens-100K skipped: no train.tsv and test.tsv in {where}.")
        else:
            print(format_table(table))
        print()
    print(f"Total {time.perf_counter() - start:.0f} s (fit times exclude choosing alpha).")


if __name__ == "__main__":
    main()
