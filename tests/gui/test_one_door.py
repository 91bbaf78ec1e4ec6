"""The GUI's one door into core: nasdet_gui imports only core.app, core.viz and core.errors
(parsed with ast; nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOORS = ("core.app", "core.viz", "core.errors")


def side_doors(folder: Path = ROOT / "nasdet_gui") -> list[str]:
    out = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if (name == "core" or name.startswith("core.")) and not any(
                    name == d or name.startswith(d + ".") for d in DOORS
                ):
                    out.append(f"{path.relative_to(folder.parent)}:{node.lineno} imports {name}")
    return out


def test_the_gui_enters_core_through_the_application_layer():
    assert side_doors() == []


def test_the_check_finds_a_side_door(tmp_path):
    gui = tmp_path / "nasdet_gui"
    gui.mkdir()
    (gui / "tab.py").write_text(
        "from core.app import jobs\nimport core.viz.curves\n"
        "def f():\n    from core.engine.store import Store\n    import core\n"
    )
    assert side_doors(gui) == [
        "nasdet_gui/tab.py:4 imports core.engine.store",
        "nasdet_gui/tab.py:5 imports core",
    ]
