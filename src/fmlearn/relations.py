"""Relation blocks: features that many rows share, stored once (libFM's ``-relation``).

Every rating of a user carries the same user features — demographics, the set of items
the user rated (SVD++'s implicit feedback) — and every rating of an item the item's.
Written flat, each row repeats them: ML-100K with the user's rated-item set has 210
non-zeros per row, 208 of them copies. A :class:`RelationBlock` keeps such a block once,
as its own sparse design ``X`` (one row per user, say), with ``index[r]`` naming the block
row that data row r uses. The model is still the flat FM over ``[X | X_1[index_1] | X_2[index_2]
| …]`` — :func:`flatten` builds that matrix, and every estimator's predictions equal the
flat model's — but the MCMC and ALS sweeps of :mod:`fmlearn.kernels.relational` compute
each block row once (Rendle, "Scaling Factorization Machines to Relational Data", VLDB
2013), at O(k · (nnz(X) + Σ nnz(X_b) + B · n_rows)) per sweep instead of O(k · nnz(flat)).

Feature numbering and groups follow libFM: a block's features come after the main
features, in the order of the blocks; each block brings its own hyperprior groups
(``groups``, numbered after those of the main table), one group if it gives none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from fmlearn._validation import as_canonical_csr, check_groups, csr_arrays
from fmlearn.kernels.relational import block_row_terms, predict_relational


class RelationBlock:
    """A block of features shared by many rows: ``X`` (n_block_rows × n_block_features,
    any sparse or dense array) and ``index`` (one block row per data row).

    ``groups`` gives each of the block's features a hyperprior group 0…G_b−1 (MCMC; ALS's
    and SGDA's per-group strengths), numbered after the main table's groups; without it
    the block is one group of its own, as in libFM. Solvers without groups (the SGD
    family) and higher-order FMs ignore a block's groups. The block is checked once,
    here; ``fit`` and ``predict`` check that ``index`` has one entry per row of their
    ``X``.

    >>> users = RelationBlock(user_of_rating, user_features)  # doctest: +SKIP
    >>> FMRegressor(solver="mcmc").fit(X, y, relations=[users, items])  # doctest: +SKIP
    """

    def __init__(self, index, X, groups=None):
        index = np.asarray(index)
        if index.ndim != 1:
            raise ValueError(f"RelationBlock index must be 1-dimensional; got shape {index.shape}.")
        integral = index.dtype.kind in "iu" or (
            index.dtype.kind == "f" and np.all(np.isfinite(index)) and np.all(index % 1 == 0)
        )
        if index.size and not integral:
            raise ValueError(
                f"RelationBlock index must hold integer block-row numbers; got dtype {index.dtype}."
            )
        X = _block_matrix(X)
        if index.size and (index.min() < 0 or index.max() >= X.shape[0]):
            bad = int(index.min()) if index.min() < 0 else int(index.max())
            raise ValueError(
                f"RelationBlock index refers to block row {bad}, but X has {X.shape[0]} rows "
                f"(valid: 0…{X.shape[0] - 1})."
            )
        self.index = np.ascontiguousarray(index, dtype=np.int64)
        self.X = X
        self.groups = None if groups is None else check_groups(groups, X.shape[1])

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_groups(self) -> int:
        return int(self.groups.max()) + 1 if self.groups is not None and self.groups.size else 1

    def __repr__(self) -> str:
        return (
            f"RelationBlock({self.index.shape[0]:,} rows → {self.X.shape[0]:,} block rows × "
            f"{self.X.shape[1]:,} features, {self.X.nnz:,} non-zeros)"
        )


def _block_matrix(X) -> sp.csr_matrix:
    if isinstance(X, RelationBlock | str | bytes | dict) or np.isscalar(X):
        raise TypeError(
            f"RelationBlock X must be a sparse matrix or an array; got {type(X).__name__}."
        )
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"RelationBlock X must be 2-dimensional; got shape {X.shape}.")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"RelationBlock X must be numeric; got dtype {X.dtype}.")
    X = as_canonical_csr(X, np.float64)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"RelationBlock X must have rows and features; got shape {X.shape}.")
    if not np.all(np.isfinite(X.data)):
        raise ValueError("RelationBlock X contains NaN or infinity.")
    return X


def check_relations(
    relations, n_rows: int, *, fitted: Sequence[int] | None = None, argument: str = "relations"
) -> tuple[RelationBlock, ...]:
    """``relations`` as a tuple of blocks whose indices cover ``n_rows`` rows.

    ``fitted``: the block widths the model was fitted with (predict, eval sets, continued
    fits) — the blocks must be as many and as wide.
    """
    if relations is None:
        relations = ()
    if isinstance(relations, RelationBlock):
        relations = (relations,)
    if not isinstance(relations, Sequence) or isinstance(relations, str):
        raise TypeError(
            f"{argument} must be a list of fmlearn.RelationBlock; got {type(relations).__name__}."
        )
    relations = tuple(relations)
    for b, block in enumerate(relations):
        if not isinstance(block, RelationBlock):
            raise TypeError(
                f"{argument}[{b}] must be a fmlearn.RelationBlock; got {type(block).__name__}."
            )
        if block.index.shape[0] != n_rows:
            raise ValueError(
                f"{argument}[{b}].index has {block.index.shape[0]} entries, but X has {n_rows} "
                "rows: give one block row per row of X."
            )
    if fitted is not None:
        widths = tuple(block.n_features for block in relations)
        if len(widths) != len(fitted):
            if not fitted:
                raise ValueError(
                    f"{argument} were given, but the model was fitted without relation blocks."
                )
            raise ValueError(
                f"The model was fitted with {len(fitted)} relation block(s) of "
                f"{list(fitted)} features; {argument} has {len(widths)}"
                + ("" if widths else " (pass relations=[…] as in fit)")
                + "."
            )
        for b, (got, expected) in enumerate(zip(widths, fitted, strict=True)):
            if got != expected:
                raise ValueError(
                    f"{argument}[{b}] has {got} features, but the model's block {b} has {expected}."
                )
    return relations


def flatten(X, relations: Sequence[RelationBlock], groups=None):
    """The flat design ``[X | X_1[index_1] | …]`` and its groups: the model the blocks stand for.

    Returns ``(X_flat, groups_flat)``: CSR, and the feature groups libFM would use (the
    main table's ``groups``, else one group, then each block's, numbered on), or None
    without blocks. Memory O(nnz of the flat rows): for checking, small data, and the
    solvers that train on rows (the SGD family).
    """
    X = X if sp.issparse(X) else np.asarray(X)
    X = as_canonical_csr(X, X.dtype if X.dtype.kind == "f" else np.float64)
    relations = check_relations(relations, X.shape[0])
    if not relations:
        return X, None if groups is None else check_groups(groups, X.shape[1])
    parts = [X] + [block.X.astype(X.dtype)[block.index] for block in relations]
    flat = as_canonical_csr(sp.hstack(parts, format="csr"), X.dtype)
    return flat, combined_groups(X.shape[1], relations, groups)


def combined_groups(n_main: int, relations: Sequence[RelationBlock], groups=None) -> np.ndarray:
    """Groups of the whole model: the main table's (or one group), then each block's
    (or one group each), numbered after the ones before (libFM's joined meta table)."""
    main = np.zeros(n_main, np.int64) if groups is None else check_groups(groups, n_main)
    parts, offset = [main], (int(main.max()) + 1 if main.size else 1)
    for block in relations:
        own = block.groups if block.groups is not None else np.zeros(block.n_features, np.int64)
        parts.append(own + offset)
        offset += block.n_groups
    return np.concatenate(parts)


@dataclass
class RelationArrays:
    """The blocks in kernel form, stacked: what :mod:`fmlearn.kernels.relational` reads.

    All blocks' rows form one matrix Z (rows ``row_bounds[b]…row_bounds[b+1]`` are block
    b's) in the model's feature numbering (block b's features are
    ``feature_bounds[b]…feature_bounds[b+1]``), as CSR (``Zr``) and CSC over every model
    feature (``Zc``, empty columns for the main features); ``links[n, b]`` is data row
    n's row of Z in block b.
    """

    links: np.ndarray  # (n_rows, B) int64
    Zr: tuple
    Zc: tuple | None
    row_bounds: np.ndarray  # (B + 1,) int64
    feature_bounds: np.ndarray  # (B + 1,) int64
    blocks: tuple  # the RelationBlocks these arrays were made from

    @classmethod
    def build(
        cls, relations: Sequence[RelationBlock], n_main: int, dtype, columns: bool = True
    ) -> RelationArrays:
        """``columns=False`` skips the CSC copy, which only the sweeps read."""
        rows = np.cumsum([0] + [b.X.shape[0] for b in relations]).astype(np.int64)
        features = n_main + np.cumsum([0] + [b.n_features for b in relations]).astype(np.int64)
        # the blocks' CSR arrays end to end, their columns moved to their features: no
        # COO temporaries (scipy's block_diag makes them), each block already canonical
        starts = np.cumsum([0] + [b.X.nnz for b in relations])
        indptr = np.concatenate(
            [[0]]
            + [
                b.X.indptr[1:].astype(np.int64) + s
                for b, s in zip(relations, starts[:-1], strict=True)
            ]
        )
        indices = np.concatenate(
            [
                b.X.indices.astype(np.int32) + np.int32(f)
                for b, f in zip(relations, features[:-1], strict=True)
            ]
        )
        data = np.concatenate([b.X.data.astype(dtype, copy=False) for b in relations])
        Z = sp.csr_matrix((data, indices, indptr), shape=(int(rows[-1]), int(features[-1])))
        Zc = csr_arrays(Z.tocsc()) if columns else None
        return cls(_links(relations, rows), csr_arrays(Z), Zc, rows, features, tuple(relations))

    def for_rows(self, relations: Sequence[RelationBlock], n_main: int, dtype) -> RelationArrays:
        """Arrays for other rows (eval sets): these blocks' Z when they are the same
        block matrices, linked by the new indices; otherwise built afresh."""
        if len(relations) == len(self.blocks) and all(
            a.X is b.X for a, b in zip(relations, self.blocks, strict=True)
        ):
            links = _links(relations, self.row_bounds)
            return RelationArrays(links, self.Zr, self.Zc, self.row_bounds, self.feature_bounds,
                                  tuple(relations))  # fmt: skip
        return RelationArrays.build(relations, n_main, dtype, columns=False)

    @property
    def n_features(self) -> int:
        """Features of the blocks together."""
        return int(self.feature_bounds[-1] - self.feature_bounds[0])

    @property
    def n_total(self) -> int:
        """Features of the whole model (main table and blocks)."""
        return int(self.feature_bounds[-1])

    def decision(self, X: sp.csr_matrix, params, n_threads: int = 1) -> np.ndarray:
        """ŷ of every row of ``X`` with its block rows: each block row's part computed
        once (kernels/relational.py); parallel over rows with ``n_threads``."""
        w0, w, V = params.as_tuple()
        n_block_rows, k = int(self.row_bounds[-1]), V.shape[1]
        lin = np.empty(n_block_rows)
        qB, sqB = np.empty((n_block_rows, k)), np.empty((n_block_rows, k))
        block_row_terms(self.Zr, w, V, lin, qB, sqB)
        out = np.empty(X.shape[0])
        previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
        try:
            predict_relational(csr_arrays(X), self.links, lin, qB, sqB, float(w0[0]), w, V, out,
                               PREDICT_BLOCK_ROWS)  # fmt: skip
        finally:
            numba.set_num_threads(previous)
        return out


#: Rows per parallel task of :meth:`RelationArrays.decision`.
PREDICT_BLOCK_ROWS = 4096


def _links(relations: Sequence[RelationBlock], row_bounds: np.ndarray) -> np.ndarray:
    links = np.empty((relations[0].index.shape[0], len(relations)), dtype=np.int64)
    for b, block in enumerate(relations):
        links[:, b] = block.index + row_bounds[b]
    return links


def is_relations_argument(value) -> bool:
    """Whether an eval-set tuple's last item is a list of blocks (not sample weights)."""
    if isinstance(value, RelationBlock):
        return True
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(b, RelationBlock) for b in value)
    )
