"""Text reader throughput: fmlearn.io.load_libsvm vs scikit-learn's load_svmlight_file.

Generates two CTR-like libSVM files of about ``--mb`` megabytes each in a temporary folder
(39 fields, one feature of each per row, a million features in all, 0/1 labels; values
with four decimals in one, full-precision doubles in the other) plus their gzip copies,
checks that every reader returns the same matrix as scikit-learn, then prints a markdown
table with the best of ``--repeat`` timings: seconds, MB/s (of uncompressed text), rows/s
and the speed-up over scikit-learn. ``iter_libsvm`` (streaming, 100k-row chunks, stacked
back) is timed as well.

    python benchmarks/readers.py [--mb 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import tempfile
import time

import numba
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.datasets import load_svmlight_file

from fmlearn.io import dump_libsvm, iter_libsvm, load_libsvm

N_FIELDS = 39
N_FEATURES = 1_000_000
VALUES = {
    "4 decimals": lambda rng, n: rng.integers(1, 1_000_000, n) / 1e4,
    "full precision": lambda rng, n: rng.normal(size=n),  # 17 significant digits
}


def make_matrix(n_rows: int, values: str, rng) -> tuple[sp.csr_matrix, np.ndarray]:
    """CTR-like rows: one feature of each of 39 fields, ``values`` as VALUES says."""
    width = N_FEATURES // N_FIELDS
    cols = (np.arange(N_FIELDS) * width + rng.integers(0, width, (n_rows, N_FIELDS))).ravel()
    indptr = np.arange(0, (n_rows + 1) * N_FIELDS, N_FIELDS)
    data = VALUES[values](rng, cols.shape[0])
    return sp.csr_matrix((data, cols, indptr), (n_rows, N_FEATURES)), rng.integers(0, 2, n_rows)


def make_file(folder: str, megabytes: float, values: str, seed: int = 0) -> tuple[str, int]:
    """A one-based libSVM file of about ``megabytes`` MB; returns (path, n_rows)."""
    rng = np.random.default_rng(seed)
    path = os.path.join(folder, values.replace(" ", "-") + ".svm")
    dump_libsvm(*make_matrix(1000, values, rng), path)  # measure the bytes per row
    n_rows = int(megabytes * 1e6 / (os.path.getsize(path) / 1000))
    dump_libsvm(*make_matrix(n_rows, values, rng), path)
    with open(path, "rb") as src, gzip.open(path + ".gz", "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    return path, n_rows


def best_time(function, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def same(a, b) -> bool:
    Xa, ya = a
    Xb, yb = b
    return (
        Xa.shape == Xb.shape
        and np.array_equal(Xa.indptr, Xb.indptr)
        and np.array_equal(Xa.indices, Xb.indices)
        and np.array_equal(Xa.data, Xb.data)
        and np.array_equal(ya, yb)
    )


def stream(path: str, n_features: int):
    chunks = list(iter_libsvm(path, n_features=n_features, zero_based=False))
    return sp.vstack([c[0] for c in chunks], format="csr"), np.concatenate([c[1] for c in chunks])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy "
        f"{np.__version__}, numba {numba.__version__}, scikit-learn {sklearn.__version__}"
    )


def bench(path: str, n_rows: int, values: str, repeat: int) -> None:
    """Print the table rows for one file (plain and gzipped)."""
    megabytes = os.path.getsize(path) / 1e6
    reference = load_svmlight_file(path)
    n_features = reference[0].shape[1]
    readers = [
        ("sklearn load_svmlight_file", "", lambda p: load_svmlight_file(p)),
        ("fmlearn load_libsvm", "", load_libsvm),
        ("fmlearn iter_libsvm, 100k-row chunks", "", lambda p: stream(p, n_features)),
        ("sklearn load_svmlight_file", ".gz", lambda p: load_svmlight_file(p)),
        ("fmlearn load_libsvm", ".gz", load_libsvm),
    ]
    sklearn_seconds = {}
    for name, ext, read in readers:
        seconds, result = best_time(lambda r=read, e=ext: r(path + e), repeat)
        if not same(result, reference):
            raise SystemExit(f"{name} on {path + ext} differs from load_svmlight_file")
        sklearn_seconds.setdefault(ext, seconds)
        kind = f"{values}, {megabytes:.0f} MB" + (
            f" (gzip {os.path.getsize(path + ext) / 1e6:.0f} MB)" if ext else ""
        )
        print(
            f"| {name} | {kind} | {seconds:.2f} | {megabytes / seconds:.0f} | "
            f"{n_rows / seconds:,.0f} | {sklearn_seconds[ext] / seconds:.1f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="size of each generated file")
    parser.add_argument("--repeat", type=int, default=3, help="timings per reader (best kept)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="fmlearn-read-text-")
    try:
        files = {values: make_file(folder, args.mb, values) for values in VALUES}
        load_libsvm(files["4 decimals"][0] + ".gz")  # compile / load the numba cache first
        print(f"Best of {args.repeat}; MB/s of uncompressed text; {machine()}\n")
        print("| reader | file | seconds | MB/s | rows/s | vs sklearn |")
        print("|---|---|---:|---:|---:|---:|")
        for values, (path, n_rows) in files.items():
            bench(path, n_rows, values, args.repeat)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
