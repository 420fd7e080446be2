"""Recommendation from implicit feedback: an FM over user and item features trained with a
ranking loss (BPR, WARP) or sampled-negative log-loss, and fast top-N lists.

Data follow LightFM's conventions: ``interactions`` is a users × items sparse matrix
(every stored non-zero is an observed interaction), ``user_features`` /
``item_features`` have one row per user / item. By default each user and item also gets
an identity feature of its own, so with no side features the model is matrix
factorisation with biases; with them it is an FM whose rows are ``[user features | item
features]`` (pairs within a side included: item id × genre, user id × age band).

Why top-N is fast: for one user the FM's score splits into a user constant, an item bias
``b_i`` and an inner product ``<p_u, q_i>`` (kernels/ranking.py), so the scores of a
block of users against every item are one matrix product, never users × items rows.
The same split gives embeddings for a vector index: ``user_embeddings() @
item_embeddings().T`` is the score matrix.
"""

from __future__ import annotations

import os
import time
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from fmlearn import persist
from fmlearn._validation import (
    BOOLEAN,
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    make_rng,
    resolve_dtype,
    validate_params,
)
from fmlearn.kernels import ranking as K
from fmlearn.kernels.sgd import (
    BETA1,
    BETA2,
    EPS,
    FTRL_BETA,
    LR,
    N_HYPER,
    REG_FACTORS,
    REG_LINEAR,
)
from fmlearn.kernels.topk import top_n_rows
from fmlearn.metrics import ranking_report
from fmlearn.models.base import normal_table
from fmlearn.models.fm import FMParams
from fmlearn.solvers.base import DivergenceError, FitHistory
from fmlearn.solvers.sgd import OPTIMIZERS, OptimizerState

LOSSES = {"bpr": K.BPR, "warp": K.WARP, "logistic": K.LOGISTIC}
#: ``negative_sampling="popularity"`` draws item j ∝ (count_j + 1)^0.75: word2vec's
#: exponent (between uniform and raw popularity), +1 so unseen items are drawn too.
POPULARITY_EXPONENT = 0.75
#: Largest users × items bitset of the positives that training builds (negative checks in
#: one access; 64 MiB covers e.g. 50,000 users × 10,000 items).
BITSET_BYTES = 64 * 2**20
#: Scores per block of users in ``recommend`` (float32 or float64 values): ~64 MiB.
BLOCK_VALUES = 2**23


