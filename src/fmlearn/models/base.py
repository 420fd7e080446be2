"""The contract every model fulfils (docs/design.md, "How to add a model")."""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
import scipy.sparse as sp


class Params(Protocol):
    """A model's parameters: plain arrays, so they save without pickle.

    ``arrays()`` names each array after the estimator attribute that exposes it
    (``{"w0_": …, "w_": …, "V_": …}``); the same names are the model file's entries.
    """

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def n_features(self) -> int: ...

    def arrays(self) -> dict[str, np.ndarray]: ...

    def as_tuple(self) -> tuple[np.ndarray, ...]: ...

    def copy(self) -> Params: ...

    def fitted_attributes(self) -> dict: ...


class Model:
    """Parameter layout + initialisation + prediction of one kind of factorization machine.

    A model holds its hyper-parameters (rank, dtype …), never the learned values: those
    are a :class:`Params` object, passed to :meth:`decision` and produced by solvers.
    """

    #: Short name, written into model files.
    name: ClassVar[str]
    #: The solver families that can train it (``Solver.family``: "sgd", "als", "mcmc").
    families: ClassVar[frozenset[str]] = frozenset()

    @property
    def dtype(self) -> type:
        raise NotImplementedError

    def init_params(self, n_features: int, rng: np.random.Generator) -> Params:
        """The starting point of training (random where symmetry must be broken)."""
        raise NotImplementedError

    def decision(self, X: sp.csr_matrix, params: Params, n_threads: int = 1) -> np.ndarray:
        """Raw model output ŷ(x) (float64) for each row of a canonical CSR matrix."""
        raise NotImplementedError

    def params_from_arrays(
        self, arrays: dict[str, np.ndarray], n_features: int, check_values: bool = True
    ) -> Params:
        """Rebuild saved parameters; ``ValueError`` if shapes, dtypes or values are wrong
        (values: NaN or infinity, unless ``check_values=False``, for parameters the
        estimator itself keeps: a ``partial_fit`` call must not pay a pass over the model)."""
        raise NotImplementedError

    @classmethod
    def saved_rank(cls, arrays: dict[str, np.ndarray]) -> int | None:
        """The rank of saved parameters (None: the model has none). A file is read with
        it, since ``set_params(n_factors=…)`` after a fit does not change the fitted
        model."""
        return None

    def params_from_estimator(self, estimator) -> Params:
        """The parameters a fitted estimator exposes as attributes (``w0_``, ``V_`` …)."""
        raise NotImplementedError


def normal_table(rng: np.random.Generator, shape: tuple, std: float, dtype) -> np.ndarray:
    """An array of N(0, std²) draws stored in ``dtype``, drawn in float64 blocks of ~1M
    values along the first axis: the same numbers as one big draw, without a full-size
    float64 temporary for a float32 model (the factor tables of every model)."""
    table = np.empty(shape, dtype=dtype)
    row = int(np.prod(shape[1:]))
    step = max(1, 2**20 // max(row, 1))
    for start in range(0, shape[0], step):
        stop = min(start + step, shape[0])
        table[start:stop] = rng.normal(0.0, std, size=(stop - start, *shape[1:]))
    return table
