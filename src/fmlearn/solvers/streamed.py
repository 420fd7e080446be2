"""Training rows that arrive in chunks (``fit(stream)``), read one chunk ahead on a thread.

The SGD family's epoch is a pass over chunks (:meth:`StreamData.epoch_chunks`; in-memory
data is one chunk, :meth:`TrainData.epoch_chunks`). While the kernel trains on one chunk,
a reader thread reads, parses, validates and encodes the next one: the parser and the
kernels release the GIL, so on two cores reading costs little of the training's time.
At most two chunks are alive at once (the one training and the one read ahead).

Reproducible: the chunks' order and the rows' order within each chunk come from a seed
drawn once from the fit's random stream, so a given stream, seed and chunking give the
same model, whatever the reader's timing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from fmlearn._validation import csr_arrays
from fmlearn.solvers.order import row_bytes, row_order

__all__ = ["StreamData", "TrainChunk", "train_chunk"]


@dataclass
class TrainChunk:
    """Rows in kernel form, with the order an epoch visits them in."""

    arrays: tuple[np.ndarray, np.ndarray, np.ndarray]
    y: np.ndarray
    weights: np.ndarray  # empty when every weight is 1 (saves a read per row)
    weight_total: float
    order: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.y.shape[0]


def train_chunk(X: sp.csr_matrix, y, sample_weight, rng, shuffle) -> TrainChunk:
    """A validated chunk (canonical CSR, encoded ``y``, float64 weights) in kernel form,
    with its rows' order for this epoch."""
    ones = bool(np.all(sample_weight == 1.0))
    weights = np.empty(0, dtype=np.float64) if ones else sample_weight
    total = float(sample_weight.shape[0] if ones else sample_weight.sum())
    order = row_order(X.shape[0], rng, shuffle, row_bytes(X))
    return TrainChunk(csr_arrays(X), y, weights, total, order)


_END_OF_EPOCH = object()


class StreamData:
    """A stream as training data: what :class:`~fmlearn.solvers.base.TrainData` offers
    the SGD family, with the rows read chunk by chunk.

    ``stream`` is an :class:`fmlearn.io.stream.Stream` (solvers do not import ``io``:
    docs/design.md §3); its chunks have ``X``, ``y``, ``sample_weight`` and ``where``.

    ``prepare(chunk)`` validates one chunk and returns ``(X, encoded y, weights)``;
    ``first`` is the first chunk, prepared (it sizes ``init_std="auto"`` and is the
    sample the memory check reads). Call :meth:`close` when the fit ends.
    """

    relations = None
    relation_widths: tuple[int, ...] = ()
    groups = None

    def __init__(self, stream: Any, prepare: Callable, first, n_features: int, eval_sets):
        self.stream = stream
        self.prepare = prepare
        self.first = first
        self.n_features = n_features
        self.eval_sets = eval_sets
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue = queue.Queue()
        self._slot = threading.Semaphore(1)
        self._stop = threading.Event()

    @property
    def X(self) -> sp.csr_matrix:
        """The first chunk's rows: a sample of the data."""
        return self.first[0]

    def epoch_chunks(self, rng: np.random.Generator, shuffle) -> Iterator[TrainChunk]:
        """The next epoch's chunks. The first call draws the stream's seed from ``rng``
        and starts the reader; ``shuffle`` shuffles the chunks (when the stream can be
        read in any order) and the rows within each chunk."""
        if self._thread is None:
            seed = int(rng.integers(2**63 - 1))
            self.first = None  # the reader reads it again; the sample is no longer needed
            self._thread = threading.Thread(
                target=self._read, args=(seed, shuffle), name="fmlearn-stream", daemon=True
            )
            self._thread.start()
        while True:
            item = self._queue.get()
            if item is _END_OF_EPOCH:
                return
            if isinstance(item, BaseException):
                self.close()
                raise item
            self._slot.release()  # the reader may now read the chunk after this one
            yield item

    def close(self) -> None:
        """Stop the reader (at the end of the fit, or when it stops early)."""
        self._stop.set()
        self._slot.release()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    # ----------------------------------------------------------------- reader thread
    def _read(self, seed: int, shuffle) -> None:
        try:
            epoch = 0
            while not self._stop.is_set():
                n = self.stream.n_chunks()
                rng = np.random.default_rng([seed, epoch])
                order = rng.permutation(n) if shuffle and n is not None and n > 1 else None
                for j, chunk in enumerate(self.stream.chunks(order)):
                    self._slot.acquire()
                    if self._stop.is_set():
                        return
                    self._queue.put(self._train_chunk(chunk, seed, epoch, j, shuffle))
                self._queue.put(_END_OF_EPOCH)
                epoch += 1
        except BaseException as exc:
            self._queue.put(exc)

    def _train_chunk(self, chunk: Any, seed: int, epoch: int, j: int, shuffle):
        try:
            X, y, sw = self.prepare(chunk)
        except (ValueError, TypeError) as exc:
            if type(exc) not in (ValueError, TypeError):
                raise
            raise type(exc)(f"{chunk.where} of the stream: {exc}") from exc
        return train_chunk(X, y, sw, np.random.default_rng([seed, epoch, j, 1]), shuffle)
