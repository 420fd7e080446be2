"""The coordinate solvers: MCMC (Gibbs sampling of the Bayesian FM) and ALS.

Around ``kernels.coordinate.sweep`` this owns what happens between sweeps: averaging the
kept samples (MCMC predicts with the posterior mean of the prediction, as libFM and
myFM do), metrics of that running average on the eval sets, the hyper-parameter trace
and the divergence check. The chain (:class:`ChainState`) is the MCMC solver's state:
plain arrays, so that ``warm_start`` continues it and a model file stores it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from fmlearn._utils import format_bytes, physical_memory
from fmlearn._validation import csr_arrays
from fmlearn.kernels import anova_coordinate as AK
from fmlearn.kernels import coordinate as K
from fmlearn.kernels import relational as R
from fmlearn.models.hofm import HOFM
from fmlearn.solvers.base import (
    FitResult,
    Monitor,
    Solver,
    Stopwatch,
    TrainData,
    check_finite,
    register_solver,
    regularization,
    score_eval_sets,
)
from fmlearn.tasks import Task

#: ``keep_samples="auto"`` keeps the MCMC samples while they fit in this many bytes.
KEEP_SAMPLES_MAX_BYTES = 512 * 2**20
#: The hyper-parameters recorded per sweep in ``hyper_trace_``.
TRACE_NAMES = ("alpha", "mu_w", "lambda_w", "mu_V", "lambda_V", "cutpoints")


@dataclass
class CoordinateConfig:
    """Numbers and codes for the sweep, resolved from the estimator's parameters."""

    likelihood: int  # K.REGRESSION, K.PROBIT or K.ORDINAL
    sample: bool  # True: MCMC (draw); False: ALS (conditional mean)
    n_sweeps: int
    n_kept: int  # MCMC: the last n_kept sweeps of the chain are averaged
    rng: np.random.Generator | None = None
    first_sweep: int = 1
    reg_bias: float = 0.0
    reg_linear: float = 0.0
    reg_factors: float = 0.0
    fit_intercept: bool = True
    fit_linear: bool = True
    keep_samples: bool = False
    # each feature's k factors at once from their joint conditional (kernel docstring of
    # ``_block_update``) instead of one at a time
    block: bool = False
    # Hyperpriors of the Bayesian FM (libFM's fixed defaults): Gamma(α0/2, β0/2) on the
    # group precisions, N(μ0, 1/(γ0 λ)) on group means, Gamma(a0/2, b0/2) on the noise
    # precision α.
    alpha0: float = 1.0
    beta0: float = 1.0
    gamma0: float = 1.0
    mu0: float = 0.0
    noise_shape0: float = 1.0
    noise_rate0: float = 1.0

    def prior(self) -> np.ndarray:
        prior = np.empty(K.N_PRIOR, dtype=np.float64)
        prior[K.ALPHA0], prior[K.BETA0] = self.alpha0, self.beta0
        prior[K.GAMMA0], prior[K.MU0] = self.gamma0, self.mu0
        prior[K.NOISE_SHAPE0], prior[K.NOISE_RATE0] = self.noise_shape0, self.noise_rate0
        prior[K.REG_W0] = self.reg_bias  # w's and V's: per group, :func:`_fixed_strengths`
        return prior

    def codes(self) -> np.ndarray:
        codes = np.empty(K.N_CODES, dtype=np.int64)
        codes[K.TASK] = self.likelihood
        codes[K.SAMPLE] = int(self.sample)
        codes[K.FIT_INTERCEPT] = int(self.fit_intercept)
        codes[K.FIT_LINEAR] = int(self.fit_linear)
        codes[K.ADAPT] = 0
        codes[K.BLOCK] = int(self.block)
        return codes


