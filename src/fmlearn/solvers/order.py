"""The order an SGD-family epoch visits its rows in (the estimators' ``shuffle``).

One policy for every SGD-family loop: an in-memory fit (one chunk), a stream's chunks
(solvers/streamed.py) and SGDA. The grouped shuffle itself is numba code in
kernels/shuffle.py; here its groups are sized from the rows' bytes and the caches.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fmlearn._utils import cache_bytes
from fmlearn.kernels.shuffle import grouped_shuffle

__all__ = ["row_bytes", "row_order"]

#: Bytes of rows in a group of the grouped shuffle (kernels/shuffle.py): about 15,000
#: one-hot rows of 39 fields. A group's rows, their pages and the cache lines they share
#: are reused while it is visited: it fits the L3 cache and the L2 TLB's reach.
SHUFFLE_GROUP_BYTES = 5 << 20
#: Blocks a group mixes: each block is consecutive rows, alike in a sorted file, so a
#: group must draw from many (on click rows sorted by label, groups of 8–16 blocks lost
#: up to 0.009 AUC after 3 epochs; 128 and more matched a full permutation).
SHUFFLE_GROUP_BLOCKS = 128
#: Rows per block, at most: larger blocks cost less (whole pages, fewer jumps).
SHUFFLE_MAX_BLOCK_ROWS = 128


def row_bytes(X: sp.csr_matrix) -> float:
    """Bytes a step reads of the data per row: its CSR entries, its offset and label."""
    n = max(X.shape[0], 1)
    return (X.indices.nbytes + X.data.nbytes) / n + 16.0


def row_order(n: int, rng: np.random.Generator, shuffle, bytes_per_row: float) -> np.ndarray:
    """The order an epoch visits ``n`` rows in, by the estimator's ``shuffle``: file order
    (False), a permutation (True), or (``"grouped"``) the grouped shuffle of
    kernels/shuffle.py: groups of :data:`SHUFFLE_GROUP_BYTES` of rows drawn from
    :data:`SHUFFLE_GROUP_BLOCKS` blocks each; rows that fit the L3 cache are simply
    shuffled (a single group)."""
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    if shuffle is True:
        return rng.permutation(n)
    seed = int(rng.integers(2**63 - 1))
    bytes_per_row = max(bytes_per_row, 1.0)
    if n * bytes_per_row <= cache_bytes(3):
        return grouped_shuffle(n, max(n, 1), 1, seed)
    group_rows = SHUFFLE_GROUP_BYTES / bytes_per_row
    block = int(min(SHUFFLE_MAX_BLOCK_ROWS, max(1, group_rows // SHUFFLE_GROUP_BLOCKS)))
    return grouped_shuffle(n, block, SHUFFLE_GROUP_BLOCKS, seed)
