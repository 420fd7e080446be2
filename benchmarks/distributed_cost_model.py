"""A cost model of FM training on a cluster, for docs/distributed.md (issue 18, item 4).

Criteo-sized data: 45 M rows × 39 one-hot fields (nnz 1.76·10⁹), ``--features`` hashed
features (default 1 M; field sizes and id popularity as ``fmlearn.datasets.make_ctr``:
log-uniform sizes, popularity ∝ rank^−1.1), k = 16, on W = 10, 100, 1,000 workers. Per
sweep (ALS/MCMC) or epoch (SGD), in seconds:

* **compute**: the single-machine kernel's time per non-zero × k, measured on this machine
  (``--sweep-ns``, ``--epoch-ns``: defaults from benchmarks/README.md), divided by W;
* **SGD, model averaging through the driver** (fmlearn.dask today): each round the driver
  sends every worker the rows of the features its shard touches (parameters + AdaGrad
  state, float32) and receives them back; the touched count is the expected number of
  distinct ids per field in N/W draws, Σ_i 1 − (1 − p_i)^(N/W). One round per epoch;
* **SGD with a tree all-reduce among the workers** (the next design): the same rows, but
  reduced pairwise in log₂ W steps, so no machine handles more than 2·log₂ W shards' rows;
* **ALS/MCMC, field-parallel coordinate sweeps**: rows stay where they are (each worker
  keeps its rows' residual e and factor sums q); the features of one field never share a
  row, so a whole field's parameters for one factor update at once from per-feature sums
  (Σ h·e, Σ h²) all-reduced across workers: 39 fields × (k + 1) all-reduces per sweep, each
  of 2 values per feature of the field, then every worker applies the same update (MCMC's
  draws from a shared seed) — ring all-reduce: 2·bytes/bandwidth + 2(W − 1) latencies per
  call, or a tree: 2·log₂ W latencies.

Network: ``--bandwidth`` GB/s per link (1.25: 10 Gbit/s), ``--latency`` µs per message.
Only arithmetic: nothing here runs a cluster. The figures are estimates to choose a design
with, not measurements.

    python benchmarks/distributed_cost_model.py
"""

from __future__ import annotations

import argparse
import math

import numpy as np

ROWS, FIELDS, K = 45_000_000, 39, 16
WORKERS = (10, 100, 1000)


def field_sizes(n_features: int, rng) -> np.ndarray:
    raw = np.exp(rng.uniform(np.log(2), np.log(n_features), FIELDS))
    sizes = np.maximum(2, (raw / raw.sum() * n_features).astype(np.int64))
    sizes[np.argmax(sizes)] += n_features - sizes.sum()
    return sizes


def distinct_ids(sizes: np.ndarray, draws: float, skew: float = 1.1) -> float:
    """Expected distinct ids over all fields in ``draws`` rows (one id per field per row)."""
    total = 0.0
    for size in sizes:
        p = 1.0 / np.arange(1, size + 1) ** skew
        p /= p.sum()
        total += float(np.sum(-np.expm1(draws * np.log1p(-p))))
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", type=int, default=1_000_000)
    ap.add_argument("--sweep-ns", type=float, default=3.3,
                    help="MCMC/ALS ns per non-zero × k on one core")  # fmt: skip
    ap.add_argument("--epoch-ns", type=float, default=1.6,
                    help="AdaGrad ns per non-zero × k on one core")  # fmt: skip
    ap.add_argument("--bandwidth", type=float, default=1.25, help="GB/s per link")
    ap.add_argument("--latency", type=float, default=50.0, help="µs per message")
    args = ap.parse_args(argv)
    bw, lat = args.bandwidth * 1e9, args.latency * 1e-6
    nnz = ROWS * FIELDS
    sizes = field_sizes(args.features, np.random.default_rng(0))
    row_bytes = (K + 1) * 4 * 2  # w_i and v_i, with AdaGrad's state, float32
    print(f"{ROWS:,} rows × {FIELDS} fields, {args.features:,} features, k = {K}; "
          f"{args.bandwidth} GB/s, {args.latency:g} µs\n")  # fmt: skip
    head = f"{'workers':>8} {'compute':>9} {'SGD driver':>11} {'SGD tree':>9} "
    print(head + f"{'sweep ring':>11} {'sweep tree':>11}  touched/worker")
    for w in WORKERS:
        touched = distinct_ids(sizes, ROWS / w)
        shard = touched * row_bytes  # one way, one worker
        sgd_compute = args.epoch_ns * 1e-9 * nnz * K / w
        sweep_compute = args.sweep_ns * 1e-9 * nnz * K / w
        driver = 2 * w * shard / bw + 2 * w * lat  # the driver's link carries all shards
        tree = 2 * math.log2(w) * (shard / bw + lat)
        calls = FIELDS * (K + 1)
        ring = 2 * (args.features * 2 * 8) / bw * (K + 1) + calls * 2 * (w - 1) * lat
        tree_sweep = 2 * (args.features * 2 * 8) / bw * (K + 1) + calls * 2 * math.log2(w) * lat
        print(f"{w:>8,} {sweep_compute:>8.2f}s {sgd_compute + driver:>10.2f}s "
              f"{sgd_compute + tree:>8.2f}s {sweep_compute + ring:>10.2f}s "
              f"{sweep_compute + tree_sweep:>10.2f}s  {touched:,.0f}")  # fmt: skip
    print(
        f"\ncompute: MCMC/ALS sweep; SGD epoch compute alone: "
        f"{', '.join(f'{args.epoch_ns * 1e-9 * nnz * K / w:.2f}s' for w in WORKERS)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
