"""Fetchers for public rating data: MovieLens (GroupLens) and frappe (NFM's libFM files).

Neither data set may be redistributed, so nothing is bundled: on first use the files are
downloaded from their official locations into a local cache, checked, and read from there
on every later call — offline included. The cache lives in ``get_data_home()``:
``~/fmlearn_data`` unless the ``FMLEARN_DATA`` environment variable or the ``data_home``
argument says otherwise::

    <data_home>/movielens/ml-100k/        one folder per MovieLens variant, as in the zip
    <data_home>/frappe/frappe.*.libfm     the three frappe files

How a crash or a bad network never leaves a cache that later looks valid:

* a download goes to a hidden temporary file beside its destination; its length is checked
  against ``Content-Length`` and its digest against the pinned one *before* an atomic
  :func:`os.replace` gives it its real name, and a file that fails is deleted;
* an archive is extracted into a hidden temporary folder, a marker file listing every
  extracted file and its size is written last, and only then is the folder renamed into
  place (a rename is atomic); the archive is deleted afterwards;
* on every call the marker is read and each listed file's size compared (frappe's three
  small files are checked against their digests again), so a cache file deleted or
  truncated later is noticed: it is downloaded again, with a warning, or, with
  ``download_if_missing=False``, an ``OSError`` says what is wrong and how to fix it.

A folder without a marker whose expected files are all present is used as it is, so on a
machine without a network you may download an archive yourself and unzip it into
``<data_home>/movielens``. Interrupted runs may leave hidden ``.*.part`` files or
``.*.extract-*`` folders behind; they are never read and may be deleted.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmlearn._utils import import_optional, is_terminal
from fmlearn._validation import BOOLEAN, NONE, Interval, Options, check_param

__all__ = ["FrappeData", "MovieLensData", "fetch_frappe", "fetch_movielens", "get_data_home"]

logger = logging.getLogger(__name__)

_MARKER = ".fmlearn-cache.json"  # written last into an extracted folder: its file sizes
_TIMEOUT_S = 60.0  # per socket operation, not for the whole download
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Remote:
    """One file to download and the digests it must have (None: not known)."""

    url: str
    filename: str
    sha256: str | None
    md5: str | None = None
    git_blob_sha1: str | None = None  # SHA-1 of b"blob <size>\0" + content, as git stores it
    size: int | None = None


@dataclass(frozen=True)
class _MovieLensVariant:
    remote: _Remote
    folder: str  # the archive's top-level folder, kept as the cache folder's name
    layout: str  # "100k", "dat" (1m, 10m: '::' separated) or "csv" (20m, 25m, latest-small)
    description: str


_GROUPLENS = "https://files.grouplens.org/datasets/movielens"

# SHA-256 and sizes: TensorFlow Datasets' pinned checksums,
# github.com/tensorflow/datasets/blob/master/tensorflow_datasets/url_checksums/movielens.txt
# (the 100k, 1m, 20m, 25m and latest-small digests also appear, independently computed, in
# other public projects, e.g. the Julia DataDeps registration of MovieLens for 20m and
# latest-small). MD5: the ml-*.zip.md5 files GroupLens publishes beside each archive (as
# quoted by several public projects). TFDS has no 10m data set and no public source pinning
# the SHA-256 of ml-10m.zip was found, so 10m is checked against its MD5 only, with a warning.
# latest-small is "latest": GroupLens last regenerated it in 9/2018; if it ever changes, the
# SHA-256 check fails loudly rather than silently returning other data.
_MOVIELENS: dict[str, _MovieLensVariant] = {
    "100k": _MovieLensVariant(
        _Remote(
            f"{_GROUPLENS}/ml-100k.zip",
            "ml-100k.zip",
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            md5="0e33842e24a9c977be4e0107933c0723",
            size=4924029,
        ),
        folder="ml-100k",
        layout="100k",
        description="100,000 ratings (1-5) from 943 users on 1,682 movies, 1997-1998; "
        "users with age, gender, occupation and zip code.",
    ),
    "1m": _MovieLensVariant(
        _Remote(
            f"{_GROUPLENS}/ml-1m.zip",
            "ml-1m.zip",
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            md5="c4d9eecfca2ab87c1945afe126590906",
            size=5917549,
        ),
        folder="ml-1m",
        layout="dat",
        description="1,000,209 ratings (1-5) from 6,040 users (who joined in 2000) on 3,706 "
        "movies; users with gender, age group, occupation and zip code.",
    ),
    "10m": _MovieLensVariant(
        _Remote(
            f"{_GROUPLENS}/ml-10m.zip",
            "ml-10m.zip",
            sha256=None,  # not found in any public source; see above
            md5="ce571fd55effeba0271552578f2648bd",
        ),
        folder="ml-10M100K",
        layout="dat",
        description="10,000,054 ratings (0.5-5 in half stars) from 69,878 users on 10,677 "
        "movies; no user table.",
    ),
    "20m": _MovieLensVariant(
        _Remote(
            f"{_GROUPLENS}/ml-20m.zip",
            "ml-20m.zip",
            sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            md5="cd245b17a1ae2cc31bb14903e1204af3",
            size=198702078,
        ),
        folder="ml-20m",
        layout="csv",
        description="20,000,263 ratings (0.5-5 in half stars) from 138,493 users on 27,278 "
        "movies, 1995-2015; no user table.",
    ),
    "25m": _MovieLensVariant(
        _Remote(
            f"{_GROUPLENS}/ml-25m.zip",
            "ml-25m.zip",
            sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            md5="6b51fb2759a8657d3bfcbfc42b592ada",
            size=261978986,
        ),
        folder="ml-25m",
        layout="csv",
        description="25,000,095 ratings (0.5-5 in half stars) from 162,541 users on 62,423 "
        "movies, 1995-2019; no user table.",
    ),
    "latest-small": _MovieLensVariant(
        _Remote(
            f"{_GROUPLENS}/ml-latest-small.zip",
            "ml-latest-small.zip",
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            size=978202,
        ),
        folder="ml-latest-small",
        layout="csv",
        description="100,836 ratings (0.5-5 in half stars) from 610 users on 9,742 movies, "
        "1996-2018 (generated 9/2018); no user table.",
    ),
}

# The files of the NFM paper (He & Chua, SIGIR 2017) at a pinned commit, so they cannot
# change under the digests. Digests: computed here from the blobs of that commit in a git
# mirror of github.com/hexiangnan/neural_factorization_machine (git verified each blob
# against its id); the git blob ids are those of the commit's tree. frappe.train.libfm's
# blob was not in the mirror, so its SHA-256 is unknown and it is checked against its git
# blob id (a SHA-1 over its size and content) instead, with a warning.
_FRAPPE_COMMIT = "ca2a5d11b929816aa44c6e470e795af144608507"
_FRAPPE_BASE = (
    "https://raw.githubusercontent.com/hexiangnan/neural_factorization_machine/"
    f"{_FRAPPE_COMMIT}/data/frappe"
)
_FRAPPE: dict[str, _Remote] = {
    "train": _Remote(
        f"{_FRAPPE_BASE}/frappe.train.libfm",
        "frappe.train.libfm",
        sha256=None,
        git_blob_sha1="176b2aaf1f63dd13d3e66a5c17c8ec8186e91893",
    ),
    "validation": _Remote(
        f"{_FRAPPE_BASE}/frappe.validation.libfm",
        "frappe.validation.libfm",
        sha256="fdf4be563a7dd9b15f7a6e8b32671e90e6e7a2a2bd3af4e10bf13c5ad7e76e9e",
        md5="4b8d8e462c470ff16a580bcaa9598613",
        git_blob_sha1="50b9c04bcf58dcb46d0b0070d3d6f88b45c9baab",
        size=4163044,
    ),
    "test": _Remote(
        f"{_FRAPPE_BASE}/frappe.test.libfm",
        "frappe.test.libfm",
        sha256="a2ebaef3a9af8e55f8bb0d08bc4923965e42e43760ebd7635ac2f8c5db99e097",
        md5="56ef29ef57467174fdff4ba1a117daeb",
        git_blob_sha1="d7cdd03f0e2415c97618de617f20bedd50e8fce7",
        size=2081389,
    ),
}
_FRAPPE_N_FEATURES = 5382  # data/frappe/README.txt; the largest index in the files is 5381

_GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
# ml-1m README: users.dat stores occupations as codes 0-20
_OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
_REQUIRED = {
    "100k": ("u.data", "u.user", "u.item"),
    "dat": ("ratings.dat", "movies.dat"),
    "csv": ("ratings.csv", "movies.csv"),
}

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
    cache (see the module docstring); later calls read the cache and need no network.
    Requires pandas (``pip install "fmlearn[pandas]"``).

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
        ``DESCR``. The files are read with :func:`fmlearn.io.load_libfm` when it is
        importable, else with a small pure-Python reader that gives the same matrices on
        these files.

    Raises
    ------
    FileNotFoundError, OSError
        As for :func:`fetch_movielens`.
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


# ----------------------------------------------------------------------------- digests
def _digests(path: Path, remote: _Remote) -> dict[str, str]:
    """The digests of ``path`` that ``remote`` pins (and SHA-256 always), in one read."""
    size = path.stat().st_size
    hashes = {"SHA-256": hashlib.sha256()}
    if remote.md5 is not None:
        hashes["MD5"] = hashlib.md5(usedforsecurity=False)
    if remote.git_blob_sha1 is not None:
        hashes["git blob SHA-1"] = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            for h in hashes.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashes.items()}


def _verify(path: Path, remote: _Remote) -> str | None:
    """Raise OSError if ``path`` differs from the size or the digest that ``remote`` pins.

    The strongest pinned digest is checked: SHA-256; else the git blob SHA-1 (which also
    fixes the size); else MD5. Without a SHA-256, returns a note saying what was checked,
    for the caller to warn with.
    """
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise OSError(
            f"{remote.filename} downloaded from {remote.url} has {size} bytes, but "
            f"{remote.size} bytes were expected."
        )
    got = _digests(path, remote)
    pinned = [
        ("SHA-256", remote.sha256),
        ("git blob SHA-1", remote.git_blob_sha1),
        ("MD5", remote.md5),
    ]
    checked = [(name, want) for name, want in pinned if want is not None]
    for name, want in checked[:1]:
        if got[name] != want:
            raise OSError(
                f"{remote.filename} downloaded from {remote.url} has {name} {got[name]}, but "
                f"{want} was expected. The file may have been corrupted in transfer or "
                "changed on the server."
            )
    if remote.sha256 is not None:
        return None
    how = f"its {checked[0][0]} only" if checked else "nothing: no checksum is known"
    return (
        f"No SHA-256 is pinned for {remote.filename}, so it was verified against {how} "
        f"(its SHA-256 is {got['SHA-256']})."
    )


def _usable_file(path: Path, remote: _Remote) -> bool:
    """A cached file passes its check (the note about a weak check is not repeated)."""
    try:
        _verify(path, remote)
    except OSError:
        return False
    return True


def _usable_archive(archive: Path, remote: _Remote) -> bool:
    """An archive left by a run that stopped before extracting it; a bad one is removed."""
    if not archive.exists():
        return False
    if _usable_file(archive, remote):
        return True
    archive.unlink(missing_ok=True)
    return False


# ----------------------------------------------------------------------------- download
class _TruncatedError(OSError):
    pass


# worth a retry: refused, reset or timed-out connections, HTTP errors, short bodies
_NETWORK_ERRORS = (
    urllib.error.URLError,
    TimeoutError,
    ConnectionError,
    http.client.HTTPException,
    _TruncatedError,
)


def _download(remote: _Remote, dest: Path, n_retries: int, delay: float) -> str | None:
    """Download ``remote`` to ``dest`` via a temporary file, retrying network failures.

    Returns :func:`_verify`'s note on a check weaker than SHA-256, or None.
    """
    for attempt in range(n_retries + 1):
        try:
            return _download_once(remote, dest)
        except _NETWORK_ERRORS as exc:
            code = getattr(exc, "code", None)  # an HTTPError's status
            if attempt == n_retries or (code is not None and code < 500):
                retries = f" (after {attempt} retries)" if attempt else ""
                raise OSError(f"Could not download {remote.url} to {dest}: {exc}{retries}") from exc
            logger.warning("Download of %s failed (%s); retrying in %ss", remote.url, exc, delay)
            time.sleep(delay)


def _download_once(remote: _Remote, dest: Path) -> str | None:
    logger.info("Downloading %s to %s", remote.url, dest)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(remote.url, headers={"User-Agent": "fmlearn"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length is not None else remote.size
                received = _copy(response, out, expected, remote.filename)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and received != expected:
            raise _TruncatedError(
                f"the server sent {received} of {expected} bytes (the connection was closed early)"
            )
        note = _verify(tmp, remote)
        os.replace(tmp, dest)
        return note
    finally:
        tmp.unlink(missing_ok=True)


def _copy(response, out, total: int | None, name: str) -> int:
    bar = None
    if is_terminal(sys.stderr):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr)
    received = 0
    try:
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return received


# ----------------------------------------------------------------------------- extract
def _extract(archive: Path, top: str, folder: Path, required: tuple[str, ...]) -> None:
    """Unzip ``archive``'s folder ``top`` and move it to ``folder`` atomically."""
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.extract-"))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)  # zipfile drops absolute paths and '..' from names
        except (zipfile.BadZipFile, EOFError) as exc:
            archive.unlink(missing_ok=True)
            raise OSError(f"{archive} is not a valid zip archive ({exc}); it was removed.") from exc
        extracted = tmp / top
        missing = [name for name in required if not (extracted / name).is_file()]
        if missing:
            raise OSError(f"{archive} has no {top}/{missing[0]}; is it the right archive?")
        sizes = {
            p.relative_to(extracted).as_posix(): p.stat().st_size
            for p in sorted(extracted.rglob("*"))
            if p.is_file()
        }
        (extracted / _MARKER).write_text(
            json.dumps({"source": archive.name, "files": sizes}, indent=1)
        )
        _replace_folder(extracted, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_folder(new: Path, folder: Path) -> None:
    """Rename ``new`` to ``folder``; a damaged ``folder`` is moved aside and deleted."""
    try:
        os.rename(new, folder)
        return
    except OSError:
        if not folder.exists():
            raise
    if _folder_problem(folder, ()) is None and (folder / _MARKER).exists():
        return  # another process finished the same extraction first
    trash = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old-"))
    os.rename(folder, trash / folder.name)
    os.rename(new, folder)
    shutil.rmtree(trash, ignore_errors=True)


def _folder_problem(folder: Path, required: tuple[str, ...]) -> str | None:
    """Why ``folder`` is not a usable cache ("missing", a damaged file), or None."""
    if not folder.is_dir():
        return "missing"
    marker = folder / _MARKER
    if marker.exists():
        try:
            sizes = json.loads(marker.read_text())["files"]
        except (ValueError, KeyError, TypeError):
            return f"{_MARKER} is unreadable"
        for name, size in sizes.items():
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != size:
                return f"{name} has {path.stat().st_size} bytes, {size} expected"
    for name in required:
        if not (folder / name).is_file():
            return f"{name} is missing"
    return None


# ----------------------------------------------------------------------------- readers
def _read_100k(pd, folder: Path):
    ratings = pd.read_csv(
        folder / "u.data",
        sep="\t",
        header=None,
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype={"user_id": "int32", "item_id": "int32", "rating": "float32", "timestamp": "int64"},
    )
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        header=None,
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        dtype={"user_id": "int32", "age": "int32", "gender": "category"},
        converters={"zip_code": str, "occupation": str},
        encoding="latin-1",
    )
    users["occupation"] = users["occupation"].astype("category")
    columns = ["item_id", "title", "release_date", "video_release_date", "imdb_url"]
    items = pd.read_csv(
        folder / "u.item",
        sep="|",
        header=None,
        names=[*columns, *_GENRES_100K],
        dtype={"item_id": "int32", "title": str, "imdb_url": str},
        encoding="latin-1",
        quoting=3,  # csv.QUOTE_NONE: titles contain '"'
        keep_default_na=False,
    )
    flags = items[list(_GENRES_100K)].to_numpy(dtype=bool)
    names = np.array(_GENRES_100K, dtype=object)
    genres = ["|".join(names[row]) for row in flags]
    items = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "title": items["title"],
            "genres": genres,
            "release_date": pd.to_datetime(
                items["release_date"], format="%d-%b-%Y", errors="coerce"
            ),
            "imdb_url": items["imdb_url"],
        }
    )
    return ratings, users, items


