"""FMRegressor: a factorization machine for real-valued targets."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if

from fmlearn._base import BaseFM, _online_solver
from fmlearn._validation import BOOLEAN
from fmlearn.tasks import Regression


class FMRegressor(RegressorMixin, BaseFM):
    """Factorization Machine for regression (Rendle 2010).

    ``ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j``, computed in O(k · nnz(x)),
    trained on squared error by SGD, AdaGrad or Adam, by ALS (coordinate descent), or
    sampled by MCMC (the Bayesian FM). benchmarks/README.md compares them on MovieLens.

    Parameters
    ----------
    n_factors : int, default=8
        Rank k of the pairwise interactions (libFM's ``-dim 1,1,k``).
    solver : {"sgd", "adagrad", "adam", "ftrl", "sgda", "als", "mcmc"}, default="adagrad"
        ``"sgd"`` with ``batch_size=1`` is libFM's ``-method sgd``. AdaGrad is the default
        because its per-parameter steps stay bounded on unscaled features, where plain
        SGD at a fixed rate can diverge; its Σg² starts at 1, as in libffm, so a rarely
        seen feature takes small steps (from 0 its first step would be ±lr). ``"ftrl"`` is
        FTRL-Proximal (McMahan et al. 2013), the online learner of click-prediction
        systems: with ``l1_linear`` / ``l1_factors`` it sets weights to exactly 0
        (``sparsity_`` reports how many). ``"sgda"`` is plain SGD whose L2 strengths
        (per feature group of ``fit(groups=…)``) are learned on a validation set — the
        first ``eval_set``, else ``validation_fraction`` of the rows — as libFM's
        ``-method sgda``; they are on libFM's scale (it steps along 2(ŷ − y) + 2λθ) and
        end in ``reg_linear_`` / ``reg_factors_``.
        ``"als"`` (coordinate descent) and ``"mcmc"`` (Gibbs sampling, libFM's ``-method
        mcmc``) sweep over all parameters and need no learning rate; MCMC needs no
        regularisation either (it samples it, per feature group: see ``fit(groups=…)``)
        and is usually the most accurate. Parameters that
        only some solvers use (marked below) must stay at their defaults for the others:
        setting one raises a ``ValueError`` naming the solvers that use it.
    learning_rate : float or None, default=None
        *SGD family.* Step size; None picks the solver's default (sgd 0.01, adagrad 0.1,
        adam 0.005, ftrl 0.1 — FTRL's α; its β is 1).
    max_iter : int, default=100
        Number of epochs (passes over the training data), or of sweeps for ALS/MCMC.
    reg_bias, reg_linear, reg_factors : float, list (ALS) or None, default=None
        *SGD family and ALS.* L2 strengths for w0, w and V (libFM's ``-regular``); None
        picks the default. The SGD family regularises lazily, as libFM: a parameter is
        shrunk only when its feature is in the row (or mini-batch) being updated, so its
        penalty grows with its frequency; default (0, 0, 0.1), tuned on MovieLens-100K
        (0.01 overfits). On dense data every row holds every feature and 0.1 is far too
        strong (use ~0.01, or ALS/MCMC). ALS penalises the whole objective
        ½Σe² + ½λ‖θ‖² once, as libFM's ALS, so its strengths are on a larger scale:
        default (0, 5, 13). ALS also takes ``reg_linear`` and ``reg_factors`` as lists, one
        strength per feature group of ``fit(X, y, groups=…)`` (libFM's per-group
        ``-regular`` with ``-meta``). MCMC samples them.
    l1_linear, l1_factors : float, default=0
        *FTRL.* L1 strengths for w and V, applied in FTRL's closed form: a weight whose
        summed gradient stays within ±λ1 is exactly 0. As in FTRL, λ1 acts on the sum
        over all updates of a parameter, so it scales with the data size, unlike the
        per-row L2 strengths. The L2 strengths above still apply.
    init_std : float or "auto", default="auto"
        Standard deviation of the normal initialisation of V. ``"auto"``: for the SGD
        family ``0.1 · (k · P)^(−1/4)``, P the mean number of feature pairs per row
        (Σ_{i<j} x_i² x_j²), so that the initial pairwise term has the same spread
        whatever the row length and k — 0.056 on MovieLens (user × item, k = 10), 0.023
        on 10-field Frappe (k = 8), 0.0096 on 39-field click rows (k = 16), where a
        fixed 0.1 starts from random logits of spread ~1 (benchmarks/defaults.py:
        +0.02 AUC on generated click data, neutral on MovieLens and Frappe); for ALS and
        MCMC 0.1, libFM's default (their sweeps barely depend on it).
    fit_intercept, fit_linear : bool, default=True
        Learn w0 / w (False keeps them at 0).
    batch_size : int, default=1
        *SGD family.* Rows per update: 1 is plain SGD like libFM; larger averages.
    shuffle : bool or "grouped", default="grouped"
        *SGD family.* The rows' order in each epoch. ``"grouped"``: shuffled in groups that stay
        in cache (blocks of up to 128 rows permuted, each run of 128 blocks shuffled as
        one; kernels/shuffle.py): as accurate as a full permutation, at about the cost
        of file order on data larger than the caches, where a full permutation costs
        1.3–1.5× (benchmarks/README.md, issue 22). True: a permutation of all rows
        (the default until 2026-12-01). False: the rows' own order. On a stream, the
        chunks' order is shuffled too (unless False).
    early_stopping : bool, default=False
        *SGD family.* Stop when the validation RMSE has not improved by ``tol`` for
        ``n_iter_no_change`` epochs and restore the best epoch's parameters. The
        validation set is ``eval_set[0]`` if given to ``fit``, else
        ``validation_fraction`` of the training rows.
    validation_fraction : float, default=0.1
        *SGD family.*
    n_iter_no_change : int, default=5
        *SGD family.*
    tol : float or None, default=1e-4
        *SGD family.* Without early stopping, training stops when the training loss has
        not improved by ``tol`` for ``n_iter_no_change`` epochs; None always runs
        ``max_iter`` epochs. (ALS and MCMC always run ``max_iter`` sweeps.)
    random_state : int, RandomState, Generator or None, default=None
        Seeds initialisation, shuffling, the validation split and the sampler. With a
        single-threaded fit (the default) a fixed seed gives bit-for-bit identical models.
    warm_start : bool, default=False
        Continue from the fitted parameters on the next ``fit``, with the optimiser's
        memory (SGD family) or the Markov chain (MCMC) when the solver is the same.
    verbose : int, default=0
        1 prints one line per epoch or sweep (a live bar on a terminal).
    dtype : {"float64", "float32"}, default="float64"
        Parameter and data dtype; float32 halves memory. Sums are accumulated in float64.
    n_jobs : int or None, default=None
        Threads. ``predict`` runs on all cores when None. ``fit`` runs on one thread when
        None (reproducible); an int makes the SGD family run lock-free parallel epochs
        (Hogwild!: fast on sparse data, not reproducible). ALS and MCMC sweeps are
        sequential (each update needs the previous one) and always use one thread.
    clip_predictions : bool, default=True
        Clip predictions to ``[y_min_, y_max_]``, the training target range (as libFM).
    n_kept_samples : int or None, default=None
        *MCMC.* The last ``n_kept_samples`` sweeps are averaged (None: all but the first
        10%, the burn-in). Must not exceed ``max_iter``.
    keep_samples : bool or "auto", default="auto"
        *MCMC.* Keep every averaged sample (``samples_``), so that ``predict`` averages
        the samples' predictions exactly as libFM and myFM do and
        ``predict(X, return_std=True)`` works. "auto" keeps them while they take
        ≤ 512 MiB (n_kept × model size) and otherwise warns and keeps only their mean:
        ``w_``/``V_`` are always the posterior means, and without samples ``predict``
        uses those (slightly less accurate: benchmarks/README.md). ``history_`` always
        records the exact average on ``eval_set``.
    factor_update : {"auto", "scalar", "block"}, default="auto"
        *ALS and MCMC.* How a feature's k factors are updated in a sweep. ``"scalar"``:
        one at a time, as libFM and myFM (O(k · nnz) per sweep). ``"block"``: all k at
        once from their joint conditional (ALS: the exact minimiser over the vector,
        i.e. block coordinate descent; MCMC: a block Gibbs step), O(k² · nnz) per sweep
        but the chain moves further per sweep. "auto": block for ALS, scalar for MCMC
        (the trade-off, measured, is in benchmarks/README.md).
    degree : int, default=2
        The highest order of interactions. 2 is the FM. 3 … 5 add, for each order m, a
        sum over every m-subset of a row's features, ``Σ_f Π v^{(m)}_{i,f} x_i`` with
        factors of their own (the higher-order FM of Blondel et al. 2016, by their
        ANOVA-kernel recursion in O(d² · k · nnz) per row). ``V_`` is then
        (n_features, degree − 1, n_factors), ``V_[:, m − 2]`` the order-m factors. Trained
        by the SGD family, row by row (``batch_size=1``), or by ALS (coordinate descent,
        Blondel et al.'s section 4, with per-row caches of n_rows · (d − 1)(d + 1) · k
        floats; :class:`FMClassifier`'s by probit EM, as its FM); MCMC is for degree 2.
        Its defaults differ where the FM's would keep the higher orders at 0:
        ``reg_factors=None`` is 0.01, and ``init_std="auto"`` starts each order m ≥ 3 so
        that its initial term has spread 0.3 (benchmarks/higher_order.py). Cost per row
        grows as degree² at large k (degree 5 is 7–10× an FM's epoch at k = 16); it
        over-fits sooner than the FM, so use ``early_stopping=True``.

    Attributes
    ----------
    w0_ : float
    w_ : ndarray of shape (n_features,)
    V_ : ndarray of shape (n_features, n_factors)
        For MCMC, the posterior means.
    history_ : FitHistory
        Per epoch or sweep: ``train_loss`` (mean ½(ŷ−y)²), ``valid["rmse"]``, ``seconds``.
    sparsity_ : dict
        Fraction of exactly-zero weights: ``{"linear": …, "factors": …}`` (of ``w_`` and
        ``V_``; what FTRL's L1 achieves).
    n_iter_ : int
    y_min_, y_max_ : float
    samples_ : list of FMParams
        *MCMC.* The kept posterior samples (empty unless kept; see ``keep_samples``).
    hyper_trace_ : dict of ndarray
        *MCMC.* The sampled hyper-parameters after every sweep: ``"alpha"`` (noise
        precision, shape (n_sweeps,)), ``"mu_w"``/``"lambda_w"`` (n_sweeps, n_groups),
        ``"mu_V"``/``"lambda_V"`` (n_sweeps, n_groups, n_factors), and ``"cutpoints"``
        (n_sweeps, 0) here, filled by :class:`FMOrdinalRegressor`. ``pandas.DataFrame(
        {"alpha": t["alpha"]})`` gives a trace table.
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only for DataFrame input)

    Examples
    --------
    >>> from fmlearn import FMRegressor
    >>> from fmlearn.datasets import make_recommendation
    >>> X, y, _ = make_recommendation(n_samples=3000, n_users=100, n_items=50, random_state=0)
    >>> model = FMRegressor(n_factors=4, solver="mcmc", max_iter=50, random_state=0)
    >>> model.fit(X[:2500], y[:2500]).V_.shape  # one vector of length 4 per feature
    (158, 4)
    >>> model.predict(X[2500:]).shape
    (500,)
    >>> bool(model.score(X[2500:], y[2500:]) > 0.5)  # R² on held-out rows
    True
    """

    _task_class = Regression
    _parameter_constraints: ClassVar[dict] = {
        **BaseFM._parameter_constraints,
        "clip_predictions": [BOOLEAN],
    }

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
        clip_predictions: bool = True,
        n_kept_samples: int | None = None,
        keep_samples: bool | str = "auto",
        factor_update: str = "auto",
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
        self.clip_predictions = clip_predictions
        self.n_kept_samples = n_kept_samples
        self.keep_samples = keep_samples
        self.factor_update = factor_update
        self.degree = degree

    def _make_task(self, family: str = "sgd") -> Regression:
        return Regression(type(self).__name__, family, clip=self.clip_predictions)

    @available_if(_online_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One pass over ``(X, y)``, continuing from the current model (online learning)."""
        return super().partial_fit(X, y, sample_weight)

    def predict(self, X, return_std: bool = False, relations=None):
        """Predicted targets, clipped to ``[y_min_, y_max_]`` if ``clip_predictions``.

        ``return_std=True`` (``solver="mcmc"`` with kept samples) also returns the
        standard deviation of the posterior predictive distribution of y: the spread of
        the kept samples' predictions and the sampled noise, ``√(Var_s ŷ_s + E_s 1/α_s)``.

        ``relations``: the rows' relation blocks, when the model was fitted with some.
        """
        if return_std:
            return self._predict_with_std(X, relations)
        raw = self._decision(X, relations)
        if self.clip_predictions:
            np.clip(raw, self.y_min_, self.y_max_, out=raw)
        return raw

    def _predict_with_std(self, X, relations=None):
        decide = self._decider(X, relations)
        samples = getattr(self, "samples_", None)
        if not samples:
            raise ValueError(
                "return_std=True needs the posterior samples: fit with solver='mcmc' and "
                f"keep_samples=True (this model: solver={self.solver!r}, "
                f"keep_samples={self.keep_samples})."
            )
        preds = np.stack([decide(p) for p in samples])
        mean = preds.mean(axis=0)
        alphas = self._solver_state.sample_alpha[-len(samples) :]
        noise = np.mean(1.0 / np.asarray(alphas))
        std = np.sqrt(preds.var(axis=0) + noise)
        if self.clip_predictions:
            np.clip(mean, self.y_min_, self.y_max_, out=mean)
        return mean, std
