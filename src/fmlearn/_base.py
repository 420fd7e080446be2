"""BaseFM: the scikit-learn API every FM estimator shares.

``fit`` = check parameters → validate data (→ canonical CSR) → the task learns and
encodes the target → the solver (looked up by name) trains the model from its starting
point → fitted attributes. Nothing is assigned to the estimator until the solver has
finished, so a failed fit leaves the previous model intact.

What differs between estimators is three objects (docs/design.md): the **task**
(:mod:`fmlearn.tasks`: target, loss, link, metrics), the **model** (:mod:`fmlearn.models`:
parameters, initialisation, prediction) and the **solver** (:mod:`fmlearn.solvers`). A
subclass names its task and model classes; the solver comes from ``solver=``.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import replace
from typing import ClassVar

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from fmlearn import persist
from fmlearn._progress import announce_compilation
from fmlearn._utils import format_bytes, physical_memory
from fmlearn._validation import (
    BOOLEAN,
    NONE,
    PER_GROUP,
    RANDOM_STATE,
    Interval,
    Options,
    as_canonical_csr,
    check_groups,
    check_sample_weight,
    make_rng,
    resolve_dtype,
    validate_params,
)
from fmlearn.callbacks import ProgressBar
from fmlearn.io.stream import as_stream, is_stream
from fmlearn.kernels.row_stats import mean_pairs, mean_subsets
from fmlearn.models import FM, HOFM, Model
from fmlearn.relations import (
    RelationArrays,
    check_relations,
    combined_groups,
    flatten,
    is_relations_argument,
)
from fmlearn.solvers import EvalSet, FitHistory, FitResult, TrainData, get_solver, solver_names
from fmlearn.solvers.base import RegisteredSolver
from fmlearn.solvers.streamed import StreamData
from fmlearn.tasks import Task

#: The highest ``degree`` (a higher-order FM's cost per row grows as degree², and orders
#: above 5 have not been shown to help).
MAX_DEGREE = 5


def _online_solver(estimator) -> bool:
    """``partial_fit`` exists only for solvers that learn batch by batch (the SGD family)."""
    return get_solver(estimator.solver).online if estimator.solver in solver_names() else False


class BaseFM(BaseEstimator):
    """Shared implementation of the FM estimators; subclasses name a task and a model."""

    _parameter_constraints: ClassVar[dict] = {
        "n_factors": [Interval(int, 1, None)],
        "solver": [RegisteredSolver(FM.families)],
        "learning_rate": [Interval(float, 0, None, closed="neither"), NONE],
        "max_iter": [Interval(int, 1, None)],
        "reg_bias": [Interval(float, 0, None), NONE],
        "reg_linear": [Interval(float, 0, None), PER_GROUP, NONE],
        "reg_factors": [Interval(float, 0, None), PER_GROUP, NONE],
        "l1_linear": [Interval(float, 0, None)],
        "l1_factors": [Interval(float, 0, None)],
        "init_std": [Interval(float, 0, None), Options(("auto",))],
        "fit_intercept": [BOOLEAN],
        "fit_linear": [BOOLEAN],
        "batch_size": [Interval(int, 1, None)],
        "shuffle": [BOOLEAN, Options(("grouped",))],
        "early_stopping": [BOOLEAN],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None), NONE],
        "random_state": [RANDOM_STATE],
        "warm_start": [BOOLEAN],
        "verbose": [Interval(int, 0, None)],
        "dtype": [Options(("float64", "float32", np.float64, np.float32))],
        "n_jobs": [Interval(int, -1, None), NONE],
        "n_kept_samples": [Interval(int, 1, None), NONE],
        "keep_samples": [BOOLEAN, Options(("auto",))],
        "factor_update": [Options(("auto", "scalar", "block"))],
        "degree": [Interval(int, 2, MAX_DEGREE, closed="both")],
    }

    #: The task (target, loss, link, metrics) and model (parameters, prediction) classes.
    _task_class: ClassVar[type[Task]]
    _model_class: ClassVar[type[Model]] = FM
    #: Parameters an older fmlearn accepted and this class no longer has: name → why.
    #: Model files that record them still load.
    _removed_parameters: ClassVar[dict[str, str]] = {}

    def __new__(cls, *args, **kwargs):
        """Name the reason when a removed parameter is passed (Python's own TypeError
        would only say "unexpected keyword argument")."""
        removed = sorted(set(kwargs) & cls._removed_parameters.keys())
        if removed:
            raise TypeError(
                f"{cls.__name__} does not take {removed[0]}: "
                f"{cls._removed_parameters[removed[0]]} (fmlearn 0.1 accepted and ignored it)."
            )
        return super().__new__(cls)

    def __init_subclass__(cls, **kwargs):
        """Every estimator class can be saved and loaded (:mod:`fmlearn.persist`)."""
        super().__init_subclass__(**kwargs)
        persist.register(cls)

    # ----------------------------------------------------------------------- building
    def _make_task(self, family: str = "sgd") -> Task:
        return self._task_class(type(self).__name__, family)

    def _task_for(self, family: str, y, previous: dict | None, classes=None) -> Task:
        """The task of a fit on ``y`` (``previous``: the fitted target it continues).
        One task per estimator here; a classifier chooses binary or multiclass."""
        return self._make_task(family)

    def _make_model(self, fitted: bool = False, n_factors: int | None = None) -> Model:
        """The model for this fit; a fitted model keeps its dtype (warm start, predict).

        ``n_factors`` overrides the parameter: a saved model is read with the rank of its
        fitted factors, which ``set_params(n_factors=…)`` after the fit does not change.
        The initial scale is ``init_std`` as resolved for the current fit
        (:meth:`_init_std`); only a new fit draws with it. A model that depends on the
        target (a classifier's number of classes) finds the fit's in :meth:`_target_in_setup`.
        """
        dtype = self._fitted_dtype if fitted else resolve_dtype(self.dtype)
        rank = self.n_factors if n_factors is None else n_factors
        degree = self._model_degree(fitted)
        if degree > 2:
            return HOFM(rank, self._resolved_init_std(), dtype, degree)
        return self._model_class(rank, self._resolved_init_std(), dtype)

    def _model_degree(self, fitted: bool) -> int:
        """``degree``, or for prediction the fitted model's (its ``V_`` holds the factors
        of orders 2 … d), whatever ``set_params`` changed since; a continued fit checks the
        parameter against the fitted model instead (:meth:`_continuable_params`)."""
        if fitted and self._target_in_setup() is None and getattr(self, "V_", None) is not None:
            return self.V_.shape[1] + 1 if self.V_.ndim == 3 else 2
        return getattr(self, "degree", 2)

    def _model_families(self) -> frozenset[str]:
        """The solver families that can train this estimator's model as parameterised."""
        return HOFM.families if getattr(self, "degree", 2) > 2 else self._model_class.families

    def _target_in_setup(self) -> dict | None:
        """The target of the fit (or file) being set up while :meth:`_make_model` runs;
        None otherwise (the fitted attributes then say it)."""
        return self.__dict__.get("_setup_target")

    def _resolved_init_std(self) -> float:
        return getattr(self, "_fit_init_std", _DEFAULT_INIT_STD)

    def _init_std(self, X, family: str) -> float:
        """``init_std``, with ``"auto"`` resolved on the training rows (:func:`auto_init_std`)."""
        init_std = getattr(self, "init_std", _DEFAULT_INIT_STD)
        if init_std != "auto":
            return float(init_std)
        if family != "sgd":
            return _DEFAULT_INIT_STD  # ALS/MCMC sweeps do not depend on it: libFM's 0.1
        degree = getattr(self, "degree", 2)
        if degree > 2:
            return auto_init_std_per_order(X, self.n_factors, degree)
        return auto_init_std(X, self.n_factors)

    def _fitted_target(self) -> dict:
        return {name: getattr(self, name) for name in self._task_class.fitted_attributes}

    # ------------------------------------------------------------------------ fitting
    def fit(
        self,
        X,
        y=None,
        sample_weight=None,
        eval_set=None,
        groups=None,
        callbacks=None,
        init_params=None,
        relations=None,
    ):
        """Fit the FM to ``X`` (n_samples, n_features; dense, any sparse format, DataFrame).

        ``eval_set``: a list of ``(X, y)`` or ``(X, y, sample_weight)`` whose metrics are
        recorded in ``history_`` after each epoch or sweep; ``early_stopping=True`` watches
        the first (else ``validation_fraction`` of the training rows is held out). For
        ``solver="mcmc"`` the metrics are those of the averaged prediction.

        ``groups`` (``solver="mcmc"`` and ``"als"``; libFM's ``-meta``): an int array
        giving each feature's group 0…G−1, e.g. 0 for user ids, 1 for item ids, 2 for
        genres. MCMC gives each group its own prior mean and precision for w and for every
        factor column; ALS takes ``reg_linear``/``reg_factors`` as lists of one strength
        per group.

        ``callbacks``: :mod:`fmlearn.callbacks` objects, or functions of an
        ``IterationInfo``, called after every epoch or sweep; returning True stops.

        ``init_params``: parameters to start from instead of the random initialisation
        (an :class:`~fmlearn.models.FMParams`, e.g. read from a libFM model file).

        ``relations``: a list of :class:`fmlearn.RelationBlock` — features many rows share
        (a user's demographics and rated items), stored once per block row. The model is
        the FM over ``[X | block rows]`` (:func:`fmlearn.relations.flatten`), its
        features numbered after X's; MCMC and ALS sweep the blocks without repeating
        them (libFM's ``-relation``), other solvers train on the flattened rows. Then
        ``predict`` and friends need the relations of their rows too, and an eval set is
        ``(X, y, relations)`` or ``(X, y, sample_weight, relations)``. ``score`` and
        scikit-learn's model-selection tools pass X alone: score such a model with the
        predictions of ``predict(X, relations=…)``.

        ``X`` may also be a stream (SGD family): a :class:`fmlearn.io.FileStream` (or a
        file's path, read with its defaults) or a :class:`fmlearn.io.ChunkStream`, with
        ``y`` (and weights) in its chunks. The fit then reads the data chunk by chunk,
        every epoch, reading the next chunk on a second thread while it trains on this
        one; memory holds two chunks, never the data. ``shuffle`` shuffles the rows
        within each chunk and, where the stream can, the chunks' order.
        """
        stream = as_stream(X)
        if stream is not None:
            return self._fit_stream(
                stream, y, sample_weight, eval_set, groups, callbacks, init_params, relations
            )
        solver = self._checked_solver()
        warm = self.warm_start and hasattr(self, "history_")
        with _restored_on_error(self):
            X, y = self._validate_Xy(X, y, reset=not warm)
            fitted_widths = getattr(self, "relation_features_", ()) if warm else None
            relations = check_relations(relations, X.shape[0], fitted=fitted_widths)
            previous = self._fitted_target() if warm else None
            task = self._task_for(solver.family, y, previous)
            task.fit_target(y, previous)
            data = TrainData(
                X,
                task.encode(y),
                self._training_weights(sample_weight, y, task, online=False),
                self._eval_sets(eval_set, task, X.dtype, relations),
                self._groups(groups, solver, X.shape[1]),
            )
            if relations:
                data = self._with_relations(data, relations, groups, solver)
            rng = make_rng(self.random_state)
            return self._train(solver, task, data, rng, warm, self.max_iter, callbacks, init_params)

    def _with_relations(self, data: TrainData, relations, groups, solver) -> TrainData:
        """The training data with its relation blocks: kept apart for MCMC and ALS on the
        FM (the relational sweep), flattened into the rows for everything else."""
        widths = tuple(block.n_features for block in relations)
        n_main, dtype = data.X.shape[1], data.X.dtype
        degree = getattr(self, "degree", 2)
        if solver.family in ("mcmc", "als") and degree == 2:
            design = RelationArrays.build(relations, n_main, dtype)
            for es in data.eval_sets:
                es.relations = design.for_rows(es.relations, n_main, dtype)
            return replace(data, groups=combined_groups(n_main, relations, groups),
                           relations=design, relation_widths=widths)  # fmt: skip
        for es in data.eval_sets:
            es.X, _ = flatten(es.X, es.relations)
            es.relations = None
        flat, flat_groups = flatten(data.X, relations, groups)
        if not solver.uses_groups or (degree > 2 and groups is None):
            flat_groups = None  # a block's own groups are for the solvers that read groups
        return replace(data, X=flat, groups=flat_groups, relation_widths=widths)

    def _fit_stream(
        self, stream, y, sample_weight, eval_set, groups, callbacks, init_params, relations
    ):
        """``fit`` on a stream (:mod:`fmlearn.io.stream`): set up from its first chunk,
        then epochs over its chunks (:class:`fmlearn.solvers.streamed.StreamData`)."""
        solver = self._checked_solver()
        _check_stream_arguments(self, solver, y, sample_weight, groups, relations, eval_set)
        warm = self.warm_start and hasattr(self, "history_")
        first = next(iter(stream.chunks()), None)
        if first is None:
            raise ValueError(f"{stream!r} holds no rows.")
        if stream.n_features is not None:  # a file's width, not its first chunk's
            first.X = _widened(first.X, stream.n_features)
        with _restored_on_error(self):
            try:
                X, y = self._validate_Xy(first.X, first.y, reset=not warm)
            except (ValueError, TypeError) as exc:
                if type(exc) not in (ValueError, TypeError):
                    raise
                raise type(exc)(f"{first.where} of the stream: {exc}") from exc
            previous = self._fitted_target() if warm else None
            task = self._task_for(solver.family, y, previous, stream.classes)
            task.fit_target(y, previous, classes=stream.classes)
            dtype = X.dtype

            def prepare(chunk):
                Xc, yc = validate_data(
                    self, self._as_model_width(chunk.X), chunk.y, accept_sparse=True,
                    dtype=dtype, reset=False,
                )  # fmt: skip
                task.fit_target(yc, task.target)  # a regressor's y range grows chunk by chunk
                weights = self._training_weights(chunk.sample_weight, yc, task, online=True)
                return as_canonical_csr(Xc, dtype), task.encode(yc), weights

            data = StreamData(
                stream, prepare, prepare(first), X.shape[1], self._eval_sets(eval_set, task, dtype)
            )
            rng = make_rng(self.random_state)
            try:
                return self._train(
                    solver, task, data, rng, warm, self.max_iter, callbacks, init_params
                )
            finally:
                data.close()

    @available_if(_online_solver)
    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """One pass over the given rows, continuing from the current model (online).

        The optimiser's state (AdaGrad/Adam memory) carries over between calls.
        """
        first = not hasattr(self, "history_")
        return self._online(X, y, sample_weight, first=first, n_iterations=1, **kwargs)

    def _start_online(self, X, y, **target_kwargs):
        """Initialise as the first ``partial_fit`` would, without training: the initial
        parameters, a fresh optimiser state, ``n_iter_ == 0``.

        ``fmlearn.dask`` starts its rounds from this. ``X`` and ``y`` are a sample of the
        rows: they resolve ``init_std="auto"`` and the target (``classes=`` as for
        ``partial_fit``); no row is learned from.
        """
        if not self._checked_solver().online:
            raise ValueError(f"solver={self.solver!r} does not learn online.")
        return self._online(X, y, None, first=True, n_iterations=0, **target_kwargs)

    def _online(self, X, y, sample_weight, *, first: bool, n_iterations: int, **target_kwargs):
        """``n_iterations`` online epochs over ``X`` (``partial_fit``: 1; a start: 0)."""
        solver = self._checked_solver() if first else get_solver(self.solver)
        if is_stream(X):
            raise TypeError(
                "partial_fit takes the rows of one chunk, (X, y); give a stream to fit, "
                "which makes the epochs over it (with warm_start=True it continues)."
            )
        if not first and getattr(self, "relation_features_", ()):
            raise ValueError(
                "partial_fit takes no relation blocks, and this model was fitted with "
                f"{len(self.relation_features_)}: continue with fit(..., relations=…) and "
                "warm_start=True, or train online on fmlearn.relations.flatten(X, relations)."
            )
        with _restored_on_error(self):
            X, y = self._validate_Xy(X, y, reset=first)
            previous = None if first else self._fitted_target()
            task = self._task_for(solver.family, y, previous, target_kwargs.get("classes"))
            task.fit_target(y, previous, **target_kwargs)
            weights = self._training_weights(sample_weight, y, task, online=True)
            data = TrainData(X, task.encode(y), weights)
            rng = self._batch_rng(first)
            return self._train(
                solver, task, data, rng, not first, n_iterations, (), None, online=True
            )

    def _training_weights(self, sample_weight, y, task: Task, *, online: bool) -> np.ndarray:
        """The per-row weights of the training objective (classifiers fold in
        ``class_weight``); eval sets keep their own, unchanged."""
        return check_sample_weight(sample_weight, len(y))

    def _batch_rng(self, first: bool) -> np.random.Generator:
        """The random stream of one ``partial_fit`` call: repeatable with an int seed.

        The first call draws from ``random_state`` like ``fit``; later calls from
        ``(random_state, n_iter_)``, so each batch gets its own, reproducible shuffle.
        """
        seed = self.random_state
        if first or not isinstance(seed, int | np.integer):
            return make_rng(seed)
        return np.random.default_rng([int(seed), int(self.n_iter_)])

    def _train(self, *args, **kwargs):
        if not self.verbose:
            return self._train_quietly(*args, **kwargs)
        with announce_compilation():  # the first run's kernels take seconds to compile
            return self._train_quietly(*args, **kwargs)

    def _train_quietly(
        self, solver, task, data, rng, warm, n_iterations, callbacks, init_params, online=False
    ):
        params = self.get_params(deep=False)
        if solver.prepare is not None and not online:
            data = solver.prepare(data, params, task, rng)
        # relation blocks stay apart only for ALS/MCMC, whose init_std does not read X
        self._fit_init_std = self._init_std(data.X, solver.family)  # for _make_model
        self._setup_target = task.target
        try:
            model = self._make_model(fitted=warm)
        finally:
            del self._fit_init_std, self._setup_target
        if not warm and init_params is None and type(model) in (FM, HOFM):
            _check_fits_in_memory(model, data, self.solver)
        in_place = online and warm  # partial_fit: no copy of the model per call
        start, state, previous = self._starting_point(
            model, data.n_features, rng, warm, init_params, solver, in_place
        )
        n_threads = _n_threads(self.n_jobs, default=1)
        config = solver.make_config(
            params,
            task,
            rng=rng,
            first_iteration=len(previous) + 1,
            n_iterations=n_iterations,
            n_threads=n_threads,
            n_features=data.n_features,
        )
        cbs = list(
            solver.default_callbacks(params, online=online) if solver.default_callbacks else ()
        )
        cbs += list(callbacks or ())
        if self.verbose:
            cbs.append(ProgressBar())
        if in_place and hasattr(state, "rebase"):
            state.rebase(start, config)  # before the rollback copy: it may rewrite all rows
        rollback = _Rollback(start, state, data.X) if in_place else None
        try:
            with _numba_threads(n_threads):
                result = solver.solve(
                    data,
                    task=task,
                    model=model,
                    params=start,
                    config=config,
                    state=state,
                    callbacks=cbs,
                )
        except BaseException:
            if rollback is not None:
                rollback.restore()
            raise
        self._set_fitted(result, task.target, previous)
        self.relation_features_ = data.relation_widths
        return self

    def _starting_point(self, model, n_features, rng, warm, init_params, solver, in_place=False):
        """``(params, state, history)`` to start from: the fitted model, given or new ones.

        Copies, so that the solver may update them in place; ``in_place`` (``partial_fit``)
        hands over the fitted arrays themselves, unchecked, and the caller keeps a
        :class:`_Rollback`. A warm start continues the solver's state (optimiser memory,
        Markov chain) when the same solver made it.
        """
        if warm:
            params = self._continuable_params(model, n_features, check_values=not in_place)
            state = self._solver_state if self._state_solver == solver.name else None
            if in_place:
                return params, state, self.history_
            return params.copy(), (None if state is None else state.copy()), self.history_
        if init_params is not None:
            try:
                params = model.params_from_arrays(init_params.arrays(), n_features)
            except ValueError as exc:
                blocks = " and its relation blocks" if n_features != self.n_features_in_ else ""
                raise ValueError(
                    f"init_params do not fit this model and X{blocks} ({n_features} features in "
                    f"all): {exc}."
                ) from None
            return params.astype(model.dtype), None, FitHistory()  # a copy, in `dtype`
        return model.init_params(n_features, rng), None, FitHistory()

    def _continuable_params(self, model, n_features, check_values=True):
        """The fitted parameters, if they fit ``X`` and the current hyper-parameters."""
        current = model.params_from_estimator(self)
        try:
            if (
                check_values
                or "check_values" not in inspect.signature(model.params_from_arrays).parameters
            ):  # a model from outside fmlearn (docs/design.md) checks anyway
                return model.params_from_arrays(current.arrays(), n_features)
            return model.params_from_arrays(current.arrays(), n_features, check_values=False)
        except ValueError as exc:
            raise ValueError(
                f"Cannot continue training: {exc} (X has {n_features} features). "
                "Set warm_start=False to start afresh."
            ) from None

    def _set_fitted(self, result: FitResult, target: dict, previous: FitHistory) -> None:
        for name in getattr(self, "_state_attributes", ()):
            self.__dict__.pop(name, None)  # e.g. MCMC's samples_ after a refit with ALS
        for name, value in target.items():
            setattr(self, name, value)
        for name, value in result.params.fitted_attributes().items():
            setattr(self, name, value)
        state_attributes = result.state.fitted_attributes() if result.state is not None else {}
        for name, value in state_attributes.items():
            setattr(self, name, value)
        self._state_attributes = tuple(state_attributes)
        self._fitted_dtype = np.dtype(result.params.dtype).type
        self._solver_state = result.state
        self._state_solver = self.solver
        self.history_ = previous.extend(result.history)
        self.n_iter_ = len(self.history_)

    # ------------------------------------------------------------------------- checks
    def _checked_solver(self):
        """Validate the parameters; refuse solver-specific ones the solver does not use."""
        validate_params(self, self._parameter_constraints)
        solver = get_solver(self.solver)
        families = self._model_families()
        if solver.family not in families and getattr(self, "degree", 2) > 2:
            raise ValueError(
                f"degree={self.degree} (a higher-order FM) is trained by the SGD family and "
                f"ALS: solver={self.solver!r} cannot train it; use one of "
                f"{list(solver_names(families))} or degree=2."
            )
        if solver.family not in families:
            raise ValueError(
                f"solver={self.solver!r} cannot train {type(self).__name__}'s model "
                f"({self._model_class.name!r}); solvers that can: "
                f"{list(solver_names(families))}."
            )
        params = self.get_params(deep=False)
        defaults = _init_defaults(type(self))
        specific = set().union(*(get_solver(n).parameters for n in solver_names()))
        for name in sorted((specific & params.keys()) - solver.parameters):
            former = _FORMER_DEFAULTS.get(name, ())
            if not (_is_default(params[name], defaults[name]) or params[name] in former):
                users = [n for n in solver_names() if name in get_solver(n).parameters]
                raise ValueError(
                    f"{name} is not available for solver={self.solver!r} (it is set to "
                    f"{params[name]!r}): only solver {' / '.join(map(repr, users))} uses it. "
                    f"Leave it at its default ({defaults[name]!r}) or choose such a solver."
                )
        return solver

    def _groups(self, groups, solver, n_features: int):
        if groups is None:
            return None
        if not solver.uses_groups:
            raise ValueError(
                "groups are read by solver='mcmc' (hyperprior groups), 'als' (per-group "
                "reg_linear/reg_factors) and 'sgda' (learned per-group strengths); "
                f"solver={self.solver!r} does not use them."
            )
        return check_groups(groups, n_features)

    def _validate_Xy(self, X, y, *, reset: bool):
        dtype = self._data_dtype(reset)
        X, y = validate_data(self, X, y, accept_sparse=True, dtype=dtype, reset=reset)
        return as_canonical_csr(X, dtype), y

    def _data_dtype(self, reset: bool = False):
        """The model's dtype: data is converted to it once, before any kernel runs."""
        return self._make_model(fitted=not reset and hasattr(self, "_fitted_dtype")).dtype

    def _eval_sets(self, eval_set, task: Task, dtype, relations=()) -> list[EvalSet]:
        """The eval sets as the training data: canonical CSR in its ``dtype``; their
        relation blocks (checked against the fit's ``relations``) in ``EvalSet.relations``
        until :meth:`_with_relations` puts them in kernel form."""
        result = []
        widths = tuple(block.n_features for block in relations)
        for j, item in enumerate(eval_set or ()):
            blocks = None
            if isinstance(item, tuple | list) and len(item) in (3, 4):
                if is_relations_argument(item[-1]):
                    item, blocks = tuple(item[:-1]), item[-1]
            if not isinstance(item, tuple | list) or len(item) not in (2, 3):
                raise ValueError(
                    f"eval_set[{j}] must be a tuple (X, y) or (X, y, sample_weight), with the "
                    f"rows' relation blocks last if the fit has any; got {type(item).__name__}"
                    + (f" of length {len(item)}." if isinstance(item, tuple | list) else ".")
                )
            Xe, ye = validate_data(
                self, self._as_model_width(item[0]), item[1], accept_sparse=True, dtype=dtype,
                reset=False,
            )  # fmt: skip
            swe = check_sample_weight(item[2] if len(item) == 3 else None, Xe.shape[0])
            if blocks is not None and not relations:
                raise ValueError(
                    f"eval_set[{j}] carries relation blocks, but fit was given none: pass the "
                    "training rows' blocks as relations=[…] too, or drop them here."
                )
            blocks = check_relations(
                blocks, Xe.shape[0], fitted=widths, argument=f"eval_set[{j}]'s relations"
            )
            es = EvalSet(as_canonical_csr(Xe, dtype), task.encode(ye), swe)
            es.relations = blocks or None
            result.append(es)
        return result

    # --------------------------------------------------------------------- prediction
    def _decision(self, X, relations=None) -> np.ndarray:
        """Raw FM output ŷ(x) for each row (float64); any row count, including 0.

        With MCMC samples kept, the posterior predictive mean: the samples' predictions
        are averaged on the task's scale (probabilities for classification), as libFM
        and myFM do.
        """
        decide = self._decider(X, relations)
        samples = getattr(self, "samples_", None)
        if not samples:
            return decide(self._model_params())
        task = self._prediction_task()
        total = 0.0
        for params in samples:
            total = total + task.to_mean_scale(decide(params), np.zeros(0))
        return task.from_mean_scale(total / len(samples))

    def _decider(self, X, relations=None):
        """A function params → ŷ of the checked rows of ``X`` (with their relation
        blocks: each block row computed once for the FM, the flattened rows otherwise)."""
        X = self._check_predict_X(X)
        widths = getattr(self, "relation_features_", ())
        relations = check_relations(relations, X.shape[0], fitted=widths)
        model = self._make_model(fitted=True)
        n_threads = self._predict_threads()
        if not relations:
            return lambda params: model.decision(X, params, n_threads)
        if type(model) is FM:
            design = RelationArrays.build(relations, X.shape[1], X.dtype, columns=False)
            return lambda params: design.decision(X, params, n_threads)
        flat, _ = flatten(X, relations)
        return lambda params: model.decision(flat, params, n_threads)

    def _predict_threads(self) -> int:
        """``n_jobs`` for prediction: all cores when None (results do not depend on it)."""
        return _n_threads(self.n_jobs, default=numba.config.NUMBA_NUM_THREADS)

    def _prediction_task(self) -> Task:
        task = self._make_task(get_solver(self.solver).family)
        task.target = self._fitted_target()
        return task

    def _check_predict_X(self, X):
        check_is_fitted(self, "history_")
        dtype = self._fitted_dtype
        X = validate_data(
            self, self._as_model_width(X), accept_sparse=True, dtype=dtype, reset=False,
            ensure_min_samples=0,
        )  # fmt: skip
        return as_canonical_csr(X, dtype)

    def _as_model_width(self, X):
        """Sparse ``X`` with fewer columns than the model, widened with empty columns.

        A test file in libFM / libSVM format is as wide as its highest index, which is
        often below the training file's: its missing columns are features the rows do not
        have, which is what zero means in sparse data. Wider sparse input is an error that
        says what to do; dense input must match exactly (scikit-learn's rule).
        """
        n = getattr(self, "n_features_in_", None)
        if n is None or not sp.issparse(X) or X.ndim != 2 or X.shape[1] == n:
            return X
        widths = getattr(self, "relation_features_", ())
        if widths and X.shape[1] == n + sum(widths):
            raise ValueError(
                f"X has {X.shape[1]} features: the flat rows of this model's {n} features and "
                f"its {len(widths)} relation block(s). Pass X's own {n} columns with "
                "relations=[…], as in fit."
            )
        if X.shape[1] > n:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was fitted on {n}: "
                f"columns {n} and beyond were never seen in training. Keep the model's "
                f"columns with X[:, :{n}], or refit on data this wide."
            )
        X = sp.csr_matrix(X)  # shares the arrays of a CSR input; the caller's is untouched
        return sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n))

    @property
    def sparsity_(self) -> dict:
        """Fraction of exactly-zero weights in ``w_`` and ``V_``: FTRL's L1 makes them, and
        they include the weights of features never seen in training (and all of ``w_``
        with ``fit_linear=False``)."""
        check_is_fitted(self, "history_")
        return {
            "linear": float(np.mean(self.w_ == 0)) if self.w_.size else 0.0,
            "factors": float(np.mean(self.V_ == 0)) if self.V_.size else 0.0,
        }

    def _model_params(self):
        return self._make_model(fitted=True).params_from_estimator(self)

    # -------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted model to ``path`` (:func:`fmlearn.save`); atomic, no pickle."""
        persist.save(self, path)

    def _to_file(self) -> tuple[dict, dict]:
        check_is_fitted(self, "history_")
        fitted = {"n_iter_": int(self.n_iter_), "n_features_in_": int(self.n_features_in_)}
        widths = getattr(self, "relation_features_", ())
        if widths:
            fitted["relation_features_"] = [int(n) for n in widths]
        arrays = dict(self._model_params().arrays())
        for name, value in self._fitted_target().items():
            if isinstance(value, np.ndarray):
                arrays[name] = persist.plain_array(value, name)
            else:
                fitted[name] = value.item() if isinstance(value, np.generic) else value
        if hasattr(self, "feature_names_in_"):
            arrays["feature_names_in_"] = persist.plain_array(
                self.feature_names_in_, "feature names"
            )
        state_meta = None
        if self._solver_state is not None:
            state_meta, state_arrays = self._solver_state.to_arrays()
            state_meta = {"solver": self._state_solver, **state_meta}
            arrays.update(persist.prefixed("state/", state_arrays))
        meta = {
            "params": persist.json_params(self.get_params(deep=False)),
            "fitted": fitted,
            "history": self.history_.to_dict(),
            "state": state_meta,
        }
        return meta, arrays

    @classmethod
    def _from_file(cls, meta: dict, arrays: dict):
        names = set(cls._get_param_names())
        params = {
            k: v
            for k, v in persist.params_from_json(meta["params"]).items()
            if k not in cls._removed_parameters
        }
        unknown = sorted(set(params) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no parameters {unknown}")
        estimator = cls(**params)
        validate_params(estimator, estimator._parameter_constraints)
        fitted = dict(meta["fitted"])
        n_features = int(fitted["n_features_in_"])
        target = {
            name: arrays[name] if name in arrays else fitted.pop(name)
            for name in cls._task_class.fitted_attributes
        }
        cls._task_class.check_target(target)
        rank = cls._model_class.saved_rank(arrays)
        estimator._setup_target = target
        try:
            model = (
                estimator._make_model() if rank is None else estimator._make_model(n_factors=rank)
            )
        finally:
            del estimator._setup_target
        widths = tuple(int(n) for n in fitted.get("relation_features_", ()))
        if any(n < 1 for n in widths):
            raise ValueError(f"relation_features_={list(widths)}: blocks have ≥ 1 feature")
        params_ = model.params_from_arrays(arrays, n_features + sum(widths))
        state = None
        if meta.get("state"):
            state_meta = dict(meta["state"])
            solver = get_solver(state_meta.pop("solver"))
            if solver.state_from_arrays is None:
                raise ValueError(f"solver {solver.name!r} keeps no state")
            state_arrays = persist.unprefixed("state/", arrays)
            state = solver.state_from_arrays(state_meta, state_arrays, model, params_)
        estimator.n_features_in_ = n_features
        if "feature_names_in_" in arrays:
            estimator.feature_names_in_ = arrays["feature_names_in_"].astype(object)
        history = FitHistory.from_dict(meta["history"])
        estimator._set_fitted(FitResult(params_, state, history), target, FitHistory())
        estimator.relation_features_ = widths
        if estimator.n_iter_ != int(fitted["n_iter_"]):
            raise ValueError(f"n_iter_={fitted['n_iter_']} but the history has {len(history)}")
        if state is not None:
            estimator._state_solver = meta["state"]["solver"]
        return estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _Rollback:
    """What ``partial_fit`` needs to undo a call that failed (diverged) after training on
    the fitted arrays in place: copies of the rows of the features ``X`` has (a call's
    updates touch no others) and of the small arrays, and the state's scalars.

    Per-feature arrays are those with ``n_features`` rows; below :data:`ROWS_FROM`
    features, or when ``X`` touches a quarter of them or more, everything is copied (a
    gather of most rows costs more than one copy, and small models cost nothing).
    """

    ROWS_FROM = 4096

    def __init__(self, params, state, X: sp.csr_matrix):
        arrays = list(params.as_tuple()) + list(getattr(state, "arrays", ()))
        n = X.shape[1]
        rows = None
        if n >= self.ROWS_FROM:
            seen = np.zeros(n, dtype=bool)
            seen[X.indices] = True
            rows = np.flatnonzero(seen)
            if rows.shape[0] * 4 >= n:
                rows = None
        self.saved = []
        for a in arrays:
            if rows is not None and a.ndim >= 1 and a.shape[0] == n:
                self.saved.append((a, rows, a[rows]))
            else:
                self.saved.append((a, None, a.copy()))
        self.state = state
        self.scalars = {k: v for k, v in vars(state).items() if k != "arrays"} if state else {}

    def restore(self) -> None:
        for a, rows, copy in self.saved:
            if rows is None:
                a[...] = copy
            else:
                a[rows] = copy
        if self.state is not None:
            vars(self.state).update(self.scalars)


class _restored_on_error:
    """Put back what input validation resets (``n_features_in_``, ``feature_names_in_``)
    if the fit fails, so that a failed fit leaves the previous model usable."""

    _NAMES = ("n_features_in_", "feature_names_in_")

    def __init__(self, estimator):
        self.estimator = estimator

    def __enter__(self):
        self.saved = {
            n: self.estimator.__dict__[n] for n in self._NAMES if n in self.estimator.__dict__
        }

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for name in self._NAMES:
                self.estimator.__dict__.pop(name, None)
            self.estimator.__dict__.update(self.saved)
        return False


def _check_stream_arguments(estimator, solver, y, sample_weight, groups, relations, eval_set):
    """One-line errors for what a streamed fit cannot take."""
    name = type(estimator).__name__
    if not solver.online:
        raise ValueError(
            f"{name}(solver={estimator.solver!r}) needs all rows in memory: a stream trains "
            "the SGD family (solver='sgd', 'adagrad', 'adam' or 'ftrl'). Load the file with "
            "fmlearn.io.load_libfm to use this solver."
        )
    for argument, value, why in (
        ("y", y, "the chunks carry the labels"),
        ("sample_weight", sample_weight, "the chunks carry the weights, as (X, y, sample_weight)"),
        ("groups", groups, "groups are for ALS and MCMC, which need the rows in memory"),
        ("relations", relations, "stream the flattened rows (fmlearn.relations.flatten)"),
    ):
        if value is not None:
            raise ValueError(f"fit(stream) takes no {argument}: {why}.")
    if getattr(estimator, "early_stopping", False) and not eval_set:
        raise ValueError(
            "early_stopping=True on a stream needs an eval_set: a stream's rows are not in "
            "memory to hold a validation_fraction of them out."
        )


def _widened(X, n_features: int):
    """A sparse chunk with fewer columns than its stream, as wide as the stream."""
    if sp.issparse(X) and X.shape[1] < n_features:
        X = sp.csr_matrix(X)
        return sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))
    return X