class FMRecommender(BaseEstimator):
    """Factorization machine for top-N recommendation from implicit feedback.

    Parameters
    ----------
    n_factors : int, default=32
        k, the length of every feature's vector.
    loss : {"warp", "bpr", "logistic"}, default="warp"
        WARP (LightFM's best for precision@k), BPR, or log-loss with ``n_negatives``
        sampled negatives per interaction.
    solver : {"adagrad", "sgd", "adam"}, default="adagrad"
    learning_rate : float, default=0.05
    max_iter : int, default=30
        Epochs; one epoch visits every interaction once, in a shuffled order.
    reg_linear, reg_factors : float, default=0.0, 1e-5
        L2 on the item biases and the vectors, applied to what each step touches.
    max_sampled : int, default=10
        WARP: negatives drawn at most, per interaction, to find a violating one.
    n_negatives : int, default=1
        ``loss="logistic"``: sampled negatives per interaction.
    negative_sampling : {"uniform", "popularity"}, default="uniform"
        Negatives drawn uniformly over the items, or ∝ (count + 1)^0.75: popular items
        are then pushed down more often, so lists cover more of the catalogue, at some
        cost in precision where popularity is part of what users want.
    user_identity, item_identity : bool, default=True
        Give every user / item a feature of its own (LightFM's default). Without it a user
        is only its features, and can be scored from them alone.
    init_std : float, default=0.01
        Standard deviation of the initial vectors.
    early_stopping : bool, default=False
        Stop when nDCG@``eval_k`` on the validation interactions (``fit``'s ``eval_set``,
        else a ``validation_fraction`` of the interactions held out at random) has not
        improved for ``n_iter_no_change`` epochs, and keep the best epoch's model.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    eval_k : int, default=10
        The list length of the per-epoch validation metrics (``history_.valid``:
        ``"precision@k"``, ``"ndcg@k"``), recorded whenever there is an ``eval_set``.
    random_state : int, Generator or None
        Initial vectors, epoch orders and negative draws; bit-for-bit repeatable with
        ``n_jobs=None``.
    n_jobs : int or None, default=None
        Threads for ``fit`` (Hogwild!, not bit-for-bit repeatable); None = one thread.
        ``recommend`` uses every core whatever this is (BLAS for the products, numba for
        the top-n selection); its lists do not depend on the thread count.
    verbose : int, default=0
        1 prints one line per epoch.
    dtype : {"float32", "float64"}, default="float32"

    Attributes
    ----------
    w0_, w_, V_ : the FM over ``[user features | item features]`` (identity columns first)
    n_users_, n_items_ : int
    interactions_ : csr_matrix of the training interactions (``filter_seen``)
    history_ : FitHistory (training loss per step, seconds per epoch, validation metrics)
    n_iter_ : int
    best_iteration_ : int, with early stopping: the epoch whose model was kept

    Examples
    --------
    >>> from fmlearn import FMRecommender
    >>> from fmlearn.datasets import make_implicit_feedback
    >>> data = make_implicit_feedback(n_users=100, n_items=50, n_interactions=1000, random_state=0)
    >>> model = FMRecommender(n_factors=8, max_iter=10, random_state=0)
    >>> model = model.fit(data.interactions, item_features=data.item_features)
    >>> ids, scores = model.recommend([0, 1], n=5)  # users 0 and 1: 5 items each, best first
    >>> ids.shape, scores.shape
    ((2, 5), (2, 5))
    >>> data.interactions[0, ids[0]].nnz  # items user 0 already has are left out
    0
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_factors": [Interval(int, 1, None)],
        "loss": [Options(tuple(LOSSES))],
        "solver": [Options(("adagrad", "sgd", "adam"))],
        "learning_rate": [Interval(float, 0.0, None, closed="neither")],
        "max_iter": [Interval(int, 1, None)],
        "reg_linear": [Interval(float, 0.0, None)],
        "reg_factors": [Interval(float, 0.0, None)],
        "max_sampled": [Interval(int, 1, None)],
        "n_negatives": [Interval(int, 0, None)],
        "negative_sampling": [Options(("uniform", "popularity"))],
        "user_identity": [BOOLEAN],
        "item_identity": [BOOLEAN],
        "init_std": [Interval(float, 0.0, None)],
        "early_stopping": [BOOLEAN],
        "validation_fraction": [Interval(float, 0.0, 1.0, closed="neither")],
        "n_iter_no_change": [Interval(int, 1, None)],
        "eval_k": [Interval(int, 1, None)],
        "random_state": [RANDOM_STATE],
        "n_jobs": [Interval(int, -1, None), NONE],
        "verbose": [Interval(int, 0, None)],
        "dtype": [Options(("float32", "float64"))],
    }

    def __init__(
        self,
        n_factors: int = 32,
        *,
        loss: str = "warp",
        solver: str = "adagrad",
        learning_rate: float = 0.05,
        max_iter: int = 30,
        reg_linear: float = 0.0,
        reg_factors: float = 1e-5,
        max_sampled: int = 10,
        n_negatives: int = 1,
        negative_sampling: str = "uniform",
        user_identity: bool = True,
        item_identity: bool = True,
        init_std: float = 0.01,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        eval_k: int = 10,
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
        dtype: str = "float32",
    ):
        self.n_factors = n_factors
        self.loss = loss
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.reg_linear = reg_linear
        self.reg_factors = reg_factors
        self.max_sampled = max_sampled
        self.n_negatives = n_negatives
        self.negative_sampling = negative_sampling
        self.user_identity = user_identity
        self.item_identity = item_identity
        self.init_std = init_std
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.eval_k = eval_k
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.dtype = dtype

    # ----------------------------------------------------------------------------- fit
    def fit(
        self, interactions, user_features=None, item_features=None, sample_weight=None,
        eval_set=None,
    ):  # fmt: skip
        """Learn from ``interactions`` (users × items; stored non-zeros are interactions).

        ``user_features`` (n_users × d_u) and ``item_features`` (n_items × d_i): side
        features, sparse or dense. ``sample_weight``: a users × items sparse matrix with
        the same stored entries as ``interactions`` (LightFM's convention), or
        ``"values"`` to use the interaction values themselves as confidences.
        ``eval_set``: held-out interactions (users × items) scored after every epoch.
        """
        with _restored_on_error(self):
            return self._fit(interactions, user_features, item_features, sample_weight, eval_set)

    def _fit(self, interactions, user_features, item_features, sample_weight, eval_set):
        validate_params(self, self._parameter_constraints)
        dtype = resolve_dtype(self.dtype)
        R = _interactions(interactions, "interactions")
        n_users, n_items = R.shape
        weights = _pair_weights(sample_weight, R)
        UX = _side_matrix(user_features, n_users, self.user_identity, "user", dtype)
        IX = _side_matrix(item_features, n_items, self.item_identity, "item", dtype)
        rng = make_rng(self.random_state)
        eval_R = _eval_interactions(eval_set, R.shape)
        all_R = R
        if self.early_stopping and eval_R is None:
            held = rng.random(R.nnz) < self.validation_fraction
            eval_R, _ = _masked(R, held, weights)
            R, weights = _masked(R, ~held, weights)
            if R.nnz == 0 or eval_R.nnz == 0:
                raise ValueError("too few interactions to hold out a validation part.")
        n_features = UX.shape[1] + IX.shape[1]
        params = FMParams(
            np.zeros(1, dtype=dtype),
            np.zeros(n_features, dtype=dtype),
            normal_table(rng, (n_features, self.n_factors), self.init_std, dtype),
        )
        state = OptimizerState.fresh(int(OPTIMIZERS[self.solver]), params)
        self.n_users_, self.n_items_ = n_users, n_items
        self.n_user_features_ = UX.shape[1] - (n_users if self.user_identity else 0)
        self.n_item_features_ = IX.shape[1] - (n_items if self.item_identity else 0)
        self._user_rows, self._item_rows = UX, IX
        # while training, the held-out part is unknown (scored, drawn as negatives)
        self.interactions_ = R
        self.history_ = FitHistory()
        self.n_iter_ = 0
        self.__dict__.pop("best_iteration_", None)
        self._train(R, weights, params, state, rng, self.max_iter, eval_R)
        self.interactions_ = all_R  # afterwards every interaction given is "seen"
        return self

    def partial_fit(self, interactions, sample_weight=None, eval_set=None):
        """One epoch over new ``interactions`` (the fitted users × items), continuing the
        model and its optimiser state; they join ``interactions_`` (seen items). The first
        call on an unfitted model fits one epoch."""
        if not hasattr(self, "history_"):
            with _one_epoch(self):
                return self.fit(interactions, sample_weight=sample_weight, eval_set=eval_set)
        with _restored_on_error(self):
            return self._partial_fit(interactions, sample_weight, eval_set)

    def _partial_fit(self, interactions, sample_weight, eval_set):
        validate_params(self, self._parameter_constraints)
        if int(OPTIMIZERS[self.solver]) != self._state.optimizer:
            raise ValueError(
                f"solver={self.solver!r} differs from the fitted model's: partial_fit "
                "continues the optimiser state it has; fit() starts afresh."
            )
        R = _interactions(interactions, "interactions")
        if R.shape != (self.n_users_, self.n_items_):
            raise ValueError(
                f"interactions has shape {R.shape}; the model has {self.n_users_} users × "
                f"{self.n_items_} items."
            )
        weights = _pair_weights(sample_weight, R)
        eval_R = _eval_interactions(eval_set, R.shape)
        seen = _interactions((self.interactions_ != 0) + (R != 0), "interactions")
        seen.data[:] = 1.0
        self.interactions_ = seen
        seed = self.random_state
        rng = (
            np.random.default_rng([int(seed), int(self.n_iter_)])
            if isinstance(seed, int | np.integer)
            else make_rng(seed)
        )
        # on copies: a failed epoch (divergence, Ctrl-C) must leave the model as it was
        self._train(R, weights, self._params().copy(), self._state.copy(), rng, 1, eval_R)
        return self

    def _params(self) -> FMParams:
        return FMParams(np.array([self.w0_], dtype=self.V_.dtype), self.w_, self.V_)

    def _train(self, R, weights, params, state, rng, epochs, eval_R) -> None:
        """``epochs`` epochs on ``R``; negatives are never drawn from ``interactions_``."""
        UX, IX = self._user_rows, self._item_rows
        n_user_cols = UX.shape[1]
        U = (UX.indptr.astype(np.int64), UX.indices.astype(np.int64), UX.data)
        I = (IX.indptr.astype(np.int64), IX.indices.astype(np.int64) + n_user_cols, IX.data)  # noqa: E741
        seen = self.interactions_
        pos = (seen.indptr.astype(np.int64), seen.indices.astype(np.int64), _bitset(seen))
        # the positives, shuffled once (Hogwild! chunks are then random parts of them) and
        # again by the kernel within each chunk every epoch; unit weights are left out
        order = rng.permutation(R.nnz)
        users = np.repeat(np.arange(R.shape[0], dtype=np.int64), np.diff(R.indptr))
        pairs = (K.pack_pairs(users[order], R.indices[order]),
                 weights[order] if np.any(weights != 1.0) else np.zeros(0))  # fmt: skip
        if self.negative_sampling == "popularity":
            popularity = np.bincount(seen.indices, minlength=R.shape[1]) + 1.0
            neg_cdf = np.cumsum(popularity**POPULARITY_EXPONENT)
        else:
            neg_cdf = np.zeros(0)
        hp = np.zeros(N_HYPER)
        hp[LR], hp[REG_LINEAR], hp[REG_FACTORS] = (
            self.learning_rate, self.reg_linear, self.reg_factors)  # fmt: skip
        hp[BETA1], hp[BETA2], hp[EPS], hp[FTRL_BETA] = 0.9, 0.999, 1e-8, 1.0
        rcodes = np.array(
            [LOSSES[self.loss], state.optimizer, self.max_sampled, self.n_negatives],
            dtype=np.int64,
        )
        n_chunks = _threads(self.n_jobs)
        # the kernels train on [V | w] rows (K.fuse); params and state are written back
        # after every epoch, so the model is whole whenever Python sees it
        identity = _is_identity(UX) and _is_identity(IX)
        arrays = (params.w0, params.w, params.V)
        P = K.fuse(params.V, params.w)
        fused_state = K.fuse_state(state.arrays)
        eval_users = None if eval_R is None else np.flatnonzero(np.diff(eval_R.indptr))
        best, best_score, since_best = None, -np.inf, 0
        for _ in range(epochs):
            epoch = self.n_iter_ + 1
            start = time.perf_counter()
            seed = int(rng.integers(2**31 - n_chunks))
            if n_chunks > 1:
                total, steps = K.ranking_epoch_hogwild(
                    U, I, identity, pos, pairs, neg_cdf, params.w0, P, fused_state, hp,
                    rcodes, state.n_updates, seed, n_chunks,
                )  # fmt: skip
            else:
                total, steps = K.ranking_epoch(
                    U, I, identity, pos, pairs, neg_cdf, params.w0, P, fused_state, hp,
                    rcodes, state.n_updates, seed,
                )  # fmt: skip
            K.unfuse(P, params.w, params.V)
            s = state.arrays
            K.unfuse(fused_state[2], s[2], s[4])
            K.unfuse(fused_state[3], s[3], s[5])
            seconds = time.perf_counter() - start
            state.n_updates += int(steps)
            if not (np.isfinite(total) and np.isfinite(params.V).all()):
                raise DivergenceError(
                    f"training diverged in epoch {epoch} (non-finite loss or vectors): "
                    f"lower learning_rate (now {self.learning_rate})."
                )
            self.w0_, self.w_, self.V_ = float(params.w0[0]), params.w, params.V
            self._state, self.n_iter_ = state, epoch
            scores = {} if eval_R is None else self._validation_scores(eval_R, eval_users)
            loss = float(total) / max(int(steps), 1)
            one = FitHistory()
            one.append(epoch, loss, seconds, scores)
            self.history_ = self.history_.extend(one)  # NaN where a metric was not recorded
            if self.verbose:
                shown = "".join(f"  {name} {value:.4f}" for name, value in scores.items())
                print(f"epoch {epoch:3d}  loss {loss:.5f}{shown}  {seconds:.2f} s", flush=True)
            if not self.early_stopping or not scores:
                continue
            score = scores[f"ndcg@{self.eval_k}"]
            if score > best_score:
                best = (params.w0.copy(), params.w.copy(), params.V.copy(), state.copy())
                best_score, since_best = score, 0
            else:
                since_best += 1
                if since_best >= self.n_iter_no_change:
                    break
        if self.early_stopping and best is not None:
            for target, kept in zip(arrays, best[:3], strict=True):
                target[...] = kept
            self._state = best[3]  # the optimiser state that goes with these parameters
            self.w0_ = float(params.w0[0])
            self.best_iteration_ = self.n_iter_ - since_best

    def _validation_scores(self, eval_R, users) -> dict:
        k = self.eval_k
        if users.size == 0:
            return {}
        ids, _ = self.recommend(users, n=k)
        report = ranking_report(ids, eval_R, k, users=users)  # one look-up for both
        return {f"precision@{k}": report["precision"], f"ndcg@{k}": report["ndcg"]}

    # -------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted recommender (:func:`fmlearn.save`): atomic, no pickle. The file
        holds the model, the feature rows, the seen interactions and the optimiser state,
        so a loaded model recommends and continues (``partial_fit``) exactly."""
        persist.save(self, path)

    def _to_file(self) -> tuple[dict, dict]:
        check_is_fitted(self, "history_")
        arrays = {"w_": self.w_, "V_": self.V_}
        for name, X in (("interactions", self.interactions_), ("user_rows", self._user_rows),
                        ("item_rows", self._item_rows)):  # fmt: skip
            arrays.update({f"{name}/indptr": X.indptr, f"{name}/indices": X.indices,
                           f"{name}/data": X.data})  # fmt: skip
        state_meta, state_arrays = self._state.to_arrays()
        arrays.update(persist.prefixed("state/", state_arrays))
        fitted = {
            "w0_": self.w0_,
            "n_iter_": int(self.n_iter_),
            "n_users_": int(self.n_users_),
            "n_items_": int(self.n_items_),
            "n_user_features_": int(self.n_user_features_),
            "n_item_features_": int(self.n_item_features_),
            "user_columns": int(self._user_rows.shape[1]),
            "item_columns": int(self._item_rows.shape[1]),
            "optimizer": int(self._state.optimizer),
        }
        if hasattr(self, "best_iteration_"):
            fitted["best_iteration_"] = int(self.best_iteration_)
        meta = {
            "params": persist.json_params(self.get_params()),
            "fitted": fitted,
            "history": self.history_.to_dict(),
            "state": state_meta,
        }
        return meta, arrays

    @classmethod
    def _from_file(cls, meta: dict, arrays: dict) -> FMRecommender:
        model = cls(**persist.params_from_json(meta["params"]))
        validate_params(model, model._parameter_constraints)
        fitted = meta["fitted"]
        n_users, n_items = int(fitted["n_users_"]), int(fitted["n_items_"])
        shapes = {"interactions": (n_users, n_items),
                  "user_rows": (n_users, int(fitted["user_columns"])),
                  "item_rows": (n_items, int(fitted["item_columns"]))}  # fmt: skip
        parts = {}
        for name, shape in shapes.items():
            X = sp.csr_matrix(
                (arrays[f"{name}/data"], arrays[f"{name}/indices"], arrays[f"{name}/indptr"]),
                shape=shape,
            )
            X.check_format(full_check=True)
            parts[name] = X
        w, V = arrays["w_"], arrays["V_"]
        n_features = shapes["user_rows"][1] + shapes["item_rows"][1]
        if w.shape != (n_features,) or V.shape != (n_features, model.n_factors):
            raise ValueError(
                f"w_/V_ have shapes {w.shape}/{V.shape}; the feature rows need "
                f"({n_features},)/({n_features}, {model.n_factors})."
            )
        model.w0_, model.w_, model.V_ = float(fitted["w0_"]), w, V
        model.n_users_, model.n_items_ = n_users, n_items
        model.n_user_features_ = int(fitted["n_user_features_"])
        model.n_item_features_ = int(fitted["n_item_features_"])
        model.interactions_ = parts["interactions"]
        model._user_rows, model._item_rows = parts["user_rows"], parts["item_rows"]
        model.n_iter_ = int(fitted["n_iter_"])
        if "best_iteration_" in fitted:
            model.best_iteration_ = int(fitted["best_iteration_"])
        model.history_ = FitHistory.from_dict(meta["history"])
        model._state = OptimizerState.from_arrays(
            int(fitted["optimizer"]), meta["state"], persist.unprefixed("state/", arrays),
            model._params(),
        )  # fmt: skip
        return model

    # ------------------------------------------------------------------------ scoring
    def _user_terms(self, user_rows):
        """``(P, c)`` of user feature rows: the score is ``c + b + P·Q`` (``_item_terms``)."""
        cut = self._user_rows.shape[1]
        P, c = _side_terms(user_rows, self.w_[:cut], self.V_[:cut])
        return P, c + self.w0_

    def _item_terms(self, item_rows):
        """``(Q, b)`` of item feature rows."""
        cut = self._user_rows.shape[1]
        return _side_terms(item_rows, self.w_[cut:], self.V_[cut:])

    def _user_rows_for(self, users, user_features):
        check_is_fitted(self, "history_")
        if user_features is not None:
            if users is not None:
                raise ValueError("pass users (known ids) or user_features (new users), not both.")
            X = _as_csr(user_features, "user_features", self._user_rows.dtype)
            if X.shape[1] != self.n_user_features_:
                raise ValueError(
                    f"user_features has {X.shape[1]} columns; the model was fitted with "
                    f"{self.n_user_features_} user feature columns."
                )
            offset = self.n_users_ if self.user_identity else 0
            rows = sp.csr_matrix(
                (X.data, X.indices + offset, X.indptr), shape=(X.shape[0], self._user_rows.shape[1])
            )
            return None, rows
        users = _ids(users, self.n_users_, "users")
        return users, self._user_rows[users]

    def recommend(
        self,
        users=None,
        n: int = 10,
        *,
        filter_seen: bool = True,
        items=None,
        user_features=None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best items for each user, best first: ``(ids, scores)``, each of shape
        (n_users, n).

        ``users``: user ids (default: every user). ``user_features``: rows of side features
        for users not seen in ``fit`` (cold start; then ``users`` must be None and nothing
        is filtered). ``filter_seen``: leave out the items a user interacted with in
        ``fit``. ``items``: candidate item ids (default: all). A user with fewer than ``n``
        candidates left gets a shorter list, padded with id −1 and score −inf. Equal scores
        rank by item id.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}.")
        users, rows = self._user_rows_for(users, user_features)
        candidates = (
            np.arange(self.n_items_) if items is None else _ids(items, self.n_items_, "items")
        )
        if np.unique(candidates).size != candidates.size:
            raise ValueError("items repeats an item id.")
        Q, b = self._item_terms(self._item_rows[candidates])
        b_ = b.astype(Q.dtype)
        n_out = int(n)
        width = min(n_out, candidates.size)
        n_rows = rows.shape[0]
        ids = np.full((n_rows, n_out), -1, dtype=np.int64)
        scores = np.full((n_rows, n_out), -np.inf, dtype=np.float64)
        position = None
        if filter_seen and users is not None:
            position = np.full(self.n_items_, -1, dtype=np.int64)
            position[candidates] = np.arange(candidates.size)
        block = max(1, BLOCK_VALUES // max(candidates.size, 1))
        for start in range(0, n_rows, block):
            stop = min(start + block, n_rows)
            P, c = self._user_terms(rows[start:stop])
            S = P @ Q.T
            S += b_[None, :]  # in S's dtype: a float64 addend would make it a mixed loop
            S += c.astype(S.dtype)[:, None]
            if position is not None:
                seen = self.interactions_[users[start:stop]]
                r = np.repeat(np.arange(stop - start), np.diff(seen.indptr))
                col = position[seen.indices]
                keep = col >= 0
                S[r[keep], col[keep]] = -np.inf
            top, top_scores = _top_n(S, width, candidates)
            ids[start:stop, :width] = np.where(top >= 0, candidates[top], -1)
            scores[start:stop, :width] = top_scores
        return ids, scores

    def score(self, users, items) -> np.ndarray:
        """The FM score of each (user, item) pair: ``users`` and ``items`` of equal length."""
        users, rows = self._user_rows_for(users, None)
        items = _ids(items, self.n_items_, "items")
        if users.shape != items.shape:
            raise ValueError(f"users and items must have the same length; got {users.size} "
                             f"and {items.size}.")  # fmt: skip
        P, c = self._user_terms(rows)
        Q, b = self._item_terms(self._item_rows[items])
        return c + b + np.einsum("ij,ij->i", P, Q, dtype=np.float64)

    def user_embeddings(self, users=None, *, user_features=None) -> np.ndarray:
        """(n_users, k + 2): ``[p_u, c_u, 1]``, so that ``user_embeddings() @
        item_embeddings().T`` is the score matrix (for a vector index)."""
        _, rows = self._user_rows_for(users, user_features)
        P, c = self._user_terms(rows)
        return np.hstack([P, c[:, None], np.ones((P.shape[0], 1), dtype=P.dtype)])

    def item_embeddings(self, items=None) -> np.ndarray:
        """(n_items, k + 2): ``[q_i, 1, b_i]`` (see :meth:`user_embeddings`)."""
        check_is_fitted(self, "history_")
        items = np.arange(self.n_items_) if items is None else _ids(items, self.n_items_, "items")
        Q, b = self._item_terms(self._item_rows[items])
        return np.hstack([Q, np.ones((Q.shape[0], 1), dtype=Q.dtype), b[:, None]])

    def similar_items(self, items, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items whose vectors ``q`` have the highest cosine with each of
        ``items``' (itself excluded): ``(ids, similarities)``, shape (len(items), n); with
        fewer than n other items, padded with id −1 and similarity −inf. Ties by item id."""
        check_is_fitted(self, "history_")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}.")
        items = _ids(items, self.n_items_, "items")
        Q, _ = self._item_terms(self._item_rows)
        norm = np.linalg.norm(Q, axis=1)
        unit = Q / np.where(norm > 0, norm, 1.0)[:, None]
        S = unit[items] @ unit.T
        S[np.arange(items.size), items] = -np.inf
        n_out = int(n)
        width = min(n_out, self.n_items_ - 1)
        ids = np.full((items.size, n_out), -1, dtype=np.int64)
        sims = np.full((items.size, n_out), -np.inf)
        top, sims[:, :width] = _top_n(S, width, np.arange(self.n_items_))
        ids[:, :width] = top
        return ids, sims


class _restored_on_error:
    """Put every attribute back as it was when the block raises: a failed fit leaves no
    half-fitted model, and a failed ``partial_fit`` the previous one (it trains copies)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def __enter__(self):
        self.saved = dict(self.estimator.__dict__)

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.estimator.__dict__.clear()
            self.estimator.__dict__.update(self.saved)
        return False


class _one_epoch:
    """``max_iter`` set to 1 for the duration of a block (``partial_fit``'s first call)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def __enter__(self):
        self.saved = self.estimator.max_iter
        self.estimator.max_iter = 1

    def __exit__(self, *exc):
        self.estimator.max_iter = self.saved


def _masked(R: sp.csr_matrix, keep: np.ndarray, weights: np.ndarray):
    """The stored entries of canonical CSR ``R`` where ``keep``, in the same order, and
    their weights."""
    rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))[keep]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=R.shape[0]))))
    out = sp.csr_matrix((R.data[keep], R.indices[keep], indptr), shape=R.shape)
    return out, weights[keep]


def _is_identity(X: sp.csr_matrix) -> bool:
    """Is ``X`` the identity (row r holds column r, value 1, and nothing else)?"""
    n = X.shape[0]
    return (
        X.shape[1] == n
        and X.nnz == n
        and np.array_equal(X.indptr, np.arange(n + 1))
        and np.array_equal(X.indices, np.arange(n))
        and bool(np.all(X.data == 1))
    )


def _bitset(R: sp.csr_matrix) -> np.ndarray:
    """The positives as one bit per (user, item) when that takes ≤ ``BITSET_BYTES``, else
    an empty array (the kernel then searches each user's sorted items)."""
    if R.shape[0] * ((R.shape[1] + 63) // 64) * 8 > BITSET_BYTES:
        return np.zeros((0, 0), dtype=np.uint64)
    return K.positive_bitset(R.indptr.astype(np.int64), R.indices.astype(np.int64), R.shape[1])


def _eval_interactions(eval_set, shape) -> sp.csr_matrix | None:
    if eval_set is None:
        return None
    eval_R = _interactions(eval_set, "eval_set")
    if eval_R.shape != shape:
        raise ValueError(f"eval_set has shape {eval_R.shape}; the model {shape[0]} users × "
                         f"{shape[1]} items.")  # fmt: skip
    return eval_R


def _threads(n_jobs) -> int:
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, n_jobs)


def _top_n(S: np.ndarray, width: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``S``: the positions of the ``width`` largest scores above −inf and the
    scores, best first, equal scores by ``ids``; −1 / −inf where a row has fewer."""
    positions = np.empty((S.shape[0], width), dtype=np.int64)
    scores = np.empty((S.shape[0], width))
    top_n_rows(S, width, np.ascontiguousarray(ids, dtype=np.int64), positions, scores)
    return positions, scores


def _as_csr(X, name: str, dtype) -> sp.csr_matrix:
    if isinstance(X, list):
        X = np.asarray(X, dtype=np.float64)
    if not (sp.issparse(X) or isinstance(X, np.ndarray)):
        raise ValueError(f"{name} must be a 2-D sparse matrix or array; got {type(X).__name__}.")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D; got {X.ndim} dimension(s).")
    X = sp.csr_matrix(X, dtype=dtype) if not sp.issparse(X) else X.tocsr().astype(dtype)
    if not np.isfinite(X.data).all():
        raise ValueError(f"{name} holds NaN or infinite values.")
    X = X.copy()
    X.sum_duplicates()
    X.sort_indices()
    return X


def _interactions(R, name: str) -> sp.csr_matrix:
    if isinstance(R, list):
        R = np.asarray(R, dtype=np.float64)
    if not sp.issparse(R) and not isinstance(R, np.ndarray):
        raise ValueError(f"{name} must be a users × items sparse matrix; got {type(R).__name__}.")
    R = _as_csr(R, name, np.float64)
    R.eliminate_zeros()
    if R.shape[0] == 0 or R.shape[1] == 0 or R.nnz == 0:
        raise ValueError(f"{name} holds no interaction (shape {R.shape}, no stored non-zero).")
    if (R.data < 0).any():
        raise ValueError(f"{name} holds negative values; interactions are ≥ 0.")
    if R.shape[1] < 2:
        raise ValueError(f"{name} has one item: there is nothing to rank.")
    return R


def _pair_weights(sample_weight, R) -> np.ndarray:
    if sample_weight is None:
        return np.ones(R.nnz)
    if isinstance(sample_weight, str):
        if sample_weight != "values":
            raise ValueError(f"sample_weight must be None, 'values' or a matrix; got "
                             f"{sample_weight!r}.")  # fmt: skip
        return R.data.astype(np.float64)
    W = _as_csr(sample_weight, "sample_weight", np.float64)
    if W.shape != R.shape:
        raise ValueError(f"sample_weight has shape {W.shape}; interactions {R.shape}.")
    if (W.data < 0).any():
        raise ValueError("sample_weight holds negative weights.")
    # look every interaction up among W's stored entries (a stored 0 is weight 0)
    w_keys = np.repeat(np.arange(W.shape[0], dtype=np.int64), np.diff(W.indptr))
    w_keys = w_keys * W.shape[1] + W.indices
    r_keys = np.repeat(np.arange(R.shape[0], dtype=np.int64), np.diff(R.indptr))
    r_keys = r_keys * R.shape[1] + R.indices
    if w_keys.size == 0:
        raise ValueError("sample_weight stores no weight; it needs one for each interaction.")
    at = np.minimum(np.searchsorted(w_keys, r_keys), w_keys.size - 1)
    missing = np.flatnonzero(w_keys[at] != r_keys)
    if missing.size:
        u, i = divmod(int(r_keys[missing[0]]), R.shape[1])
        raise ValueError(
            f"sample_weight has no stored weight for {missing.size} interactions (first: "
            f"user {u}, item {i}); it needs one for each, like interactions' entries."
        )
    if np.count_nonzero(W.data) > np.count_nonzero(W.data[at]):
        raise ValueError("sample_weight has non-zero weights where there is no interaction.")
    return W.data[at]


def _side_matrix(features, n_rows: int, identity: bool, side: str, dtype) -> sp.csr_matrix:
    """``[identity | features]`` as canonical CSR in ``dtype``."""
    blocks = [sp.identity(n_rows, dtype=dtype, format="csr")] if identity else []
    if features is not None:
        X = _as_csr(features, f"{side}_features", dtype)
        if X.shape[0] != n_rows:
            raise ValueError(
                f"{side}_features has {X.shape[0]} rows; interactions has {n_rows} {side}s."
            )
        blocks.append(X)
    if not blocks:
        raise ValueError(
            f"{side}_identity=False needs {side}_features: a {side} would have no feature."
        )
    out = sp.hstack(blocks, format="csr", dtype=dtype)
    out.sort_indices()
    return out


def _side_terms(rows: sp.csr_matrix, w: np.ndarray, V: np.ndarray):
    """For each row: ``q = Σ v x`` and ``lin + intra = Σ w x + ½(‖q‖² − Σ ‖v‖² x²)``."""
    Q = np.asarray(rows @ V)
    sq = np.asarray(rows.multiply(rows) @ np.einsum("ij,ij->i", V, V, dtype=np.float64))
    lin = np.asarray(rows @ w.astype(np.float64))
    intra = 0.5 * (np.einsum("ij,ij->i", Q, Q, dtype=np.float64) - sq.ravel())
    return Q, lin.ravel() + intra


def _ids(ids, n: int, name: str) -> np.ndarray:
    if ids is None:
        return np.arange(n)
    ids = np.asarray(ids)
    if ids.ndim == 0:
        ids = ids[None]
    if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
        raise ValueError(f"{name} must be a 1-D array of int ids; got dtype {ids.dtype}.")
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise ValueError(f"{name} must lie in [0, {n}); got {bad}.")
    return ids.astype(np.int64)


def random_split(
    interactions, test_fraction: float = 0.2, *, random_state=None
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split the stored interactions at random into ``(train, test)`` of the same shape
    (LightFM's ``random_train_test_split``): each goes to test with ``test_fraction``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1); got {test_fraction!r}.")
    R = _interactions(interactions, "interactions").tocoo()
    to_test = make_rng(random_state).random(R.nnz) < test_fraction

    def part(mask):
        out = sp.csr_matrix((R.data[mask], (R.row[mask], R.col[mask])), shape=R.shape)
        out.sort_indices()
        return out

    return part(~to_test), part(to_test)


persist.register(FMRecommender)
