"""Fused parameter layout vs separate arrays for the per-row AdaGrad SGD epoch (issue 16).

The evidence for issue 16's item 2 before the library changes its layout: two stand-alone
kernels with ``_sgd_rows``'s AdaGrad arithmetic and prefetch pipeline, one on the
library's four arrays (w, V, Σg² of each), one on one record per feature
``[w_i, v_i(k), s_w_i, s_v_i(k)]`` (3 cache lines a feature at k = 16 in float32 instead of
4). Same steps, same results bit for bit (checked on a small problem and at the end).
Data: ``ctr_adagrad.py``'s generator, 1 M rows × 39 one-hot fields, 1 M features;
logistic loss, lr 0.1, Σg² starting at 1 (the library's AdaGrad), no regularisation.

Single process, single thread (no prange). Variants (all float32 parameters):

  lib      fmlearn.kernels.sgd.sgd_epoch (the library's _sgd_rows, batch_size 1) - reference
  sep      (a) SEPARATE: w, V, s1_w, s1_V as numpy allocates them (base 16 mod 64 here)
  sep_al   (a) with all four arrays on a 64-byte-aligned base
  f34      (b) FUSED, R = 2k+2, numpy's allocation
  f34_al   (b) FUSED, R = 2k+2, 64-byte-aligned base
  f48_al   (b) FUSED, R padded to a multiple of 16 floats (k16: 48 = 192 B), 64-aligned base

Usage (from the repository root; ~2 min at the defaults)::

    python benchmarks/fused_layout.py [--rows N] [--k 16] [--rounds 2] [--epochs 3] [--alternate]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

from fmlearn.kernels.losses import LOGISTIC, loss_derivative, loss_value
from fmlearn.kernels.prefetch import prefetch

FM = {"nsz", "arcp", "contract", "afn", "reassoc"}
A = 2  # PREFETCH_AHEAD


@njit(cache=False, nogil=True, fastmath=FM, error_model="numpy")
def epoch_separate(
    indptr,
    indices,
    data,
    y,
    order,
    start,
    stop,
    w0,
    w,
    V,
    s1_w0,
    s1_w,
    s1_V,
    lr,
    eps,
    reg,
    fit_intercept,
    fit_linear,
    q,
    s,
):
    k = V.shape[1]
    row_bytes = k * V.itemsize
    r_bias = reg
    r_lin = reg
    r_fac = reg
    total = 0.0
    for pos in range(start, stop):
        # prefetch pipeline, as _sgd_rows: offsets 3A ahead, indices/values 2A, params A
        if pos + 3 * A < stop:
            prefetch(indptr, order[pos + 3 * A], 0)
        if pos + 2 * A < stop:
            far = order[pos + 2 * A]
            lo, hi = indptr[far], indptr[far + 1]
            for j in range(lo, hi, 8):
                prefetch(indices, j, 0)
                prefetch(data, j, 0)
            if hi > lo:
                prefetch(indices, hi - 1, 0)
                prefetch(data, hi - 1, 0)
        if pos + A < stop:
            ahead = order[pos + A]
            for j in range(indptr[ahead], indptr[ahead + 1]):
                i = np.int64(indices[j])
                prefetch(w, i, 0)
                for offset in range(0, row_bytes, 64):
                    prefetch(V, i * k, offset)
                prefetch(V, i * k, row_bytes - 1)
                prefetch(s1_w, i, 0)
                for offset in range(0, row_bytes, 64):
                    prefetch(s1_V, i * k, offset)
                prefetch(s1_V, i * k, row_bytes - 1)
        r = order[pos]
        # row_predict, written out
        for f in range(k):
            q[f] = 0.0
            s[f] = 0.0
        linear = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            i = indices[p]
            x = np.float64(data[p])
            linear += w[i] * x
            for f in range(k):
                vx = V[i, f] * x
                q[f] += vx
                s[f] += vx * vx
        pairwise = 0.0
        for f in range(k):
            pairwise += q[f] * q[f] - s[f]
        pr = w0[0] + linear + 0.5 * pairwise
        total += loss_value(LOGISTIC, pr, y[r])
        g = loss_derivative(LOGISTIC, pr, y[r])
        if fit_intercept:
            gb = g + r_bias * w0[0]
            acc = s1_w0[0] + gb * gb
            s1_w0[0] = acc
            w0[0] = w0[0] - lr * gb / (np.sqrt(acc) + eps)
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            gx = g * x
            if fit_linear:
                gl = gx + r_lin * w[i]
                acc = s1_w[i] + gl * gl
                s1_w[i] = acc
                w[i] -= lr * gl / (np.sqrt(acc) + eps)
            for f in range(k):
                v = V[i, f]
                gv = gx * (q[f] - v * x) + r_fac * v
                acc = s1_V[i, f] + gv * gv
                s1_V[i, f] = acc
                V[i, f] = v - lr * gv / (np.sqrt(acc) + eps)
    return total


@njit(cache=False, nogil=True, fastmath=FM, error_model="numpy")
def epoch_fused(
    indptr,
    indices,
    data,
    y,
    order,
    start,
    stop,
    w0,
    F,
    s1_w0,
    k,
    lr,
    eps,
    reg,
    fit_intercept,
    fit_linear,
    q,
    s,
):
    """F[i] = [w_i, v_i(k), s_w_i, s_v_i(k), pad...]."""
    R = F.shape[1]
    rec_bytes = (2 * k + 2) * F.itemsize  # the used part of a record
    cw = 1 + k  # column of s_w
    cv = 2 + k  # first column of s_V
    r_bias = reg
    r_lin = reg
    r_fac = reg
    total = 0.0
    for pos in range(start, stop):
        if pos + 3 * A < stop:
            prefetch(indptr, order[pos + 3 * A], 0)
        if pos + 2 * A < stop:
            far = order[pos + 2 * A]
            lo, hi = indptr[far], indptr[far + 1]
            for j in range(lo, hi, 8):
                prefetch(indices, j, 0)
                prefetch(data, j, 0)
            if hi > lo:
                prefetch(indices, hi - 1, 0)
                prefetch(data, hi - 1, 0)
        if pos + A < stop:
            ahead = order[pos + A]
            for j in range(indptr[ahead], indptr[ahead + 1]):
                i = np.int64(indices[j])
                # each line of the record, the last one too
                for offset in range(0, rec_bytes, 64):
                    prefetch(F, i * R, offset)
                prefetch(F, i * R, rec_bytes - 1)
        r = order[pos]
        for f in range(k):
            q[f] = 0.0
            s[f] = 0.0
        linear = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            i = indices[p]
            x = np.float64(data[p])
            linear += F[i, 0] * x
            for f in range(k):
                vx = F[i, 1 + f] * x
                q[f] += vx
                s[f] += vx * vx
        pairwise = 0.0
        for f in range(k):
            pairwise += q[f] * q[f] - s[f]
        pr = w0[0] + linear + 0.5 * pairwise
        total += loss_value(LOGISTIC, pr, y[r])
        g = loss_derivative(LOGISTIC, pr, y[r])
        if fit_intercept:
            gb = g + r_bias * w0[0]
            acc = s1_w0[0] + gb * gb
            s1_w0[0] = acc
            w0[0] = w0[0] - lr * gb / (np.sqrt(acc) + eps)
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            gx = g * x
            if fit_linear:
                wi = F[i, 0]
                gl = gx + r_lin * wi
                acc = F[i, cw] + gl * gl
                F[i, cw] = acc
                F[i, 0] = wi - lr * gl / (np.sqrt(acc) + eps)
            for f in range(k):
                v = F[i, 1 + f]
                gv = gx * (q[f] - v * x) + r_fac * v
                acc = F[i, cv + f] + gv * gv
                F[i, cv + f] = acc
                F[i, 1 + f] = v - lr * gv / (np.sqrt(acc) + eps)
    return total


def aligned_empty(shape, dtype=np.float32, align=64):
    n = int(np.prod(shape))
    item = np.dtype(dtype).itemsize
    buf = np.empty(n * item + align, dtype=np.uint8)
    off = (-buf.ctypes.data) % align
    a = buf[off : off + n * item].view(dtype).reshape(shape)
    assert a.ctypes.data % align == 0 and a.flags.c_contiguous
    return a


LR, EPS, REG, INIT_ACC = 0.1, 1e-8, 0.0, 1.0  # lr, eps = fmlearn defaults; Σg² starts at 1


class Model:
    """One variant's parameters, all from the same init (w 0, V N(0, 0.01), Σg² 1)."""

    def __init__(self, kind, w_init, V_init):
        n, k = V_init.shape
        self.kind, self.k = kind, k
        self.w0 = np.zeros(1, np.float32)
        self.s1_w0 = np.full(1, INIT_ACC, np.float32)
        if kind in ("lib", "sep", "sep_al"):
            alloc = aligned_empty if kind == "sep_al" else (lambda sh: np.empty(sh, np.float32))
            self.w, self.V = alloc((n,)), alloc((n, k))
            self.s1_w, self.s1_V = alloc((n,)), alloc((n, k))
            self.w[:], self.V[:] = w_init, V_init
            self.s1_w[:], self.s1_V[:] = INIT_ACC, INIT_ACC
            self.bases = [a.ctypes.data % 64 for a in (self.w, self.V, self.s1_w, self.s1_V)]
            if kind == "lib":
                from fmlearn.kernels import sgd as K

                self.K = K
                self.hp = np.zeros(K.N_HYPER)
                self.hp[K.LR], self.hp[K.EPS] = LR, EPS
                self.hp[K.REG_BIAS] = self.hp[K.REG_LINEAR] = self.hp[K.REG_FACTORS] = REG
                self.codes = np.array([LOGISTIC, K.ADAGRAD, 1, 1], dtype=np.int64)
                e32 = np.empty(0, np.float32)
                self.state = (
                    self.s1_w0,
                    np.empty(0, np.float32),
                    self.s1_w,
                    e32,
                    self.s1_V,
                    np.empty((0, k), np.float32),
                )
        else:
            R = 2 * k + 2
            if kind == "f48_al":
                R = (R + 15) // 16 * 16
            self.R = R
            self.F = aligned_empty((n, R)) if kind.endswith("_al") else np.empty((n, R), np.float32)
            self.F[:] = 0.0
            self.F[:, 0] = w_init
            self.F[:, 1 : 1 + k] = V_init
            self.F[:, 1 + k] = INIT_ACC
            self.F[:, 2 + k : 2 + 2 * k] = INIT_ACC
            self.bases = [self.F.ctypes.data % 64]
        self.q, self.s = np.empty(k), np.empty(k)

    def epoch(self, X, y, order):
        indptr, indices, data = X
        n = order.shape[0]
        if self.kind == "lib":
            return self.K.sgd_epoch(
                X,
                y,
                np.empty(0),
                order,
                (self.w0, self.w, self.V),
                self.state,
                self.hp,
                self.codes,
                0,
                1,
            )
        if self.kind in ("sep", "sep_al"):
            return epoch_separate(
                indptr,
                indices,
                data,
                y,
                order,
                0,
                n,
                self.w0,
                self.w,
                self.V,
                self.s1_w0,
                self.s1_w,
                self.s1_V,
                LR,
                EPS,
                REG,
                True,
                True,
                self.q,
                self.s,
            )
        return epoch_fused(
            indptr,
            indices,
            data,
            y,
            order,
            0,
            n,
            self.w0,
            self.F,
            self.s1_w0,
            self.k,
            LR,
            EPS,
            REG,
            True,
            True,
            self.q,
            self.s,
        )

    def params(self):
        """(w0, w, V, s_w, s_V) as float32 arrays."""
        if hasattr(self, "F"):
            k, F = self.k, self.F
            return (self.w0, F[:, 0], F[:, 1 : 1 + k], F[:, 1 + k], F[:, 2 + k : 2 + 2 * k])
        return self.w0, self.w, self.V, self.s1_w, self.s1_V


