"""Fetchers for public rating data: MovieLens (GroupLens) and frappe (NFM's libFM files).

Neither data set may be redistributed, so nothing is bundled: on first use the files are
downloaded from their official locations into a local cache, checked, and read from there
on every later call — offline included. The cache lives in ``get_data_home()``:
``~/fmlearn_data`` unless the ``FMLEARN_DATA`` environment variable or the ``data_home``
argument says otherwise::

    <data_home>/movielens/ml-100k/        one folder per MovieLens variant, as in the zip
    <data_home>/frappe/frappe.*.libfm     the three frappe files

Downloads and extraction never leave a cache that later looks valid (see
:mod:`fmlearn.datasets._cache`); a cache file deleted or truncated later is downloaded
again, with a warning, or, with ``download_if_missing=False``, an ``OSError`` says what is
wrong and how to fix it.

A folder without a marker whose expected files are all present is used as it is, so on a
machine without a network you may download an archive yourself and unzip it into
``<data_home>/movielens``.

This module holds the public API and its parameter checks; the tables of remote files are
in :mod:`~fmlearn.datasets._registry`, the parsers in :mod:`~fmlearn.datasets._tables`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from fmlearn._utils import import_optional
from fmlearn._validation import BOOLEAN, NONE, Interval, Options, check_param
from fmlearn.datasets._cache import (
    _download,
    _extract,
    _folder_problem,
    _usable_archive,
    _usable_file,
)
from fmlearn.datasets._registry import (
    _FRAPPE,
    _FRAPPE_DESCR,
    _FRAPPE_N_FEATURES,
    _MOVIELENS,
    _movielens_descr,
    _Remote,
)
from fmlearn.datasets._tables import _READERS, _REQUIRED, _read_libfm

__all__ = ["FrappeData", "MovieLensData", "fetch_frappe", "fetch_movielens", "get_data_home"]

_FLAGS = [BOOLEAN]
_RETRIES = [Interval(int, 0, None)]
_DELAY = [Interval(float, 0, None)]


class _PathLike:
    def accepts(self, value) -> bool:
        return isinstance(value, str | os.PathLike)

    def describe(self) -> str:
        return "a str or os.PathLike"


_DATA_HOME = [NONE, _PathLike()]


# ----------------------------------------------------------------------------- results
@dataclass
class MovieLensData:
    """What :func:`fetch_movielens` returns; the same fields for every variant.

    (A dataclass rather than scikit-learn's ``Bunch``: a ``Bunch`` is a ``dict``, whose
    ``items`` method would hide the ``items`` table.)

    Attributes
    ----------
    ratings : pandas.DataFrame
        One row per rating, in file order: ``user_id`` (int32), ``item_id`` (int32,
        MovieLens' movie id), ``rating`` (float32: 1-5 in whole stars for 100k and 1m,
        0.5-5 in half stars for the others) and ``timestamp`` (int64, seconds since
        1970-01-01 UTC; ``pd.to_datetime(ratings.timestamp, unit="s")`` converts).
    users : pandas.DataFrame or None
        100k and 1m only (None for the others, which publish no user data): ``user_id``
        (int32), ``age`` (int32), ``gender`` (category, "M"/"F"), ``occupation``
        (category, a name) and ``zip_code`` (str). In 100k ``age`` is the age in years;
        in 1m it is the lower bound of an age group (1 = under 18, 18, 25, 35, 45, 50,
        56 = 56+), and 1m's occupation codes 0-20 are mapped to the names of its README.
    items : pandas.DataFrame
        ``item_id`` (int32), ``title`` (str, with the year, as in the files) and
        ``genres`` (str, "|"-separated, e.g. "Animation|Children's|Comedy"; 100k's 19
        genre flags are joined the same way, and ``items.genres.str.get_dummies("|")``
        gives one column per genre back). 100k adds ``release_date`` (datetime64, NaT
        where missing) and ``imdb_url`` (str).
    variant : str
    path : pathlib.Path
        The extracted folder, for the files not read here (tags, links, the predefined
        splits of 100k such as ``u1.base``).
    DESCR : str
        What the data is, its licence terms and how to cite it.
    """

    ratings: object = field(repr=False)
    users: object = field(repr=False)
    items: object = field(repr=False)
    variant: str
    path: Path
    DESCR: str = field(repr=False)


@dataclass
class FrappeData:
    """What :func:`fetch_frappe` returns.

    Attributes
    ----------
    X_train, X_validation, X_test : scipy.sparse.csr_matrix of float64, or None
        ``n_features`` = 5382 columns each (feature ids from 0, as in the files); None
        with ``parse=False``.
    y_train, y_validation, y_test : ndarray of float64, or None
        The files' labels: 1.0 for a logged app use, -1.0 for a sampled negative.
    files : dict
        "train", "validation", "test" -> the cached path of each libFM file.
    n_features : int
    DESCR : str
    """

    files: dict
    n_features: int
    DESCR: str = field(repr=False)
    X_train: object = field(default=None, repr=False)
    y_train: object = field(default=None, repr=False)
    X_validation: object = field(default=None, repr=False)
    y_validation: object = field(default=None, repr=False)
    X_test: object = field(default=None, repr=False)
    y_test: object = field(default=None, repr=False)


# ----------------------------------------------------------------------------- public API
def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder the fetchers cache their data in, created if missing.

    ``data_home`` if given, else the ``FMLEARN_DATA`` environment variable if set and not
    empty, else ``~/fmlearn_data``; ``~`` is expanded.
    """
    check_param("get_data_home", "data_home", data_home, _DATA_HOME)
    if data_home is None:
        data_home = os.environ.get("FMLEARN_DATA") or "~/fmlearn_data"
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch_movielens(
    variant: str = "100k",
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    n_retries: int = 3,
    delay: float = 1.0,
) -> MovieLensData:
    """Load a MovieLens data set (GroupLens), downloading it on first use.

    The archive comes from GroupLens' own server (``files.grouplens.org``) — MovieLens may
    not be redistributed — and its SHA-256 is checked before it is extracted into the
    cache (see :mod:`fmlearn.datasets._cache`); later calls read the cache and need no
    network. Requires pandas (``pip install "fmlearn[pandas]"``).

    Parameters
    ----------
    variant : {"100k", "1m", "10m", "20m", "25m", "latest-small"}, default="100k"
        Which data set. "10m" has no SHA-256 pinned: its archive is checked against the MD5
        that GroupLens publishes, and a ``UserWarning`` says so.
    data_home : str or path-like, default=None
        The cache folder; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False and the data is not in the cache, raise ``FileNotFoundError`` (an
        ``OSError``) instead of downloading.
    n_retries : int, default=3
        How many times to retry a download that failed on the network (a refused or
        dropped connection, a timeout, a truncated body, an HTTP 5xx).
    delay : float, default=1.0
        Seconds to wait between those retries.

    Returns
    -------
    data : MovieLensData
        ``ratings``, ``users`` and ``items`` DataFrames in one shape for every variant
        (described in :class:`MovieLensData`), with ``variant``, ``path`` and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        ``download_if_missing=False`` and the data is not in the cache.
    OSError
        The download failed (after ``n_retries``), was truncated, or its checksum differs
        from the pinned one (the file is deleted); or ``download_if_missing=False`` and the
        cache is damaged.
    ImportError
        pandas is not installed.

    Examples
    --------
    The first call downloads (4.9 MB for 100k), later ones read the cache:

    >>> from fmlearn.datasets import fetch_movielens
    >>> data = fetch_movielens("100k")  # doctest: +SKIP
    >>> data.ratings.shape, data.users.shape, data.items.shape  # doctest: +SKIP
    ((100000, 4), (943, 5), (1682, 5))
    >>> data.ratings.columns.tolist()  # doctest: +SKIP
    ['user_id', 'item_id', 'rating', 'timestamp']

    Offline, from a cache folder of your choice (filled by an earlier call, or by unzipping
    ``ml-100k.zip`` into ``<data_home>/movielens``); ``download_if_missing=False`` never
    reaches the network and says what is missing:

    >>> import tempfile
    >>> fetch_movielens("100k", data_home=tempfile.mkdtemp(), download_if_missing=False)
    Traceback (most recent call last):
        ...
    FileNotFoundError: MovieLens 100k is not in the cache: ... unzip it in ...movielens.
    """
    check_param("fetch_movielens", "variant", variant, [Options(tuple(_MOVIELENS))])
    _check_fetch_params("fetch_movielens", data_home, download_if_missing, n_retries, delay)
    pd = import_optional("pandas", extra="pandas", needed_by="fetch_movielens")
    spec = _MOVIELENS[variant]
    home = get_data_home(data_home) / "movielens"
    home.mkdir(exist_ok=True)
    folder = home / spec.folder
    required = _REQUIRED[spec.layout]
    problem = _folder_problem(folder, required)
    if problem is not None:
        what = f"MovieLens {variant}"
        archive = home / spec.remote.filename
        if not _usable_archive(archive, spec.remote):
            if not download_if_missing:
                _raise_not_cached(what, folder, problem, spec.remote, home)
            _warn_damaged(what, folder, problem)
            _warn_weak(_download(spec.remote, archive, n_retries, delay))
        try:
            _extract(archive, spec.folder, folder, required)
        except FileNotFoundError:  # another process extracted it and removed the archive
            if _folder_problem(folder, required) is not None:
                raise
        archive.unlink(missing_ok=True)
    ratings, users, items = _READERS[spec.layout](pd, folder)
    return MovieLensData(
        ratings=ratings,
        users=users,
        items=items,
        variant=variant,
        path=folder,
        DESCR=_movielens_descr(variant, spec),
    )


