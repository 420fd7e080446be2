"""FMEncoder: a DataFrame of mixed columns → the sparse design matrix an FM needs.

FMs want one-hot ids, normalised sets and a few numbers side by side in one sparse
matrix, plus the column each feature came from (MCMC's hyperprior ``groups``, a
field-aware FM's fields). Writing that by hand is where users lose time and make
mistakes (unknown ids at predict time, categories in a different order in the test set);
this transformer learns the layout once in ``fit`` and applies it in ``transform``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from fmlearn import persist
from fmlearn._utils import import_optional
from fmlearn._validation import (
    BOOLEAN,
    NONE,
    SEQUENCE,
    STRING,
    Interval,
    Options,
    validate_params,
)
from fmlearn.io.field_matrix import FieldMatrix
from fmlearn.relations import RelationBlock

_HASH_KEY = "fmlearn-encoder!"  # 16 bytes: pandas' SipHash key, fixed so hashes are stable


@dataclass
class _Column:
    """How one input column becomes output features (learned in ``fit``)."""

    name: str
    kind: str  # "categorical", "multi", "numeric", "binned", "hashed"
    offset: int = 0
    width: int = 0
    categories: np.ndarray | None = None  # categorical / multi: known values, sorted
    other: bool = False  # an "other" bucket at the end of the block
    mean: float = 0.0
    scale: float = 1.0
    edges: np.ndarray | None = None  # binned: inner bin edges
    separator: str | None = None  # multi: found in fit (None: the encoder's ``separator``)

    def feature_names(self) -> list[str]:
        """The names of this column's output features, in order."""
        if self.kind == "hashed":
            return [f"{self.name}#{b}" for b in range(self.width)]
        if self.kind in ("categorical", "multi"):
            names = [f"{self.name}={c}" for c in self.categories]
            return names + ([f"{self.name}=<other>"] if self.other else [])
        if self.kind == "binned":
            return [f"{self.name}:bin{b}" for b in range(self.width)]
        return [self.name]

    def to_arrays(self) -> tuple[dict, dict]:
        """``(metadata, arrays)`` for a model file: numbers in JSON, value lists as arrays."""
        meta = {
            "name": self.name,
            "kind": self.kind,
            "offset": self.offset,
            "width": self.width,
            "other": self.other,
            "mean": self.mean,
            "scale": self.scale,
            "separator": self.separator,
        }
        arrays = {}
        if self.categories is not None:
            arrays["categories"] = np.array([str(c) for c in self.categories], dtype=str)
        if self.edges is not None:
            arrays["edges"] = self.edges
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict) -> _Column:
        spec = cls(**meta)
        if "categories" in arrays:
            spec.categories = arrays["categories"].astype(object)
        spec.edges = arrays.get("edges")
        return spec