#: V's initial standard deviation where "auto" has no rule (libFM's ``-init_stdev``).
_DEFAULT_INIT_STD = 0.1


def auto_init_std(X, n_factors: int) -> float:
    """``0.1 · (k · P)^(−1/4)``, P the mean over rows of Σ_{i<j} x_i² x_j² (the number of
    feature pairs for one-hot rows): the initial pairwise term ŷ₂ then has about the same
    spread whatever the row length and k (Var ŷ₂ ≈ k · P · σ⁴). With a fixed σ = 0.1, a
    39-field click row starts with ŷ₂ of standard deviation ~1 at k = 16 — random logits
    that training must unlearn for every rare id (benchmarks/defaults.py: +0.02 AUC on
    generated click data, neutral on MovieLens and Frappe). One-hot examples: 0.056 on
    MovieLens (user × item, k = 10), 0.023 on Frappe (10 fields, k = 8), 0.0096 for 39
    fields at k = 16.
    """
    if X.shape[0] == 0:
        return _DEFAULT_INIT_STD
    pairs = float(mean_pairs(X.indptr, X.data))
    return _DEFAULT_INIT_STD * max(n_factors * pairs, 1.0) ** -0.25


#: The spread of a higher-order FM's initial order-m terms (m ≥ 3) under "auto".
HIGHER_ORDER_SPREAD = 0.3


