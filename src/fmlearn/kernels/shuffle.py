"""Epoch orders for the SGD family: a cache-friendly shuffle of the rows.

A full permutation sends every step to a random place in a CSR matrix far larger than
the caches: on 4 M and 10 M one-hot rows an AdaGrad epoch took 1.3–1.5× as long as one in
file order (benchmarks/README.md, issue 22): a TLB miss and a cache line or two per row.
Here the rows are cut into blocks of ``block`` consecutive rows, the blocks are
permuted, and each run of ``group`` consecutive (permuted) blocks is shuffled as one: an
epoch visits one group's rows, from ``group`` random places of the data, in a random
order, then the next group's. The group's pages and shared cache lines stay cached
while it is visited (solvers/order.py ``row_order`` sizes it). Mixing needs many
blocks per group: on click rows sorted by label, blocks of 1,024 rows shuffled alone lost
0.03–0.06 AUC; groups of 128 blocks of 128 rows matched a full permutation.

The draws come from SplitMix64 (also the ranking kernels' generator) seeded from the
fit's generator, so an order is reproducible from ``random_state``; Fisher–Yates with
Lemire's multiply-shift bound (each order's probability off by less than n / 2³²).
"""

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True, inline="always")
def random_bits(state):
    """SplitMix64 (Steele, Lea & Flood 2014; Java's SplittableRandom): (next state, 64
    random bits). The state is a plain uint64 (a local variable in the flat path, a slot
    of the look-ahead array in the general one): an add, two multiplies and shifts a
    number, where numba's ``np.random.randint`` (a Mersenne Twister in thread-local
    memory, with rejection for the range) measured ~20 ns. WARP draws up to ten items a
    positive (kernels/ranking.py); trained WARP epochs on MovieLens-100K got 16–25 %
    faster with this."""
    state = state + _GOLDEN
    z = (state ^ (state >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return state, z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def random_seed(seed):
    """The generator's state for ``seed`` (mixed, so chunks seeded seed, seed+1, … start
    far apart)."""
    return random_bits(np.uint64(seed))[1]


@njit(cache=True, nogil=True, inline="always")
def random_below(state, n):
    """(next state, an integer uniform on [0, n)) for 0 < n < 2³²: the top 32 bits scaled
    by n (Lemire 2019 without its rejection step; each value's probability is off by less
    than n / 2³² relative, 2·10⁻⁴ at a million)."""
    state, z = random_bits(state)
    return state, np.int64(((z >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(cache=True, nogil=True)
def _shuffle_range(out, lo, hi, state):
    """Fisher–Yates over ``out[lo:hi]``; returns the stream's state."""
    for i in range(hi - lo - 1, 0, -1):
        state, j = random_below(state, i + 1)
        a = out[lo + i]
        out[lo + i] = out[lo + j]
        out[lo + j] = a
    return state


@njit(cache=True, nogil=True)
def grouped_shuffle(n, block, group, seed):
    """A permutation of ``range(n)``: blocks of ``block`` rows permuted, then each run of
    ``group`` blocks shuffled together (``group`` ≥ the block count: a full shuffle)."""
    state = random_seed(seed)
    n_blocks = (n + block - 1) // block
    blocks = np.arange(n_blocks)
    state = _shuffle_range(blocks, 0, n_blocks, state)
    out = np.empty(n, dtype=np.int64)
    pos = 0
    for first in range(0, n_blocks, group):
        start = pos
        for b in blocks[first : min(first + group, n_blocks)]:
            for r in range(b * block, min(b * block + block, n)):
                out[pos] = r
                pos += 1
        state = _shuffle_range(out, start, pos, state)
    return out