class FMEncoder(TransformerMixin, BaseEstimator):
    """Encode a pandas (or polars) DataFrame as a sparse CSR design matrix for an FM.

    Each input column becomes a block of output features:

    * categorical columns (strings, categories, booleans, integer columns named like ids —
      ``user_id``, ``movieId``, ``itemID``, ``id`` — and any column listed in
      ``categorical``) → one-hot; categories seen fewer than ``min_frequency`` times in
      ``fit`` are dropped (or go to the "other" bucket). An integer id read as a number
      would enter the FM as its value (user 943 weighing 943 times user 1);
    * multi-valued columns (lists/tuples, or strings split on ``separator`` such as
      ``"Action|Comedy"``; listed in ``multi_valued``, or found by ``fit``: a text column
      whose values are sets of a few distinct tokens joined by ``"|"``, ``","``, ``";"``
      or a space, like ``"Animation Children's Comedy"``) → one feature per value, weights
      normalised per row by ``set_norm``: ``"l2"`` (default) gives each of n values
      1/√n, as SVD++ and myFM do; ``"l1"`` gives 1/n (sum 1, libFM's examples); None
      gives 1. Unit length made MCMC more accurate on MovieLens-100K with genre sets
      and implicit feedback (benchmarks/README.md, "MCMC / ALS");
    * numeric columns → standardised (``numeric="standardize"``, the default: the ``fit``
      mean and std), one-hot binned by ``fit`` quantiles (``"bin"``, ``n_bins`` bins) or
      kept as they are (``"passthrough"``: raw counts of a million would swamp every
      other feature of the FM);
    * with ``hashing=True`` categorical columns are hashed instead of enumerated (for
      very high cardinality: CTR ids): each hashed column gets its own block of
      ``n_features // n_hashed_columns`` buckets, so blocks never collide and each
      feature still has one field. Hashes use a fixed SipHash key: stable across
      processes and machines (Python's ``hash`` is not).

    Unknown categories at ``transform`` time (and missing values) produce no feature for
    that column — the row keeps its other features, which is what an FM does with an id
    it has no vector for — or, with ``handle_unknown="other"``, the column's "other"
    feature (which also collects the categories dropped by ``min_frequency``).

    Attributes
    ----------
    groups_, fields_ : ndarray of int, shape (n_features_out,)
        The input column (0, 1, …) each output feature comes from: pass ``groups_`` to
        ``FMRegressor(solver="mcmc").fit(..., groups=...)``; a field-aware FM uses
        ``fields_``.
    feature_names_in_ : ndarray of str
    n_features_out_ : int

    Examples
    --------
    >>> import pandas as pd
    >>> from fmlearn import FMEncoder
    >>> df = pd.DataFrame({"user_id": [1, 2, 2], "genres": ["comedy|drama", "drama", "war"],
    ...                    "age": [20, 30, 40]})
    >>> encoder = FMEncoder(multi_valued=["genres"])
    >>> X = encoder.fit_transform(df)  # sparse CSR, one block of columns per input column
    >>> X.shape, encoder.get_feature_names_out().tolist()
    ((3, 6), ['user_id=1', 'user_id=2', 'genres=comedy', 'genres=drama', 'genres=war', 'age'])
    >>> encoder.groups_.tolist()  # the input column of each feature (MCMC groups, FFM fields)
    [0, 0, 1, 1, 1, 2]

    An unknown user gets no feature; age 30 is the mean, standardised to 0:

    >>> encoder.transform(pd.DataFrame({"user_id": [9], "genres": ["war"], "age": [30]})).toarray()
    array([[0., 0., 0., 0., 1., 0.]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "categorical": [SEQUENCE, NONE],
        "multi_valued": [SEQUENCE, NONE],
        "separator": [STRING],
        "numeric": [Options(("passthrough", "standardize", "bin"))],
        "n_bins": [Interval(int, 2, None)],
        "min_frequency": [Interval(int, 1, None)],
        "handle_unknown": [Options(("ignore", "other"))],
        "set_norm": [Options(("l2", "l1")), NONE],
        "hashing": [BOOLEAN],
        "n_features": [Interval(int, 1, None)],
        "dtype": [Options(("float64", "float32", np.float64, np.float32))],
    }

    def __init__(
        self,
        *,
        categorical: list | None = None,
        multi_valued: list | None = None,
        separator: str = "|",
        numeric: str = "standardize",
        n_bins: int = 10,
        min_frequency: int = 1,
        handle_unknown: str = "ignore",
        set_norm: str | None = "l2",
        hashing: bool = False,
        n_features: int = 2**20,
        dtype="float64",
    ):
        self.categorical = categorical
        self.multi_valued = multi_valued
        self.separator = separator
        self.numeric = numeric
        self.n_bins = n_bins
        self.min_frequency = min_frequency
        self.handle_unknown = handle_unknown
        self.set_norm = set_norm
        self.hashing = hashing
        self.n_features = n_features
        self.dtype = dtype

    # ------------------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Learn each column's kind, categories, statistics and place in the output."""
        validate_params(self, self._parameter_constraints)
        frame = _as_pandas(X)
        names = [str(c) for c in frame.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"FMEncoder needs unique column names; got {names}.")
        for option, listed in (
            ("categorical", self.categorical),
            ("multi_valued", self.multi_valued),
        ):
            missing = sorted(set(map(str, listed or ())) - set(names))
            if missing:
                raise ValueError(f"{option} names columns {missing} that X does not have.")
        kinds = self._kinds(frame)
        return self._fit_summaries(names, kinds, self._summaries(frame, kinds))

    # The fit in three steps, so that fmlearn.dask can fit on partitions: each partition's
    # summary (counts of values, moments), summaries merged, columns from the merged one.
    def _kinds(self, frame) -> list[tuple[str, str | None]]:
        """Every column's kind (and a set column's separator), from ``frame`` (a sample)."""
        return [self._kind(frame[c], str(c)) for c in frame.columns]

    def _summaries(self, frame, kinds) -> list:
        """What ``fit`` needs to know of each column of ``frame`` (one partition)."""
        return [
            self._summary(frame[column], str(column), kind)
            for column, kind in zip(frame.columns, kinds, strict=True)
        ]

    def _fit_summaries(self, names: list[str], kinds, summaries) -> FMEncoder:
        """The fit from the columns' (merged) summaries."""
        n_hashed = sum(kind == "hashed" for kind, _ in kinds)
        columns, offset = [], 0
        for name, kind, summary in zip(names, kinds, summaries, strict=True):
            spec = self._column(name, kind, summary, n_hashed)
            spec.offset = offset
            offset += spec.width
            columns.append(spec)
        self.columns_ = columns
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = len(names)
        self.n_features_out_ = offset
        self.groups_ = np.repeat(np.arange(len(columns)), [c.width for c in columns])
        self.fields_ = self.groups_.copy()
        return self

    def _kind(self, series, name: str) -> tuple[str, str | None]:
        """The column's kind and, for a multi-valued text column found here, its
        separator."""
        pd = _pandas()
        if name in map(str, self.multi_valued or ()):
            return "multi", None
        listed = name in map(str, self.categorical or ())
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        id_like = pd.api.types.is_integer_dtype(series) and _ID_NAME.search(name) is not None
        if listed or not numeric or id_like:
            if series.map(lambda v: isinstance(v, list | tuple | set)).any():
                return "multi", None
            if not listed and not numeric and not self.hashing:
                separator = _set_separator(series)
                if separator is not None:
                    return "multi", separator
            return ("hashed" if self.hashing else "categorical"), None
        return ("binned" if self.numeric == "bin" else "numeric"), None

    def _summary(self, series, name: str, kind):
        """One partition's statistics of a column: value counts (categorical and set
        columns: a dict value → count), ``(n, mean, M2)`` of the finite numbers
        (standardised), the finite numbers themselves (binned: exact quantiles), or
        nothing (hashed, passthrough)."""
        kind, separator = kind
        if kind == "multi":
            _, tokens, counts = _tokens(series, separator or self.separator)
            return dict(zip(tokens.tolist(), counts.tolist(), strict=True))
        if kind == "categorical":
            return series.dropna().astype(str).value_counts().to_dict()
        if kind == "hashed":
            return None
        numbers = _numeric(series, name)
        finite = numbers[np.isfinite(numbers)]
        if kind == "binned":
            return finite
        if finite.size == 0:
            return (0, 0.0, 0.0)
        mean = finite.mean()
        centred = finite - mean
        return (finite.size, float(mean), float(np.sum(centred * centred)))

    @staticmethod
    def _merged(kind, a, b):
        """Two partitions' summaries of one column as one (counts add; moments combine
        by Chan et al.'s formula; binned values concatenate)."""
        kind = kind[0]
        if kind in ("multi", "categorical"):
            out = dict(a)
            for value, count in b.items():
                out[value] = out.get(value, 0) + count
            return out
        if kind == "hashed":
            return None
        if kind == "binned":
            return np.concatenate([a, b])
        (na, ma, m2a), (nb, mb, m2b) = a, b
        n = na + nb
        if n == 0:
            return (0, 0.0, 0.0)
        delta = mb - ma
        return (n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n)

    def _column(self, name: str, kind, summary, n_hashed: int) -> _Column:
        kind, separator = kind
        spec = _Column(name, kind, separator=separator)
        if kind == "hashed":
            spec.width = max(1, self.n_features // max(n_hashed, 1))
        elif kind in ("multi", "categorical"):
            keep = [value for value, count in summary.items() if count >= self.min_frequency]
            spec.categories = np.array(sorted(keep), dtype=object)
            spec.other = self.handle_unknown == "other"
            spec.width = len(spec.categories) + int(spec.other)
        elif kind == "binned":
            if summary.size == 0:
                raise ValueError(f"Column {name!r} has no finite values to learn from.")
            quantiles = np.quantile(summary, np.linspace(0, 1, self.n_bins + 1)[1:-1])
            spec.edges = np.unique(quantiles)
            spec.width = spec.edges.size + 1
        else:
            n, mean, m2 = summary
            if n == 0:
                raise ValueError(f"Column {name!r} has no finite values to learn from.")
            if self.numeric == "standardize":
                spec.mean = float(mean)
                spec.scale = float(np.sqrt(m2 / n)) or 1.0
            spec.width = 1
        return spec

    # ------------------------------------------------------------------------- transform
    def transform(self, X, *, allow_missing: bool = False) -> FieldMatrix:
        """The CSR design matrix: ``n_features_out_`` columns, in ``fit``'s layout.

        A :class:`~fmlearn.io.field_matrix.FieldMatrix`: it carries ``fields_``, so that in
        ``make_pipeline(FMEncoder(), FFMClassifier())`` the model learns the fields too.
        ``allow_missing=True`` encodes a frame holding only some of ``fit``'s columns: the
        absent ones give no feature, as a missing value does. That is how the user-only
        context row and the item-only candidate rows of :func:`fmlearn.recommend` are
        built from one encoder.
        """
        check_is_fitted(self, "columns_")
        frame = _as_pandas(X)
        names = [str(c) for c in frame.columns]
        missing = [c.name for c in self.columns_ if c.name not in names]
        if missing and not allow_missing:
            raise ValueError(
                f"X is missing the columns {missing} seen in fit (transform(X, "
                "allow_missing=True) encodes them as absent)."
            )
        lookup = dict(zip(names, frame.columns, strict=True))
        n = len(frame)
        dtype = np.dtype(self.dtype)
        # one CSR block per column, straight from its (row, col, value) entries, whose rows
        # come in order: no COO copy of everything, and no sort of all entries (a set
        # column of 18 M entries peaked at 1.6 GB the other way)
        blocks = []
        for spec in self.columns_:
            if spec.name in lookup:
                r, c, v = self._encode_column(frame[lookup[spec.name]], spec, n)
                # int32 offsets where they fit, as scipy would make them: index arrays of
                # two dtypes make it copy the indices into int64
                index = np.int32 if r.size < 2**31 and spec.width < 2**31 else np.int64
                indptr = np.zeros(n + 1, dtype=index)
                np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
                block = sp.csr_matrix(
                    (np.asarray(v, dtype=dtype), c.astype(index, copy=False), indptr),
                    shape=(n, spec.width),
                )
                del r, c, v  # the block holds what it needs
            else:
                block = sp.csr_matrix((n, spec.width), dtype=dtype)
            blocks.append(block)
        if blocks:
            X_out = sp.hstack(blocks, format="csr", dtype=dtype)
        else:
            X_out = sp.csr_matrix((n, 0), dtype=dtype)
        X_out.sum_duplicates()  # a set may name a value twice
        X_out.sort_indices()
        return FieldMatrix.wrap(X_out, self.fields_)

    def _encode_column(self, series, spec: _Column, n: int):
        pd = _pandas()
        if spec.kind == "hashed":
            present = series.notna().to_numpy()
            text = series[present].astype(str).to_numpy(dtype=object)
            hashed = pd.util.hash_array(text, hash_key=_HASH_KEY, categorize=True)
            col = (hashed % np.uint64(spec.width)).astype(np.int64)
            return np.flatnonzero(present), col, np.ones(col.size)
        if spec.kind == "categorical":
            present = series.notna().to_numpy()
            codes = np.full(n, -1, dtype=np.int64)
            codes[present] = pd.Index(spec.categories).get_indexer(series[present].astype(str))
            return self._known_or_other(codes, present, spec)
        if spec.kind == "multi":
            row, tokens, token_of = _tokens(series, spec.separator or self.separator, counts=False)
            codes = pd.Index(spec.categories).get_indexer(tokens).astype(np.int32)[token_of]
            del token_of
            row, col = self._known_or_other_multi(row, codes, spec)
            size = np.bincount(row, minlength=n).astype(np.float64)
            if self.set_norm is None:
                return row, col, np.ones(row.size)
            norm = size if self.set_norm == "l1" else np.sqrt(size)
            values = norm[row]
            return row, col, np.reciprocal(values, out=values)
        numbers = _numeric(series, spec.name)
        present = np.isfinite(numbers)
        row = np.flatnonzero(present)
        if spec.kind == "binned":
            col = np.searchsorted(spec.edges, numbers[present], side="right")
            return row, col, np.ones(row.size)
        value = (numbers[present] - spec.mean) / spec.scale
        nonzero = value != 0
        return row[nonzero], np.zeros(nonzero.sum(), dtype=np.int64), value[nonzero]

    def _known_or_other(self, codes, present, spec):
        rows = np.arange(codes.size)
        unknown = (codes < 0) & present
        if spec.other:
            codes = np.where(unknown, spec.width - 1, codes)
        keep = codes >= 0
        return rows[keep], codes[keep], np.ones(keep.sum())

    def _known_or_other_multi(self, row, codes, spec):
        if codes.size and codes.min() >= 0:  # every value known: nothing to drop or move
            return row, codes
        if spec.other:
            codes = np.where(codes < 0, spec.width - 1, codes)
        keep = codes >= 0
        return row[keep], codes[keep]

    def relation_block(self, table, keys, *, on: str | None = None) -> RelationBlock:
        """``table`` — one row per entity (a user, an item), in the columns this encoder
        was fitted on — as a :class:`fmlearn.RelationBlock` for data rows whose entity is
        ``keys[r]``: the block is ``transform(table)``, stored once per entity instead of
        once per data row (libFM's block structure), with ``groups_`` as its groups.

        ``on``: the table's key column (left out of the encoding); None: the table's
        index (pandas). A multi-valued column makes the implicit-feedback block of SVD++:
        e.g. a users table with the items each user rated, ``"12 7 431"``. Every key must
        be in the table, once: a rating of an unknown user has no block row to use.

        >>> import pandas as pd
        >>> users = pd.DataFrame({"age": [20, 30, 40], "rated": ["a b", "b", "a c"]},
        ...                      index=[7, 8, 9])
        >>> encoder = FMEncoder(multi_valued=["rated"]).fit(users)
        >>> block = encoder.relation_block(users, keys=[9, 7, 7, 8])
        >>> block.index.tolist(), block.X.shape, block.groups.tolist()
        ([2, 0, 0, 1], (3, 4), [0, 1, 1, 1])
        """
        check_is_fitted(self, "columns_")
        pd = _pandas()
        if on is None:
            if not isinstance(table, pd.DataFrame):
                raise ValueError(
                    "relation_block: name the key column with on=… (the table is not a "
                    "pandas DataFrame, so it has no index to use)."
                )
            ids, frame = table.index, table
        else:
            frame = _as_pandas(table)
            if on not in frame.columns:
                raise ValueError(f"relation_block: the table has no key column {on!r}.")
            ids, frame = pd.Index(frame[on]), frame.drop(columns=[on])
        if not ids.is_unique:
            repeated = ids[ids.duplicated()].unique()[:5].tolist()
            raise ValueError(
                f"relation_block: the table's keys repeat ({repeated}): one row per entity."
            )
        keys = np.asarray(keys.to_numpy() if hasattr(keys, "to_numpy") else keys)
        index = ids.get_indexer(keys) if keys.size else np.zeros(0, np.int64)
        unknown = index < 0
        if unknown.any():
            examples = pd.unique(keys[unknown])[:5].tolist()
            raise ValueError(
                f"relation_block: {int(unknown.sum())} of the {keys.size} keys are not in "
                f"the table (e.g. {examples}): every data row needs its block row."
            )
        block = sp.csr_matrix(self.transform(frame))
        # groups 0…G−1 without gaps (a column that encoded to nothing has no features)
        groups = np.unique(self.groups_, return_inverse=True)[1]
        return RelationBlock(index, block, groups)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "columns_")
        return np.array([name for c in self.columns_ for name in c.feature_names()], dtype=object)

    # ------------------------------------------------------------------- persistence
    def save(self, path) -> None:
        """Save the fitted encoder (:func:`fmlearn.save`): JSON and arrays, no pickle."""
        persist.save(self, path)

    def _to_file(self) -> tuple[dict, dict]:
        check_is_fitted(self, "columns_")
        columns, arrays = [], {}
        for j, spec in enumerate(self.columns_):
            meta, column_arrays = spec.to_arrays()
            columns.append(meta)
            arrays.update(persist.prefixed(f"columns/{j}/", column_arrays))
        arrays["feature_names_in_"] = persist.plain_array(self.feature_names_in_, "columns")
        arrays["groups_"] = self.groups_
        fitted = {"n_features_out_": int(self.n_features_out_), "columns": columns}
        return {"params": persist.json_params(self.get_params()), "fitted": fitted}, arrays

    @classmethod
    def _from_file(cls, meta: dict, arrays: dict) -> FMEncoder:
        encoder = cls(**persist.params_from_json(meta["params"]))
        validate_params(encoder, encoder._parameter_constraints)
        fitted = meta["fitted"]
        encoder.columns_ = [
            _Column.from_arrays(c, persist.unprefixed(f"columns/{j}/", arrays))
            for j, c in enumerate(fitted["columns"])
        ]
        encoder.feature_names_in_ = arrays["feature_names_in_"].astype(object)
        encoder.n_features_in_ = len(encoder.columns_)
        encoder.n_features_out_ = int(fitted["n_features_out_"])
        widths = [c.width for c in encoder.columns_]
        if sum(widths) != encoder.n_features_out_:
            raise ValueError(f"column widths add up to {sum(widths)}, not n_features_out_")
        encoder.groups_ = np.repeat(np.arange(len(widths)), widths)
        if not np.array_equal(encoder.groups_, arrays["groups_"]):
            raise ValueError("groups_ do not match the columns")
        encoder.fields_ = encoder.groups_.copy()
        return encoder

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _pandas():
    return import_optional("pandas", extra="pandas", needed_by="FMEncoder")