@dataclass
class ChainState:
    """Where a Markov chain stands, and what it has produced so far.

    ``position`` is the current sample of the parameters; ``alpha`` (noise precision),
    ``mu_w``/``lam_w`` (n_groups,) and ``mu_v``/``lam_v`` (n_groups, k) the group
    hyper-parameters; ``cut``/``step`` the ordinal cutpoints and their Metropolis–Hastings
    step sizes (empty otherwise). ``mean`` is the float64 average of the ``n_averaged``
    kept samples; ``samples`` holds each of them when asked for, with its noise precision
    and cutpoints. ``trace`` records the hyper-parameters after every sweep.
    """

    position: object
    alpha: np.ndarray
    mu_w: np.ndarray
    lam_w: np.ndarray
    mu_v: np.ndarray
    lam_v: np.ndarray
    cut: np.ndarray
    step: np.ndarray
    n_averaged: int = 0
    mean: object = None
    mean_cut: np.ndarray | None = None
    samples: list = field(default_factory=list)
    sample_alpha: list[float] = field(default_factory=list)
    sample_cut: list[np.ndarray] = field(default_factory=list)
    trace: dict[str, list[np.ndarray]] = field(default_factory=dict)

    @classmethod
    def fresh(cls, position, n_groups: int, cut: np.ndarray | None = None) -> ChainState:
        k = position.V.shape[1]
        cut = np.zeros(0) if cut is None else np.asarray(cut, dtype=np.float64)
        return cls(
            position,
            np.ones(1),
            np.zeros(n_groups),
            np.ones(n_groups),
            np.zeros((n_groups, k)),
            np.ones((n_groups, k)),
            cut.copy(),
            np.full(cut.shape, 0.05),
        )

    @property
    def n_groups(self) -> int:
        return self.mu_w.shape[0]

    def hyper(self) -> tuple:
        """The kernel's ``hyper`` tuple, updated in place by each sweep."""
        return (self.alpha, self.mu_w, self.lam_w, self.mu_v, self.lam_v, self.cut, self.step)

    def copy(self) -> ChainState:
        return ChainState(
            self.position.copy(),
            *(a.copy() for a in self.hyper()),
            n_averaged=self.n_averaged,
            mean=None if self.mean is None else self.mean.copy(),
            mean_cut=None if self.mean_cut is None else self.mean_cut.copy(),
            samples=[s.copy() for s in self.samples],
            sample_alpha=list(self.sample_alpha),
            sample_cut=[c.copy() for c in self.sample_cut],
            trace={name: list(values) for name, values in self.trace.items()},
        )

    def add_sample(self, keep: bool) -> None:
        """Fold the current position into the running mean (Welford's update, float64)."""
        params = self.position
        self.n_averaged += 1
        self.sample_alpha.append(float(self.alpha[0]))
        if self.mean is None:
            self.mean = params.astype(np.float64)
            self.mean_cut = self.cut.copy()
        else:
            for m, p in zip(self.mean.as_tuple(), params.as_tuple(), strict=True):
                m += (p - m) / self.n_averaged
            self.mean_cut += (self.cut - self.mean_cut) / self.n_averaged
        if keep:
            self.samples.append(params.copy())
            self.sample_cut.append(self.cut.copy())

    def posterior_mean(self, dtype):
        """The mean of the kept samples so far (the current position before any)."""
        return self.mean.astype(dtype) if self.mean is not None else self.position.copy()

    def fitted_attributes(self) -> dict:
        """MCMC's public results: ``samples_``, ``hyper_trace_`` (and ``cutpoints_``)."""
        attributes = {"samples_": self.samples, "hyper_trace_": self.trace_arrays()}
        if self.cut.size:
            attributes["cutpoints_"] = (
                self.mean_cut if self.mean_cut is not None else self.cut
            ).copy()
        return attributes

    def record_trace(self) -> None:
        for name, value in zip(TRACE_NAMES, (self.alpha[0], *self.hyper()[1:6]), strict=True):
            self.trace.setdefault(name, []).append(np.array(value, dtype=np.float64))

    def trace_arrays(self) -> dict[str, np.ndarray]:
        """``{name: array}`` with one row per sweep (``hyper_trace_``)."""
        shapes = {
            "alpha": (),
            "mu_w": self.mu_w.shape,
            "lambda_w": self.lam_w.shape,
            "mu_V": self.mu_v.shape,
            "lambda_V": self.lam_v.shape,
            "cutpoints": self.cut.shape,
        }
        out = {}
        for name in TRACE_NAMES:
            values = self.trace.get(name, [])
            out[name] = np.array(values, dtype=np.float64).reshape(len(values), *shapes[name])
        return out

    # ------------------------------------------------------------------------- file
    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(metadata, arrays)`` for the model file."""
        arrays = {name: a for name, a in zip(_HYPER, self.hyper(), strict=True)}
        arrays.update(_prefixed("position/", self.position.arrays()))
        if self.mean is not None:
            arrays.update(_prefixed("mean/", self.mean.arrays()))
            arrays["mean_cut"] = self.mean_cut
        for j, sample in enumerate(self.samples):
            arrays.update(_prefixed(f"samples/{j}/", sample.arrays()))
        arrays["sample_alpha"] = np.asarray(self.sample_alpha, dtype=np.float64)
        arrays["sample_cut"] = np.asarray(self.sample_cut, dtype=np.float64).reshape(
            len(self.samples), self.cut.shape[0]
        )
        arrays.update(_prefixed("trace/", self.trace_arrays()))
        meta = {"n_averaged": self.n_averaged, "n_samples": len(self.samples)}
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict, model, params) -> ChainState:
        """The inverse of :meth:`to_arrays`; ``ValueError`` if parts are missing or wrong."""
        n = params.n_features

        def load(prefix: str):
            return model.params_from_arrays(_unprefixed(prefix, arrays), n)

        n_samples, n_averaged = int(meta["n_samples"]), int(meta["n_averaged"])
        chain = cls(load("position/"), *(arrays[name] for name in _HYPER))
        chain.n_averaged = n_averaged
        if n_averaged:
            chain.mean, chain.mean_cut = load("mean/"), arrays["mean_cut"]
        chain.samples = [load(f"samples/{j}/") for j in range(n_samples)]
        chain.sample_alpha = [float(a) for a in arrays["sample_alpha"]]
        if len(chain.sample_alpha) != n_averaged:
            raise ValueError(f"sample_alpha has {len(chain.sample_alpha)} values, not {n_averaged}")
        chain.sample_cut = list(arrays["sample_cut"].reshape(n_samples, chain.cut.shape[0]))
        traced = _unprefixed("trace/", arrays)
        chain.trace = {name: list(traced[name]) for name in TRACE_NAMES if name in traced}
        return chain


_HYPER = ("alpha", "mu_w", "lam_w", "mu_v", "lam_v", "cut", "step")


def _prefixed(prefix: str, arrays: dict) -> dict:
    return {prefix + name: a for name, a in arrays.items()}


def _unprefixed(prefix: str, arrays: dict) -> dict:
    return {name[len(prefix) :]: a for name, a in arrays.items() if name.startswith(prefix)}


# ---------------------------------------------------------------------------- config
def make_config(
    params: dict,
    task: Task,
    *,
    sample: bool,
    rng,
    first_iteration: int,
    n_iterations: int,
    n_threads: int,
    n_features: int,
) -> CoordinateConfig:
    name = "mcmc" if sample else "als"
    if task.likelihood is None:
        raise ValueError(f"{task.owner} has no likelihood for solver={name!r}.")
    n_kept = _n_kept(params.get("n_kept_samples"), n_iterations) if sample else 0
    update = params.get("factor_update", "auto")
    return CoordinateConfig(
        likelihood=task.likelihood,
        sample=sample,
        n_sweeps=int(n_iterations),
        n_kept=n_kept,
        rng=rng,
        first_sweep=first_iteration,
        # MCMC samples the regularisation; ALS uses fixed strengths, as libFM
        **({} if sample else regularization(params, task)),
        fit_intercept=bool(params.get("fit_intercept", True)) and task.has_intercept,
        fit_linear=bool(params.get("fit_linear", True)),
        keep_samples=sample
        and _keep_samples(params.get("keep_samples", "auto"), n_kept, n_features, params),
        # "auto": ALS minimises over each feature's whole factor vector (block coordinate
        # descent converges in far fewer sweeps); MCMC keeps libFM's scalar Gibbs steps,
        # O(k nnz) per sweep instead of O(k² nnz)
        block=update == "block" or (update == "auto" and not sample),
    )


def _n_kept(n_kept_samples, n_sweeps: int) -> int:
    """MCMC samples averaged: the given number, or all but the first 10% of the sweeps."""
    if n_kept_samples is None:
        return max(1, n_sweeps - n_sweeps // 10)
    if n_kept_samples > n_sweeps:
        raise ValueError(
            f"n_kept_samples={n_kept_samples} is larger than max_iter={n_sweeps}: only "
            f"{n_sweeps} samples are drawn. Lower n_kept_samples or raise max_iter."
        )
    return int(n_kept_samples)


def _keep_samples(keep, n_kept: int, n_features: int, params: dict) -> bool:
    """Resolve ``keep_samples``: "auto" keeps them unless they would take > 512 MiB."""
    if keep != "auto":
        return bool(keep)
    itemsize = np.dtype(params["dtype"]).itemsize
    size = n_kept * (n_features * (params["n_factors"] + 1) + 1) * itemsize
    if size <= KEEP_SAMPLES_MAX_BYTES:
        return True
    warnings.warn(
        f"keep_samples='auto': {n_kept} samples of this model would take "
        f"{size / 2**30:.1f} GiB, so only their mean is kept and predict uses the posterior "
        "mean of the parameters (slightly less accurate than averaging predictions). "
        "Set keep_samples=True to keep them anyway, or False to silence this.",
        UserWarning,
        stacklevel=5,  # _keep_samples ← make_config ← BaseFM._train ← fit ← the caller
    )
    return False


# ----------------------------------------------------------------------------- solve
def solve(
    data: TrainData,
    *,
    task: Task,
    model,
    params,
    config: CoordinateConfig,
    state: ChainState | None,
    callbacks=(),
) -> FitResult:
    """Run ``config.n_sweeps`` sweeps; ``params`` and ``state`` are updated in place.

    MCMC continues ``state`` (a chain from an earlier fit: it starts from the chain's
    position, not from ``params``) or starts a chain at ``params``; it averages the
    predictions of the last ``n_kept`` sweeps on every eval set (on the task's averaging
    scale: probabilities for classification) and returns the posterior-mean parameters
    with the chain as state. ALS returns the last parameters and no state. Relation
    blocks (``data.relations``) are swept by kernels/relational.py after X's features,
    each block row's sums computed once. A higher-order
    FM (ALS) sweeps with kernels/anova_coordinate.py (:func:`_solve_anova`).
    """
    if isinstance(model, HOFM):
        return _solve_anova(data, task=task, model=model, params=params, config=config,
                            callbacks=callbacks)  # fmt: skip
    groups = data.groups if data.groups is not None else np.zeros(params.n_features, np.int64)
    n_groups = int(groups.max()) + 1 if groups.size else 1
    chain = _start(state, params, n_groups, task, data.y, config.sample)
    if not config.sample:
        _fixed_strengths(chain, config, n_groups, data.groups is not None)
    if not config.keep_samples:  # a continued chain: its old samples no longer describe it
        chain.samples.clear()
        chain.sample_cut.clear()
    params = chain.position
    Xc = _columns(data.X)
    n, k = data.n_rows, params.n_factors
    weights = data.kernel_weights()
    weight_total = float(data.sample_weight.sum()) or 1.0
    Q, e, t = np.empty((n, k)), np.empty(n), np.empty(n)
    prior, codes = config.prior(), config.codes()
    rng = config.rng
    rel = data.relations
    if rel is not None and config.block:
        _check_joint_sums_fit(rel, k)
    if rel is None:
        K.prepare_caches(rng, data.arrays, data.y, codes, *params.as_tuple(), Q, e, t, chain.cut)
    else:
        R.prepare_caches(rng, data.arrays, rel.links, rel.Zr, data.y, codes, *params.as_tuple(),
                         Q, e, t, chain.cut)  # fmt: skip
    metrics = task.metrics()
    averages = [np.zeros(es.X.shape[0]) for es in data.eval_sets]
    n_averaged_eval = 0
    remedy = "Try stronger regularisation or scaled features."
    with Monitor(callbacks, config.first_sweep, config.n_sweeps, "sweep") as monitor:
        last = monitor.last
        for sweep in monitor.iterations():
            with Stopwatch() as clock:
                keep = config.sample and sweep > last - config.n_kept
                # ordinal cutpoint steps adapt during burn-in only: the kept chain is Markov
                codes[K.ADAPT] = int(not keep and chain.n_averaged == 0)
                sse = K.sweep(
                    rng,
                    data.arrays,
                    Xc,
                    data.y,
                    weights,
                    params.as_tuple(),
                    chain.hyper(),
                    groups,
                    n_groups,
                    prior,
                    codes,
                    Q,
                    e,
                    t,
                )
                if rel is not None:  # the blocks' features, from per-block-row sums
                    sse = R.relation_sweep(rng, rel.links, rel.Zr, rel.Zc, rel.row_bounds,
                                           rel.feature_bounds, weights, params.as_tuple(),
                                           chain.hyper(), groups, codes, Q, e)  # fmt: skip
                mean_loss = 0.5 * sse / weight_total
                check_finite(sweep, "sweep", mean_loss, params, remedy)
                if config.sample:
                    chain.record_trace()
                if keep:
                    chain.add_sample(config.keep_samples)
                    n_averaged_eval += 1
                predictions = []
                for j, es in enumerate(data.eval_sets):
                    current = task.to_mean_scale(es.decision(model, params), chain.cut)
                    if keep:
                        averages[j] += (current - averages[j]) / n_averaged_eval
                        current = averages[j]
                    predictions.append(np.array(task.from_mean_scale(current)))  # a copy
                scores = score_eval_sets(data.eval_sets, predictions, metrics)
            if monitor.record(sweep, params, chain, mean_loss, scores, clock.seconds, predictions):
                break
        if not config.sample:
            return monitor.finish(FitResult(params, None, monitor.history))
        if chain.n_averaged == 0:
            warnings.warn(
                "MCMC stopped during burn-in: no sweep was averaged, so the model is the "
                "last sample of the chain. Let it run longer or keep more samples.",
                UserWarning,
                stacklevel=4,  # solve ← BaseFM._train ← fit ← the caller
            )
        return monitor.finish(FitResult(chain.posterior_mean(params.dtype), chain, monitor.history))


def _check_joint_sums_fit(rel, k: int) -> None:
    """Joint updates of block features keep k² + 4k + 3 float64 sums per block row of
    the largest block (kernels/relational._block_joint)."""
    rows = int(np.diff(rel.row_bounds).max())
    _refuse_over_half_memory(
        rows * (k * k + 4 * k + 3) * 8,
        f"factor_update='block' with relation blocks keeps {{}} of sums ({rows:,} block rows "
        f"× {k}² factors)",
        "Use factor_update='scalar' (k numbers per block row) or a lower n_factors.",
    )


def _refuse_over_half_memory(need: int, what: str, remedy: str) -> None:
    """Refuse, before the first sweep, caches that would take more than half of this
    machine's memory; ``what`` says what they are, ``{}`` standing for their size."""
    memory = physical_memory()
    if memory is not None and need > memory // 2:
        raise MemoryError(
            f"{what.format(format_bytes(need))}; this machine has {format_bytes(memory)}. " + remedy
        )


