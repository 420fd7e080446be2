"""FMClassifier: binary classification, logistic (SGD family) or probit (ALS/MCMC), and
multiclass classification (softmax, SGD family)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import log_ndtr, ndtr
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from fmlearn._base import BaseFM, _online_solver
from fmlearn._validation import MAPPING, NONE, Options, resolve_dtype
from fmlearn.models import SoftmaxFM
from fmlearn.tasks import BinaryClassification, MulticlassClassification
from fmlearn.tasks.binary import sigmoid
from fmlearn.tasks.multiclass import log_softmax, softmax


class FMClassifier(ClassifierMixin, BaseFM):
    """Factorization Machine for binary and multiclass classification.

    Any two labels work (ints, strings, bools): ``classes_[1]`` is the positive class,
    ``decision_function`` > 0 predicts it, and ``predict_proba[:, 1]`` is its probability.
    The SGD family descends the logistic loss, ``P(y = classes_[1]) = σ(ŷ)``; ``"als"``
    and ``"mcmc"`` use the probit link ``Φ(ŷ)`` (libFM's MCMC classification: latent
    Gaussian targets, drawn by MCMC and set to their expectation by ALS, which makes it
    EM). ``link_`` records which one a fitted model uses.

    Parameters and attributes are those of :class:`FMRegressor` (without
    ``clip_predictions``, ``y_min_``, ``y_max_``, and with ``classes_`` and ``link_``),
    plus ``class_weight``: None, ``"balanced"`` (each class weighted n / (2 · its count),
    as in scikit-learn) or a dict label → weight (missing labels: 1). It multiplies
    ``sample_weight`` in the training objective, for every solver; eval sets and
    early stopping keep their own weights. ``partial_fit`` takes a dict only.
    Default regularisation, tuned on the Frappe app-usage data: SGD family
    ``(0, 0, 0.03)`` (0.1 underfits, 0.01 overfits — the logistic loss has smaller
    gradients than squared error on ratings, so it needs less shrinkage) and ALS
    ``(0, 5, 3)``. Early stopping watches the validation log-loss, and
    ``history_.valid`` records ``logloss`` and ``auc``.

    On click-through data, where most ids are rare, the validation log-loss is usually
    best after one or two epochs; use ``early_stopping=True`` (or a small ``max_iter``).

    **More than two classes** (found in ``y``, or in ``classes`` of the first
    ``partial_fit``): a softmax FM, ``P(c | x) = softmax(ŷ(x))_c``, trained by the SGD
    family on the cross-entropy (row by row: ``batch_size=1``). ``multiclass`` chooses how
    the classes share the factors: ``"separate"`` (default) — each class its own FM,
    ``V_`` (n_features, n_classes, k); ``"shared"`` — one ``V_`` (n_features, k) for all
    classes and a per-class projection ``P_`` (n_classes, k) of its k pairwise
    components, so a row's factor work is done once (3× faster epochs at 20 classes, C
    times less factor memory) but ``reg_factors`` barely restrains it: ``P_`` is not
    penalised and grows as ``V_`` shrinks (MovieLens-100K ratings as 5 classes: test
    log-loss 1.294 against 1.274 for "separate", behind logistic regression's 1.288;
    benchmarks/multiclass.py). Both have per-class ``w0_`` (n_classes,) and ``w_``
    (n_features, n_classes);
    ``decision_function`` returns the (n_samples, n_classes) scores and ``link_`` is
    ``"softmax"``. ALS and MCMC are binary (probit): for them, wrap the estimator in
    ``sklearn.multiclass.OneVsRestClassifier``. Over 1,000 classes a fit warns about the
    model's size. benchmarks/multiclass.py compares the two layouts with one-vs-rest.

    ``degree`` (3 … 5: a higher-order FM, SGD family or ALS, the latter by probit EM) is
    as in :class:`FMRegressor`; it is for two classes.

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> from fmlearn import FMClassifier
    >>> from fmlearn.datasets import make_ctr
    >>> X, y, _ = make_ctr(3000, n_fields=5, n_features=200, random_state=0)
    >>> clf = FMClassifier(n_factors=4, max_iter=5, random_state=0).fit(X[:2500], y[:2500])
    >>> clf.classes_.tolist(), clf.link_
    ([0, 1], 'logit')
    >>> clf.predict_proba(X[2500:]).shape  # columns: P(0), P(1)
    (500, 2)
    >>> bool(roc_auc_score(y[2500:], clf.decision_function(X[2500:])) > 0.6)
    True
    """

    _task_class = BinaryClassification
    _parameter_constraints: ClassVar[dict] = {
        **BaseFM._parameter_constraints,
        "class_weight": [MAPPING, Options(("balanced",)), NONE],
        "multiclass": [Options(("shared", "separate"))],
    }
    #: Whether more than two classes make a softmax FM (False: the field-aware models).
    _softmax_models: ClassVar[bool] = True

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
        batch_size: int = 1,
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
        n_kept_samples: int | None = None,
        keep_samples: bool | str = "auto",
        factor_update: str = "auto",
        class_weight: dict | str | None = None,
        multiclass: str = "separate",
        degree: int = 2,
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
        self.batch_size = batch_size
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
        self.n_kept_samples = n_kept_samples
        self.keep_samples = keep_samples
        self.factor_update = factor_update
        self.degree = degree
        self.class_weight = class_weight
        self.multiclass = multiclass

    # ---------------------------------------------------------------- two or more classes
    def _task_for(self, family, y, previous, classes=None):
        """Binary for two classes, multiclass (softmax) for more; a continued fit keeps
        the fitted classes whatever this batch holds."""
        if previous is not None:
            n_classes = len(previous["classes_"])
        else:
            check_classification_targets(y)
            n_classes = np.unique(np.asarray(y if classes is None else classes)).size
        if n_classes <= 2:
            return BinaryClassification(type(self).__name__, family)
        name = type(self).__name__
        # scikit-learn's wording, which its estimator checks look for
        if not self._softmax_models:
            raise ValueError(
                f"Only binary classification is supported by {name}: y has {n_classes} "
                "classes. For more, use FMClassifier (softmax) or wrap this estimator in "
                "sklearn.multiclass.OneVsRestClassifier."
            )
        if getattr(self, "degree", 2) > 2:
            raise ValueError(
                f"Only binary classification is supported by {name}(degree={self.degree}): "
                f"y has {n_classes} classes. The multiclass FM is of degree 2."
            )
        if family != "sgd":
            raise ValueError(
                f"Only binary classification is supported by {name}(solver={self.solver!r}) "
                f"(probit): y has {n_classes} classes. More than two are fitted by the SGD "
                "family (softmax: solver='adagrad', 'sgd', 'adam' or 'ftrl'), or one-vs-rest: "
                f"sklearn.multiclass.OneVsRestClassifier({name}(solver={self.solver!r}))."
            )
        return MulticlassClassification(name, family)

    def _make_model(self, fitted=False, n_factors=None):
        """The softmax FM when the target of this fit (or the fitted one) has more than
        two classes."""
        target = self._target_in_setup()
        classes = target["classes_"] if target is not None else getattr(self, "classes_", None)
        if not self._softmax_models or classes is None or len(classes) <= 2:
            return super()._make_model(fitted, n_factors)
        if fitted and target is None:  # the fitted layout, whatever `multiclass` says now
            shared = self.V_.ndim == 2
        else:
            shared = self.multiclass == "shared"
        dtype = self._fitted_dtype if fitted else resolve_dtype(self.dtype)
        rank = self.n_factors if n_factors is None else n_factors
        return SoftmaxFM(rank, self._resolved_init_std(), dtype, len(classes), shared)

    def _set_fitted(self, result, target, previous):
        self.__dict__.pop("P_", None)  # a multiclass model's projection, after a refit
        super()._set_fitted(result, target, previous)

    @available_if(_online_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One pass over ``(X, y)``; ``classes`` (every label) is required on the first call."""
        if classes is None and not hasattr(self, "classes_"):
            raise ValueError(
                "classes must be passed on the first call to partial_fit: "
                "a single batch may not contain every label."
            )
        return super().partial_fit(X, y, sample_weight, classes=classes)

    def _training_weights(self, sample_weight, y, task, *, online: bool) -> np.ndarray:
        """``sample_weight`` times the weight of each row's class (``class_weight``)."""
        weights = super()._training_weights(sample_weight, y, task, online=online)
        if self.class_weight is None:
            return weights
        if self.class_weight == "balanced":
            if online:
                raise ValueError(
                    "class_weight='balanced' needs every label at once, and partial_fit (or "
                    "fit on a stream) sees one chunk at a time: pass a dict of class weights "
                    "instead."
                )
            return weights * compute_sample_weight("balanced", y)
        classes = task.target["classes_"].tolist()
        unknown = [label for label in self.class_weight if label not in classes]
        if unknown:
            raise ValueError(
                f"class_weight names labels that are not classes: {unknown} (classes: {classes})."
            )
        per_class = np.array([float(self.class_weight.get(c, 1.0)) for c in classes])
        if not np.all(np.isfinite(per_class) & (per_class >= 0)):
            raise ValueError(f"class weights must be finite and ≥ 0; got {self.class_weight}.")
        return weights * per_class[np.searchsorted(task.target["classes_"], y)]

    def decision_function(self, X, relations=None) -> np.ndarray:
        """Raw FM score ŷ(x); positive means ``classes_[1]``. Multiclass: the per-class
        scores, shape (n_samples, n_classes). ``relations``: the rows' relation blocks,
        when the model was fitted with some (also for the other predict methods)."""
        return self._decision(X, relations)

    def predict_proba(self, X, relations=None) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns ordered as ``classes_``."""
        raw = self._decision(X, relations)
        if self.link_ == "softmax":
            return softmax(raw)
        if self.link_ == "probit":
            return np.column_stack([ndtr(-raw), ndtr(raw)])
        p = sigmoid(raw)
        return np.column_stack([1.0 - p, p])

    def predict_log_proba(self, X, relations=None) -> np.ndarray:
        raw = self._decision(X, relations)
        if self.link_ == "softmax":
            return log_softmax(raw)
        if self.link_ == "probit":
            return np.column_stack([log_ndtr(-raw), log_ndtr(raw)])
        return np.column_stack([-np.logaddexp(0.0, raw), -np.logaddexp(0.0, -raw)])

    def predict(self, X, relations=None) -> np.ndarray:
        raw = self._decision(X, relations)
        if raw.ndim == 2:
            return self.classes_[raw.argmax(axis=1)]
        return self.classes_[(raw > 0).astype(np.intp)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # more than two classes: the softmax FM, which the SGD family trains
        tags.classifier_tags.multi_class = (
            self._softmax_models and _online_solver(self) and getattr(self, "degree", 2) <= 2
        )
        return tags