KINDS = ["lib", "sep", "sep_al", "f34", "f34_al", "f48_al"]


def max_diff(a, b):
    return max(
        float(np.max(np.abs(x.astype(np.float64) - z.astype(np.float64))))
        for x, z in zip(a.params(), b.params(), strict=True)
    )


def all_close(a, b):
    pairs = zip(a.params(), b.params(), strict=True)
    return all(np.allclose(x, z, rtol=1e-5, atol=1e-7) for x, z in pairs)


def small_problem(k, seed=0):
    rng = np.random.default_rng(seed)
    n_rows, n_fields, n_feat = 2000, 39, 5000
    per = n_feat // n_fields
    indices = (np.arange(n_fields) * per + rng.integers(0, per, (n_rows, n_fields))).astype(
        np.int32
    )
    indptr = np.arange(0, n_fields * n_rows + 1, n_fields, dtype=np.int64)
    data = rng.uniform(0.5, 1.5, n_rows * n_fields).astype(np.float32)
    y = np.where(rng.random(n_rows) < 0.3, 1.0, -1.0)
    w_init = rng.normal(0, 0.01, n_feat).astype(np.float32)
    V_init = rng.normal(0, 0.01, (n_feat, k)).astype(np.float32)
    return (indptr, indices.reshape(-1), data), y, w_init, V_init