def _read_dat(pd, folder: Path):
    ratings = _read_dat_ratings(pd, folder / "ratings.dat")
    users = None
    if (folder / "users.dat").is_file():  # 1m
        users = _read_separated(
            pd, folder / "users.dat", ["user_id", "gender", "age", "occupation", "zip_code"]
        )
        users = users.astype({"user_id": "int32", "age": "int32", "gender": "category"})
        codes = users["occupation"].astype("int64")
        users["occupation"] = pd.Categorical.from_codes(codes, categories=_OCCUPATIONS_1M)
        users = users[["user_id", "age", "gender", "occupation", "zip_code"]]
    items = _read_separated(pd, folder / "movies.dat", ["item_id", "title", "genres"])
    items["item_id"] = items["item_id"].astype("int32")
    return ratings, users, items


def _read_dat_ratings(pd, path: Path):
    # "u::i::r::t": reading ':'-separated keeps pandas' fast C parser (a two-character
    # separator needs the slow Python one); columns 1, 3, 5 are the empty fields between.
    frame = pd.read_csv(
        path,
        sep=":",
        header=None,
        usecols=[0, 2, 4, 6],
        dtype={0: "int32", 2: "int32", 4: "float32", 6: "int64"},
    )
    frame.columns = ["user_id", "item_id", "rating", "timestamp"]
    return frame


