"""Doctests that need an optional extra are skipped where it is not installed.

The docstrings and the user guide run as doctests (``--doctest-modules``,
``--doctest-glob=*.rst``). Some show the optional parts (DataFrames, plots, ONNX); on an
install without those extras they are skipped, as the unit tests skip with
``pytest.importorskip``, instead of failing on an ImportError.
"""

from __future__ import annotations

import importlib.util
import re

import pytest
from _pytest.doctest import DoctestItem

# what a doctest mentions → the module it then needs
OPTIONAL = {
    "pandas": "pandas",
    "pd.": "pandas",
    "FMEncoder": "pandas",
    "polars": "polars",
    "matplotlib": "matplotlib",
    "learning_curve": "matplotlib",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "to_onnx": "onnxruntime",
    "dask": "dask",
}
_MENTION = re.compile("|".join(re.escape(word) for word in OPTIONAL))


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ImportError:  # a broken install counts as absent
        return True


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not isinstance(item, DoctestItem) or item.dtest is None:
            continue
        source = "".join(example.source for example in item.dtest.examples)
        needed = {OPTIONAL[word] for word in _MENTION.findall(source)}
        absent = sorted(module for module in needed if _missing(module))
        if absent:
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(absent)}"))
