"""Sphinx configuration: the user guide, the API reference from the docstrings, the gallery.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` (tests/test_docs.py runs the
same build in CI, so a warning fails the suite). Nothing here reaches the network.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # _gallery.py: the gallery's callables, named by string

import _gallery  # noqa: E402

import fmlearn  # noqa: E402

project = "fmlearn"
author = "the fmlearn developers"
copyright = "2026, the fmlearn developers"
release = fmlearn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "**/*.zip"]
templates_path = ["_templates"]
root_doc = "index"

# The API pages are generated from the docstrings on every build (docs/api.rst lists them).
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc "Parameters" sections already give the types
autodoc_member_order = "groupwise"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

html_theme = "pydata_sphinx_theme"
html_title = f"fmlearn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
html_show_sourcelink = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # run the examples whose data is here (the ones reading ../shared are shown, not run,
    # on a machine without it) with --quick, so the site shows real output in minutes
    "filename_pattern": _gallery.runnable_pattern(),
    "reset_argv": "_gallery.quick_argv",
    "within_subsection_order": "_gallery.ExampleOrder",
    "download_all_examples": False,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "min_reported_time": 1,
    "show_memory": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    # "Examples using FMRegressor" under each API page
    "doc_module": ("fmlearn",),
    "backreferences_dir": "generated/backreferences",
}


def _plain_foreign_refs(app, what, name, obj, options, lines):
    """Methods inherited from scikit-learn (``score``) cite labels of scikit-learn's own site
    (``:ref:`r2_score```), which this build cannot resolve offline: keep their words."""
    if not getattr(obj, "__module__", "fmlearn").startswith("sklearn"):
        return
    for i, line in enumerate(lines):
        lines[i] = _gallery.FOREIGN_REF.sub(_gallery.ref_words, line)


def _constructor_signature(app, what, name, obj, options, signature, return_annotation):
    """BaseFM defines ``__new__(cls, *args, **kwargs)``, which autodoc would show as the
    estimators' signature; show the constructor's parameters (without annotations, which
    the numpydoc sections give), as ``help()`` does."""
    if what != "class" or signature is None or "*args" not in signature:
        return None
    return _gallery.init_signature(obj), return_annotation


def setup(app):
    app.connect("autodoc-process-docstring", _plain_foreign_refs)
    app.connect("autodoc-process-signature", _constructor_signature)