def _read_separated(pd, path: Path, names: list[str]):
    """A small '::'-separated file of text; 1m is latin-1, 10m's movies UTF-8."""
    for encoding in ("utf-8", "latin-1"):
        try:
            return pd.read_csv(
                path,
                sep="::",
                engine="python",
                header=None,
                names=names,
                dtype=str,
                encoding=encoding,
                quoting=3,
                keep_default_na=False,
            )
        except UnicodeDecodeError:
            continue
    raise AssertionError("unreachable: latin-1 decodes any bytes")


def _read_csv(pd, folder: Path):
    ratings = pd.read_csv(
        folder / "ratings.csv",
        dtype={"userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"},
    ).rename(columns={"userId": "user_id", "movieId": "item_id"})
    ratings = ratings[["user_id", "item_id", "rating", "timestamp"]]
    items = pd.read_csv(
        folder / "movies.csv", dtype={"movieId": "int32", "title": str, "genres": str}
    ).rename(columns={"movieId": "item_id"})
    return ratings, None, items[["item_id", "title", "genres"]]


_READERS = {"100k": _read_100k, "dat": _read_dat, "csv": _read_csv}


def _read_libfm(path: Path, n_features: int):
    try:
        from fmlearn.io import load_libfm
    except ImportError:
        return _read_libfm_simple(path, n_features)
    return load_libfm(path, n_features=n_features, zero_based=True)


