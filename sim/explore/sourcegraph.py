"""The package's own import graph, read from its source with :mod:`ast` (nothing is imported):
which ``sim`` modules each module imports, at module level or inside functions, leaving out
imports under ``if TYPE_CHECKING:`` (annotations only, never run). The model fingerprint hashes
the modules the engine depends on, and a test checks the graph has no circle."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """``sim/explore/store.py`` -> ``sim.explore.store``; a package's ``__init__`` is the package."""
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path, modules: Iterable[str], package_dir: Path = PACKAGE_DIR) -> set[str]:
    """The modules among ``modules`` that the file imports (``from a import b`` counts ``a.b``
    when that is a module, else ``a``; relative imports are resolved)."""
    known = set(modules)
    name = module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {module for module in found if module in known and module != name}


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports."""
    files = {module_name(path, package_dir): path for path in sorted(package_dir.rglob("*.py"))}
    return {name: imported_modules(path, files, package_dir) for name, path in files.items()}


@functools.cache
def model_files(start: str = "sim.engine", package_dir: Path = PACKAGE_DIR) -> tuple[Path, ...]:
    """The source files of ``start`` and every module it depends on through imports (the
    package's ``__init__`` left out): the code that decides a deal's rows, found from the code
    itself, so a new rules module the engine imports is included without a list to keep."""
    graph = import_graph(package_dir)
    seen, stack = set(), [start]
    while stack:
        module = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        stack.extend(target for target in graph.get(module, ()) if target != package_dir.name)
    files = {module_name(path, package_dir): path for path in package_dir.rglob("*.py")}
    return tuple(files[module] for module in sorted(seen))
