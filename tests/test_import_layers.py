"""The package's layers point one way: a bottom layer imports nothing from the layers above it.

Every ``import`` of ``extremo`` (module-level or deferred inside a function) is read from the
source with :mod:`ast`; nothing is imported.
"""

import ast
import graphlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: package -> the extremo packages it may not import (bottom layers know nothing above them)
ABOVE = {
    "solvers": ("problems", "search", "boost", "cli", "discover"),
    "linalg": ("problems", "search", "boost", "cli", "discover"),
    "manifolds": ("problems", "search", "boost", "cli", "discover"),
    "equivariant": ("problems", "search", "boost", "cli", "discover"),
    "optim": ("problems", "search", "boost", "cli", "discover"),
    "nn": ("problems", "search", "boost", "cli", "discover"),
    "spatial": ("problems", "search", "boost", "cli", "discover"),
    "spectral": ("problems", "search", "boost", "cli", "discover"),
    "problems": ("search", "boost", "cli", "discover"),
    "search": ("boost", "cli"),
    "boost": ("cli",),
}


PACKAGES: set[str] = set()


def _modules() -> dict[str, set[str]]:
    """Module name -> the extremo modules and packages it imports."""
    graph = {}
    for path in sorted((SRC / "extremo").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
            PACKAGES.add(".".join(parts))
        package = parts if is_package else parts[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                name = ".".join(base + ([node.module] if node.module else []))
                deps.add(name)
                deps.update(f"{name}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[".".join(parts)] = {d for d in deps if d == "extremo" or d.startswith("extremo.")}
    return graph


GRAPH = _modules()


def test_the_graph_was_read():
    assert "extremo.problems.base" in GRAPH and "extremo.equivariant.wigner" in GRAPH
    assert "extremo.problems.base" in GRAPH["extremo.problems.star_discrepancy"]


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_layers_point_one_way(package):
    bad = sorted(
        f"{module} imports {dep}"
        for module, deps in GRAPH.items()
        if module == f"extremo.{package}" or module.startswith(f"extremo.{package}.")
        for dep in deps
        for above in ABOVE[package]
        if dep == f"extremo.{above}" or dep.startswith(f"extremo.{above}.")
    )
    assert not bad, bad


def test_no_module_imports_itself_back():
    """No cycle of imports between modules (deferred imports count; packages' ``__init__``,
    which re-export their modules, are left out)."""
    modules = set(GRAPH) - PACKAGES
    graph = {m: {d for d in GRAPH[m] if d in modules and d != m} for m in modules}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")