def _read_libfm_simple(path: Path, n_features: int):
    """``label index:value ...`` lines, indices from 0; enough for these clean files."""
    import scipy.sparse as sp

    labels, indptr, indices, values = [], [0], [], []
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, 1):
            tokens = line.split("#", 1)[0].split()
            if not tokens:
                continue
            try:
                labels.append(float(tokens[0]))
                for token in tokens[1:]:
                    index, value = token.split(":")
                    indices.append(int(index))
                    values.append(float(value))
            except ValueError as exc:
                raise ValueError(f"{path.name}, line {number}: {exc}") from exc
            indptr.append(len(indices))
    X = sp.csr_matrix(
        (np.array(values), np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int64)),
        shape=(len(labels), n_features),
    )
    X.sum_duplicates()
    return X, np.array(labels)


# ----------------------------------------------------------------------------- DESCR
def _movielens_descr(variant: str, spec: _MovieLensVariant) -> str:
    return (
        f"MovieLens {variant} (GroupLens Research, University of Minnesota)\n\n"
        f"{spec.description}\n\n"
        "Source: https://grouplens.org/datasets/movielens/ — downloaded from "
        f"{spec.remote.url}.\n"
        "Licence: for research use; it may not be redistributed, nor used commercially "
        "without GroupLens' permission (see the README in the archive).\n"
        "Cite: F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: "
        "History and Context. ACM TiiS 5(4), 19:1-19:19. https://doi.org/10.1145/2827872\n"
    )


_FRAPPE_DESCR = (
    "frappe (context-aware app usage), as one-hot libFM files by He & Chua\n\n"
    "288,609 rows (202,027 train, 57,722 validation, 28,860 test), 10 one-hot fields "
    "(user, item, daytime, weekday, isweekend, homework, cost, weather, country, city) "
    "over 5,382 features; label 1 for a logged app use, -1 for a sampled negative.\n\n"
    "Source: https://github.com/hexiangnan/neural_factorization_machine (data/frappe), "
    f"commit {_FRAPPE_COMMIT}. Not redistributed by fmlearn.\n"
    "Licence: research use only; acknowledge it in publications; no redistribution, no "
    "attempt to deanonymise, no commercial use without permission (data/frappe/README.txt).\n"
    "Cite: L. Baltrunas, K. Church, A. Karatzoglou, N. Oliver. 2015. Frappe: Understanding "
    "the Usage and Perception of Mobile App Recommendations In-The-Wild. arXiv:1505.03014; "
    "and X. He, T.-S. Chua. 2017. Neural Factorization Machines for Sparse Predictive "
    "Analytics. SIGIR 2017.\n"
)
