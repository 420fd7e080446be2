"""AdaGrad FMClassifier on generated CTR-like data: rows/s per epoch and peak memory.

Data (generated, vectorised numpy, no densifying): ``--rows`` rows (default 1,000,000) ×
39 one-hot fields (as Criteo's 13 bucketised + 26 categorical fields), 1,000,000 features
in all. Field cardinalities are Zipf-like (∝ rank^−1.2, at least 4, summing to exactly
1,000,000), ids within a field have popularity ≈ 1/(rank+1) (log-uniform draw), scattered
over the field's columns by a random permutation (as hashed ids are). The CSR triplet is
built directly: ``indptr = arange(0, 39 n + 1, 39)``, ``indices`` (int32, sorted within a
row because field offsets increase), ``data`` = ones in the fit dtype. Labels: Bernoulli
of σ(planted logit), a linear + rank-4 pairwise FM on 8 mid-sized fields; CTR ≈ 25 %.

Model: ``FMClassifier(solver="adagrad", n_factors=16, max_iter=--epochs, tol=None,
random_state=0)``, ``shuffle`` default (True), default learning rate and regularisation.

Each configuration (dtype float64/float32 × n_jobs 1/2; n_jobs 2 = Hogwild!) runs in its
own fresh Python process so that ``VmHWM`` (the process's peak RSS, which never goes
down) belongs to that configuration alone. In the worker:

1. import fmlearn, then a tiny warm-up fit with the same dtype/n_jobs so numba's kernels
   are compiled or loaded from cache → **baseline RSS** (Python + numpy/scipy/sklearn +
   numba + LLVM + compiled kernels);
2. generate the data → RSS after generation;
3. ``fit`` → **peak RSS**.

Columns:

* ``rows/s (epoch)`` — rows / the fastest epoch, timed by a :class:`fmlearn.callbacks.Timer`
  passed as ``fit(..., callbacks=[timer])`` (an epoch of ``fit``: shuffling permutation +
  kernel + divergence check + per-epoch bookkeeping; earlier versions read the same span,
  less the bookkeeping, from ``history_.seconds``, which the log still shows).
  ``rows/s (fit)`` — rows × epochs / whole ``fit`` wall time (input validation,
  initialisation included).
* ``CPU/wall`` — process CPU time / wall time of the fit: ≈ 1 on one thread; with
  ``n_jobs=2`` it shows whether the second thread actually got a core (shared machine).
* ``CSR MiB`` — ``data + indices + indptr`` bytes; ``model MiB`` — ``w0, w, V`` plus the
  optimiser state (AdaGrad's Σg² for each), computed from the public parameters:
  ``fmlearn.solvers.sgd.N_STATE_SLOTS[OPTIMIZERS[SOLVER]]`` slots (1), each the size of
  ``w_`` + ``V_`` + one bias; ``base MiB`` baseline RSS; ``peak MiB`` ``VmHWM`` at the
  end.
* ``peak/(CSR+model)`` — peak RSS / (CSR + model); ``excl. base`` — (peak − baseline) /
  (CSR + model): what the data and the fit cost beyond the interpreter and the JIT.
* ``train logloss`` — ``history_.train_loss`` of the last epoch; ``AUC`` on 100,000 fresh
  rows from the same generator (sanity: the fit learns the planted signal);
  ``oracle AUC`` that of the planted logit itself (the best any model can do).

Run from the repository root::

    python benchmarks/ctr_adagrad.py               # 1M rows, 4 configurations (~2-4 min)
    python benchmarks/ctr_adagrad.py --quick       # 100k rows
    python benchmarks/ctr_adagrad.py --configs float32:2 --epochs 3 --rows 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
from _machine import log, machine_line, peak_rss_mib

N_FIELDS = 39
N_FEATURES = 1_000_000
N_FACTORS = 16
SOLVER = "adagrad"
PLANTED_FIELDS = tuple(range(8, 16))
PLANTED_RANK = 4
DEFAULT_CONFIGS = "float64:1,float64:2,float32:1,float32:2"

# Targets from the issue.
TARGET_ROWS_S = 1e6
TARGET_RSS_RATIO = 2.0


def rss_now_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --------------------------------------------------------------------------- data
def field_sizes(n_fields: int = N_FIELDS, n_features: int = N_FEATURES) -> np.ndarray:
    """Zipf-like cardinalities (∝ rank^−1.2, each ≥ 4) that sum to exactly n_features."""
    raw = 1.0 / np.arange(1, n_fields + 1) ** 1.2
    sizes = np.maximum(4, np.floor(raw / raw.sum() * n_features)).astype(np.int64)
    sizes[0] += n_features - sizes.sum()
    return sizes


@dataclass
class World:
    """What stays fixed across samples: fields, id scattering and the planted model."""

    sizes: np.ndarray
    offsets: np.ndarray
    perms: list
    bias: float
    w: dict
    V: dict


def make_world(seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    sizes = field_sizes()
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    perms = [rng.permutation(s).astype(np.int32) for s in sizes]
    w = {f: rng.normal(0.0, 0.4, sizes[f]) for f in PLANTED_FIELDS}
    V = {f: rng.normal(0.0, 0.6 / PLANTED_RANK**0.5, (sizes[f], PLANTED_RANK)) for f in w}
    return World(sizes, offsets, perms, -1.3, w, V)


def draw(world: World, n: int, seed: int, dtype=np.float64):
    """``(data, indices, indptr), y, logit`` for n rows: one id per field, y ~ σ(logit)."""
    rng = np.random.default_rng(seed)
    indices = np.empty((n, N_FIELDS), dtype=np.int32)
    logit = np.full(n, world.bias)
    q = np.zeros((n, PLANTED_RANK))
    squares = np.zeros(n)
    for f, size in enumerate(world.sizes):
        # log-uniform draw: P(id = r) ≈ 1/(r + 1), the most popular ids first …
        u = rng.random(n)
        ids = np.exp(u * np.log(size + 1.0)).astype(np.int64) - 1
        np.minimum(ids, size - 1, out=ids)
        ids = world.perms[f][ids]  # … then scattered over the field's columns
        indices[:, f] = ids + world.offsets[f]
        if f in world.w:
            logit += world.w[f][ids]
            v = world.V[f][ids]
            q += v
            squares += np.einsum("ij,ij->i", v, v)
    logit += 0.5 * (np.einsum("ij,ij->i", q, q) - squares)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    indptr = np.arange(0, N_FIELDS * n + 1, N_FIELDS, dtype=np.int64)
    data = np.ones(n * N_FIELDS, dtype=dtype)
    return (data, indices.reshape(-1), indptr), y, logit


def as_csr(triplet, n_rows, n_features=N_FEATURES):
    import scipy.sparse as sp

    X = sp.csr_matrix(triplet, shape=(n_rows, n_features), copy=False)
    X.has_sorted_indices = True  # true by construction: field offsets increase
    X.has_canonical_format = True  # one id per field: no duplicates
    return X


# --------------------------------------------------------------------------- worker
def worker(dtype: str, n_jobs: int, rows: int, epochs: int, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    from fmlearn import FMClassifier
    from fmlearn.callbacks import Timer
    from fmlearn.solvers.sgd import N_STATE_SLOTS, OPTIMIZERS

    world = make_world(seed)
    np_dtype = np.dtype(dtype).type

    def estimator(max_iter):
        return FMClassifier(
            solver=SOLVER, n_factors=N_FACTORS, max_iter=max_iter, tol=None,
            random_state=0, dtype=dtype, n_jobs=n_jobs,
        )  # fmt: skip

    # Warm-up: compile / load numba's cache for this dtype and thread count, on a tiny
    # problem (100 features) so that no model-sized memory is in the baseline.
    small, ys, _ = draw(world, 5000, seed + 99, np_dtype)
    small = (small[0], small[1] % 100, small[2])
    estimator(1).fit(as_csr(small, 5000, n_features=100), ys)
    del small, ys
    base_max, base_now = peak_rss_mib(), rss_now_mib()

    t = time.perf_counter()
    triplet, y, _ = draw(world, rows, seed + 1, np_dtype)
    X = as_csr(triplet, rows)
    gen_s = time.perf_counter() - t
    gen_max, gen_now = peak_rss_mib(), rss_now_mib()
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    log(
        f"  [{dtype} n_jobs={n_jobs}] generated {rows:,} rows in {gen_s:.1f} s "
        f"(CSR {csr_bytes / 2**20:.0f} MiB, indptr {X.indptr.dtype}, CTR {y.mean():.3f}); "
        f"RSS {gen_now:.0f} MiB"
    )

    est = estimator(epochs)
    timer = Timer()
    c = time.process_time()
    t = time.perf_counter()
    est.fit(X, y, callbacks=[timer])
    fit_s = time.perf_counter() - t
    fit_cpu = time.process_time() - c
    peak = peak_rss_mib()
    after_now = rss_now_mib()
    # w0, w, V and the optimiser's memory: N_STATE_SLOTS arrays the size of each (AdaGrad:
    # one, Σg²), from the public parameters rather than the solver's internal state.
    params_bytes = est.w_.nbytes + est.V_.nbytes + np.dtype(dtype).itemsize
    state_bytes = N_STATE_SLOTS[OPTIMIZERS[SOLVER]] * params_bytes
    model_bytes = params_bytes + state_bytes
    seconds = list(timer.wall)
    log(
        f"  [{dtype} n_jobs={n_jobs}] fit {fit_s:.2f} s, epochs (Timer) "
        + ", ".join(f"{s:.2f} s" for s in seconds)
        + " (history_.seconds "
        + ", ".join(f"{s:.2f} s" for s in est.history_.seconds)
        + f"); CPU {fit_cpu:.2f} s (×{fit_cpu / fit_s:.2f} of wall); train logloss "
        f"{est.history_.train_loss[-1]:.4f}; peak RSS {peak:.0f} MiB"
    )

    del X, triplet
    held, y_held, logit_held = draw(world, 100_000, seed + 2, np_dtype)
    auc = float(roc_auc_score(y_held, est.decision_function(as_csr(held, 100_000))))
    auc_oracle = float(roc_auc_score(y_held, logit_held))
    return {
        "dtype": dtype,
        "n_jobs": n_jobs,
        "rows": rows,
        "epochs": len(seconds),
        "gen_s": gen_s,
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu,
        "epoch_s": seconds,
        "rows_s_epoch": rows / min(seconds),
        "rows_s_fit": rows * len(seconds) / fit_s,
        "train_logloss": est.history_.train_loss[-1],
        "auc": auc,
        "auc_oracle": auc_oracle,
        "ctr": float(y.mean()),
        "csr_mib": csr_bytes / 2**20,
        "model_mib": model_bytes / 2**20,
        "params_mib": (est.w_.nbytes + est.V_.nbytes) / 2**20,
        "base_max_mib": base_max,
        "base_now_mib": base_now,
        "gen_max_mib": gen_max,
        "gen_now_mib": gen_now,
        "peak_mib": peak,
        "after_fit_now_mib": after_now,
    }


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100,000 rows")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help="dtype:n_jobs,… ")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    rows = 100_000 if args.quick else args.rows

    if args.worker:  # one configuration, in this fresh process; JSON on the last line
        dtype, n_jobs = args.worker.split(":")
        print(json.dumps(worker(dtype, int(n_jobs), rows, args.epochs, args.seed)))
        return 0

    sizes = field_sizes()
    log(
        f"{rows:,} rows × {N_FIELDS} fields, {sizes.sum():,} features; field sizes "
        f"{sizes[:5].tolist()} … {sizes[-3:].tolist()}; k={N_FACTORS}, {args.epochs} epochs"
    )
    results = []
    for config in [c.strip() for c in args.configs.split(",") if c.strip()]:
        log(f"[{config}] fresh process")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", config]
        cmd += ["--rows", str(rows), "--epochs", str(args.epochs), "--seed", str(args.seed)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            log(f"[{config}] worker failed with exit code {proc.returncode}")
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    print()
    print(machine_line())
    print(
        f"CTR-like: {rows:,} rows × {N_FIELDS} one-hot fields, {N_FEATURES:,} features, "
        f"k={N_FACTORS}, FMClassifier(solver='adagrad'), {args.epochs} epochs, shuffle=True; "
        "each row a fresh process"
    )
    head = (
        f"{'dtype':<8} {'jobs':>4} {'rows/s':>9} {'rows/s':>9} {'CPU/':>5} {'CSR':>6} {'model':>6} "
        f"{'base':>6} {'peak':>6} {'peak/':>11} {'excl.':>6} {'train':>8} {'AUC':>6} {'oracle':>6}"
    )
    head2 = (
        f"{'':<8} {'':>4} {'(epoch)':>9} {'(fit)':>9} {'wall':>5} {'MiB':>6} {'MiB':>6} "
        f"{'MiB':>6} {'MiB':>6} {'(CSR+model)':>11} {'base':>6} {'logloss':>8} {'':>6} {'AUC':>6}"
    )
    print(head)
    print(head2)
    print("-" * len(head))
    for r in results:
        total = r["csr_mib"] + r["model_mib"]
        r["ratio"] = r["peak_mib"] / total
        r["ratio_excl"] = (r["peak_mib"] - r["base_max_mib"]) / total
        print(
            f"{r['dtype']:<8} {r['n_jobs']:>4} {r['rows_s_epoch'] / 1e6:>8.2f}M "
            f"{r['rows_s_fit'] / 1e6:>8.2f}M {r['fit_cpu_s'] / r['fit_s']:>5.2f} "
            f"{r['csr_mib']:>6.0f} {r['model_mib']:>6.0f} "
            f"{r['base_max_mib']:>6.0f} {r['peak_mib']:>6.0f} {r['ratio']:>11.2f} "
            f"{r['ratio_excl']:>6.2f} {r['train_logloss']:>8.4f} {r['auc']:>6.3f} "
            f"{r['auc_oracle']:>6.3f}"
        )
    print()
    for r in results:
        speed = "met" if r["rows_s_epoch"] >= TARGET_ROWS_S else "NOT met"
        mem = "met" if r["ratio"] <= TARGET_RSS_RATIO else "NOT met"
        mem_x = "met" if r["ratio_excl"] <= TARGET_RSS_RATIO else "NOT met"
        print(
            f"targets [{r['dtype']} n_jobs={r['n_jobs']}]: ≥ 1M rows/s per epoch: {speed} "
            f"({r['rows_s_epoch'] / 1e6:.2f}M); peak RSS ≤ 2×(CSR+model): {mem} "
            f"({r['ratio']:.2f}×; {mem_x} excluding the {r['base_max_mib']:.0f} MiB "
            f"baseline: {r['ratio_excl']:.2f}×)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
