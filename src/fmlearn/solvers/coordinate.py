"""The sweep loop of the coordinate solvers (MCMC Gibbs sampling and ALS).

Around ``kernels.coordinate.sweep`` it owns what happens between sweeps: seeding,
averaging the kept samples (MCMC predicts with the posterior mean of the prediction, as
libFM and myFM do), metrics of the running average on the evaluation sets, progress lines
and the divergence check. The chain's state (hyper-parameters, averages, kept samples) is
plain data so that ``warm_start`` can continue a chain and a model file can store it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from fmlearn._params import FitHistory, FMParams
from fmlearn._progress import Progress
from fmlearn._validation import csr_arrays
from fmlearn.kernels import coordinate as K
from fmlearn.solvers.sgd import DivergenceError, EvalSet, decision_values

__all__ = ["ChainState", "CoordinateConfig", "solve"]


@dataclass
class CoordinateConfig:
    """Numbers and codes for the sweep, resolved by the estimator."""

    task: int  # K.REGRESSION or K.PROBIT
    sample: bool  # True: MCMC (draw); False: ALS (conditional mean)
    n_sweeps: int
    n_kept: int  # MCMC: the last n_kept sweeps of the chain are averaged
    reg_bias: float = 0.0
    reg_linear: float = 0.0
    reg_factors: float = 0.0
    fit_intercept: bool = True
    fit_linear: bool = True
    keep_samples: bool = False
    verbose: int = 0
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
        prior[K.REG_W0] = self.reg_bias
        prior[K.REG_LINEAR] = self.reg_linear
        prior[K.REG_FACTORS] = self.reg_factors
        return prior

    def codes(self) -> np.ndarray:
        codes = np.empty(K.N_CODES, dtype=np.int64)
        codes[K.TASK] = self.task
        codes[K.SAMPLE] = int(self.sample)
        codes[K.FIT_INTERCEPT] = int(self.fit_intercept)
        codes[K.FIT_LINEAR] = int(self.fit_linear)
        codes[K.ADAPT] = 0
        codes[K.BLOCK] = int(self.block)
        return codes


@dataclass
class ChainState:
    """Where a chain stands: its hyper-parameters and the running posterior means.

    ``mean`` is the average of the kept samples' parameters (``n_averaged`` of them);
    ``samples`` holds each kept sample when ``keep_samples`` was asked for.
    """

    alpha: np.ndarray  # (1,) noise precision
    mu_w: np.ndarray  # (n_groups,)
    lam_w: np.ndarray
    mu_v: np.ndarray  # (n_groups, k)
    lam_v: np.ndarray
    cut: np.ndarray  # ordinal cutpoints (n_classes − 1,); empty otherwise
    step: np.ndarray  # their Metropolis–Hastings step sizes
    n_averaged: int = 0
    mean: FMParams | None = None
    samples: list[FMParams] = field(default_factory=list)
    sample_alpha: list[float] = field(default_factory=list)  # noise precision per kept sample
    sample_cut: list[np.ndarray] = field(default_factory=list)  # cutpoints per kept sample
    mean_cut: np.ndarray | None = None  # running mean of the cutpoints
    # the averaged predictions on the eval sets of the last fit, on the link's scale (not
    # saved: a by-product for callers that, like libFM, predict one known test set)
    eval_average: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def fresh(cls, n_groups: int, n_factors: int, cut: np.ndarray | None = None) -> ChainState:
        cut = np.zeros(0) if cut is None else np.asarray(cut, dtype=np.float64)
        return cls(
            np.ones(1),
            np.zeros(n_groups),
            np.ones(n_groups),
            np.zeros((n_groups, n_factors)),
            np.ones((n_groups, n_factors)),
            cut.copy(),
            np.full(cut.shape, 0.05),
        )

    @property
    def n_groups(self) -> int:
        return self.mu_w.shape[0]

    def hyper(self) -> tuple:
        return (self.alpha, self.mu_w, self.lam_w, self.mu_v, self.lam_v, self.cut, self.step)

    def copy(self) -> ChainState:
        return ChainState(
            *(a.copy() for a in self.hyper()),
            n_averaged=self.n_averaged,
            mean=None if self.mean is None else self.mean.copy(),
            samples=[s.copy() for s in self.samples],
            sample_alpha=list(self.sample_alpha),
            sample_cut=[c.copy() for c in self.sample_cut],
            mean_cut=None if self.mean_cut is None else self.mean_cut.copy(),
        )

    def add_sample(self, params: FMParams, keep: bool) -> None:
        """Fold ``params`` into the running mean (Welford's update, in float64)."""
        self.n_averaged += 1
        self.sample_alpha.append(float(self.alpha[0]))
        if self.mean is None:
            self.mean = FMParams(*(p.astype(np.float64) for p in params.as_tuple()))
            self.mean_cut = self.cut.copy()
        else:
            for m, p in zip(self.mean.as_tuple(), params.as_tuple(), strict=True):
                m += (p - m) / self.n_averaged
            self.mean_cut += (self.cut - self.mean_cut) / self.n_averaged
        if keep:
            self.samples.append(params.copy())
            self.sample_cut.append(self.cut.copy())


MetricsFn = Callable[[np.ndarray, np.ndarray, np.ndarray], dict]


def solve(
    X: sp.csr_matrix,
    y: np.ndarray,
    sample_weight: np.ndarray,
    params: FMParams,
    chain: ChainState,
    groups: np.ndarray,
    config: CoordinateConfig,
    rng: np.random.Generator,
    eval_sets: list[EvalSet] = (),
    metrics_fn: MetricsFn | None = None,
    history: FitHistory | None = None,
    link: Callable[[np.ndarray], np.ndarray] | None = None,
    inverse_link: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[FMParams, ChainState, FitHistory]:
    """Run ``config.n_sweeps`` sweeps; ``params`` and ``chain`` are updated in place.

    MCMC averages the predictions of the last ``n_kept`` sweeps on every evaluation set
    (on the probability scale given by ``link`` for classification) and records their
    metrics each sweep; the returned ``chain.mean`` holds the averaged parameters. ALS
    records the metrics of the current parameters.
    """
    history = history if history is not None else FitHistory()
    Xr = csr_arrays(X)
    Xc_matrix = X.tocsc()
    Xc = (
        Xc_matrix.indptr.astype(np.int64),
        Xc_matrix.indices.astype(np.int32),
        Xc_matrix.data,
    )
    n = X.shape[0]
    unit = np.all(sample_weight == 1.0)
    weights = np.empty(0, dtype=np.float64) if unit else sample_weight
    weight_total = float(sample_weight.sum()) or 1.0
    Q = np.empty((n, params.n_factors), dtype=np.float64)
    e = np.empty(n, dtype=np.float64)
    t = np.empty(n, dtype=np.float64)
    prior, codes = config.prior(), config.codes()
    K.prepare_caches(rng, Xr, y, codes, *params.as_tuple(), Q, e, t, chain.cut)
    groups = groups.astype(np.int64)
    link = link or (lambda z: z)
    inverse_link = inverse_link or (lambda z: z)
    averages = [np.zeros(es.X.shape[0]) for es in eval_sets]
    n_avg_eval = 0
    first = len(history) + 1
    last = first + config.n_sweeps - 1
    progress = Progress(first, last, enabled=bool(config.verbose), unit="sweep")
    try:
        for sweep in range(first, last + 1):
            t_start = time.perf_counter()
            keep = config.sample and sweep > last - config.n_kept
            # ordinal cutpoint steps adapt during burn-in only, so the kept chain is Markov
            codes[K.ADAPT] = int(not keep and chain.n_averaged == 0)
            sse = K.sweep(
                rng, Xr, Xc, y, weights, params.as_tuple(), chain.hyper(), groups,
                chain.n_groups, prior, codes, Q, e, t,
            )  # fmt: skip
            mean_loss = 0.5 * sse / weight_total
            if not (
                np.isfinite(mean_loss) and all(np.isfinite(p).all() for p in params.as_tuple())
            ):
                raise DivergenceError(
                    f"Training diverged at sweep {sweep}: the parameters became NaN or infinite. "
                    "Try stronger regularisation or scaled features. The estimator was left "
                    "unchanged."
                )
            if keep:
                chain.add_sample(params, config.keep_samples)
            scores = {}
            if eval_sets:
                if keep:
                    n_avg_eval += 1
                for j, es in enumerate(eval_sets):
                    current = link(decision_values(es.X, params))
                    if keep:
                        averages[j] += (current - averages[j]) / n_avg_eval
                        current = averages[j]
                    raw = inverse_link(current)
                    suffix = "" if j == 0 else f"_{j}"
                    for name, value in metrics_fn(raw, es.y, es.sample_weight).items():
                        scores[name + suffix] = value
            seconds = time.perf_counter() - t_start
            history.append(sweep, mean_loss, seconds, scores)
            progress.update(sweep, mean_loss, scores, seconds)
    finally:
        progress.close()
    if config.sample and n_avg_eval:
        # the posterior-mean prediction on each evaluation set (libFM's test output)
        chain.eval_average = [a.copy() for a in averages]
    return params, chain, history
