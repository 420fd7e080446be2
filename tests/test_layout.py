"""The architecture, checked: no import cycles (function-level imports included) and the
layers of docs/design.md — kernels below everything, persistence and solvers unaware of
the estimators."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "fmlearn"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Every fmlearn module ``name`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m == "fmlearn" or m.startswith("fmlearn.")}


GRAPH = {name: _imports(name, path) - {name} for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_function_level_imports():
    assert "fmlearn.cli.libfm" in GRAPH["fmlearn.cli"]  # imported inside _libfm()
    assert "fmlearn.plot" in GRAPH["fmlearn.cli"]


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_nothing_imports_the_top_level_package():
    assert [m for m, deps in GRAPH.items() if "fmlearn" in deps] == []


@pytest.mark.parametrize(
    "layer, forbidden",
    [
        # kernels: numpy and numba only, never the layers above
        ("fmlearn.kernels", ("fmlearn.",)),
        # persistence knows no estimator: classes register themselves
        ("fmlearn.persist", ("fmlearn.",)),
        ("fmlearn._utils", ("fmlearn.",)),
        # the readable numpy FM stands alone: a student can copy the one file
        ("fmlearn.reference", ("fmlearn.",)),
        # solvers, tasks and models know nothing of the estimators or of files
        (
            "fmlearn.solvers",
            (
                "fmlearn._base",
                "fmlearn.regression",
                "fmlearn.classification",
                "fmlearn.ordinal",
                "fmlearn.persist",
                "fmlearn.cli",
                "fmlearn.io",
            ),
        ),
        (
            "fmlearn.tasks",
            ("fmlearn.solvers", "fmlearn._base", "fmlearn.models", "fmlearn.persist"),
        ),
        (
            "fmlearn.models",
            ("fmlearn.solvers", "fmlearn._base", "fmlearn.tasks", "fmlearn.persist"),
        ),
    ],
)
def test_layers(layer, forbidden):
    allowed = {
        "fmlearn.kernels": "fmlearn.kernels",
        "fmlearn.persist": ("fmlearn._utils", "fmlearn._version"),
        "fmlearn._utils": (),
    }.get(layer, ())
    for module, deps in GRAPH.items():
        if module != layer and not module.startswith(layer + "."):
            continue
        for dep in deps:
            if dep.startswith(allowed) if allowed else False:
                continue
            assert not dep.startswith(forbidden), f"{module} imports {dep}"


def test_every_module_says_why_it_exists():
    missing = [m for m, p in MODULES.items() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []


def test_the_lazy_exports_are_the_public_names():
    import fmlearn

    assert sorted(fmlearn.__all__) == sorted([*fmlearn._EXPORTS, "__version__"])
    for name in fmlearn._EXPORTS:
        assert getattr(fmlearn, name).__name__ == name


def test_every_public_estimator_can_be_found_by_persist():
    """A file names its class; persist imports fmlearn's own by module name, so a fresh
    process can load what any public estimator saved."""
    import fmlearn
    from fmlearn import persist

    for name in fmlearn._EXPORTS:
        obj = getattr(fmlearn, name)
        if isinstance(obj, type) and name in persist._REGISTRY:
            assert persist._BUILTIN_MODULES.get(name) == obj.__module__, name
