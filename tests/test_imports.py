"""The package's import structure: the graph of ``sim``'s modules, built from their own import
statements, has no circle; the exploration layer's imports flow one way; ``import sim`` leaves
the sweep and discovery machinery unloaded until it is used; the model fingerprint covers every
module the engine imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import networkx as nx

from sim.explore.sourcegraph import import_graph, model_files


def graph_of(package: Path | None = None) -> nx.DiGraph:
    edges = import_graph(package) if package is not None else import_graph()
    graph = nx.DiGraph()
    graph.add_nodes_from(edges)
    graph.add_edges_from((source, target) for source, targets in edges.items() for target in targets)
    return graph


def test_the_import_graph_of_sim_has_no_circle():
    graph = graph_of()
    assert graph.has_edge("sim.explore.runner", "sim.explore.store")  # the graph sees real imports
    assert graph.has_edge("sim.dynamics", "sim.kernels")  # "from sim import kernels" is the module
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], "import circles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles[:5])


def test_exploration_imports_flow_one_way():
    """spec -> design -> chunks -> store -> executors -> runner; the tables, plots and page
    module do not import the report, findings or discovery; nothing in the exploration layer
    imports the command line."""
    graph = graph_of()
    order = ["spec", "design", "chunks", "store", "executors", "runner"]
    for i, earlier in enumerate(order):
        for later in order[i + 1:]:
            assert not graph.has_edge(f"sim.explore.{earlier}", f"sim.explore.{later}"), (earlier, later)
    explore = [m for m in graph if m.startswith("sim.explore")]
    assert not any(target.endswith("_cli") or target == "sim.cli" for m in explore for target in graph[m])
    for reader in ("analysis", "plots", "html"):
        assert not any(t in {"sim.explore.report", "sim.explore.findings", "sim.explore.discovery"}
                       for t in graph[f"sim.explore.{reader}"])


def test_the_graph_reads_every_kind_of_import(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\nfrom .sub import c\n",
        "b.py": "def later():\n    import pkg.d\n",
        "sub/__init__.py": "",
        "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
                    "from ..b import later\n",
        "d.py": "import json\n",
        "e.py": "from pkg.a import b\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = graph_of(package)
    assert set(graph["pkg.a"]) == {"pkg.b", "pkg.sub.c"}
    assert set(graph["pkg.b"]) == {"pkg.d"}  # inside a function
    assert set(graph["pkg.sub.c"]) == {"pkg.b"}  # relative; the TYPE_CHECKING import left out
    assert set(graph["pkg.e"]) == {"pkg.a"}  # "from pkg.a import b": b is a name, not a module
    assert [p.name for p in model_files("pkg.a", package)] == ["a.py", "b.py", "d.py", "c.py"]


def test_the_model_fingerprint_covers_the_rules():
    names = {path.name for path in model_files()}
    assert {"engine.py", "kernels.py", "dynamics.py", "outcomes.py", "state.py"} <= names
    assert not names & {"cli.py", "sweep.py", "__init__.py"}


def test_import_sim_does_not_load_the_sweep_machinery():
    code = ("import sys, sim; "
            "print(sorted(m for m in sys.modules if m.startswith(('sim.explore', 'sim.sweep', "
            "'sim.analysis', 'ema_workbench', 'distributed', 'sklearn'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    code = "import sim, sys; sim.load_sweep; print('sim.explore.store' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "True"
