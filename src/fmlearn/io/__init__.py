"""Data in and out: libSVM / libFM / libffm text readers and writers, libFM's binary
block-structure files (relation blocks), the DataFrame encoder."""

from fmlearn.io.encoder import FMEncoder
from fmlearn.io.libfm_binary import load_relation, read_binary_matrix, write_binary_matrix
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
    "load_relation",
    "read_binary_matrix",
    "write_binary_matrix",
]
