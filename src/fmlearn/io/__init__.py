"""Data in and out: libSVM / libFM / libffm text readers and writers, libFM's binary
block-structure files (relation blocks), the DataFrame encoder, and streams (files or
chunks larger than memory, for ``fit``)."""

from fmlearn.io.encoder import FMEncoder
from fmlearn.io.libfm_binary import load_relation, read_binary_matrix, write_binary_matrix
from fmlearn.io.stream import ChunkStream, FileStream
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
    "ChunkStream",
    "FMEncoder",
    "FileStream",
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
