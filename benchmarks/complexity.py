"""Linear time, measured: FM prediction and SGD epoch cost as the problem grows.

A factorization machine scores a row as

    ŷ = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j

Summed pair by pair, the last term costs O(k · n²) for a row with n non-zeros. Rendle's
identity (FM paper, lemma 3.1),

    Σ_{i<j} <v_i, v_j> x_i x_j = ½ Σ_f [(Σ_i v_if x_i)² − Σ_i v_if² x_i²],

brings it down to O(k · n); ``fmlearn.kernels.predict.row_predict`` evaluates exactly this,
and the SGD gradient reuses its factor sums, so an update costs O(k · n) too.

Part 1 — prediction time per row as the non-zeros per row n grow 8, 16, …, 8192 (k = 16,
16,384 columns, the same parameters for every n):

* ``naive`` — the definition, in numpy: for each row the strict upper triangle of
  ``(V_S V_Sᵀ) ⊙ (x_S x_Sᵀ)`` over the row's non-zeros S, summed (batched matmuls in blocks
  so memory stays bounded). O(n² k) per row; BLAS is held to one thread (threadpoolctl) so
  both sides run on one core. It is timed only while it stays fast: after the first size
  whose timing (warm-up + repeats) takes more than ``--naive-budget`` seconds, larger
  sizes are skipped.
* ``fmlearn`` — the serial kernel ``fmlearn.kernels.predict.predict_csr`` on the CSR
  triplet in the kernel dtypes (int64 ``indptr``, int32 ``indices``, converted with numpy;
  what ``predict`` runs with ``n_jobs=1``, minus input checking).

Every size timed for both is checked: ``np.testing.assert_allclose(naive, fast,
rtol=1e-9, atol=1e-9 · max|ŷ|)``; the numpy reference itself is checked against an
explicit Python double loop over pairs on a few rows of the smallest sizes.

Part 2 — time of one SGD epoch of ``FMRegressor(solver="sgd").fit`` (plain SGD, squared
loss, batch_size 1, unit weights, default hyper-parameters, ``tol=None``), timed per
epoch by a :class:`fmlearn.callbacks.Timer` passed to ``fit(..., callbacks=[timer])``,
as rows, non-zeros per row and ``n_factors`` each grow ×1, ×4, ×16 from a base of 20,000
rows × 16 non-zeros × k = 8 (10,000 columns), one at a time. An epoch is what ``fit``
does per epoch: the ``sgd_epoch`` kernel, the divergence check (a pass over w and V) and
the per-epoch bookkeeping; input validation and initialisation are outside it, so they
do not blur the scaling. Earlier versions of this script timed the bare kernel. Two row
orders: file order (``shuffle=False``: rows streamed in sequence, the operation count)
and shuffled (``shuffle=True``, what ``fit`` does by default: a fresh permutation per
epoch, drawn inside the timed epoch — earlier versions drew it outside). Once the data
outgrow the CPU caches, shuffled rows cost a few memory latencies each, so the shuffled
epoch grows faster than linearly in the number of rows although its operation count is
linear. With k = 8 a sizeable part of an update does not depend on k (per row: loss and
gradient scalar, row bounds; per non-zero: index and value loads, the linear weight), so
the slope in k approaches 1 only as k grows; the table gives the slope over ×4–×16 too.

Part 3 — the readable numpy FM against the kernel (issue 21): one plain-SGD epoch of
``fmlearn.reference.sgd_epoch`` (numpy, row by row, the code the user guide teaches from)
and of the numba kernel ``fmlearn.kernels.sgd.sgd_epoch`` on the same rows, order and
starting parameters, for ratings-shaped rows (3 one-hot non-zeros, k = 8) and click-shaped
rows (39 non-zeros, k = 16). The two results are checked to agree to 1e-9; the numpy epoch
is timed once (it takes seconds), the kernel as below.

Timing: a warm-up call, then the best (min) of ``--repeats`` repeats (5; 3 with
``--quick``) — the reference machine is a shared 2-core VM, so the minimum is the figure
least disturbed by neighbours. A repeat runs the call as many times as needed to last at
least ``--min-time`` seconds (0.05) and reports the mean per call. For the epochs the
warm-up call is a one-epoch fit, and the repeats are consecutive epochs of one fit
(after its first epoch, which converts the CSR arrays once and is dropped). Slopes are
``np.polyfit(log size, log time, 1)``: ≈ 2 means quadratic, ≈ 1 linear. At small n fixed
per-row costs (loop set-up, zeroing the k factor sums, numpy call overheads for the naive
sum) flatten the curves, so the slopes are given over all sizes and over the larger ones
(n ≥ 128).

Run from the repository root::

    python benchmarks/complexity.py                 # ~15-30 s on 2 cores
    python benchmarks/complexity.py --quick         # nnz up to 2048, 10,000-row epoch base, ~5-10 s
    python benchmarks/complexity.py --out /tmp/complexity.png
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from _machine import log, machine_line

from fmlearn import FMRegressor, reference
from fmlearn.callbacks import Timer
from fmlearn.kernels import sgd as sgd_kernels
from fmlearn.kernels.predict import predict_csr
from fmlearn.models import FM
from fmlearn.solvers import DivergenceError

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - scikit-learn brings it
    threadpool_limits = None

import scipy.sparse as sp

DEFAULT_OUT = Path(__file__).resolve().parent / "complexity.png"
PREDICT_K = 16
PREDICT_FEATURES = 16_384
SLOPE_FROM = 128  # "larger sizes" for the second slope fit
EPOCH_BASE = {"rows": 20_000, "nnz": 16, "k": 8}
EPOCH_FEATURES = 10_000
SCALES = (1, 4, 16)


def one_blas_thread():
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


# --------------------------------------------------------------------------- timing
def best_time(fn, min_time: float, repeats: int) -> tuple[float, float]:
    """(best seconds per call, total seconds spent) after one warm-up call."""
    start = time.perf_counter()
    t = time.perf_counter()
    fn()  # warm-up: compilation / cache load, page faults
    first = time.perf_counter() - t
    number = max(1, math.ceil(min_time / max(first, 1e-9)))
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best, time.perf_counter() - start


def csr_triplet(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, indices, data)`` in the dtypes the predict kernels are compiled for."""
    return X.indptr.astype(np.int64), X.indices.astype(np.int32), X.data