def fetch_frappe(
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    parse: bool = True,
    n_retries: int = 3,
    delay: float = 1.0,
) -> FrappeData:
    """Load frappe, the context-aware app-usage data in the libFM files of the NFM paper.

    frappe (Baltrunas et al. 2015) logs app usage with context; He & Chua (SIGIR 2017, the
    Neural Factorization Machines paper) one-hot encoded its 10 fields (user, item,
    daytime, weekday, isweekend, homework, cost, weather, country, city) into 5,382 binary
    features, added two sampled negatives per positive log, and split the 288,609 rows
    into train (70%), validation (20%) and test (10%) libFM files. Those three files are
    downloaded from the authors' GitHub repository at a pinned commit, checked, and cached
    in ``<data_home>/frappe``; they are never bundled with fmlearn. Needs no pandas.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The cache folder; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False and a file is not in the cache, raise ``FileNotFoundError``.
    parse : bool, default=True
        Read the files into sparse matrices. With False only ``files`` is returned, e.g.
        to hand the paths to the ``fmlearn`` command line.
    n_retries, delay
        As for :func:`fetch_movielens`.

    Returns
    -------
    data : FrappeData
        ``X_train``, ``y_train``, ``X_validation``, ``y_validation``, ``X_test``,
        ``y_test`` (described in :class:`FrappeData`), ``files``, ``n_features`` and
        ``DESCR``. The files are read with :func:`fmlearn.io.load_libfm`.

    Raises
    ------
    FileNotFoundError, OSError
        As for :func:`fetch_movielens`.

    Examples
    --------
    >>> from fmlearn.datasets import fetch_frappe
    >>> data = fetch_frappe()  # doctest: +SKIP
    >>> data.X_train.shape, data.X_validation.shape, data.X_test.shape  # doctest: +SKIP
    ((202027, 5382), (57722, 5382), (28860, 5382))
    >>> sorted(set(data.y_train.tolist()))  # doctest: +SKIP
    [-1.0, 1.0]

    Offline, from a cache folder of your choice (or with the three files saved there by
    hand), and only the paths, e.g. for the command line:

    >>> fetch_frappe(data_home="/data/fmlearn", download_if_missing=False,  # doctest: +SKIP
    ...              parse=False).files["train"]
    PosixPath('/data/fmlearn/frappe/frappe.train.libfm')
    """
    _check_fetch_params("fetch_frappe", data_home, download_if_missing, n_retries, delay)
    check_param("fetch_frappe", "parse", parse, _FLAGS)
    home = get_data_home(data_home) / "frappe"
    home.mkdir(exist_ok=True)
    files = {}
    for split, remote in _FRAPPE.items():
        path = home / remote.filename
        if not path.exists() or not _usable_file(path, remote):
            what = f"frappe's {remote.filename}"
            problem = "it fails its checksum" if path.exists() else "missing"
            if not download_if_missing:
                _raise_not_cached(what, path, problem, remote, home)
            _warn_damaged(what, path, problem)
            _warn_weak(_download(remote, path, n_retries, delay))
        files[split] = path
    out = FrappeData(files=files, n_features=_FRAPPE_N_FEATURES, DESCR=_FRAPPE_DESCR)
    if parse:
        for split, path in files.items():
            X, y = _read_libfm(path, _FRAPPE_N_FEATURES)
            setattr(out, f"X_{split}", X)
            setattr(out, f"y_{split}", y)
    return out