def _as_pandas(X):
    """A pandas DataFrame with a 0…n−1 index (polars frames are converted column-wise)."""
    pd = _pandas()
    if isinstance(X, pd.DataFrame):
        return X.reset_index(drop=True)
    module = type(X).__module__.split(".")[0]
    if module == "polars":
        return pd.DataFrame({name: X[name].to_list() for name in X.columns})
    raise TypeError(
        f"FMEncoder expects a pandas or polars DataFrame; got {type(X).__name__}. "
        "Wrap arrays in pandas.DataFrame(…, columns=[…])."
    )


#: Column names that mark integer ids: ``id``, ``user_id``, ``item id``, ``movieId``,
#: ``userID``; not ``paid`` or ``valid``.
_ID_NAME = re.compile(r"(^|[_\s.-])[iI][dD]s?$|[a-z]I[dD]s?$")


def _set_separator(series) -> str | None:
    """The separator of a text column whose values are sets of tokens (``"Action|Comedy"``,
    ``"Animation Children's Comedy"``), or None.

    A set column has far fewer distinct tokens than distinct values (19 genres make 216
    combinations on MovieLens-100K), while free text (titles) has more tokens than
    values; and many of its values hold several tokens.
    """
    values = series.dropna()
    if values.empty or not all(isinstance(v, str) for v in values.iloc[:1000]):
        return None
    distinct = values.astype(str).unique()[:20_000]
    for separator in ("|", ",", ";", " "):
        parts = [[t for t in v.split(separator) if t] for v in distinct]
        several = np.mean([len(p) >= 2 for p in parts])
        tokens = {t for p in parts for t in p}
        if several >= 0.2 and 2 <= len(tokens) <= 0.5 * len(distinct):
            return separator
    return None