def auto_init_std_per_order(X, n_factors: int, degree: int) -> tuple[float, ...]:
    """``init_std="auto"`` of a higher-order FM, one value per order 2 … ``degree``: order
    2 as :func:`auto_init_std`; order m ≥ 3 so that its initial term has standard
    deviation ``HIGHER_ORDER_SPREAD``: σ_m = (0.3² / (k · P_m))^(1/(2m)), P_m the mean over
    rows of Σ_{m-subsets} Π x_i² (C(nnz, m) for one-hot rows). Order-m gradients scale
    as σ^(m−1): from the order-2 value (0.03 on 5 fields at k 4) the higher orders start
    so small that L2 holds them at 0, and the model stays an FM (benchmarks/
    higher_order.py, part 4: planted degree-3 data, RMSE 0.95 → 0.11 with this rule and
    ``reg_factors`` 0.01).
    """
    stds = [auto_init_std(X, n_factors)]
    if X.shape[0] == 0:
        return tuple(stds * (degree - 1))
    subsets = mean_subsets(X.indptr, X.data, degree)
    for m in range(3, degree + 1):
        count = max(float(n_factors) * float(subsets[m - 2]), 1.0)
        stds.append((HIGHER_ORDER_SPREAD**2 / count) ** (1.0 / (2 * m)))
    return tuple(stds)


