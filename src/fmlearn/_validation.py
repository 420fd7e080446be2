"""Input and parameter checks, in one place, with one wording.

Everything a user can get wrong is caught here, before any kernel runs, so that no numba
typing error or out-of-bounds read can reach a user. Messages give the expected and the
received value, in scikit-learn's wording where scikit-learn has one.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

FLOAT_DTYPES = {"float64": np.float64, "float32": np.float32}


# ---------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (int or float) in a range; ``None`` ends are unbounded."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "left"  # "left", "right", "both" or "neither"

    def accepts(self, value) -> bool:
        if isinstance(value, bool | np.bool_):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Real) or not np.isfinite(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        name = "an int" if self.kind is int else "a float"
        return f"{name} in the range {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (strings or dtypes)."""

    values: tuple

    def accepts(self, value) -> bool:
        try:
            return any(value == v for v in self.values)
        except (TypeError, ValueError):
            return False

    def describe(self) -> str:
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"


class _Boolean:
    def accepts(self, value) -> bool:
        return isinstance(value, bool | np.bool_)

    def describe(self) -> str:
        return "a bool"


class _NoneValue:
    def accepts(self, value) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


class _RandomState:
    def accepts(self, value) -> bool:
        return (
            value is None
            or (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0)
            or isinstance(value, np.random.RandomState | np.random.Generator)
        )

    def describe(self) -> str:
        return "an int >= 0, a numpy RandomState or Generator, or None"


class _Sequence:
    def accepts(self, value) -> bool:
        return isinstance(value, list | tuple)

    def describe(self) -> str:
        return "a list"


class _String:
    def accepts(self, value) -> bool:
        return isinstance(value, str) and value != ""

    def describe(self) -> str:
        return "a non-empty str"


class _Mapping:
    def accepts(self, value) -> bool:
        return isinstance(value, dict)

    def describe(self) -> str:
        return "a dict"


class _PerGroup:
    """A 1-D list or array of finite values ≥ 0: one per feature group (``groups=``)."""

    def accepts(self, value) -> bool:
        if not isinstance(value, list | tuple | np.ndarray):
            return False
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return (
            array.ndim == 1 and array.size > 0 and bool(np.all(np.isfinite(array) & (array >= 0)))
        )

    def describe(self) -> str:
        return "a list of per-group values ≥ 0"


BOOLEAN = _Boolean()
NONE = _NoneValue()
RANDOM_STATE = _RandomState()
SEQUENCE = _Sequence()
MAPPING = _Mapping()
STRING = _String()
PER_GROUP = _PerGroup()


def check_param(owner: str, name: str, value, allowed: list) -> None:
    """Raise scikit-learn's wording if ``value`` fits none of ``allowed``.

    ``owner`` names what takes the parameter: a class (``FMRegressor``) or a function
    (``load_libsvm``).
    """
    if not any(c.accepts(value) for c in allowed):
        expected = " or ".join(c.describe() for c in allowed)
        raise ValueError(
            f"The '{name}' parameter of {owner} must be {expected}. Got {value!r} instead."
        )


def validate_params(estimator, constraints: dict[str, list]) -> None:
    """Check every constructor parameter of ``estimator`` against ``constraints``.

    Only the parameters the estimator has (``get_params``) are checked, so a subclass may
    drop some of its base class's parameters.
    """
    owner = type(estimator).__name__
    for name, value in estimator.get_params(deep=False).items():
        if name not in constraints:
            raise TypeError(f"{owner} has no constraint for its parameter {name!r}.")
        check_param(owner, name, value, constraints[name])


def resolve_dtype(dtype, owner: str | None = None) -> type:
    """Map a ``dtype`` parameter (string or numpy type) to np.float32 or np.float64.

    With ``owner``, anything else is a ValueError in :func:`check_param`'s wording.
    """
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in (np.float32, np.float64):
        raise ValueError(
            f"The 'dtype' parameter of {owner or 'this function'} must be float32 or float64. "
            f"Got {dtype!r} instead."
        )
    return resolved.type