def check(k):
    X, y, w_init, V_init = small_problem(k)
    order = np.random.default_rng(1).permutation(X[0].shape[0] - 1)
    models = {kind: Model(kind, w_init, V_init) for kind in KINDS}
    losses = {kind: m.epoch(X, y, order) for kind, m in models.items()}
    ref = models["sep"]
    for kind, m in models.items():
        print(
            f"check k={k} {kind:7s} vs sep: allclose(rtol 1e-5)={all_close(m, ref)} "
            f"max|diff|={max_diff(m, ref):.3g} loss={losses[kind]:.6f} "
            f"(sep {losses['sep']:.6f}) base%64={m.bases}",
            flush=True,
        )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument(
        "--alternate", action="store_true", help="reverse the variant order on odd rounds"
    )
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    k = args.k

    check(k)  # also compiles every kernel (same types as below)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import ctr_adagrad as G
    from _machine import machine_line

    print(machine_line())

    t = time.perf_counter()
    world = G.make_world(0)
    (data, indices, indptr), y01, _ = G.draw(world, args.rows, 1, np.float32)
    y = np.where(y01 > 0, 1.0, -1.0)
    X = (indptr, indices, data)
    n_feat = G.N_FEATURES
    rng = np.random.default_rng(123)
    w_init = np.zeros(n_feat, np.float32)
    V_init = rng.normal(0, 0.01, (n_feat, k)).astype(np.float32)
    models = {kind: Model(kind, w_init, V_init) for kind in kinds}
    del V_init
    print(
        f"data: {args.rows} rows x 39 fields, {n_feat} features, k={k}, "
        f"gen+init {time.perf_counter() - t:.1f}s",
        flush=True,
    )
    for kind, m in models.items():
        extra = f" R={m.R} ({m.R * 4} B)" if hasattr(m, "R") else ""
        print(f"  {kind:7s} base%64={m.bases}{extra}", flush=True)

    times = {kind: [] for kind in kinds}
    for rnd in range(args.rounds):
        seq = kinds[::-1] if (args.alternate and rnd % 2) else kinds
        for kind in seq:
            m = models[kind]
            for e in range(args.epochs):
                order = np.random.default_rng(rnd * args.epochs + e).permutation(args.rows)
                t = time.perf_counter()
                loss = m.epoch(X, y, order)
                dt = time.perf_counter() - t
                times[kind].append(dt)
                print(
                    f"round {rnd} {kind:7s} epoch {e}: {dt:.3f}s "
                    f"{args.rows / dt / 1e6:.3f} M rows/s  loss/row {loss / args.rows:.5f}",
                    flush=True,
                )
    print(f"\nsummary k={k}: M rows/s over {args.rounds} round(s) x {args.epochs} epochs")
    base = np.median(times["sep"]) if "sep" in times else None
    for kind in kinds:
        ts = np.array(times[kind])
        rel = f"  median speed vs sep {base / np.median(ts):.3f}x" if base else ""
        print(
            f"  {kind:7s} best {args.rows / ts.min() / 1e6:.3f}  median "
            f"{args.rows / np.median(ts) / 1e6:.3f}{rel}"
        )
    ref = models.get("sep")
    if ref is not None:
        for kind, m in models.items():
            print(
                f"  final params {kind:7s} vs sep: allclose(rtol 1e-5)={all_close(m, ref)} "
                f"max|diff|={max_diff(m, ref):.3g}"
            )


if __name__ == "__main__":
    main()
