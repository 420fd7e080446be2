"""
Train on a libFM file larger than memory: iter_libfm chunks → partial_fit
=========================================================================

Generates a CTR-like libFM file of ``--gb`` gigabytes (39 one-hot fields, hashed ids;
clicks from a planted FM), then streams it in chunks of ``--chunk-rows`` rows through
``FMClassifier.partial_fit`` for ``--epochs`` passes. The file never sits in memory
whole: peak memory is the interpreter, one chunk and the model. Prints rows/s, the
process's peak RSS and the AUC on a held-out chunk.

    python examples/out_of_core.py [--gb 2] [--quick] [--keep FILE]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from fmlearn import FMClassifier
from fmlearn.datasets import make_ctr
from fmlearn.io import dump_libfm, iter_libfm

N_FEATURES = 200_000
N_FIELDS = 39


def write_file(path: Path, gigabytes: float, seed: int = 0):
    """Append blocks drawn from one planted model until the file has the size.

    Returns ``(rows, planted)``; the planted model also draws the held-out rows.
    """
    rows, block = 0, 200_000
    part = path.with_suffix(".part.libfm")
    _, _, planted = make_ctr(10, N_FIELDS, N_FEATURES, random_state=seed)
    with open(path, "wb") as out:
        while out.tell() < gigabytes * 1e9:
            X, y, _ = make_ctr(block, planted=planted, random_state=seed + 1 + rows // block)
            dump_libfm(X, y, part)
            out.write(part.read_bytes())
            rows += block
    part.unlink()
    return rows, planted


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(path: Path, planted, epochs: int = 1, chunk_rows: int = 200_000) -> dict:
    X_test, y_test, _ = make_ctr(100_000, planted=planted, random_state=10**6)
    model = FMClassifier(n_factors=8, reg_factors=0.01, dtype="float32", random_state=0)
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for X, y in iter_libfm(path, chunk_rows=chunk_rows, n_features=N_FEATURES,
                               dtype=np.float32):  # fmt: skip
            model.partial_fit(X, y, classes=[0, 1])
            seen += X.shape[0]
    seconds = time.perf_counter() - start
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    oracle = roc_auc_score(y_test, planted.decision(X_test))
    return {
        "rows": seen, "seconds": seconds, "auc": auc, "oracle": oracle,
        "peak_mib": peak_rss_mib(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Train on a libFM file larger than memory: iter_libfm chunks → partial_fit"
    )
    parser.add_argument("--gb", type=float, default=2.0, help="size of the generated file")
    parser.add_argument("--quick", action="store_true", help="a 0.2 GB file")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--chunk-rows", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="write the file here and keep it")
    args = parser.parse_args()
    gigabytes = 0.2 if args.quick else args.gb
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "ctr.libfm"
        start = time.perf_counter()
        # generate in a child process, so that this process's peak memory is training's
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows, _ = pool.submit(write_file, path, gigabytes).result()
        _, _, planted = make_ctr(10, N_FIELDS, N_FEATURES, random_state=0)  # the same model
        size = path.stat().st_size / 1e9
        took = time.perf_counter() - start
        print(f"wrote {path.name}: {size:.2f} GB, {rows:,} rows, in {took:.0f} s")
        baseline = peak_rss_mib()
        result = run(path, planted, args.epochs, args.chunk_rows)
    print(
        f"partial_fit over {result['rows']:,} rows in {result['seconds']:.0f} s "
        f"({result['rows'] / result['seconds'] / 1e6:.2f} M rows/s incl. parsing)"
    )
    print(f"held-out AUC {result['auc']:.4f} (the planted model's own: {result['oracle']:.4f})")
    print(
        f"peak RSS {result['peak_mib']:.0f} MiB for a {size:.2f} GB file "
        f"({baseline:.0f} MiB before training: the interpreter and libraries)"
    )


if __name__ == "__main__":
    main()
