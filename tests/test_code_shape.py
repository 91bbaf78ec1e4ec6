"""The code's shape: file and function sizes, and imports that point one way.

Parsed with ``ast`` (nothing is imported): every ``.py`` file under core/ and nasdet_gui/ is at
most MAX_FILE_LINES lines, every function (or method) at most MAX_FUNCTION_LINES lines, and the
layer rules of docs/ARCHITECTURE.md hold: core/det does not import core.train, core/data does
not import core.viz, core/viz builds no torch modules, nasdet_gui holds no SQL and core never
imports gradio.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# counted on ruff-formatted code, which puts each argument of a wrapped call on its own line
MAX_FILE_LINES = 550
MAX_FUNCTION_LINES = 80

# (folder the rule covers, forbidden module prefix, why)
FORBIDDEN_IMPORTS: tuple[tuple[str, str, str], ...] = (
    ("core/det", "core.train", "the detector does not depend on training (model files: core.det)"),
    ("core/data", "core.viz", "data does not draw; previews live in core.viz"),
    ("core/viz", "torch", "viz is pure: data in, figure out"),
    ("core/viz", "core.nas.operations", "viz builds no torch modules"),
    ("core/viz", "core.nas.supernet", "viz builds no torch modules"),
    ("core/viz", "core.nas.network", "viz builds no torch modules"),
    ("core/viz", "core.nas.backbone", "viz builds no torch modules"),
    ("nasdet_gui", "sqlite3", "the GUI reads the store through core's read functions"),
    ("core", "gradio", "core never imports gradio"),
)
# Model modules never touch the store ("models never touch the store", DESIGN.md): no function of
# theirs takes a `store`.
MODEL_MODULES: tuple[str, ...] = (
    "core/nas/backbone.py",
    "core/nas/network.py",
    "core/nas/supernet.py",
    "core/nas/operations.py",
    "core/det/model.py",
    "core/det/backbone.py",
    "core/det/bifpn.py",
    "core/det/head.py",
)
# Text the GUI must not hold: raw SQL through the store's connection.
GUI_FORBIDDEN_TEXT: tuple[str, ...] = (".db.", "execute(")
# The package graph's roots: their subpackages are its nodes (core.nas, core.nas.strategies,
# nasdet_gui.guided, ...), and a module directly in a root (core.errors, core.cli,
# nasdet_gui.common) is a node of its own: a root holds the layers, it is not one of them.
ROOTS: tuple[str, ...] = ("core", "nasdet_gui")
# The only modules core imports inside functions: heavy third-party libraries, so that the paths
# that must stay light (the CLI, checking a job at submit, the worker's start) never load them.
LAZY_MODULES: tuple[str, ...] = ("torch", "torchvision", "timm", "ray", "onnxruntime")
# Entry points that must load none of LAZY_MODULES (the job kinds' submit-time checks included).
LIGHT_ENTRY = (
    "import sys, core.cli, core.engine.worker; from core.engine.jobs import JOB_KINDS, get_task; "
    "[get_task(kind) for kind in JOB_KINDS]; "
    "print(' '.join(m for m in sys.modules if m.split('.')[0] in sys.argv[1:]))"
)


def _python_files(roots: Sequence[str] = ROOTS) -> list[Path]:
    files: list[Path] = []
    for top in roots:
        files.extend(sorted((ROOT / top).rglob("*.py")))
    return files


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str | None, level: int, path: Path) -> str:
    """The absolute module name of ``from <dots><module> import ...`` written in ``path``."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join(base + ([module] if module else []))


