"""Estimators of the field-aware family, for click data: every feature belongs to a field
(user, ad, site, hour …), given to ``fit(X, y, fields=…)``.

- FFMRegressor / FFMClassifier (libffm's model): each feature keeps one k-vector per
  field and a pair interacts through the vectors each keeps for the other's field,
  ``ŷ = w0 + Σ w_i x_i + Σ_{i<j} <v_{i,f(j)}, v_{j,f(i)}> x_i x_j``. O(k · nnz²) per row
  and n_fields times the FM's factor memory; the most expressive.
- FwFMRegressor / FwFMClassifier (field-weighted FM, Pan et al. 2018): the FM's vectors
  and one learned strength per field pair, ``Σ_{i<j} R[f(i),f(j)] <v_i, v_j> x_i x_j``.
  O(k · nnz + k · F²) per row and the FM's memory: most of FFM's gain at FM memory, though
  on rows of many fields it trains several times slower than the FM (benchmarks/README.md).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import ClassVar

import numpy as np
from sklearn.utils.metaestimators import available_if

from fmlearn._base import BaseFM, _online_solver
from fmlearn._validation import check_fields, resolve_dtype
from fmlearn.classification import FMClassifier
from fmlearn.io.field_matrix import fields_of
from fmlearn.io.stream import as_stream
from fmlearn.models import FFM, FwFM
from fmlearn.regression import FMRegressor
from fmlearn.solvers.base import RegisteredSolver

_PARAMETERS_DOC = """
    Parameters
    ----------
    n_factors : int, default=4
        k, the length of each per-field vector (libffm's default 4).
    solver : {"sgd", "adagrad", "adam", "ftrl"}, default="adagrad"
        Trained row by row (libffm uses AdaGrad too); ALS and MCMC are for the FM only.
    learning_rate, max_iter, reg_bias, reg_linear, reg_factors, l1_linear, l1_factors,
    init_std, fit_intercept, fit_linear, shuffle, early_stopping, validation_fraction,
    n_iter_no_change, tol, random_state, warm_start, verbose, dtype
        As for :class:`FMRegressor` with an SGD-family solver. The factor penalty applies
        to the vectors a row uses.
    n_jobs : int or None, default=None
        ``fit``: one thread when None (reproducible), lock-free parallel epochs
        (Hogwild!) with an int; ``predict``: all cores when None (same results).

    Attributes
    ----------
    fields_ : ndarray of int32, shape (n_features,)
        The field of every feature, as given to ``fit``.
    V_ : ndarray of shape (n_features, n_fields, n_factors)
        ``V_[i, f]`` is feature i's vector for partners in field f.
    w0_, w_, history_, n_iter_, n_features_in_, feature_names_in_
        As for :class:`FMRegressor`.
"""

_CLIP_DOC = """    clip_predictions : bool, default=True
        Clip predictions to ``[y_min_, y_max_]``, the training target range.
"""


def _with_parameter(doc: str, parameter: str) -> str:
    """``doc`` (a Parameters and an Attributes section) with ``parameter`` last among the
    parameters: the regressors' ``clip_predictions``."""
    head, attributes = doc.split("\n    Attributes\n", 1)
    return head.rstrip("\n") + "\n" + parameter + "\n    Attributes\n" + attributes


_FIELDS_DOC = """``fields``: one field id (0, 1, …) per column of ``X``. Not needed when ``X``
    comes from ``FMEncoder`` or ``fmlearn.io.load_libffm``: their matrix carries its
    fields, so ``make_pipeline(FMEncoder(), FFMClassifier())`` works as it stands. A
    continued fit (``warm_start``, ``partial_fit``) keeps the fitted ``fields_``, filling in
    those of columns that had none yet (−1: unseen so far, as when a libffm file is streamed
    with ``iter_libffm(n_features=…)``)."""


class _FieldAware:
    """What the field-aware estimators share: a model that needs ``fit(…, fields=…)``."""

    _model_class = FFM
    _parameter_constraints: ClassVar[dict] = {
        **{k: v for k, v in BaseFM._parameter_constraints.items() if k != "batch_size"},
        "solver": [RegisteredSolver(FFM.families)],
    }

    def fit(self, X, y=None, sample_weight=None, eval_set=None, fields=None, callbacks=None):
        """Fit to ``X`` (n_samples, n_features), ``y`` and the features' ``fields``.

        ``eval_set``, ``callbacks``, a stream as ``X``: as for :meth:`FMRegressor.fit`. A
        stream's ``fields`` are those a libffm :class:`~fmlearn.io.FileStream` found in
        its first pass (made when ``n_features`` is not given), unless given here.
        """
        stream = as_stream(X)
        if stream is not None and fields is None:
            fields = stream.fields
            if fields is None:
                raise ValueError(
                    f"{type(self).__name__} needs every feature's field before it trains on "
                    f"{stream!r}: pass fields=…, or a libffm FileStream without n_features "
                    "(its first pass finds the fields)."
                )
        with self._fields_for_fit(X, fields):
            return super().fit(X, y, sample_weight, eval_set=eval_set, callbacks=callbacks)

    @available_if(_online_solver)
    def partial_fit(self, X, y, sample_weight=None, fields=None, **kwargs):
        """One pass over the given rows, continuing from the current model (online)."""
        with self._fields_for_fit(X, fields):
            return super().partial_fit(X, y, sample_weight, **kwargs)

    @contextmanager
    def _fields_for_fit(self, X, fields):
        """Make the fit's fields visible to :meth:`_make_model` for the duration of one fit:
        ``fields`` if given, else those ``X`` carries (``FMEncoder``, ``load_libffm``)."""
        carried = fields_of(X)
        if fields is not None and carried is not None and not _same_fields(fields, carried):
            raise ValueError(
                "fields differ from the fields X carries (from FMEncoder or load_libffm); "
                "pass one of them."
            )
        self._fit_fields = fields if fields is not None else carried
        self._fit_fields_carried = fields is None and carried is not None
        try:
            yield
        finally:
            del self._fit_fields, self._fit_fields_carried

    def _check_predict_X(self, X):
        carried = fields_of(X)
        if carried is not None and hasattr(self, "fields_"):
            _check_carried_fields(carried, self.fields_)
        return super()._check_predict_X(X)

    def _n_fields(self) -> int:
        """The number of fields the fitted layout has vectors (FFM) or strengths (FwFM) for."""
        return self.R_.shape[0] if hasattr(self, "R_") else self.V_.shape[1]

    def _make_model(self, fitted: bool = False, n_factors: int | None = None) -> FFM | FwFM:
        dtype = self._fitted_dtype if fitted else resolve_dtype(self.dtype)
        rank = self.n_factors if n_factors is None else n_factors
        fields = getattr(self, "_fit_fields", None)
        continued = None  # a continued fit's fields; fields_ itself changes only on success
        if fitted and fields is not None and getattr(self, "_fit_fields_carried", False):
            continued = _continued_fields(fields, self.fields_, self._n_fields(), True)
        elif fitted and fields is not None:
            if np.ndim(fields) == 1 and len(fields) != self.n_features_in_:
                raise ValueError(
                    f"fields name {len(fields)} columns but the fitted model has "
                    f"{self.n_features_in_} features: a continued fit (warm_start, "
                    "partial_fit) keeps its features and fields. Set warm_start=False to "
                    "start afresh."
                )
            given = check_fields(fields, self.n_features_in_)
            continued = _continued_fields(given, self.fields_, self._n_fields(), False)
        return self._model_class(
            rank, self._resolved_init_std(), dtype, fields=continued if fitted else fields
        )


def _continued_fields(given, fitted, n_fields: int, carried: bool) -> np.ndarray:
    """The fields of a continued fit (``warm_start``, ``partial_fit``): the fitted ones, with
    fields filled in for columns that had none (−1, never seen so far).

    Streaming a libffm file in chunks (``iter_libffm(n_features=…)``) names a column's field
    only once a chunk has used the column. Such a column took part in no pair until now and
    its vectors are still the initial draw, so giving it its field loses nothing. A field
    that contradicts the fitted one, or a field id the model has no vectors for, is an
    error: the model's layout is fixed by its first fit.
    """
    if carried:
        _check_carried_fields(given, fitted)
    else:
        clash = np.flatnonzero((given >= 0) & (fitted >= 0) & (given != fitted))
        if clash.size:
            j = int(clash[0])
            raise ValueError(
                f"fields differ from the fitted model's fields_ on {clash.size} columns "
                f"(column {j}: field {int(given[j])}, model {int(fitted[j])}): a continued fit "
                "keeps its fields. Set warm_start=False to start afresh."
            )
    new = np.flatnonzero((fitted < 0) & (given >= 0))
    if new.size and int(given[new].max()) >= n_fields:
        j = int(new[np.argmax(given[new])])
        raise ValueError(
            f"X gives column {j} field {int(given[j])}, but the model was fitted with "
            f"{n_fields} fields (0–{n_fields - 1}) and a continued fit cannot add one. Give "
            "the first fit every field id (e.g. read the file with iter_libffm("
            "n_features=None), whose first pass finds them all), or set warm_start=False."
        )
    if not new.size:
        return fitted
    merged = fitted.copy()
    merged[new] = given[new]
    return merged


def _same_fields(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.array_equal(a, b)


def _check_carried_fields(carried: np.ndarray, fitted: np.ndarray) -> None:
    """The fields a matrix carries must agree with the model's wherever both name one: a
    file read with ``load_libffm(n_features=…)`` marks the columns it never uses with −1
    (a continued fit fills those in: :func:`_continued_fields`)."""
    if carried.shape != fitted.shape:
        raise ValueError(
            f"X carries fields for {carried.shape[0]} columns but the model has "
            f"{fitted.shape[0]} features."
        )
    both = (carried >= 0) & (fitted >= 0)
    clash = np.flatnonzero(both & (carried != fitted))
    if clash.size:
        j = int(clash[0])
        raise ValueError(
            f"X carries fields (from FMEncoder or load_libffm) that differ from the model's "
            f"fields_ on {clash.size} columns (column {j}: field {int(carried[j])}, model "
            f"{int(fitted[j])}): encode the data as the training data was encoded."
        )


class FFMRegressor(_FieldAware, FMRegressor):
    __doc__ = (
        """Field-aware factorization machine for regression (squared error).

    ``fit(X, y, fields=…)``: """
        + _FIELDS_DOC
        + "\n"
        + _with_parameter(_PARAMETERS_DOC, _CLIP_DOC)
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn import FFMRegressor
    >>> from fmlearn.datasets import make_recommendation
    >>> X, y, truth = make_recommendation(n_samples=3000, n_users=100, n_items=50, random_state=0)
    >>> fields = np.repeat([0, 1, 2], truth.field_sizes)  # user | item | context columns
    >>> model = FFMRegressor(max_iter=10, random_state=0).fit(X[:2500], y[:2500], fields=fields)
    >>> model.V_.shape  # (n_features, n_fields, n_factors)
    (158, 3, 4)
    >>> bool(model.score(X[2500:], y[2500:]) > 0.5)  # R² on held-out rows
    True
    """
    )

    _parameter_constraints: ClassVar[dict] = {
        **_FieldAware._parameter_constraints,
        "clip_predictions": FMRegressor._parameter_constraints["clip_predictions"],
    }

    def __init__(
        self,
        n_factors: int = 4,
        *,
        solver: str = "adagrad",
        learning_rate: float | None = None,
        max_iter: int = 100,
        reg_bias: float | None = None,
        reg_linear: float | None = None,
        reg_factors: float | None = None,
        l1_linear: float = 0.0,
        l1_factors: float = 0.0,
        init_std: float | str = "auto",
        fit_intercept: bool = True,
        fit_linear: bool = True,
        shuffle: bool | str = "grouped",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float | None = 1e-4,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        dtype="float64",
        n_jobs: int | None = None,
        clip_predictions: bool = True,
    ):
        self.n_factors = n_factors
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.reg_bias = reg_bias
        self.reg_linear = reg_linear
        self.reg_factors = reg_factors
        self.l1_linear = l1_linear
        self.l1_factors = l1_factors
        self.init_std = init_std
        self.fit_intercept = fit_intercept
        self.fit_linear = fit_linear
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.clip_predictions = clip_predictions

    def predict(self, X) -> np.ndarray:
        """Predicted targets, clipped to ``[y_min_, y_max_]`` if ``clip_predictions``."""
        raw = self._decision(X)
        if self.clip_predictions:
            np.clip(raw, self.y_min_, self.y_max_, out=raw)
        return raw


class FFMClassifier(_FieldAware, FMClassifier):
    _parameter_constraints: ClassVar[dict] = {
        **_FieldAware._parameter_constraints,
        "class_weight": FMClassifier._parameter_constraints["class_weight"],
    }
    _softmax_models: ClassVar[bool] = False  # binary only (issue 20: not yet multiclass)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    __doc__ = (
        """Field-aware factorization machine for binary classification (logistic loss).

    Labels and ``class_weight`` as for :class:`FMClassifier` (``classes_[1]`` is the
    positive class).
    ``fit(X, y, fields=…)``: """
        + _FIELDS_DOC
        + "\n"
        + _PARAMETERS_DOC
        + """
    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> from fmlearn import FFMClassifier
    >>> from fmlearn.datasets import make_field_aware_ctr
    >>> X, y, fields, _ = make_field_aware_ctr(3000, n_fields=4, n_features=100, random_state=0)
    >>> clf = FFMClassifier(max_iter=5, random_state=0).fit(X[:2500], y[:2500], fields=fields)
    >>> clf.V_.shape  # (n_features, n_fields, n_factors)
    (100, 4, 4)
    >>> bool(roc_auc_score(y[2500:], clf.predict_proba(X[2500:])[:, 1]) > 0.65)
    True
    """
    )

    def __init__(
        self,
        n_factors: int = 4,
        *,
        solver: str = "adagrad",
        learning_rate: float | None = None,
        max_iter: int = 100,
        reg_bias: float | None = None,
        reg_linear: float | None = None,
        reg_factors: float | None = None,
        l1_linear: float = 0.0,
        l1_factors: float = 0.0,
        init_std: float | str = "auto",
        fit_intercept: bool = True,
        fit_linear: bool = True,
        shuffle: bool | str = "grouped",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float | None = 1e-4,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        dtype="float64",
        n_jobs: int | None = None,
        class_weight: dict | str | None = None,
    ):
        self.n_factors = n_factors
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.reg_bias = reg_bias
        self.reg_linear = reg_linear
        self.reg_factors = reg_factors
        self.l1_linear = l1_linear
        self.l1_factors = l1_factors
        self.init_std = init_std
        self.fit_intercept = fit_intercept
        self.fit_linear = fit_linear
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.class_weight = class_weight


_FWFM_DOC = """
    Parameters
    ----------
    n_factors : int, default=8
        k, the length of each feature's vector (as the FM's).
    solver, learning_rate, max_iter, reg_bias, reg_linear, reg_factors, l1_linear,
    l1_factors, init_std, fit_intercept, fit_linear, shuffle, early_stopping,
    validation_fraction, n_iter_no_change, tol, random_state, warm_start, verbose, dtype,
    n_jobs
        As for :class:`FFMRegressor`. The field-pair strengths ``R_`` are not penalised
        (every row uses them) and start at 1, i.e. training starts from the plain FM on
        the features that have a field. With ``n_jobs`` > 1 each thread steps ``R_``
        once per 16 of its rows, along their summed gradients: every row touches ``R_``,
        and two threads writing it every row were up to 4× slower than one.

    Attributes
    ----------
    fields_ : ndarray of int32, shape (n_features,)
        The field of every feature, as given to ``fit``.
    R_ : ndarray of shape (n_fields, n_fields)
        Symmetric: ``R_[f, g]`` scales every interaction between fields f and g (the
        diagonal, pairs within a field). Large entries are the field pairs that matter.
    V_ : ndarray of shape (n_features, n_factors)
    w0_, w_, history_, n_iter_, n_features_in_, feature_names_in_
        As for :class:`FMRegressor`.
"""


class FwFMRegressor(FFMRegressor):
    __doc__ = (
        """Field-weighted factorization machine (Pan et al. 2018) for regression.

    ``ŷ = w0 + Σ w_i x_i + Σ_{i<j} R[f(i), f(j)] <v_i, v_j> x_i x_j``: the FM with one
    learned strength per pair of fields: the FM's memory, O(k · nnz + k · F²) time per row.
    ``fit(X, y, fields=…)``: """
        + _FIELDS_DOC
        + "\n"
        + _with_parameter(_FWFM_DOC, _CLIP_DOC)
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn import FwFMRegressor
    >>> from fmlearn.datasets import make_recommendation
    >>> X, y, truth = make_recommendation(n_samples=3000, n_users=100, n_items=50, random_state=0)
    >>> fields = np.repeat([0, 1, 2], truth.field_sizes)  # user | item | context columns
    >>> model = FwFMRegressor(max_iter=10, random_state=0).fit(X[:2500], y[:2500], fields=fields)
    >>> model.R_.shape  # one learned strength per pair of fields
    (3, 3)
    >>> bool(model.score(X[2500:], y[2500:]) > 0.5)  # R² on held-out rows
    True
    """
    )

    _model_class = FwFM

    def __init__(
        self,
        n_factors: int = 8,
        *,
        solver: str = "adagrad",
        learning_rate: float | None = None,
        max_iter: int = 100,
        reg_bias: float | None = None,
        reg_linear: float | None = None,
        reg_factors: float | None = None,
        l1_linear: float = 0.0,
        l1_factors: float = 0.0,
        init_std: float | str = "auto",
        fit_intercept: bool = True,
        fit_linear: bool = True,
        shuffle: bool | str = "grouped",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float | None = 1e-4,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        dtype="float64",
        n_jobs: int | None = None,
        clip_predictions: bool = True,
    ):
        self.n_factors = n_factors
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.reg_bias = reg_bias
        self.reg_linear = reg_linear
        self.reg_factors = reg_factors
        self.l1_linear = l1_linear
        self.l1_factors = l1_factors
        self.init_std = init_std
        self.fit_intercept = fit_intercept
        self.fit_linear = fit_linear
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.clip_predictions = clip_predictions


class FwFMClassifier(FFMClassifier):
    __doc__ = (
        """Field-weighted factorization machine (Pan et al. 2018) for binary classification.

    ``ŷ = w0 + Σ w_i x_i + Σ_{i<j} R[f(i), f(j)] <v_i, v_j> x_i x_j`` with the logistic
    loss. Labels and ``class_weight`` as for :class:`FMClassifier`.
    ``fit(X, y, fields=…)``: """
        + _FIELDS_DOC
        + "\n"
        + _FWFM_DOC
        + """
    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> from fmlearn import FwFMClassifier
    >>> from fmlearn.datasets import make_field_aware_ctr
    >>> X, y, fields, _ = make_field_aware_ctr(3000, n_fields=4, n_features=100, random_state=0)
    >>> clf = FwFMClassifier(max_iter=5, random_state=0).fit(X[:2500], y[:2500], fields=fields)
    >>> clf.R_.shape  # one learned strength per pair of fields
    (4, 4)
    >>> bool(roc_auc_score(y[2500:], clf.predict_proba(X[2500:])[:, 1]) > 0.65)
    True
    """
    )

    _model_class = FwFM

    def __init__(
        self,
        n_factors: int = 8,
        *,
        solver: str = "adagrad",
        learning_rate: float | None = None,
        max_iter: int = 100,
        reg_bias: float | None = None,
        reg_linear: float | None = None,
        reg_factors: float | None = None,
        l1_linear: float = 0.0,
        l1_factors: float = 0.0,
        init_std: float | str = "auto",
        fit_intercept: bool = True,
        fit_linear: bool = True,
        shuffle: bool | str = "grouped",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float | None = 1e-4,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        dtype="float64",
        n_jobs: int | None = None,
        class_weight: dict | str | None = None,
    ):
        self.n_factors = n_factors
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.reg_bias = reg_bias
        self.reg_linear = reg_linear
        self.reg_factors = reg_factors
        self.l1_linear = l1_linear
        self.l1_factors = l1_factors
        self.init_std = init_std
        self.fit_intercept = fit_intercept
        self.fit_linear = fit_linear
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.class_weight = class_weight
