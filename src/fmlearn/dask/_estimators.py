"""DaskFMRegressor and DaskFMClassifier: data-parallel training of an fmlearn estimator on
a Dask array whose row blocks are scipy CSR matrices.

Each round, every block (or a slice of it, ``sync_per_epoch``) runs one ordinary
``partial_fit`` epoch of the wrapped estimator, on a copy of the model cut to the features
the block touches; the copies come back and are merged (:mod:`fmlearn.dask._merge`). The
update rules are fmlearn's own kernels; Dask only moves blocks, model rows and results.
Nothing here is stored until a fit has finished, so a failed fit leaves the estimator as
it was.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.utils.validation import assert_all_finite, check_is_fitted

from fmlearn.classification import FMClassifier
from fmlearn.dask import _merge
from fmlearn.regression import FMRegressor
from fmlearn.solvers.base import FitHistory

SOLVERS = tuple(_merge.STATE_RULES)


def _dask():
    import dask
    import dask.array as da

    return dask, da


def _prepare(X, y, weight, n_parts: int) -> list[dict]:
    """A block cut into ``n_parts`` slices, each with the features it touches (sorted), in
    how many rows, and its rows with columns renumbered to those features: done once per
    fit on the worker that holds the block, and kept there for every round."""
    X = X.tocsr()
    slices = []
    for part in range(n_parts):
        lo, hi = _slice(X.shape[0], part, n_parts)
        # the whole block as it is when it is one slice: the renumbered rows below then
        # share its values and offsets (the worker keeps one new index array, not a copy)
        rows = X if n_parts == 1 and X.has_canonical_format else X[lo:hi]
        if not rows.has_canonical_format:
            rows = rows.copy()  # sum_duplicates works in place: not on the caller's block
            rows.sum_duplicates()
        features, counts = np.unique(rows.indices, return_counts=True)
        renumber = np.empty(X.shape[1], dtype=np.int32)  # feature → its column here
        renumber[features] = np.arange(features.size, dtype=np.int32)
        compact = sp.csr_matrix(
            (rows.data, renumber[rows.indices], rows.indptr), shape=(hi - lo, features.size)
        )  # column j is feature features[j]
        slices.append({
            "features": features, "counts": counts.astype(np.float64), "X": compact,
            "y": np.asarray(y[lo:hi]), "weight": None if weight is None else weight[lo:hi],
        })  # fmt: skip
    return slices


def _touched(prepared: list[dict]) -> list[np.ndarray]:
    return [s["features"] for s in prepared]


def _local_round(cls, meta, arrays, prepared: list[dict], part: int, driver: int) -> dict:
    """One ``partial_fit`` epoch over slice ``part`` of a prepared block (on a worker), on
    the model rows of the features it touches (``arrays``, cut by the driver, whose
    process id is ``driver``)."""
    block = prepared[part]
    # partial_fit trains in place. In the driver's process (Dask's threads, or in-process
    # workers) these are the driver's own rows, which its merge reads afterwards (it
    # takes the change): trained on a copy. A worker process received its own copy.
    own = os.getpid() != driver and all(v.flags.writeable for v in arrays.values())
    local = cls._from_file(meta, arrays if own else {k: v.copy() for k, v in arrays.items()})
    local.partial_fit(block["X"], block["y"], block["weight"])
    _, out = local._to_file()
    keep = set(_merge.PER_FEATURE + _merge.PER_MODEL)
    return {
        "features": block["features"],
        "counts": block["counts"],
        "rows": block["X"].shape[0],
        "arrays": {k: v for k, v in out.items() if k in keep},
        "loss": float(local.history_.train_loss[-1]),
        "n_updates": local._solver_state.n_updates,
    }


def _slice(n: int, part: int, n_parts: int) -> tuple[int, int]:
    return part * n // n_parts, (part + 1) * n // n_parts


def _predict_block(block, model, method: str):
    return getattr(model, method)(block)


class _DaskFM(BaseEstimator):
    """Shared by the two estimators: input checks, rounds, merging, prediction."""

    _default: type

    def __init__(
        self,
        estimator=None,
        *,
        max_iter: int = 5,
        sync_per_epoch: int = 1,
        merge: str = "average",
        random_state=None,
    ):
        self.estimator = estimator
        self.max_iter = max_iter
        self.sync_per_epoch = sync_per_epoch
        self.merge = merge
        self.random_state = random_state

    # ------------------------------------------------------------------- checks
    def _template(self):
        template = clone(self.estimator) if self.estimator is not None else self._default()
        if not isinstance(template, self._default):  # FFM/FwFM estimators are subclasses
            raise TypeError(
                f"{type(self).__name__} trains a {self._default.__name__} (or its field-aware "
                f"FFM/FwFM); got {type(template).__name__}."
            )
        if template.solver not in SOLVERS:
            raise ValueError(
                f"{type(self).__name__} trains the SGD family's {list(SOLVERS)} (each block "
                f"runs partial_fit); solver={template.solver!r} is not available here."
            )
        if getattr(template, "degree", 2) > 2:
            raise ValueError(
                f"{type(self).__name__} trains degree-2 FMs; degree={template.degree} (a "
                "higher-order FM) does not train on Dask yet."
            )
        if self.merge not in _merge.MERGES:
            raise ValueError(f"merge must be one of {list(_merge.MERGES)}; got {self.merge!r}")
        if template.solver == "ftrl" and self.merge != "average":
            raise ValueError(
                "solver='ftrl' merges by averaging only: adding the blocks' changes to "
                "FTRL's weights overshoots (test AUC 0.47 against 0.61, measured)."
            )
        for name in ("max_iter", "sync_per_epoch"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be an int ≥ 1; got {value!r}")
        return template

    def _check_X(self, X, what: str = "X"):
        _, da = _dask()
        if not isinstance(X, da.Array):
            raise TypeError(
                f"{what} must be a dask array of scipy.sparse CSR blocks (one block per row "
                f"partition); got {type(X).__name__}. fmlearn.dask.from_sparse(X, chunk_rows) "
                "makes one from a matrix in memory; fmlearn.dask.read_libfm from files."
            )
        if X.ndim != 2:
            raise ValueError(f"{what} must be 2-D; got {X.ndim} dimensions.")
        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                f"{what} has unknown block sizes: call {what}.compute_chunk_sizes() first "
                "(from a dask DataFrame: to_dask_array(lengths=True))."
            )
        if X.numblocks[1] != 1:
            raise ValueError(
                f"{what} is cut along its columns into {X.numblocks[1]} blocks; an FM needs "
                f"whole rows: {what}.rechunk({{1: -1}})."
            )
        if not sp.issparse(X._meta):
            raise TypeError(
                f"{what}'s blocks are {type(X._meta).__name__}, not scipy.sparse: turn them "
                f"into CSR with {what}.map_blocks(scipy.sparse.csr_matrix) (dense blocks "
                "would be densified one-hot data)."
            )
        return X

    def _check_y(self, y, X, what: str = "y"):
        _, da = _dask()
        if not isinstance(y, da.Array):
            y = np.asarray(y)
            if y.ndim != 1 or y.shape[0] != X.shape[0]:
                raise ValueError(f"{what} has shape {y.shape}; X has {X.shape[0]} rows.")
            return da.from_array(y, chunks=(X.chunks[0],))
        if y.ndim != 1 or y.chunks[0] != X.chunks[0]:
            raise ValueError(
                f"{what}'s blocks {y.chunks} do not match X's row blocks {X.chunks[0]}: "
                f"{what}.rechunk(X.chunks[0])."
            )
        return y

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None, fields=None):
        """Train ``max_iter`` epochs on the row blocks of ``X`` (a dask array of CSR blocks).

        ``y`` and ``sample_weight``: dask arrays cut like ``X``'s rows, or numpy arrays.
        ``fields`` (an FFM or FwFM ``estimator``): the field of every column, as for its
        ``fit`` (``read_libffm`` returns them; so does ``fit_encoder``'s ``fields_``).
        """
        dask, _ = _dask()
        template = self._template()
        X = self._check_X(X)
        y = self._check_y(y, X)
        w = None if sample_weight is None else self._check_y(sample_weight, X, "sample_weight")
        blocks = list(X.to_delayed().ravel())
        ys, ws = list(y.to_delayed()), (None if w is None else list(w.to_delayed()))
        n_parts = int(self.sync_per_epoch)
        prepare = dask.delayed(_prepare)
        prepared = dask.persist(
            *[prepare(b, ys[i], None if ws is None else ws[i], n_parts)
              for i, b in enumerate(blocks)]
        )  # fmt: skip
        first, first_y, touched_all, summary = dask.compute(
            blocks[0], ys[0], [dask.delayed(_touched)(p) for p in prepared],
            self._target_summary(y),
        )  # fmt: skip
        model, meta, arrays = self._start(template, first, first_y, summary, fields)
        cls, solver = type(model), template.solver
        seeds = np.random.SeedSequence(_entropy(self.random_state))
        client = _distributed_client()
        history, traffic = FitHistory(), []
        start = time.perf_counter()
        for epoch in range(1, int(self.max_iter) + 1):
            losses, rows = 0.0, 0
            for part in range(n_parts):
                locals_, payloads = [], []
                for b in range(len(prepared)):
                    features = touched_all[b][part]
                    locals_.append(_local_meta(meta, features.size, seeds.spawn(1)[0]))
                    payloads.append(_merge.rows_of(arrays, features))
                sent = sum(sum(a.nbytes for a in p.values()) for p in payloads)
                results = _run_round(client, cls, locals_, payloads, prepared, part)
                received = sum(sum(a.nbytes for a in r["arrays"].values()) for r in results)
                hyper = meta["state"].get("ftrl_hyper") if meta.get("state") else None
                arrays = _merge.merge_rounds(arrays, results, payloads, solver, self.merge, hyper)
                meta = _advanced(meta, results)
                losses += sum(r["loss"] * r["rows"] for r in results)
                rows += sum(r["rows"] for r in results)
                traffic.append({"sent": sent, "received": received})
            now = time.perf_counter()
            history.append(epoch, losses / max(rows, 1), now - start)
            start = now
        meta = dict(meta, history=history.to_dict())
        meta["fitted"] = dict(meta["fitted"], n_iter_=len(history))
        fitted = cls._from_file(meta, arrays)
        # nothing is stored before this point: a failed round leaves the estimator as it was
        self.estimator_ = fitted
        self.history_ = history
        self.traffic_ = traffic
        self.n_features_in_ = fitted.n_features_in_
        self.n_iter_ = len(history)
        return self

    def _start(self, template, X, y, summary, fields):
        template.set_params(random_state=_entropy(self.random_state) % (2**31 - 1))
        if hasattr(template, "_fields_for_fit"):  # FFM, FwFM: their fields, as fit takes them
            if fields is None:
                raise ValueError(
                    f"{type(template).__name__} needs the field of every column: "
                    "fit(X, y, fields=…) (read_libffm returns them)."
                )
            with template._fields_for_fit(X, fields):
                model = self._initial(template, X, y, summary)
        elif fields is not None:
            name = type(template).__name__
            raise ValueError(f"fields are for the field-aware models, not {name}.")
        else:
            model = self._initial(template, X, y, summary)
        meta, arrays = model._to_file()
        return model, meta, arrays

    # --------------------------------------------------------------- predict
    def _lazy(self, X, method: str, columns: int | None):
        dask, da = _dask()
        check_is_fitted(self, "estimator_")
        if not isinstance(X, da.Array):  # in memory: as the single-machine estimator
            return getattr(self.estimator_, method)(X)
        X = self._check_X(X)
        model = dask.delayed(self.estimator_, pure=True)  # one copy in the graph
        if columns is None:
            return X.map_blocks(
                _predict_block, model, method, drop_axis=1, dtype=np.float64,
                meta=np.empty(0, dtype=np.float64),
            )  # fmt: skip
        return X.map_blocks(
            _predict_block, model, method, chunks=(X.chunks[0], (columns,)),
            dtype=np.float64, meta=np.empty((0, 0), dtype=np.float64),
        )  # fmt: skip

    def to_local(self):
        """The trained single-machine estimator (a copy): it saves, loads and serves as any."""
        check_is_fitted(self, "estimator_")
        meta, arrays = self.estimator_._to_file()
        return type(self.estimator_)._from_file(meta, arrays)


class DaskFMRegressor(RegressorMixin, _DaskFM):
    """An :class:`fmlearn.FMRegressor` trained on a Dask cluster, block by block.

    Parameters
    ----------
    estimator : FMRegressor, FFMRegressor, FwFMRegressor or None, default=None
        The model and its solver (SGD family: ``"sgd"``, ``"adagrad"``, ``"adam"``,
        ``"ftrl"``, which merges by ``"average"`` only); None
        is ``FMRegressor()``. Its ``max_iter`` and ``random_state`` are not used. The
        field-aware ones take ``fit(X, y, fields=…)``.
    max_iter : int, default=5
        Epochs over all blocks.
    sync_per_epoch : int, default=1
        Rounds per epoch: each block's rows are cut into this many slices, and the
        partitions' models are merged after each slice. More rounds move the models
        closer to single-process training, at more traffic.
    merge : {"average", "sum"}, default="average"
        How the partitions' parameters combine (:mod:`fmlearn.dask._merge`).
    random_state : int or None, default=None
        Seeds the initial model and every block's shuffles: with the same seed and the
        same blocks, the result does not depend on which worker ran what.

    Attributes
    ----------
    estimator_ : FMRegressor
        The trained model (``to_local()`` returns a copy).
    history_ : FitHistory
        Per epoch: the mean training loss over all blocks and the seconds taken.
    traffic_ : list of dict
        Per round: bytes of model rows ``"sent"`` to the blocks and ``"received"`` back.
    n_iter_, n_features_in_ : int
    """

    _default = FMRegressor

    def _target_summary(self, y):
        _, da = _dask()
        return [da.min(y), da.max(y)]

    def _initial(self, template, X, y, summary):
        model = template._start_online(X, y)
        model.y_min_, model.y_max_ = float(summary[0]), float(summary[1])
        return model

    def predict(self, X):
        """Predictions, lazily (a dask array with ``X``'s row blocks) for a dask ``X``."""
        return self._lazy(X, "predict", None)


class DaskFMClassifier(ClassifierMixin, _DaskFM):
    """An :class:`fmlearn.FMClassifier` trained on a Dask cluster, block by block.

    Parameters and attributes as for :class:`DaskFMRegressor` (``estimator`` is an
    ``FMClassifier``, ``FFMClassifier`` or ``FwFMClassifier``); ``classes_`` are found
    over all blocks before training.
    """

    _default = FMClassifier

    def _target_summary(self, y):
        _, da = _dask()
        return da.unique(y)

    def _initial(self, template, X, y, summary):
        classes = np.asarray(summary)
        if classes.dtype.kind == "f":
            assert_all_finite(classes, input_name="y")
        model = template._start_online(X, y, classes=classes)
        if classes.size > 2:
            raise ValueError(
                f"DaskFMClassifier trains two classes; y has {classes.size}. The softmax FM "
                "(FMClassifier with more than two classes) does not train on Dask yet: fit "
                "FMClassifier on one machine, or one DaskFMClassifier per class (one-vs-rest)."
            )
        return model

    @property
    def classes_(self):
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def predict(self, X):
        """Labels, lazily for a dask ``X``."""
        return self._lazy(X, "predict", None)

    def predict_proba(self, X):
        """Class probabilities (n_samples, 2), lazily for a dask ``X``."""
        return self._lazy(X, "predict_proba", 2)

    def decision_function(self, X):
        """Raw scores, lazily for a dask ``X``."""
        return self._lazy(X, "decision_function", None)


def _distributed_client():
    """The ``distributed.Client`` that ``dask.compute`` will run on, or None (Dask's threads
    or processes, or no ``distributed`` installed)."""
    from dask.base import get_scheduler

    try:
        from distributed import Client
    except ImportError:
        return None
    scheduler = get_scheduler()
    client = getattr(scheduler, "__self__", None)
    return client if isinstance(client, Client) else None


def _run_round(client, cls, locals_, payloads, prepared, part: int) -> list[dict]:
    """Every block's local round, computed. With a ``distributed`` client the model rows
    are scattered to the workers, which gives them no lineage: if a worker dies holding
    some, the round (a pure function of what the driver still has) is sent again."""
    import dask

    for attempt in range(_ROUND_ATTEMPTS):
        try:
            tasks = [
                dask.delayed(_local_round)(
                    cls, local, _shipped(client, payload), block, part, os.getpid()
                )
                for local, payload, block in zip(locals_, payloads, prepared, strict=True)
            ]
            return list(dask.compute(*tasks))
        except _lost_data_errors() as exc:
            if client is None or attempt == _ROUND_ATTEMPTS - 1:
                raise
            warnings.warn(f"fmlearn.dask: a round lost data with a worker ({exc!r}); rerunning "
                          "it.", RuntimeWarning, stacklevel=3)  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover


_ROUND_ATTEMPTS = 3


def _lost_data_errors() -> tuple[type[BaseException], ...]:
    """What a computation raises when a worker dies with data that has no lineage."""
    try:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover - no distributed: nothing is scattered
        return ()
    return (OSError, FutureCancelledError, KilledWorker)


def _shipped(client, payload: dict):
    """A block's model rows: sent straight to the workers when a ``distributed`` client
    runs the fit (embedded in the task graph they would travel through the scheduler, and
    Dask warns of a large graph every round), else passed as they are."""
    if client is None:
        return payload
    return client.scatter([payload], hash=False)[0]


def _entropy(random_state) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if not isinstance(random_state, int | np.integer) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative int or None; got {random_state!r}")
    return int(random_state)


def _local_meta(meta: dict, n_features: int, seed: np.random.SeedSequence) -> dict:
    """The global model file's metadata for a block's local model: its features, a fresh
    history, and a seed of its own for the block's shuffle."""
    params = dict(meta["params"], random_state=int(seed.generate_state(1)[0]))
    fitted = dict(meta["fitted"], n_iter_=0, n_features_in_=int(n_features))
    return dict(meta, params=params, fitted=fitted, history=FitHistory().to_dict())


def _advanced(meta: dict, results: list[dict]) -> dict:
    """The optimiser's update count after a round: every block's updates count (Adam)."""
    state = meta.get("state")
    if not state:
        return meta
    start = state["n_updates"]
    n_updates = start + sum(r["n_updates"] - start for r in results)
    return dict(meta, state=dict(state, n_updates=n_updates))
