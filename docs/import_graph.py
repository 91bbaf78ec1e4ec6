"""Write the import graph of the packages into docs/ARCHITECTURE.md, from the code itself.

    .venv/bin/python docs/import_graph.py          # rewrite the section between the markers
    .venv/bin/python docs/import_graph.py --check  # exit 1 when the section is out of date

The graph is the one tests/test_code_shape.py checks for cycles (ast only, nothing imported):
a node is a package of core/ or nasdet_gui/ (or a module lying directly in one of those roots),
an edge an import statement anywhere in its files. Shown as a Mermaid diagram and as a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_code_shape import package_graph  # noqa: E402

DOC = ROOT / "docs" / "ARCHITECTURE.md"
BEGIN = "<!-- import-graph:begin (docs/import_graph.py writes this section) -->"
END = "<!-- import-graph:end -->"


def section() -> str:
    graph = package_graph()
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    lines = [BEGIN, "", "```mermaid", "graph LR"]
    for source in sorted(graph):
        for target in sorted(graph[source]):
            lines.append(f"  {source.replace('.', '_')}[{source}] --> "
                         f"{target.replace('.', '_')}[{target}]")  # fmt: skip
    lines += ["```", "", "| package or module | imports |", "|---|---|"]
    for node in nodes:
        targets = ", ".join(f"`{t}`" for t in sorted(graph.get(node, {}))) or "-"
        lines.append(f"| `{node}` | {targets} |")
    return "\n".join([*lines, "", END])


def updated(text: str) -> str:
    """The document with its section replaced (appended under a heading when it has none)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + section() + rest.split(END, 1)[1]
    return text.rstrip() + "\n\n## Which package imports which\n\n" + section() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that it is current")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = updated(text)
    if args.check:
        if new != text:
            print(f"{DOC} is out of date: run .venv/bin/python docs/import_graph.py")
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
