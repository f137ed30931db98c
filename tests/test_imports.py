"""The package's import structure: the graph of ``sim``'s modules, built from their own import
statements, has no circle; and ``import sim`` leaves the sweep and discovery machinery unloaded
until it is used."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "sim"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The ``sim`` modules a file imports anywhere (module level or inside functions), except
    under ``if TYPE_CHECKING:`` (annotations only, never run). ``from a import b`` counts ``a.b``
    when that is a module, else ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in modules}


def import_graph() -> nx.DiGraph:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in files}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for path in files:
        source = module_name(path)
        for target in imported_modules(path, modules):
            if target != source:
                graph.add_edge(source, target)
    return graph


def test_the_import_graph_of_sim_has_no_circle():
    graph = import_graph()
    assert graph.has_edge("sim.explore.runner", "sim.explore.store")  # the graph sees real imports
    assert graph.has_edge("sim.explore.report", "sim.explore.analysis")
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], "import circles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles[:5])


def test_exploration_imports_flow_one_way():
    """spec -> design -> chunks -> store -> executors -> runner; analysis reads the store, the
    report reads the analysis; nothing in the exploration layer imports the command line."""
    graph = import_graph()
    order = ["spec", "design", "chunks", "store", "executors", "runner"]
    for i, earlier in enumerate(order):
        for later in order[i + 1:]:
            assert not graph.has_edge(f"sim.explore.{earlier}", f"sim.explore.{later}"), (earlier, later)
    explore = [m for m in graph if m.startswith("sim.explore")]
    assert not any(target.endswith("_cli") or target == "sim.cli" for m in explore for target in graph[m])
    for reader in ("analysis", "plots", "html"):
        assert not any(t in {"sim.explore.report", "sim.explore.findings", "sim.explore.discovery"}
                       for t in graph[f"sim.explore.{reader}"])


def test_import_sim_does_not_load_the_sweep_machinery():
    code = ("import sys, sim; "
            "print(sorted(m for m in sys.modules if m.startswith(('sim.explore', 'sim.sweep', "
            "'sim.analysis', 'ema_workbench', 'distributed', 'sklearn'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    code = "import sim, sys; sim.load_sweep; print('sim.explore.store' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "True"