def _columns(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSC triplet the sweeps walk feature by feature, in the kernels' dtypes."""
    return csr_arrays(X.tocsc())  # the same three arrays, of the transposed layout


def _solve_anova(data: TrainData, *, task, model, params, config, callbacks) -> FitResult:
    """ALS sweeps of a higher-order FM: each parameter set to its exact coordinate
    minimiser, with per-row caches of the ANOVA polynomials. Classification is probit
    EM, as for the FM: before each sweep the targets become the latent scores' expected
    values given the labels and ŷ (``kernels.coordinate.update_latent``)."""
    if config.sample or task.likelihood not in (K.REGRESSION, K.PROBIT):
        raise ValueError(
            f"degree={model.degree} (a higher-order FM) is trained by ALS for regression "
            "and two-class classification only (not MCMC, not ordinal); use ALS or the SGD "
            "family (solver='adagrad')."
        )
    if data.groups is not None or any(np.ndim(r) for r in (config.reg_linear, config.reg_factors)):
        raise ValueError(
            f"groups and per-group reg_linear/reg_factors are for degree 2; degree={model.degree} "
            "with ALS takes one strength each."
        )
    n, k, orders = data.n_rows, params.n_factors, model.degree - 1
    _refuse_over_half_memory(
        n * orders * (orders + 2) * k * 8,
        f"ALS for degree {model.degree} keeps {{}} of per-row caches ({n:,} rows × {orders} "
        f"orders × {orders + 2} polynomials × {k} factors)",
        "Use the SGD family, fewer rows or a lower n_factors.",
    )
    Xc = _columns(data.X)
    E = np.empty((n, orders, orders + 2, k))
    e = np.empty(n)
    w0, w, V = params.as_tuple()
    probit = task.likelihood == K.PROBIT
    t = np.array(data.y, dtype=np.float64)  # the targets: the latent scores for probit
    AK.anova_caches(data.arrays, t, w0, w, V, E, e)
    codes, cut = config.codes(), task.initial_link_params(data.y)
    regs = np.array([config.reg_bias, config.reg_linear, config.reg_factors], dtype=np.float64)
    weights = data.kernel_weights()
    weight_total = float(data.sample_weight.sum()) or 1.0
    metrics = task.metrics()
    with Monitor(callbacks, config.first_sweep, config.n_sweeps, "sweep") as monitor:
        for sweep in monitor.iterations():
            with Stopwatch() as clock:
                if probit:  # E-step: e = ŷ − t stays exact, t moves
                    K.update_latent(config.rng, data.y, codes, e, t, cut)
                sse = AK.anova_als_sweep(Xc, weights, w0, w, V, E, e, regs,
                                         config.fit_intercept, config.fit_linear)  # fmt: skip
                mean_loss = 0.5 * sse / weight_total
                check_finite(sweep, "sweep", mean_loss, params, "Try stronger regularisation.")
                predictions = [es.decision(model, params) for es in data.eval_sets]
                scores = score_eval_sets(data.eval_sets, predictions, metrics)
            if monitor.record(sweep, params, None, mean_loss, scores, clock.seconds, predictions):
                break
        return monitor.finish(FitResult(params, None, monitor.history))


def _fixed_strengths(chain: ChainState, config: CoordinateConfig, n_groups: int, grouped: bool):
    """ALS: the sweep's group priors N(0, 1/λ_g) set to the fixed strengths, one per group
    (``reg_linear``/``reg_factors`` as lists, libFM's per-group ``-regular``) or the same
    for all. MCMC samples them instead."""
    for name, value, target in (
        ("reg_linear", config.reg_linear, chain.lam_w),
        ("reg_factors", config.reg_factors, chain.lam_v),
    ):
        if np.ndim(value) == 1 and len(value) != n_groups:
            given = (
                f"groups name {n_groups}"
                if grouped
                else "no groups were given (fit(..., groups=…))"
            )
            raise ValueError(
                f"{name} has {len(value)} per-group values but {given}: give one value per "
                "group, or one value for all."
            )
        values = np.broadcast_to(np.asarray(value, dtype=np.float64), (n_groups,))
        target[...] = values if target.ndim == 1 else values[:, None]
    chain.mu_w[...] = 0.0
    chain.mu_v[...] = 0.0


def _start(state, params, n_groups: int, task: Task, y, sample: bool) -> ChainState:
    """The chain to continue (MCMC with a compatible state) or a fresh one at ``params``."""
    if sample and isinstance(state, ChainState):
        if state.n_groups != n_groups:
            raise ValueError(
                f"Cannot continue the chain: it has {state.n_groups} groups, groups has "
                f"{n_groups}. Set warm_start=False to start afresh."
            )
        return state
    return ChainState.fresh(params, n_groups, task.initial_link_params(y))


def _state_from_arrays(meta, arrays, model, params) -> ChainState:
    return ChainState.from_arrays(meta, arrays, model, params)


register_solver(
    Solver(
        name="als",
        family="als",
        solve=solve,
        make_config=partial(make_config, sample=False),
        parameters=frozenset({"reg_bias", "reg_linear", "reg_factors", "factor_update"}),
        unit="sweep",
        uses_groups=True,
        describe="alternating least squares: exact coordinate (or block) minimisation",
    )
)
register_solver(
    Solver(
        name="mcmc",
        family="mcmc",
        solve=solve,
        make_config=partial(make_config, sample=True),
        parameters=frozenset({"n_kept_samples", "keep_samples", "factor_update"}),
        state_from_arrays=_state_from_arrays,
        unit="sweep",
        uses_groups=True,
        describe="Gibbs sampling of the Bayesian FM (libFM's -method mcmc)",
    )
)
