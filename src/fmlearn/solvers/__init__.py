"""Solvers: the loops that turn data into parameters, one signature for all of them.

``get_solver(name)`` returns the registered :class:`~fmlearn.solvers.base.Solver`
(``"sgd"``, ``"adagrad"``, ``"adam"``, ``"ftrl"``, ``"sgda"``, ``"als"``, ``"mcmc"``);
``register_solver`` adds one (docs/design.md, "How to add a solver"). The contract is in
:mod:`fmlearn.solvers.base`.
"""

# registration order is the order messages list solvers in: the SGD family first
from fmlearn.solvers import sgd  # isort: split

from fmlearn.solvers import sgda  # isort: split

from fmlearn.solvers import coordinate
from fmlearn.solvers.base import (
    DivergenceError,
    EvalSet,
    FitHistory,
    FitResult,
    IterationInfo,
    Solver,
    TrainData,
    get_solver,
    register_solver,
    solver_names,
)

__all__ = [
    "DivergenceError",
    "EvalSet",
    "FitHistory",
    "FitResult",
    "IterationInfo",
    "Solver",
    "TrainData",
    "coordinate",
    "get_solver",
    "register_solver",
    "sgd",
    "sgda",
    "solver_names",
]