def imported_modules(tree: ast.AST, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``; ``from a import b`` gives a and
    a.b."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _resolve_relative(node.module, node.level, path)
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def long_files() -> list[str]:
    out = []
    for path in _python_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_FILE_LINES:
            out.append(f"{_relative(path)}: {lines} lines")
    return out


def long_functions() -> list[str]:
    out = []
    for path in _python_files():
        for node in ast.walk(_parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    out.append(f"{_relative(path)}:{node.lineno} {node.name}: {length} lines")
    return out


def forbidden_imports() -> list[str]:
    out = []
    for path in _python_files():
        rel = _relative(path)
        rules = [r for r in FORBIDDEN_IMPORTS if rel == r[0] or rel.startswith(r[0] + "/")]
        if not rules:
            continue
        seen: set[tuple[int, str]] = set()
        for line, module in imported_modules(_parse(path), path):
            for _folder, prefix, why in rules:
                if _matches(module, prefix) and (line, prefix) not in seen:
                    seen.add((line, prefix))  # one entry per import statement and rule
                    out.append(f"{rel}:{line} imports {module} ({why})")
    return sorted(out)


def gui_sql() -> list[str]:
    out = []
    for path in sorted((ROOT / "nasdet_gui").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for text in GUI_FORBIDDEN_TEXT:
                if text in line:
                    out.append(f"{_relative(path)}:{number} holds {text!r}: {line.strip()}")
    return out


def store_in_models(modules: Sequence[str] = MODEL_MODULES) -> list[str]:
    out = []
    for rel in modules:
        path = ROOT / rel
        if not path.is_file():
            continue
        for node in ast.walk(_parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
                if "store" in names:
                    out.append(f"{rel}:{node.lineno} {node.name} takes a store")
    return out


def _source_modules() -> tuple[set[str], set[str]]:
    """(module names, package names) of the source tree; a folder of .py files is a package,
    with or without an __init__.py."""
    files = _python_files()
    modules = {_module_name(path) for path in files}
    packages = {".".join(path.parent.relative_to(ROOT).parts) for path in files}
    return modules | packages, packages


def _imported_source_module(name: str, modules: set[str]) -> str | None:
    """The source module an imported name stands for: the longest prefix that is one (``from
    core.nas import genotypes`` gives core.nas.genotypes, ``... import Genotype`` its module)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def node_of(module: str, packages: set[str]) -> str:
    """The graph node a module counts for: its package, or itself when it lies in a root."""
    if module in packages:
        return module
    parent = module.rpartition(".")[0]
    return module if parent in ROOTS else parent


def package_graph() -> dict[str, dict[str, list[str]]]:
    """node -> imported node -> the imports that make the edge ("file:line module"). Every import
    statement counts, inside functions and under TYPE_CHECKING too: a named type is a dependency."""
    modules, packages = _source_modules()
    graph: dict[str, dict[str, list[str]]] = {}
    for path in _python_files():
        source = node_of(_module_name(path), packages)
        for line, name in imported_modules(_parse(path), path):
            module = _imported_source_module(name, modules)
            target = None if module is None else node_of(module, packages)
            if target is None or target in (source, *ROOTS):  # a root's __init__ is no layer
                continue
            edges = graph.setdefault(source, {}).setdefault(target, [])
            where = f"{_relative(path)}:{line} "
            if edges and edges[-1].startswith(where):  # one statement: its most specific module
                edges[-1] = max(edges[-1], where + module, key=len)
            else:
                edges.append(where + module)
    return graph


def _strongly_connected(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _shortest_cycle(graph: dict[str, dict[str, list[str]]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first node, inside the component (breadth first)."""
    start, inside = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, {})):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if nxt in inside and nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start} in {component}")


def package_cycles(graph: dict[str, dict[str, list[str]]] | None = None) -> list[str]:
    """One line per strongly connected set of packages: a shortest cycle through it, each edge
    with the first import that makes it."""
    graph = package_graph() if graph is None else graph
    out = []
    for component in _strongly_connected(graph):
        cycle = _shortest_cycle(graph, component)
        steps = [f"{a} -> {b} ({graph[a][b][0]})" for a, b in zip(cycle, cycle[1:])]
        out.append("; ".join(steps))
    return out


def function_imports(roots: Sequence[str] = ("core",)) -> list[str]:
    """Imports inside a function (or method) of a module that is not in LAZY_MODULES."""
    out = []
    for path in _python_files(roots):
        for func in ast.walk(_parse(path)):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = ["." * node.level + (node.module or "")]
                else:
                    continue
                for name in names:
                    if not any(_matches(name, lazy) for lazy in LAZY_MODULES):
                        out.append(f"{_relative(path)}:{node.lineno} imports {name} in {func.name}")
    return sorted(set(out))


def test_no_file_over_the_limit() -> None:
    assert long_files() == [], f"files over {MAX_FILE_LINES} lines: split them"


def test_no_function_over_the_limit() -> None:
    assert long_functions() == [], f"functions over {MAX_FUNCTION_LINES} lines: split them"


def test_imports_point_one_way() -> None:
    assert forbidden_imports() == []


def test_no_package_import_cycle() -> None:
    cycles = package_cycles()
    assert cycles == [], "packages that import each other:\n" + "\n".join(cycles)


def test_imports_at_module_top_except_the_lazy_modules() -> None:
    inside = function_imports()
    assert inside == [], "move these imports to the module top:\n" + "\n".join(inside)


def test_light_entry_points_load_no_lazy_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LIGHT_ENTRY, *LAZY_MODULES],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.split() == []


def test_models_never_touch_the_store() -> None:
    assert store_in_models() == [], "store look-ups live apart from the model (core/nas/resolve.py)"


