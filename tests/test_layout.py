"""The package's layers: a folder per layer, and imports that only run downward.

LAYERS is the one place the order is written (README.md, Development, draws it). A module may
import its own layer and the layers before it, never one after it; imports inside functions and
under `if TYPE_CHECKING:` count (a lazy import is still a dependency). Within a layer, modules
must not import each other in a cycle either. The Python API sits on top of all of them, at the
package's root: gradcli/__init__.py, gradcli/testing.py (assert_gradients), the pytest plugin, and
gradcli/__main__.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYERS = (
    "base",             # errors, source text and spans, writing a file whole: imports nothing of gradcli
    "core",             # the op registry (ops.py), the graph, a run's results (trace.py), one gate on arrays
    "differentiation",  # derivatives as graphs (derivative.py)
    "language",         # text <-> graph: grammar tables, parser, user functions, printer, rewrites, SymPy
    "inputs",           # values for the variables: value text, data files, NAME=VALUE arguments
    "evaluation",       # graph + values -> Result: the engines, shapes and memory, gradient check, Hessian
    "render",           # Result -> text, JSON, CSV, DOT, LaTeX: pure functions, no computing
    "commands",         # the command line, its help, batch runs: exit codes live here only
)
TOP = ("gradcli", "gradcli.__main__", "gradcli.testing", "gradcli.pytest_plugin")

PACKAGE = Path(__file__).resolve().parent.parent / "gradcli"



def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(module: str) -> set[str]:
    """The gradcli modules that `module` imports, at any depth of its code."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(anchor + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from .render import table` imports the module gradcli.render.table
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in MODULES else stem for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `import gradcli.core.ops.x`: the module part
                name = name.rpartition(".")[0]
            # importing a package's own __init__ (or a parent's) is how Python loads it, not an edge
            if name and name != module and not module.startswith(name + "."):
                found.add(name)
    return found


def _layer(module: str) -> str:
    if module in TOP:
        return "gradcli"
    return module.split(".")[1]


def test_every_module_sits_in_a_layer_folder():
    strays = [m for m in MODULES if m not in TOP and _layer(m) not in LAYERS]
    assert not strays, (f"{strays}: put each module in one of the layer folders {LAYERS} "
                        "(a new layer is a new folder and a new entry of LAYERS, in its place)")


def test_imports_only_run_downward():
    order = {layer: i for i, layer in enumerate(LAYERS)}
    order["gradcli"] = len(LAYERS)
    upward = []
    for module in MODULES:
        for target in _imports(module):
            if order[_layer(target)] > order[_layer(module)]:
                upward.append(f"{module} ({_layer(module)}) imports {target} ({_layer(target)})")
    assert not upward, ("a module imports a layer above its own; move what both need one layer down:\n  "
                        + "\n  ".join(sorted(upward)))


def test_no_import_cycle_within_a_layer():
    edges = {m: _imports(m) for m in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in MODULES:
        if start in state:
            continue
        state[start] = 1
        path, stack = [start], [iter(sorted(edges[start]))]
        while stack:
            for child in stack[-1]:
                if state.get(child) == 1:
                    cycle = path[path.index(child):] + [child]
                    pytest.fail("import cycle: " + " -> ".join(cycle))
                if child not in state:
                    state[child] = 1
                    path.append(child)
                    stack.append(iter(sorted(edges[child])))
                    break
            else:
                state[path.pop()] = 2
                stack.pop()