def _init_defaults(cls) -> dict:
    return {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


#: Values that were a parameter's default before it changed: a solver that ignores the
#: parameter accepts them as it accepts the default, so that models saved (and code
#: written) before the change still load and fit (``shuffle=True`` until 2026-12-01).
_FORMER_DEFAULTS = {"shuffle": (True,)}


def _is_default(value, default) -> bool:
    if value is default:
        return True
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def _n_threads(n_jobs, default: int) -> int:
    n_max = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None:
        return max(1, min(default, n_max))
    if n_jobs < 0:
        return max(1, n_max + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_max))


class _numba_threads:
    """Set numba's thread count for a block and restore it afterwards."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.previous = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.previous)
        return False


#: Arrays the size of the parameters that each SGD-family optimiser keeps beside them.
_STATE_SLOTS = {"adagrad": 1, "adam": 2, "ftrl": 2}


def _check_fits_in_memory(model, data: TrainData, solver: str) -> None:
    """Refuse, before drawing a single factor, an FM (with its optimiser's state) larger
    than this machine's memory, and say why it is so large.

    A libFM / libSVM file is as wide as its highest feature index: ids straight from a
    database or a hash (index 200,000,000) make a model of hundreds of millions of rows,
    most never used, that would take minutes to draw and then exhaust memory mid-epoch.
    """
    memory = physical_memory()
    n_features = data.n_features
    itemsize = np.dtype(model.dtype).itemsize
    orders = getattr(model, "degree", 2) - 1  # a higher-order FM keeps factors per order
    per_copy = (1 + n_features * (1 + orders * model.n_factors)) * itemsize
    total = per_copy * (1 + _STATE_SLOTS.get(solver, 0))
    if memory is None or total <= memory:
        return
    used = np.unique(data.X.indices).size
    if data.relations is not None:  # the blocks' columns of Z
        used += np.unique(data.relations.Zr[1]).size
    raise MemoryError(
        f"The model would take {format_bytes(total)} ({n_features:,} features × "
        f"{orders * model.n_factors} factors in {np.dtype(model.dtype).name}"
        + (f", and the {solver} optimiser's state" if solver in _STATE_SLOTS else "")
        + f") and this machine has {format_bytes(memory)}. X has {n_features:,} columns "
        f"but only {used:,} of them hold a value: its width comes from the highest feature "
        "index. Re-index the features (FMEncoder, or np.unique(X.indices, "
        "return_inverse=True)) or hash them into fewer columns (e.g. 2**20); or use "
        "dtype='float32' or a lower n_factors."
    )
