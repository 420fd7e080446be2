"""The documentation site (issue 17): it builds without a warning, every public name has an
API page, the gallery shows the examples' output and plots, the user guide is in the tree.

The docstrings' and the user guide's examples run as doctests in the same suite
(``--doctest-modules --doctest-glob=*.rst`` in pyproject.toml); the last test here checks
that they exist, so that a page cannot lose its examples unnoticed.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BUILD_NEEDS = ["sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme"]

# What a user imports, module by module: each needs a page in the API reference.
PUBLIC = {
    "fmlearn": [n for n in importlib.import_module("fmlearn").__all__ if n != "__version__"],
    "fmlearn.io": importlib.import_module("fmlearn.io").__all__,
    "fmlearn.metrics": importlib.import_module("fmlearn.metrics").__all__,
    "fmlearn.datasets": importlib.import_module("fmlearn.datasets").__all__,
    "fmlearn.export": ["to_onnx", "save_onnx", "padded"],
    "fmlearn.plot": ["learning_curve", "save_learning_curve"],
    "fmlearn.callbacks": ["Callback", "EarlyStopping", "Progress", "ProgressBar", "Timer"],
    "fmlearn.reference": importlib.import_module("fmlearn.reference").__all__,
}
if importlib.util.find_spec("dask") is not None:
    PUBLIC["fmlearn.dask"] = importlib.import_module("fmlearn.dask").__all__


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for name in [*BUILD_NEEDS, "matplotlib", "pandas"]:
        pytest.importorskip(name)
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html"]
    command += ["-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    build = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    return build, out / "html"


def test_the_site_builds_without_warnings(site):
    build, html = site
    assert build.returncode == 0, build.stderr[-6000:]
    assert not build.stderr.strip(), build.stderr[-6000:]
    assert (html / "index.html").exists()


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_has_an_api_page(site, module):
    _, html = site
    # a re-exported name (fmlearn.fetch_movielens) may have its page where it is defined
    missing = [
        name for name in PUBLIC[module]
        if not any((html / "generated" / f"{m}.{name}.html").exists() for m in PUBLIC)
    ]  # fmt: skip
    assert not missing, f"no API page for {module}: {missing} (add them to docs/api.rst)"


def test_an_estimator_page_shows_its_parameters_and_methods(site):
    _, html = site
    page = (html / "generated" / "fmlearn.FMRegressor.html").read_text(encoding="utf-8")
    for text in ["n_factors", "learning_rate", "history_", "partial_fit", "predict"]:
        assert text in page, text
    # the constructor's parameters, not BaseFM.__new__'s (*args, **kwargs)
    assert "*args" not in page and "keyword-only-separator" in page
    # scikit-learn's own plumbing is left out; its score() is kept, its refs as plain words
    assert "set_fit_request" not in page and "r2_score" in page


def test_the_gallery_shows_output_and_plots(site):
    sys.path.insert(0, str(DOCS))
    try:
        gallery = importlib.import_module("_gallery")
    finally:
        sys.path.remove(str(DOCS))
    _, html = site
    pattern = re.compile(gallery.runnable_pattern())
    examples = sorted((ROOT / "examples").glob("*.py"))
    run = [p.stem for p in examples if pattern.search("/" + p.name)]
    assert {"learning_curves", "ctr_field_aware", "implicit_recommendation"} <= set(run)
    for stem in (p.stem for p in examples):
        page = (html / "auto_examples" / f"{stem}.html").read_text(encoding="utf-8")
        assert ("sphx-glr-script-out" in page) == (stem in run), stem
    figures = sorted(p.name for p in (html / "_images").glob("sphx_glr_learning_curves_0*.png"))
    assert figures == ["sphx_glr_learning_curves_001.png", "sphx_glr_learning_curves_002.png"]


def test_the_user_guide_pages_are_in_the_site(site):
    _, html = site
    pages = sorted(p.stem for p in (DOCS / "user_guide").glob("*.rst"))
    assert len(pages) >= 2
    for stem in pages:
        assert (html / "user_guide" / f"{stem}.html").exists(), stem


def _examples_in(text: str) -> int:
    return len(doctest.DocTestParser().get_examples(text))


def test_the_user_guide_pages_carry_doctests():
    """Each page teaches with code that runs (pytest runs it as a doctest)."""
    for page in sorted((DOCS / "user_guide").glob("*.rst")):
        if page.stem == "index":
            continue
        assert _examples_in(page.read_text(encoding="utf-8")) >= 3, page.name