#: Exactly these types go through the integer path of :func:`_tokens` (not bool, whose
#: str() differs from its int's, and no float, which int64 would truncate).
_INTEGER_TYPES = frozenset(
    {int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32}
)


def _tokens(series, separator: str, counts: bool = True):
    """A multi-valued column's entries: ``(row, tokens, counts)`` with ``tokens`` its
    distinct values as strings and ``counts`` how often each occurs, or with
    ``counts=False`` ``(row, tokens, token_of)``, ``token_of[e]`` the token of entry e.

    Distinct values are turned into strings once, not every entry: a set column of
    18 M entries (each user's rated movies, MovieLens-100K) took 11 s and 2.2 GB as one
    string per entry, and takes seconds and a few hundred MB this way.
    """
    pd = _pandas()

    def split(v):
        if isinstance(v, list | tuple | np.ndarray):
            return v
        if isinstance(v, set | frozenset):
            return list(v)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ()
        return [part for part in str(v).split(separator) if part != ""]

    parts = [split(v) for v in series.to_numpy(dtype=object)]
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    total = int(lengths.sum())
    row_dtype = np.int32 if len(parts) < 2**31 else np.int64  # half the memory of int64
    row = np.repeat(np.arange(len(parts), dtype=row_dtype), lengths)
    flat = None
    entries = itertools.chain.from_iterable
    if total and all(type(x) in _INTEGER_TYPES for x in entries(parts)):
        # sets of integer ids (the usual implicit feedback): no object per entry
        flat = np.fromiter(entries(parts), dtype=np.int64, count=total)
    if flat is None:
        flat = np.fromiter(entries(parts), dtype=object, count=total)
        present = pd.notna(flat)
        if not present.all():  # a missing value inside a set: no entry, as before
            row, flat = row[present], flat[present]
    if flat.dtype == np.int64 and flat.size and 0 <= flat.min() and flat.max() < 2**24:
        # small non-negative ids: a lookup table, not a hash table sized by the entries
        # (pandas' factorize peaked at ~0.5 GB on 18 M entries of 1,682 ids)
        seen = np.zeros(int(flat.max()) + 1, dtype=bool)
        seen[flat] = True
        uniques = np.flatnonzero(seen)
        lookup = np.zeros(seen.size, dtype=np.int32)
        lookup[uniques] = np.arange(uniques.size, dtype=np.int32)
        codes = lookup[flat]
    else:
        codes, uniques = pd.factorize(flat)
    del flat
    # distinct values that print alike (1 and "1") are one token, as when every entry
    # became a string
    names = np.array([str(u) for u in uniques], dtype=object)
    tokens, merged = np.unique(names, return_inverse=True) if names.size else (names, codes)
    token_of = merged.astype(np.int32)[codes] if names.size else codes
    del codes
    if counts:
        return row, tokens, np.bincount(token_of, minlength=tokens.size)
    return row, tokens, token_of


def _numeric(series, name: str) -> np.ndarray:
    try:
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"Column {name!r} is not numeric; list it in categorical.") from None
    if np.isinf(numbers).any():
        raise ValueError(f"Column {name!r} contains infinity.")
    return numbers


persist.register(FMEncoder)
