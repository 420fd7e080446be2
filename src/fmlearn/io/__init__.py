"""Data in and out: libSVM / libFM / libffm text readers and writers, the DataFrame encoder."""

from fmlearn.io.encoder import FMEncoder
from fmlearn.io.text import (
    dump_libffm,
    dump_libfm,
    dump_libsvm,
    iter_libffm,
    iter_libfm,
    iter_libsvm,
    load_libffm,
    load_libfm,
    load_libsvm,
)

__all__ = [
    "FMEncoder",
    "dump_libffm",
    "dump_libfm",
    "dump_libsvm",
    "iter_libffm",
    "iter_libfm",
    "iter_libsvm",
    "load_libffm",
    "load_libfm",
    "load_libsvm",
]
