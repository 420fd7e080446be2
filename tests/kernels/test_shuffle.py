"""The grouped shuffle (kernels/shuffle.py): a permutation whose groups are unions of
blocks, uniform where a group spans everything, reproducible from its seed."""

import numpy as np
import pytest

from fmlearn._utils import cache_bytes
from fmlearn.kernels.shuffle import grouped_shuffle
from fmlearn.solvers.order import (
    SHUFFLE_GROUP_BLOCKS,
    SHUFFLE_GROUP_BYTES,
    SHUFFLE_MAX_BLOCK_ROWS,
    row_order,
)


@pytest.mark.parametrize(("n", "block", "group"), [(1, 16, 4), (96, 16, 2), (994, 7, 3),
                                                   (4096, 16, 256), (50, 16, 1000)])  # fmt: skip
def test_a_permutation_whose_groups_are_unions_of_blocks(n, block, group):
    """(n a multiple of the block, or one group: the groups then start every block·group
    rows; a short last block shifts the later groups, checked for permutation only.)"""
    assert np.array_equal(np.sort(grouped_shuffle(n + 5, block, group, 1)), np.arange(n + 5))
    order = grouped_shuffle(n, block, group, 12345)
    assert np.array_equal(np.sort(order), np.arange(n))
    span = block * group
    for start in range(0, n, span):
        part = order[start : start + span]
        blocks = np.unique(part // block)
        assert len(blocks) <= group
        # every row of each block the group drew is in the group
        expected = np.concatenate([np.arange(b * block, min(b * block + block, n)) for b in blocks])
        assert np.array_equal(np.sort(part), expected)


def test_reproducible_and_seed_dependent():
    a = grouped_shuffle(10_000, 16, 32, 7)
    assert np.array_equal(a, grouped_shuffle(10_000, 16, 32, 7))
    assert not np.array_equal(a, grouped_shuffle(10_000, 16, 32, 8))


def test_one_group_is_a_uniform_shuffle():
    """Where a group holds every block, each row is equally likely at each position."""
    n, trials = 6, 12_000
    counts = np.zeros((n, n))
    for seed in range(trials):
        order = grouped_shuffle(n, 2, 10, seed)
        counts[order, np.arange(n)] += 1
    expected = trials / n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 70  # 25 degrees of freedom: p ≈ 1e-5 at 70


def test_row_order_by_the_shuffle_parameter():
    rng = np.random.default_rng(0)
    assert np.array_equal(row_order(50, rng, False, 100.0), np.arange(50))
    full = row_order(1000, np.random.default_rng(1), True, 100.0)
    assert np.array_equal(full, np.random.default_rng(1).permutation(1000))
    small = row_order(1000, rng, "grouped", 400.0)  # fits the L3 cache: one shuffle
    assert np.array_equal(np.sort(small), np.arange(1000))
    n = int(4 * cache_bytes(3) / 400.0)  # four times the L3: grouped
    grouped = row_order(n, rng, "grouped", 400.0)
    assert np.array_equal(np.sort(grouped), np.arange(n))
    rows = SHUFFLE_GROUP_BYTES / 400.0
    block = int(min(SHUFFLE_MAX_BLOCK_ROWS, rows // SHUFFLE_GROUP_BLOCKS))
    first = grouped[: block * SHUFFLE_GROUP_BLOCKS] // block
    assert len(np.unique(first)) == SHUFFLE_GROUP_BLOCKS  # the first group: whole blocks …
    assert len(np.unique(first[:block])) > 1  # … mixed