def make_rng(random_state) -> np.random.Generator:
    """A numpy Generator from ``random_state`` (None, int, RandomState or Generator)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


# ---------------------------------------------------------------------------- data
def as_canonical_csr(X, dtype) -> sp.csr_matrix:
    """CSR with sorted, duplicate-free int32 indices and float ``dtype`` data.

    Duplicates are summed: the FM identity needs each feature at most once per row,
    otherwise a feature would interact with itself. Dense input becomes CSR (it is
    already materialised, so this never densifies anything). Input is copied only when a
    conversion is needed.
    """
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    if X.dtype != dtype:
        X = X.astype(dtype)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    if X.indices.dtype != np.int32 and X.shape[1] < np.iinfo(np.int32).max:
        X = sp.csr_matrix(
            (X.data, X.indices.astype(np.int32), X.indptr.astype(np.int64)), shape=X.shape
        )
    return X


def csr_arrays(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``(indptr, indices, data)`` triplet in the dtypes kernels are compiled for."""
    return (
        X.indptr.astype(np.int64, copy=False),
        X.indices.astype(np.int32, copy=False),
        X.data,
    )


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Float64 weights of length ``n_samples``: finite and non-negative (ones if None)."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    if isinstance(sample_weight, numbers.Number):
        return np.full(n_samples, float(sample_weight), dtype=np.float64)
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numeric; got dtype {sw.dtype}.")
    sw = sw.astype(np.float64)
    if sw.ndim != 1:
        raise ValueError(f"sample_weight must be 1-dimensional; got shape {sw.shape}.")
    if sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {sw.shape[0]} elements, but X has {n_samples} rows; "
            "they must match."
        )
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative; got a negative weight.")
    if n_samples and not np.any(sw > 0):
        raise ValueError("sample_weight is zero for every sample; at least one must be > 0.")
    return sw


def _per_feature_ids(values, n_features: int, name: str) -> np.ndarray:
    """``values`` as a 1-D array of integer ids, one per feature (int or integral floats)."""
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] != n_features:
        raise ValueError(
            f"{name} must give one {name[:-1]} id per feature: expected shape ({n_features},), "
            f"got {values.shape}."
        )
    if values.dtype.kind not in "iu" and not (
        values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values % 1 == 0)
    ):
        raise ValueError(f"{name} must hold integer {name[:-1]} ids; got dtype {values.dtype}.")
    return values


def check_fields(fields, n_features: int) -> np.ndarray:
    """Feature → field ids as int32, one per feature (field-aware models).

    −1 marks a feature without a field (``load_libffm`` gives it to columns the file never
    uses): it takes part in no pair. Unlike hyperprior groups, field ids may go unused.
    """
    fields = _per_feature_ids(fields, n_features, "fields")
    if fields.size and (fields.min() < -1 or fields.max() >= 2**31 - 1):
        bad = fields.min() if fields.min() < -1 else fields.max()
        raise ValueError(f"field ids must be −1 (no field) or lie in [0, 2³¹ − 1); got {bad}.")
    return np.ascontiguousarray(fields, dtype=np.int32)


def check_groups(groups, n_features: int) -> np.ndarray:
    """Feature → group ids as int64 0..G−1 with every group used (libFM's ``-meta``)."""
    groups = _per_feature_ids(groups, n_features, "groups").astype(np.int64)
    if groups.size and groups.min() < 0:
        raise ValueError(f"groups must be ≥ 0; got {groups.min()}.")
    used = np.unique(groups)
    if used.size and used.size != used[-1] + 1:
        missing = sorted(set(range(int(used[-1]) + 1)) - set(used.tolist()))[:5]
        raise ValueError(
            f"groups must number groups 0..G−1 without gaps; ids {missing} are unused."
        )
    return groups
