"""What the gallery runs, with which arguments and in which order (named by string in conf.py,
so that Sphinx can cache the configuration), and the small helpers conf.py's hooks use."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# The order a reader meets them: why FMs, then the tasks, then scale.
ORDER = [
    "why_factorization_machines.py",
    "fm_from_scratch.py",
    "movielens_pipeline.py",
    "movielens_solvers.py",
    "ctr_fm_vs_logistic.py",
    "ctr_field_aware.py",
    "frappe_grid_search.py",
    "top_n_recommendation.py",
    "implicit_recommendation.py",
    "learning_curves.py",
    "out_of_core.py",
]

# Examples that cannot run without the shared data sets (the others generate theirs, or, as
# why_factorization_machines, skip the part whose data is absent).
NEEDS = {
    "movielens_pipeline.py": SHARED / "ml-100k" / "train.tsv",
    "movielens_solvers.py": SHARED / "ml-100k" / "train.tsv",
    "ctr_fm_vs_logistic.py": SHARED / "frappe",
    "frappe_grid_search.py": SHARED / "frappe" / "Mobile_Frappe.zip",
    "top_n_recommendation.py": SHARED / "frappe" / "Mobile_Frappe.zip",
}


# Shown, not run: it measures the peak memory of its own process (in the build that would be
# Sphinx's) and generates its file in a child process, which cannot import a gallery example.
NOT_RUN = {"out_of_core.py"}


def runnable_pattern() -> str:
    """A regular expression matching the examples to execute on this machine."""
    names = [
        p.name
        for p in sorted(EXAMPLES.glob("*.py"))
        if p.name not in NOT_RUN and NEEDS.get(p.name, EXAMPLES).exists()
    ]
    return "/(" + "|".join(re.escape(n) for n in names) + ")$"


def quick_argv(gallery_conf, script_vars) -> list[str]:
    """Every example takes --quick: the site shows real output, built in minutes."""
    return ["--quick"]


FOREIGN_REF = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^`>]*)>)?`")


def ref_words(match: re.Match) -> str:
    """``:ref:`text <label>``` → ``text``; ``:ref:`label``` → ``label``."""
    return match.group(1) or match.group(2)


def init_signature(cls: type) -> str:
    """``cls``'s constructor parameters, without annotations: ``(n_factors=8, *, solver=...)``."""
    signature = inspect.signature(cls)
    plain = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=plain, return_annotation=inspect.Signature.empty))


class ExampleOrder:
    """Sort key: ORDER above, then any new example by name."""

    def __init__(self, src_dir: str):
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
