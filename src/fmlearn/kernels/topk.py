"""The n best entries of every row of a score block (top-N lists).

``np.argpartition`` over a block of users × 10,000 items took 5× the block's matrix
product (measured: 209–242 ms against 37–44 ms for 838 × 10,000 float32): it moves every
score. A bounded min-heap per row reads each score once and keeps n, and rows run in
parallel. Equal scores rank by the given ids (smaller first), at the cut-off too, so a
list never depends on the order of the work; −inf marks an excluded entry (a seen item)
and is never returned.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, inline="always")
def _worse(score_a, id_a, score_b, id_b):
    """Entry a ranks below entry b: a lower score, or an equal score and a larger id."""
    return score_a < score_b or (score_a == score_b and id_a > id_b)


@njit(cache=True, nogil=True, inline="always")
def _swap(heap_s, heap_p, heap_id, a, b):
    heap_s[a], heap_s[b] = heap_s[b], heap_s[a]
    heap_p[a], heap_p[b] = heap_p[b], heap_p[a]
    heap_id[a], heap_id[b] = heap_id[b], heap_id[a]


@njit(cache=True, nogil=True, inline="always")
def _sift_down(heap_s, heap_p, heap_id, size, at):
    """Restore the min-heap (worst entry at the root) below position ``at``."""
    while True:
        left = 2 * at + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _worse(heap_s[right], heap_id[right], heap_s[left], heap_id[left]):
            child = right
        if not _worse(heap_s[child], heap_id[child], heap_s[at], heap_id[at]):
            return
        _swap(heap_s, heap_p, heap_id, at, child)
        at = child


@njit(cache=True, nogil=True, inline="always")
def _row_top(S, r, n, ids, out_pos, out_score, heap_s, heap_p, heap_id):
    if n == 0:
        return
    size = 0
    for c in range(S.shape[1]):
        v = np.float64(S[r, c])
        if v == -np.inf:
            continue
        if size < n:
            # append, then sift up
            at = size
            heap_s[at], heap_p[at], heap_id[at] = v, c, ids[c]
            size += 1
            while at > 0:
                parent = (at - 1) // 2
                if not _worse(heap_s[at], heap_id[at], heap_s[parent], heap_id[parent]):
                    break
                _swap(heap_s, heap_p, heap_id, at, parent)
                at = parent
        elif _worse(heap_s[0], heap_id[0], v, ids[c]):
            heap_s[0], heap_p[0], heap_id[0] = v, c, ids[c]
            _sift_down(heap_s, heap_p, heap_id, size, 0)
    # pop worst first into the back of the output: best first
    for slot in range(n - 1, size - 1, -1):
        out_pos[r, slot] = -1
        out_score[r, slot] = -np.inf
    for slot in range(size - 1, -1, -1):
        out_pos[r, slot] = heap_p[0]
        out_score[r, slot] = heap_s[0]
        last = slot
        heap_s[0], heap_p[0], heap_id[0] = heap_s[last], heap_p[last], heap_id[last]
        _sift_down(heap_s, heap_p, heap_id, last, 0)


@njit(cache=True, nogil=True, parallel=True)
def top_n_rows(S, n, ids, out_pos, out_score):
    """Fill ``out_pos[r]`` (int64, column positions) and ``out_score[r]`` (float64) with
    row r's ``n`` largest scores of ``S``, best first, ties by ``ids[column]``; rows with
    fewer than n entries above −inf are padded with −1 and −inf."""
    for r in prange(S.shape[0]):
        heap_s = np.empty(max(n, 1))
        heap_p = np.empty(max(n, 1), dtype=np.int64)
        heap_id = np.empty(max(n, 1), dtype=np.int64)
        _row_top(S, r, n, ids, out_pos, out_score, heap_s, heap_p, heap_id)