def slope(sizes, times) -> float:
    if len(sizes) < 2:
        return math.nan
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


# --------------------------------------------------------------------------- data
def rows_with_nnz(n_rows: int, nnz: int, n_features: int, rng) -> sp.csr_matrix:
    """CSR with exactly ``nnz`` distinct, sorted columns per row (one per equal-width bin).

    Column j of a row is drawn uniformly from bin j of ``n_features // nnz`` columns, so
    the columns are distinct and sorted without a per-row sampling loop. Values are
    N(0, 1/nnz), which keeps the row norm ≈ 1 at every size (SGD stays stable).
    """
    width = n_features // nnz
    cols = np.arange(nnz, dtype=np.int64) * width + rng.integers(0, width, size=(n_rows, nnz))
    data = rng.normal(0.0, 1.0 / math.sqrt(nnz), size=(n_rows, nnz))
    indptr = np.arange(0, n_rows * nnz + 1, nnz, dtype=np.int64)
    X = sp.csr_matrix((data.ravel(), cols.ravel().astype(np.int32), indptr))
    X.resize(n_rows, n_features)
    return X


# --------------------------------------------------------------------------- predict
def naive_predict(X: sp.csr_matrix, w0: float, w, V, block_elems: int = 1 << 18) -> np.ndarray:
    """ŷ by the definition: Σ_{i<j} <v_i, v_j> x_i x_j summed over the pairs, O(n² k).

    All rows of ``X`` hold the same number n of non-zeros. For a group of rows, ``A[r] =
    V_S ⊙ x_S`` (n × k), and the pair term is the sum of the strict upper triangle of
    ``A Aᵀ`` (entry (i, j) is <v_i, v_j> x_i x_j), computed in blocks of rows of ``A Aᵀ``
    so no more than ``block_elems`` pair products are held at once.
    """
    n_rows = X.shape[0]
    n = X.indptr[1] - X.indptr[0]
    cols = X.indices.reshape(n_rows, n)
    vals = X.data.reshape(n_rows, n)
    out = w0 + (w[cols] * vals).sum(axis=1)
    group = max(1, block_elems // (n * n))
    for r0 in range(0, n_rows, group):
        r1 = min(r0 + group, n_rows)
        A = V[cols[r0:r1]] * vals[r0:r1, :, None]  # (rows, n, k)
        At = A.transpose(0, 2, 1)
        step = max(1, block_elems // ((r1 - r0) * n))
        pairs = np.zeros(r1 - r0)
        for i0 in range(0, n, step):
            i1 = min(i0 + step, n)
            G = A[:, i0:i1, :] @ At  # (rows, i1 - i0, n): <v_i, v_j> x_i x_j
            upper = np.triu(np.ones((i1 - i0, n)), k=i0 + 1)  # j > i only
            pairs += np.einsum("rij,ij->r", G, upper)
        out[r0:r1] += pairs
    return out


def double_loop_predict(X: sp.csr_matrix, w0: float, w, V) -> np.ndarray:
    """The same sum as an explicit Python double loop over pairs (checks ``naive_predict``)."""
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        lo, hi = X.indptr[r], X.indptr[r + 1]
        cols, vals = X.indices[lo:hi], X.data[lo:hi]
        total = w0 + float(np.dot(w[cols], vals))
        for a in range(len(cols)):
            for b in range(a + 1, len(cols)):
                total += float(np.dot(V[cols[a]], V[cols[b]])) * vals[a] * vals[b]
        out[r] = total
    return out


def fast_predict(X: sp.csr_matrix, w0: float, w, V) -> np.ndarray:
    out = np.empty(X.shape[0])
    indptr, indices, data = csr_triplet(X)
    predict_csr(indptr, indices, data, w0, w, V, out)
    return out


def predict_scaling(sizes, args, rng) -> dict:
    w0 = 0.0  # so the check is not diluted by a constant
    w = rng.normal(0.0, 0.1, size=PREDICT_FEATURES)
    V = rng.normal(0.0, 0.1, size=(PREDICT_FEATURES, PREDICT_K))
    res = {"nnz": [], "fast": [], "naive": [], "max_err": []}
    naive_on = True
    for n in sizes:
        n_rows = max(64, args.predict_nnz // n)
        X = rows_with_nnz(n_rows, n, PREDICT_FEATURES, rng)
        indptr, indices, data = csr_triplet(X)
        out = np.empty(n_rows)

        def run_fast(indptr=indptr, indices=indices, data=data, out=out):
            predict_csr(indptr, indices, data, w0, w, V, out)

        t_fast, _ = best_time(run_fast, args.min_time, args.repeats)
        fast = out.copy()
        t_naive, max_err = math.nan, math.nan
        if naive_on:
            # enough rows for a timing of ~min_time, estimated at ~1 ns per pair product
            n_naive = int(min(n_rows, max(1, args.min_time * 1e9 // (n * n * PREDICT_K + 1))))
            Xn = X[:n_naive]
            box = {}

            def run_naive(Xn=Xn, box=box):
                box["y"] = naive_predict(Xn, w0, w, V)

            with one_blas_thread():
                t_call, spent = best_time(run_naive, args.min_time, args.repeats)
            t_naive = t_call / n_naive
            scale = float(np.abs(box["y"]).max())
            np.testing.assert_allclose(
                box["y"],
                fast[:n_naive],
                rtol=1e-9,
                atol=1e-9 * scale,
                err_msg=f"naive and fmlearn predictions differ at nnz={n}",
            )
            max_err = float(np.abs(box["y"] - fast[:n_naive]).max() / max(scale, 1e-300))
            if n <= 32:  # the numpy reference against the textbook double loop
                few = min(n_naive, 3)
                np.testing.assert_allclose(
                    box["y"][:few],
                    double_loop_predict(Xn[:few], w0, w, V),
                    rtol=1e-9,
                    atol=1e-12,
                    err_msg=f"naive_predict is not the pair sum at nnz={n}",
                )
            if spent > args.naive_budget:
                naive_on = False
                log(f"  naive: {spent:.1f} s spent at nnz={n}; larger sizes skipped")
        else:
            n_naive = 0
        res["nnz"].append(n)
        res["fast"].append(t_fast / n_rows)
        res["naive"].append(t_naive)
        res["max_err"].append(max_err)
        log(
            f"  nnz={n:5d}: fmlearn {t_fast / n_rows * 1e6:10.3f} µs/row ({n_rows} rows), "
            f"naive {t_naive * 1e6:12.2f} µs/row ({n_naive} rows)"
        )
    return {key: np.array(v) for key, v in res.items()}


# --------------------------------------------------------------------------- SGD epoch
def epoch_times(n_rows: int, nnz: int, k: int, min_time: float, repeats: int, rng) -> dict:
    """Seconds per epoch of ``fit``, rows in file and shuffled order, from a ``Timer``.

    Plain SGD, squared loss, unit weights, ``FMRegressor``'s defaults; each order starts
    from the same initial parameters (``fit(init_params=…)``). Per order: a one-epoch fit
    (the warm-up call: it sets how many epochs make a repeat), then one fit of ``1 +
    repeats × number`` epochs whose first epoch is dropped; a repeat is the mean of
    ``number`` consecutive epochs.
    """
    X = rows_with_nnz(n_rows, nnz, EPOCH_FEATURES, rng)
    y = rng.normal(size=n_rows)
    init_std = 0.1  # FMRegressor's default is now "auto" (resolved in fit); timing needs any
    initial = FM(k, init_std, np.float64).init_params(EPOCH_FEATURES, rng)
    # Earlier versions drew four permutations here for the shuffled epochs; fit now draws
    # its own, but the draws are kept so that later sizes get the same matrices as before.
    for _ in range(4):
        rng.permutation(n_rows)

    def timed_fit(n_epochs: int, shuffle: bool) -> Timer:
        est = FMRegressor(
            n_factors=k, solver="sgd", max_iter=n_epochs, tol=None, shuffle=shuffle,
            random_state=0,
        )  # fmt: skip
        timer = Timer()
        try:
            est.fit(X, y, callbacks=[timer], init_params=initial)
        except DivergenceError as exc:
            raise RuntimeError(f"SGD diverged (rows={n_rows}, nnz={nnz}, k={k})") from exc
        return timer

    out = {}
    for name, shuffle in (("file", False), ("shuffled", True)):
        first = timed_fit(1, shuffle).wall[0]  # warm-up: compilation / cache load
        number = max(1, math.ceil(min_time / max(first, 1e-9)))
        wall = np.array(timed_fit(1 + repeats * number, shuffle).wall[1:])
        out[name] = float(wall.reshape(repeats, number).mean(axis=1).min())
    return out


def epoch_scaling(base: dict, args, rng) -> dict:
    """``{order: {factor: seconds per epoch at each scale}}``."""
    res = {"file": {}, "shuffled": {}}
    for factor in ("rows", "nnz", "k"):
        for order in res:
            res[order][factor] = []
        for s in SCALES:
            size = dict(base)
            size[factor] *= s
            t = epoch_times(size["rows"], size["nnz"], size["k"], args.min_time, args.repeats, rng)
            for order in res:
                res[order][factor].append(t[order])
            log(
                f"  {factor} ×{s:<2d}: rows={size['rows']:7d} nnz={size['nnz']:4d} "
                f"k={size['k']:4d}  {t['file'] * 1e3:8.2f} ms/epoch in file order, "
                f"{t['shuffled'] * 1e3:8.2f} shuffled"
            )
    return {o: {f: np.array(v) for f, v in d.items()} for o, d in res.items()}


# --------------------------------------------------------------------------- report
def report_predict(p: dict, repeats: int) -> dict:
    nnz, fast, naive = p["nnz"], p["fast"], p["naive"]
    print(f"\nPrediction time per row, k = {PREDICT_K} (serial, best of {repeats})")
    print(
        f"{'nnz/row':>8} {'naive µs/row':>14} {'fmlearn µs/row':>15} {'speed-up':>10} "
        f"{'max |Δ|/max|ŷ|':>16}"
    )
    for j, n in enumerate(nnz):
        nv = "—" if np.isnan(naive[j]) else f"{naive[j] * 1e6:.3f}"
        sp_ = "—" if np.isnan(naive[j]) else f"{naive[j] / fast[j]:.1f}×"
        err = "—" if np.isnan(p["max_err"][j]) else f"{p['max_err'][j]:.1e}"
        print(f"{n:>8d} {nv:>14} {fast[j] * 1e6:>15.4f} {sp_:>10} {err:>16}")
    timed = ~np.isnan(naive)
    big = nnz >= SLOPE_FROM
    slopes = {
        "naive_all": slope(nnz[timed], naive[timed]),
        "naive_big": slope(nnz[timed & big], naive[timed & big]),
        "fast_all": slope(nnz, fast),
        "fast_big": slope(nnz[big], fast[big]),
    }
    n_lo, n_hi = nnz[timed].min(), nnz[timed].max()

    def fitted(key, mask):
        if mask.sum() < 2:
            return "n/a (fewer than 2 sizes)"
        return f"{slopes[key]:.2f} over nnz {nnz[mask].min()}–{nnz[mask].max()}"

    print("log-log slope of time per row vs nnz/row (expected ≈ 2 naive, ≈ 1 fmlearn):")
    print(f"  naive   {fitted('naive_all', timed)}, {fitted('naive_big', timed & big)}")
    print(f"  fmlearn {fitted('fast_all', nnz > 0)}, {fitted('fast_big', big)}")
    print(
        f"naive and fmlearn predictions agree (rtol 1e-9) at every size timed for both "
        f"(nnz {n_lo}–{n_hi})"
    )
    return slopes


def report_epoch(e: dict, base: dict, repeats: int) -> dict:
    print(
        f"\nSGD epoch time (fit epochs timed by Timer, plain SGD, best of {repeats}), base "
        f"{base['rows']:,} rows × {base['nnz']} nnz/row × k = {base['k']}, "
        f"{EPOCH_FEATURES:,} columns"
    )
    head = " ".join(f"{'×' + str(s) + ' ms':>10}" for s in SCALES)
    print(f"{'grows':>6} {'row order':>10} {head} {'×16/×1':>8} {'slope':>6} {'×4→×16':>7}")
    slopes = {"file": {}, "shuffled": {}}
    for factor in e["file"]:
        for order in ("file", "shuffled"):
            times = e[order][factor]
            slopes[order][factor] = slope(np.array(SCALES), times)
            cells = " ".join(f"{t * 1e3:>10.2f}" for t in times)
            ratio = times[-1] / times[0]
            late = slope(np.array(SCALES[1:]), times[1:])
            print(
                f"{factor:>6} {order:>10} {cells} {ratio:>7.1f}× "
                f"{slopes[order][factor]:>6.2f} {late:>7.2f}"
            )
    print(
        "log-log slope of epoch time vs scale over ×1–×16 and over ×4–×16 (expected ≈ 1 for each)"
    )
    return slopes


def slope_text(value: float) -> str:
    return f": slope {value:.2f}" if np.isfinite(value) else ""


def plot(p: dict, ps: dict, e: dict, es: dict, base: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    nnz, fast, naive = p["nnz"], p["fast"], p["naive"]
    timed = ~np.isnan(naive)
    ax1.loglog(
        nnz[timed],
        naive[timed] * 1e6,
        "o-",
        color="tab:red",
        label=f"naive pair sum O(k·n²){slope_text(ps['naive_big'])}",
    )
    ax1.loglog(
        nnz,
        fast * 1e6,
        "s-",
        color="tab:blue",
        label=f"fmlearn predict_csr O(k·n){slope_text(ps['fast_big'])}",
    )
    # guide lines of slope 1 and 2 through the largest common size
    j = np.flatnonzero(timed)[-1]
    xs = np.array([nnz.min(), nnz.max()], dtype=float)
    ax1.loglog(xs, fast[-1] * 1e6 * (xs / nnz[-1]), ":", color="gray", lw=1, label="slope 1 guide")
    ax1.loglog(
        xs, naive[j] * 1e6 * (xs / nnz[j]) ** 2, "--", color="gray", lw=1, label="slope 2 guide"
    )
    lo = min(np.nanmin(naive), fast.min()) * 1e6
    hi = max(np.nanmax(naive), fast.max()) * 1e6
    ax1.set_ylim(lo / 3, hi * 3)
    ax1.annotate(
        f"{naive[j] / fast[j]:,.0f}× faster\nat n = {nnz[j]:,}",
        xy=(nnz[j], math.sqrt(naive[j] * fast[j]) * 1e6),
        ha="right" if j >= len(nnz) // 2 else "left",
        va="center",
        fontsize=9,
    )
    ax1.set_xscale("log", base=2)
    ax1.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax1.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax1.set_xlabel("non-zeros per row n")
    ax1.set_ylabel("prediction time per row (µs)")
    ax1.set_title(f"Prediction, k = {PREDICT_K}")
    ax1.grid(True, which="major", alpha=0.3)
    ax1.legend(
        fontsize=8, loc="upper left", title=f"slopes fitted over n ≥ {SLOPE_FROM}", title_fontsize=8
    )

    names = {"rows": "rows", "nnz": "non-zeros per row", "k": "n_factors k"}
    colors = {"rows": "tab:green", "nnz": "tab:purple", "k": "tab:orange"}
    for order, style in (("file", "-"), ("shuffled", "--")):
        for factor, times in e[order].items():
            ax2.loglog(
                SCALES,
                times * 1e3,
                "o" + style,
                color=colors[factor],
                alpha=1.0 if order == "file" else 0.6,
                label=f"{names[factor]}, {order} order: slope {es[order][factor]:.2f}",
            )
    xs = np.array(SCALES, dtype=float)
    ref = np.exp(np.mean([np.log(t[0]) for t in e["file"].values()])) * 1e3
    ax2.loglog(xs, ref * xs, ":", color="gray", lw=1, label="slope 1 guide")
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(SCALES, [f"×{s}" for s in SCALES])
    ax2.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax2.yaxis.set_minor_formatter(NullFormatter())
    ax2.set_xlabel("scale factor of the grown quantity (others at base)")
    ax2.set_ylabel("time per SGD epoch (ms)")
    ax2.set_title(f"SGD epoch, base {base['rows']:,} rows × {base['nnz']} nnz × k = {base['k']}")
    ax2.grid(True, which="major", alpha=0.3)
    ax2.legend(fontsize=8, loc="upper left")

    fig.suptitle("Factorization machine cost is linear in the non-zeros (Rendle's identity)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    try:  # a 256-colour palette keeps the committed PNG small (~50 KB instead of ~130 KB)
        from PIL import Image

        with Image.open(out) as im:
            small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(out, optimize=True, dpi=(100, 100))
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        pass


# --------------------------------------------------------------------------- part 3
REFERENCE_SHAPES = {"ratings": (20_000, 3, 8, 2_000), "clicks": (4_000, 39, 16, 50_000)}


def kernel_sgd_epoch(triplet, y, order, params, lr: float, reg_factors: float):
    """One plain-SGD epoch of the numba kernel (squared loss, L2 on V only), in place."""
    hp = np.zeros(sgd_kernels.N_HYPER)
    hp[sgd_kernels.LR], hp[sgd_kernels.REG_FACTORS] = lr, reg_factors
    codes = np.zeros(sgd_kernels.N_CODES, dtype=np.int64)
    codes[sgd_kernels.OPTIMIZER] = sgd_kernels.SGD
    codes[sgd_kernels.FIT_INTERCEPT] = codes[sgd_kernels.FIT_LINEAR] = 1
    state = (*(np.empty(0) for _ in range(4)), np.empty((0, 0)), np.empty((0, 0)))  # plain SGD
    sgd_kernels.sgd_epoch(triplet, y, np.empty(0), order, params, state, hp, codes, 0, 1)
    return params


def reference_vs_kernel(args, rng) -> list[dict]:
    """One plain-SGD epoch, numpy reference vs numba kernel, on the same start (part 3).

    The kernel's first epoch starts where the reference's did and is compared with it;
    the timed repeats then continue training the same parameters (no copies timed).
    """
    results = []
    for name, (n_rows, nnz, k, n_features) in REFERENCE_SHAPES.items():
        X = rows_with_nnz(n_rows, nnz, n_features, rng)
        y = rng.normal(size=n_rows)
        V0 = rng.normal(0.0, 0.1, size=(n_features, k))
        order = rng.permutation(n_rows)
        lr, reg = 0.01, (0.0, 0.0, 0.1)
        t = time.perf_counter()
        w0, w, V, _ = reference.sgd_epoch(X, y, 0.0, np.zeros(n_features), V0, order,
                                          learning_rate=lr, reg=reg)  # fmt: skip
        numpy_s = time.perf_counter() - t
        triplet, order64 = csr_triplet(X), order.astype(np.int64)
        params = (np.zeros(1), np.zeros(n_features), V0.copy())
        kernel_sgd_epoch(triplet, y, order64, params, lr, reg[2])
        diff = max(abs(params[0][0] - w0), np.abs(params[1] - w).max(), np.abs(params[2] - V).max())
        np.testing.assert_allclose(params[2], V, rtol=0, atol=1e-9)
        kernel_s, _ = best_time(
            partial(kernel_sgd_epoch, triplet, y, order64, params, lr, reg[2]),
            args.min_time, args.repeats,
        )  # fmt: skip
        results.append(dict(name=name, rows=n_rows, nnz=nnz, k=k, numpy_s=numpy_s,
                            kernel_s=kernel_s, diff=diff))  # fmt: skip
        log(f"  {name}: numpy {numpy_s:.2f} s, numba {kernel_s * 1e3:.2f} ms")
    return results


def report_reference(results: list[dict]) -> None:
    print("\nOne plain-SGD epoch: fmlearn.reference (numpy) vs the numba kernel, same start")
    print(f"{'rows':>8} {'':>8} {'nnz/row':>7} {'k':>3} {'numpy s':>8} {'numba ms':>9} "
          f"{'ratio':>7} {'max |Δθ|':>9}")  # fmt: skip
    for r in results:
        print(f"{r['rows']:>8,} {r['name']:>8} {r['nnz']:>7} {r['k']:>3} {r['numpy_s']:>8.2f} "
              f"{r['kernel_s'] * 1e3:>9.2f} {r['numpy_s'] / r['kernel_s']:>6.0f}× "
              f"{r['diff']:>9.1e}")  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (< 30 s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG path")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per timed repeat")
    ap.add_argument(
        "--naive-budget",
        type=float,
        default=5.0,
        help="stop growing the naive sum after a size that took this long (s)",
    )
    ap.add_argument("--repeats", type=int, default=None, help="best of N (5; 3 with --quick)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        sizes = [2**p for p in range(3, 12)]  # 8 … 2048
        base = {"rows": 10_000, "nnz": 16, "k": 8}
        args.predict_nnz = 1 << 19
        args.min_time = args.min_time or 0.02
        args.repeats = args.repeats or 3
        args.naive_budget = min(args.naive_budget, 2.0)
    else:
        sizes = [2**p for p in range(3, 14)]  # 8 … 8192
        base = dict(EPOCH_BASE)
        args.predict_nnz = 1 << 21
        args.min_time = args.min_time or 0.05
        args.repeats = args.repeats or 5
    rng = np.random.default_rng(args.seed)
    print(machine_line())
    t0 = time.perf_counter()
    log("prediction time per row vs nnz/row:")
    p = predict_scaling(sizes, args, rng)
    log("SGD epoch time vs rows, nnz/row, n_factors:")
    e = epoch_scaling(base, args, rng)
    log("one SGD epoch, numpy reference vs numba kernel:")
    ref = reference_vs_kernel(args, rng)
    ps = report_predict(p, args.repeats)
    es = report_epoch(e, base, args.repeats)
    report_reference(ref)
    plot(p, ps, e, es, base, args.out)
    print(f"\nplot: {args.out}  ({time.perf_counter() - t0:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
