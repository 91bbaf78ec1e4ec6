"""docs/ARCHITECTURE.md's import graph is the code's (docs/import_graph.py writes it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "import_graph.py"


def _script():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_import_graph_is_current():
    assert _script().main(["--check"]) == 0, "run: .venv/bin/python docs/import_graph.py"


def test_the_section_is_replaced_not_appended_twice():
    script = _script()
    once = script.updated("# Doc\n")
    assert once.count(script.BEGIN) == 1 and script.updated(once) == once
