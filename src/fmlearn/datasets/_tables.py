"""Parsers for the cached files: MovieLens' three layouts into one set of tables, frappe's to CSR.

Each MovieLens reader takes pandas as ``pd`` from the caller, which imports it once with a
message that names the extra to install; frappe needs no pandas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmlearn.io.text import load_libfm

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
# the files each MovieLens layout's reader needs: a cache folder without one is not usable
_REQUIRED = {
    "100k": ("u.data", "u.user", "u.item"),
    "dat": ("ratings.dat", "movies.dat"),
    "csv": ("ratings.csv", "movies.csv"),
}


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
    return load_libfm(path, n_features=n_features, zero_based=True)
