"""Where each public data set is downloaded from, the digests that pin it, and what it is.

One table per data set, kept apart from the code that downloads and reads, so that a new
variant or a new checksum is a change to this file alone. ``DESCR`` texts (source, licence,
citation) live here too: they describe the same files.
"""

from __future__ import annotations

from dataclasses import dataclass


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