# ----------------------------------------------------------------------------- checks
def _check_fetch_params(function, data_home, download_if_missing, n_retries, delay) -> None:
    check_param(function, "data_home", data_home, _DATA_HOME)
    check_param(function, "download_if_missing", download_if_missing, _FLAGS)
    check_param(function, "n_retries", n_retries, _RETRIES)
    check_param(function, "delay", delay, _DELAY)


def _raise_not_cached(what: str, path: Path, problem: str, remote: _Remote, home: Path):
    size = f" ({remote.size / 1e6:.1f} MB)" if remote.size else ""
    if problem != "missing":
        raise OSError(
            f"The cached {what} at {path} is damaged ({problem}), and "
            "download_if_missing=False. Call again with download_if_missing=True to replace "
            f"it with a fresh download from {remote.url}{size}."
        )
    where = "save it at that path" if remote.filename == path.name else f"unzip it in {home}"
    raise FileNotFoundError(
        f"{what} is not in the cache: {path} does not exist, and download_if_missing=False. "
        f"Call again with download_if_missing=True to download it from {remote.url}{size}, "
        f"or download that file yourself and {where}."
    )


def _warn_damaged(what: str, path: Path, problem: str) -> None:
    if problem != "missing":
        warnings.warn(
            f"The cached {what} at {path} is damaged ({problem}); downloading it again.",
            UserWarning,
            stacklevel=3,
        )


def _warn_weak(note: str | None) -> None:
    if note is not None:
        warnings.warn(note, UserWarning, stacklevel=3)
