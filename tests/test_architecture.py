"""The layout lives by its rules: layers import only downwards, there is no import cycle, node modules hold only nodes.

    pages/, app.py  →  ui/  →  workbench.api (the facade)  →  workbench/  →  dataflows/  →  ragkit/

Read from the source with `ast` (nothing is imported), so a rule broken anywhere fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("ragkit", "dataflows", "workbench", "ui", "pages")
# What each layer may import from the project (anything else it imports must be a third-party package).
ALLOWED = {
    "ragkit": {"ragkit"},
    "dataflows": {"ragkit", "dataflows"},
    "workbench": {"ragkit", "dataflows", "workbench"},
    "ui": {"ragkit", "ui", "workbench.api"},
    "pages": {"ui", "workbench.api"},
    "app": {"ui", "workbench.api"},
}
FORBIDDEN_THIRD_PARTY = {"ragkit": {"hamilton", "streamlit"}, "dataflows": {"streamlit"}, "workbench": {"streamlit"}}
ENTRY_POINTS = {"dataflows.__main__"}  # `python -m dataflows` hands over to workbench.cli


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> Iterator[tuple[str, Path]]:
    yield "app", REPO / "app.py"
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            yield _module_name(path), path


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth of its code (function-level imports too).

    `from workbench import api` imports the module `workbench.api`; `from ragkit.schema import Chunk`, `ragkit.schema`.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module)
    return found


def _internal(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


MODULES = dict(_sources())
IMPORTS = {module: _imports(path) for module, path in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_the_layers_below_it(module):
    if module in ENTRY_POINTS:
        return
    layer = module.split(".")[0]
    allowed = ALLOWED[layer]
    wrong = sorted(name for name in IMPORTS[module]
                   if _internal(name) and not any(name == ok or name.startswith(ok + ".") for ok in allowed))
    third_party = sorted(name for name in IMPORTS[module] if name.split(".")[0] in FORBIDDEN_THIRD_PARTY.get(layer, ()))
    assert not wrong and not third_party, f"{module} imports {wrong + third_party}; {layer} may import {sorted(allowed)}"


def _edges() -> dict[str, set[str]]:
    """Module → the project modules it imports (a `from package import module` names the module)."""
    graph: dict[str, set[str]] = {}
    for module, names in IMPORTS.items():
        graph[module] = {name for name in names if name in MODULES and name != module and not _is_parent_package(name, module)}
    return graph


def _is_parent_package(name: str, module: str) -> bool:
    return module.startswith(name + ".")


def test_there_is_no_import_cycle():
    graph = _edges()
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, " → ".join(cycle)


NODE_MODULES = sorted(m for m in MODULES if m.startswith("dataflows.") and not m.split(".")[-1].startswith("_")
                      and m not in ENTRY_POINTS and not MODULES[m].name == "__init__.py")


def _public_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [node for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]


@pytest.mark.parametrize("module", NODE_MODULES)
def test_node_modules_hold_documented_nodes_read_no_environment_and_call_no_node(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    nodes = _public_functions(tree)
    assert nodes, f"{module} defines no node"
    undocumented = [f.name for f in nodes if not ast.get_docstring(f)]
    assert not undocumented, f"nodes without a docstring (it is their label in the DAG): {undocumented}"
    environment = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and ast.unparse(n) in ("os.environ", "os.getenv")]
    assert not environment, f"{module} reads the environment inside a node module: {environment}"
    names = {f.name for f in nodes}
    called = sorted({ast.unparse(call.func) for f in nodes for call in ast.walk(f)
                     if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in names})
    assert not called, f"{module}: a node calls another node as a plain function: {called}"


def test_registry_packages_hold_no_nodes():
    """The registries (`dataflows/<kind>/__init__.py`) declare backends; a public function there would look like a node."""
    for module, path in MODULES.items():
        if module.startswith("dataflows.") and path.name == "__init__.py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert all(f.name == "store_module" for f in _public_functions(tree)), module
