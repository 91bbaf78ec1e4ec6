"""The code's shape: file and function sizes, and imports that point one way.

Parsed with ``ast`` (nothing is imported): every ``.py`` file under core/ and nasdet_gui/ is at
most MAX_FILE_LINES lines, every function (or method) at most MAX_FUNCTION_LINES lines, and the
layer rules of docs/ARCHITECTURE.md hold: core/det does not import core.train, core/data does
not import core.viz, core/viz builds no torch modules, nasdet_gui holds no SQL and core never
imports gradio.
"""

from __future__ import annotations

import ast
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


def _python_files() -> list[Path]:
    files: list[Path] = []
    for top in ("core", "nasdet_gui"):
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


def test_no_file_over_the_limit() -> None:
    assert long_files() == [], f"files over {MAX_FILE_LINES} lines: split them"


def test_no_function_over_the_limit() -> None:
    assert long_functions() == [], f"functions over {MAX_FUNCTION_LINES} lines: split them"


def test_imports_point_one_way() -> None:
    assert forbidden_imports() == []


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