def test_gui_holds_no_sql() -> None:
    assert gui_sql() == [], "the GUI asks core.engine.queries; it holds no SQL"


# The checks themselves, on hand-written sources: they fail when the checker is wrong.


def _write(tmp_path: Path, rel: str, text: str) -> Path:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_imported_modules_resolves_relative_and_from_imports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    source = "import torch.nn as nn\nfrom ..train import models\nfrom . import labels\n"
    path = _write(tmp_path, "core/viz/x.py", source)
    names = [name for _line, name in imported_modules(ast.parse(source), path)]
    assert names == ["torch.nn", "core.train", "core.train.models", "core.viz", "core.viz.labels"]


def test_checker_finds_each_kind_of_breach(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    _write(tmp_path, "core/det/a.py", "from core.train.models import f\n\n\ndef g():\n" + body)
    _write(tmp_path, "core/data/b.py", "from ..viz import detections\n" + "\n" * MAX_FILE_LINES)
    _write(tmp_path, "core/viz/c.py", "import torch\nfrom core.nas.supernet import derive\n")
    _write(tmp_path, "core/viz/ok.py", "from core.nas.genotypes import Genotype\nimport numpy\n")
    _write(tmp_path, "nasdet_gui/d.py", "import sqlite3\nrows = store.db.execute('select 1')\n")
    assert long_functions() == [f"core/det/a.py:4 g: {MAX_FUNCTION_LINES + 1} lines"]
    assert long_files() == [f"core/data/b.py: {MAX_FILE_LINES + 1} lines"]
    assert forbidden_imports() == [
        "core/data/b.py:1 imports core.viz (data does not draw; previews live in core.viz)",
        "core/det/a.py:1 imports core.train.models (the detector does not depend on training "
        "(model files: core.det))",
        "core/viz/c.py:1 imports torch (viz is pure: data in, figure out)",
        "core/viz/c.py:2 imports core.nas.supernet (viz builds no torch modules)",
        "nasdet_gui/d.py:1 imports sqlite3 (the GUI reads the store through core's read functions)",
    ]
    _write(
        tmp_path, "core/nas/m.py", "def build(c):\n    pass\n\n\ndef find(store, spec):\n    pass\n"
    )
    assert store_in_models(["core/nas/m.py"]) == ["core/nas/m.py:5 find takes a store"]
    holders = [line.split(" holds ")[0] for line in gui_sql()]
    assert holders == ["nasdet_gui/d.py:2", "nasdet_gui/d.py:2"]  # .db. and execute(


def test_package_cycles_found_and_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    _write(tmp_path, "core/errors.py", "class E(Exception): ...\n")
    _write(tmp_path, "core/cli.py", "from core.a import x\nfrom core.b.y import f\n")
    _write(tmp_path, "core/a/__init__.py", "")
    _write(
        tmp_path, "core/a/x.py", "from core.errors import E\n\n\ndef g():\n    from ..b import y\n"
    )
    _write(tmp_path, "core/b/y.py", "import json\n\nfrom core.c.z import h\n")
    _write(
        tmp_path,
        "core/c/z.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import core.a\n",
    )
    _write(tmp_path, "core/d/w.py", "from core import errors\nfrom core.a.x import g\n")
    graph = package_graph()
    assert graph["core.cli"] == {
        "core.a": ["core/cli.py:1 core.a.x"],
        "core.b": ["core/cli.py:2 core.b.y"],
    }
    assert graph["core.d"] == {
        "core.errors": ["core/d/w.py:1 core.errors"],
        "core.a": ["core/d/w.py:2 core.a.x"],
    }
    assert package_cycles(graph) == [
        "core.a -> core.b (core/a/x.py:5 core.b.y); core.b -> core.c (core/b/y.py:3 core.c.z); "
        "core.c -> core.a (core/c/z.py:3 core.a)"
    ]
    _write(tmp_path, "core/c/z.py", "import core.errors\n")  # the cycle broken: none is left
    assert package_cycles() == []


def test_function_imports_found_unless_lazy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    source = (
        "import json\n\n\ndef f():\n    import torch.nn\n    from timm.layers import x\n\n\n"
        "class C:\n    def m(self):\n        from core.nas import genotypes\n"
        "        from . import sibling\n        import torchaudio\n"
    )
    _write(tmp_path, "core/nas/k.py", source)
    assert function_imports() == [
        "core/nas/k.py:11 imports core.nas in m",
        "core/nas/k.py:12 imports . in m",
        "core/nas/k.py:13 imports torchaudio in m",
    ]
