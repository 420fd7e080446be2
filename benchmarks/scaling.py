"""How fmlearn's costs grow with the rows (issue 22): epochs in order and shuffled, a
streamed fit from a libFM file, prediction, memory, and MCMC per rating.

For each size (millions of generated click rows × 39 one-hot fields, 1 M features,
``FMClassifier(n_factors=16, solver="adagrad", dtype="float32")``, one thread) every
configuration runs in a fresh process, ``--repeats`` times, and the table gives the
best and the spread:

* ``order``: ``shuffle=False``; ``grouped``: ``shuffle="grouped"`` (the default);
  ``full``: ``shuffle=True`` (a full permutation) — per-row epoch cost (ns/row), the
  fixed cost of a fit (validation, initialisation: fit time minus its epochs), held-out
  AUC, peak RSS against the data and model it holds;
* ``stream``: ``fit(FileStream(libFM file))`` with ``shuffle="grouped"``, the file written
  once by ``dump_libfm`` — its epochs against the in-memory grouped ones, and its peak
  RSS against one chunk + model + optimiser state;
* ``predict``: ``predict_proba`` on the training rows, one thread and all;
* MCMC sweeps per rating on generated ratings (``make_recommendation``) at ``--ratings``.

A log-log plot of epoch time against rows goes to ``--plot`` (matplotlib).

    python benchmarks/scaling.py [--sizes 0.25,1,4,10] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import log, machine_line, peak_rss_mib

N_FEATURES = 1_000_000
N_FIELDS = 39
#: rows per timed piece of the alternated kernel A/B (orders_child)
SEGMENT_ROWS = 500_000
N_TEST = 200_000
BLOCK = 500_000  # rows generated at a time
CONFIGS = ("order", "grouped", "full", "stream")


# ------------------------------------------------------------------------------- data
def write_data(folder: Path, n_rows: int) -> None:
    """Generated rows from one planted model: CSR arrays (.npy, filled block by block),
    the same rows as a libFM file, and a held-out set."""
    from fmlearn.datasets import make_ctr
    from fmlearn.io import dump_libfm

    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    _, _, planted = make_ctr(10, N_FIELDS, N_FEATURES, random_state=0)
    nnz = n_rows * N_FIELDS
    indptr = np.lib.format.open_memmap(folder / "indptr.npy", "w+", np.int64, (n_rows + 1,))
    indices = np.lib.format.open_memmap(folder / "indices.npy", "w+", np.int32, (nnz,))
    data = np.lib.format.open_memmap(folder / "data.npy", "w+", np.float32, (nnz,))
    labels = np.lib.format.open_memmap(folder / "y.npy", "w+", np.float64, (n_rows,))
    part = folder / "part.libfm"
    indptr[0] = 0
    with open(folder / "train.libfm", "wb") as out:
        for start in range(0, n_rows, BLOCK):
            stop = min(start + BLOCK, n_rows)
            X, y, _ = make_ctr(stop - start, planted=planted, random_state=1 + start // BLOCK)
            assert X.nnz == (stop - start) * N_FIELDS
            indptr[start + 1 : stop + 1] = X.indptr[1:] + start * N_FIELDS
            indices[start * N_FIELDS : stop * N_FIELDS] = X.indices
            data[start * N_FIELDS : stop * N_FIELDS] = X.data
            labels[start:stop] = y
            dump_libfm(X, y, part)
            out.write(part.read_bytes())
    part.unlink()
    for a in (indptr, indices, data, labels):
        a.flush()
    X, y, _ = make_ctr(N_TEST, planted=planted, random_state=10**6)
    np.savez(folder / "test.npz", indptr=X.indptr, indices=X.indices, data=X.data, y=y)
    (folder / "done").write_text("ok")


def load(folder: Path):
    import scipy.sparse as sp

    arrays = [np.load(folder / f"{name}.npy") for name in ("data", "indices", "indptr")]
    y = np.load(folder / "y.npy")
    X = sp.csr_matrix(tuple(arrays), shape=(y.shape[0], N_FEATURES))
    X.has_canonical_format = True
    return X, y


def test_set(folder: Path):
    import scipy.sparse as sp

    t = np.load(folder / "test.npz")
    X = sp.csr_matrix((t["data"].astype(np.float32), t["indices"], t["indptr"]),
                      shape=(t["y"].shape[0], N_FEATURES))  # fmt: skip
    return X, t["y"]


# ------------------------------------------------------------------------------ child
def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(config: str, folder: Path, epochs: int, seed: int) -> dict:
    """One configuration in this (fresh) process: a JSON-able dict of its figures."""
    from sklearn.metrics import roc_auc_score

    from fmlearn import FMClassifier
    from fmlearn.io import FileStream

    def model(shuffle):
        return FMClassifier(
            n_factors=16, solver="adagrad", dtype="float32", n_jobs=1, max_iter=epochs,
            tol=None, shuffle=shuffle, random_state=seed,
        )  # fmt: skip

    X_test, y_test = test_set(folder)
    small_X, small_y = X_test[:2000], y_test[:2000]
    model(False).fit(small_X, small_y)  # compile outside the clock
    base = rss_mib()
    out = {"config": config, "seed": seed}
    if config == "stream":
        start = time.perf_counter()
        stream = FileStream(folder / "train.libfm", n_features=N_FEATURES, dtype=np.float32)
        m = model("grouped").fit(stream)
        rows = None
        out["chunk_mib"] = stream.chunk_bytes / 2**20
    else:
        X, y = load(folder)
        rows = X.shape[0]
        out["data_mib"] = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes + y.nbytes) / 2**20
        shuffle = {"order": False, "grouped": "grouped", "full": True}[config]
        start = time.perf_counter()
        m = model(shuffle).fit(X, y)
    fit_seconds = time.perf_counter() - start
    epoch_seconds = list(m.history_.seconds)
    out.update(
        fit_s=fit_seconds,
        epoch_s=epoch_seconds,
        fixed_s=fit_seconds - sum(epoch_seconds),
        auc=float(roc_auc_score(y_test, m.predict_proba(X_test)[:, 1])),
        base_mib=base,
        peak_mib=peak_rss_mib(),
        model_mib=(m.w_.nbytes + m.V_.nbytes) / 2**20,
        state_mib=sum(a.nbytes for a in m._solver_state.arrays) / 2**20,
    )
    if config == "order":  # prediction on the training rows, one thread and all
        for jobs in (1, -1):
            m.set_params(n_jobs=jobs)
            best = min(_timed(lambda: m.predict_proba(X)) for _ in range(3))
            out[f"predict_{jobs}"] = rows / best
    return out


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def orders_child(folder: Path, rounds: int) -> dict:
    """The bare epoch kernel over the same rows in file order, grouped and fully shuffled,
    alternated in one process: the fits above each run in their own process, whose
    timings move by 10–30 % on this kind of machine, too much for a 1.1× target. Each
    epoch is timed in segments of SEGMENT_ROWS rows with the three orders run back to
    back on each (their sequence alternating), so a ratio of two adjacent timings sees
    the same machine: the medians of those paired ratios are the figures to read."""
    from fmlearn import FMClassifier
    from fmlearn._validation import csr_arrays
    from fmlearn.solvers import sgd
    from fmlearn.solvers.order import row_bytes, row_order

    X, y = load(folder)
    n = X.shape[0]
    est = FMClassifier(n_factors=16, solver="adagrad", dtype="float32", random_state=0)
    est.fit(X[:2000], y[:2000])
    model = est._make_model(fitted=True)
    config = sgd.make_config(
        est.get_params(), est._prediction_task(), optimizer="adagrad",
        rng=np.random.default_rng(0), first_iteration=1, n_iterations=1, n_threads=1,
        n_features=N_FEATURES,
    )  # fmt: skip
    params = model.init_params(N_FEATURES, np.random.default_rng(0))
    state = sgd.OptimizerState.fresh(config.optimizer, params, config)
    arrays, target, unit = csr_arrays(X), np.where(y > 0, 1.0, -1.0), np.empty(0)
    hp, codes, bytes_per_row = config.hyper(), config.codes(), row_bytes(X)
    rng = np.random.default_rng(1)
    times: dict[str, list[float]] = {"order": [], "grouped": [], "full": []}
    kinds = {"order": False, "grouped": "grouped", "full": True}
    segment = min(SEGMENT_ROWS, n)
    for r in range(rounds):
        orders = {name: row_order(n, rng, s, bytes_per_row) for name, s in kinds.items()}
        for j, first in enumerate(range(0, n - segment + 1, segment)):
            names = list(kinds) if (r + j) % 2 == 0 else list(kinds)[::-1]
            for name in names:
                order = np.ascontiguousarray(orders[name][first : first + segment])
                start = time.perf_counter()
                model.sgd_epoch(arrays, target, unit, order, params, state.arrays, hp, codes,
                                0, 1, 1)  # fmt: skip
                times[name].append((time.perf_counter() - start) / segment * 1e9)
    return {"rows": n, "ns": times}


def mcmc_child(n_ratings: int, sweeps: int) -> dict:
    from fmlearn import FMRegressor
    from fmlearn.datasets import make_recommendation

    X, y, _ = make_recommendation(n_ratings, n_users=max(n_ratings // 100, 100),
                                  n_items=max(n_ratings // 1000, 50), random_state=0)  # fmt: skip
    FMRegressor(n_factors=8, solver="mcmc", max_iter=2, random_state=0).fit(X[:2000], y[:2000])
    m = FMRegressor(n_factors=8, solver="mcmc", max_iter=sweeps, random_state=0).fit(X, y)
    per_sweep = float(np.median(m.history_.seconds[1:]))
    return {
        "ratings": n_ratings,
        "sweep_s": per_sweep,
        "ns_per_rating": per_sweep / n_ratings * 1e9,
    }


# ----------------------------------------------------------------------------- parent
def run_child(*args: str) -> dict:
    cmd = [sys.executable, __file__, "--child", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def spread(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.min():7.1f} ({values.max() - values.min():5.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.25,1,4,10", help="millions of rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--ratings", default="0.1,1,5", help="millions, for MCMC")
    parser.add_argument("--sweeps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=4, help="alternated kernel epochs")
    parser.add_argument("--only-orders", action="store_true", help="the kernel A/B alone")
    parser.add_argument("--workdir", default=None, help="data folder (kept); default temp")
    parser.add_argument("--plot", default=None, help="PNG of epoch time against rows")
    parser.add_argument("--quick", action="store_true", help="0.05 and 0.2 M rows, 1 repeat")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child[0] == "mcmc":
            print(json.dumps(mcmc_child(int(args.child[1]), int(args.child[2]))))
        elif args.child[0] == "orders":
            print(json.dumps(orders_child(Path(args.child[1]), int(args.child[2]))))
        else:
            config, folder, epochs, seed = args.child
            print(json.dumps(child(config, Path(folder), int(epochs), int(seed))))
        return
    if args.quick:
        args.sizes, args.repeats, args.ratings = "0.05,0.2", 1, "0.05,0.2"
    sizes = [float(s) for s in args.sizes.split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="fmlearn-scaling-"))
    print(machine_line())
    print(
        f"generated click rows × {N_FIELDS} one-hot fields, {N_FEATURES:,} features, "
        f"FMClassifier(n_factors=16, adagrad, float32, n_jobs=1), {args.epochs} epochs; "
        f"each configuration a fresh process, {args.repeats} repeat(s): best (spread)"
    )
    results: dict[float, dict[str, list[dict]]] = {}
    total = time.perf_counter()
    for size in sizes:
        folder = work / f"{size:g}M"
        log(f"data {size:g} M rows …")
        write_data(folder, int(size * 1e6))
        if not args.only_orders:
            results[size] = run_configs(folder, int(size * 1e6), args)
            report_size(size, results[size])
    if results:
        report_targets(results)
    print(
        "\nbare epoch kernel, the three orders alternated in one process, by segments of "
        f"{SEGMENT_ROWS:,} rows (median ns/row; median of the paired ratios [quartiles])"
    )
    for size in sizes:
        r = run_child("orders", str(work / f"{size:g}M"), str(args.rounds))
        ns = {k: np.asarray(v) for k, v in r["ns"].items()}
        paired = {k: ns[k] / ns["order"] for k in ("grouped", "full")}
        ratios = {k: f"{np.median(v):.3f}× [{np.quantile(v, 0.25):.3f}, "
                     f"{np.quantile(v, 0.75):.3f}]" for k, v in paired.items()}  # fmt: skip
        print(
            f"  {size:g} M ({len(ns['order'])} segments): order {np.median(ns['order']):.0f}, "
            f"grouped {np.median(ns['grouped']):.0f} ({ratios['grouped']}), "
            f"full {np.median(ns['full']):.0f} ({ratios['full']})"
        )
    if args.only_orders:
        return
    for millions in [float(s) for s in args.ratings.split(",")]:
        r = run_child("mcmc", str(int(millions * 1e6)), str(args.sweeps))
        print(f"MCMC (k 8, generated ratings) {millions:g} M ratings: "
              f"{r['sweep_s']:.3f} s/sweep, {r['ns_per_rating']:.0f} ns per rating")  # fmt: skip
    if args.plot:
        plot(results, Path(args.plot))
    print(f"total {time.perf_counter() - total:.0f} s; data in {work}")


def run_configs(folder: Path, n_rows: int, args) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {c: [] for c in CONFIGS}
    for rep in range(args.repeats):
        for config in CONFIGS:
            log(f"  {folder.name} {config} repeat {rep}")
            r = run_child(config, str(folder), str(args.epochs), str(rep))
            r["rows"] = n_rows
            runs[config].append(r)
    return runs


def epoch_ns(r: dict) -> list[float]:
    return [s / r["rows"] * 1e9 for s in r["epoch_s"]]


def report_size(size, res) -> None:
    print(f"\n{size:g} M rows")
    print(
        f"{'config':8} {'epoch ns/row':>16} {'fixed s':>14} {'AUC':>8} {'peak MiB':>16} "
        f"{'− base':>8} {'data+model+state':>17}"
    )
    for config, runs in res.items():
        best_epochs = [min(epoch_ns(r)) for r in runs]
        fixed = [r["fixed_s"] for r in runs]
        peaks = [r["peak_mib"] for r in runs]
        above = min(r["peak_mib"] - r["base_mib"] for r in runs)
        # in memory: the rows; streamed: two chunks of text and their CSR arrays
        held = runs[0].get("data_mib", runs[0].get("chunk_mib", 0) * 4)
        need = held + runs[0]["model_mib"] + runs[0]["state_mib"]
        auc = np.mean([r["auc"] for r in runs])
        print(
            f"{config:8} {spread(best_epochs):>16} {spread(fixed):>14} {auc:8.4f} "
            f"{spread(peaks):>16} {above:8.0f} {need:17.0f}"
        )
    order = res["order"][0]
    if "predict_1" in order:
        print(f"predict_proba on the training rows: {order['predict_1'] / 1e6:.2f} M rows/s "
              f"(1 thread), {order['predict_-1'] / 1e6:.2f} (all)")  # fmt: skip


def report_targets(results) -> None:
    print("\ntargets (issue 22)")
    for size, res in results.items():
        best = {c: min(min(epoch_ns(r)) for r in runs) for c, runs in res.items()}
        auc = {c: np.mean([r["auc"] for r in runs]) for c, runs in res.items()}
        print(f"  {size:g} M: grouped/order {best['grouped'] / best['order']:.3f} (≤ 1.1 at "
              f"4 and 10 M), full/order {best['full'] / best['order']:.3f}, stream rows/s ÷ "
              f"in-memory {best['grouped'] / best['stream']:.3f} (≥ 0.8), AUC grouped − full "
              f"{auc['grouped'] - auc['full']:+.4f} (|·| ≤ 0.001)")  # fmt: skip
    sizes = sorted(results)
    if 1.0 in results and sizes[-1] > 1.0:
        big = min(min(epoch_ns(r)) for r in results[sizes[-1]]["grouped"])
        one = min(min(epoch_ns(r)) for r in results[1.0]["grouped"])
        print(f"  per-row epoch cost at {sizes[-1]:g} M ÷ at 1 M: {big / one:.3f} (≤ 1.2)")


def plot(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    rows = np.array(sizes) * 1e6
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for config in CONFIGS:
        seconds = [min(min(r["epoch_s"]) for r in results[s][config]) for s in sizes]
        ax.loglog(rows, seconds, "o-", label=config)
    ref = min(min(r["epoch_s"]) for r in results[sizes[0]]["order"])
    ax.loglog(rows, ref * rows / rows[0], "k:", label="slope 1")
    ax.set_xlabel("rows")
    ax.set_ylabel("seconds per epoch (best)")
    ax.set_title("AdaGrad epoch, 39 one-hot fields, k 16, 1 thread")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
