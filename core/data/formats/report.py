"""The validation report of a dataset: every problem found while importing, with what was done.

Stored as the `datasets.report` column (a dict), printed by `python -m core data show NAME` and
shown by the GUI. Each problem is {"file", "entry", "problem", "action", "severity", "code"}:
`file` is relative to the source, `entry` names the place inside it when there is one
(`annotations[17]`, a label line `:12`, an XML `<object>` index; "" otherwise) and `problem` is
self-contained (it repeats the entry). `summary` counts problems per code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice

# Problem codes and the action the importer takes for each.
ACTIONS = {
    "missing_image": "skipped",
    "unreadable_image": "skipped",
    "image_too_large": "skipped",
    "size_mismatch": "size taken from the file",
    "box_clipped": "clipped to the image",
    "bad_box": "dropped",
    "unknown_category": "dropped",
    "unknown_image": "dropped",
    "bad_annotation_file": "skipped",
    "bad_image_entry": "skipped",
    "bad_image_size": "size taken from the file",
    "bad_annotation": "dropped",
    "bad_category": "skipped",
    "too_many_objects": "the first objects kept, the rest dropped",
    "symlink": "refused (links are never followed)",
    "unsafe_path": "skipped",
    "duplicate_image_id": "error: all images with this id skipped",
    "duplicate_file_name": "error: the first entry kept, later ones skipped",
    "crowd": "kept for evaluation, ignored in training",
    "empty_image": "kept",
    "bad_label_line": "dropped",
    "split_missing": "split made from the train images",
    "no_class_names": "classes named by their numbers 0..K-1",
    "test_split_skipped": "not imported (train and val are used)",
}
SEVERITY = {
    "crowd": "info",
    "empty_image": "info",
    "split_missing": "info",
    "test_split_skipped": "info",
    "duplicate_image_id": "error",
    "duplicate_file_name": "error",
}
MAX_STORED = 2_000  # problems kept in full; the summary still counts all of them
# Each code as a person reads it: (one, several)
PROBLEM_WORDS = {
    "missing_image": ("image file missing", "image files missing"),
    "unreadable_image": ("unreadable image", "unreadable images"),
    "image_too_large": ("image too large", "images too large"),
    "size_mismatch": ("image size unlike its file's", "image sizes unlike their files'"),
    "box_clipped": ("box beyond its image", "boxes beyond their images"),
    "bad_box": ("invalid box", "invalid boxes"),
    "unknown_category": ("box of an unknown class", "boxes of unknown classes"),
    "unknown_image": ("box of an unknown image", "boxes of unknown images"),
    "bad_annotation_file": ("unreadable annotation file", "unreadable annotation files"),
    "bad_image_entry": ("invalid image entry", "invalid image entries"),
    "bad_image_size": ("invalid image size", "invalid image sizes"),
    "bad_annotation": ("invalid annotation", "invalid annotations"),
    "bad_category": ("invalid class entry", "invalid class entries"),
    "too_many_objects": ("image with too many objects", "images with too many objects"),
    "symlink": ("symbolic link", "symbolic links"),
    "unsafe_path": ("unsafe file path", "unsafe file paths"),
    "duplicate_image_id": ("repeated image id", "repeated image ids"),
    "duplicate_file_name": ("repeated file name", "repeated file names"),
    "crowd": ("crowd box", "crowd boxes"),
    "empty_image": ("image without objects", "images without objects"),
    "bad_label_line": ("invalid label line", "invalid label lines"),
    "split_missing": ("split missing", "splits missing"),
    "no_class_names": ("class list missing", "class lists missing"),
    "test_split_skipped": ("test split", "test splits"),
}


def summary_line(code: str, count: int) -> str:
    """One line of a report's summary in words: "1 split missing: split made from the train
    images", "3 invalid boxes: dropped" (an unknown code as its words, spaced)."""
    one, several = PROBLEM_WORDS.get(code, (code.replace("_", " "),) * 2)
    return f"{count} {one if count == 1 else several}: {ACTIONS.get(code, 'noted')}"


@dataclass
class Report:
    """Accumulates problems while a dataset is imported."""

    source: str = ""
    format: str = ""
    problems: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    links: set = field(default_factory=set)  # files already reported as symbolic links

    def add(
        self, code: str, file: str, problem: str, action: str | None = None, entry: str = ""
    ) -> None:
        """Record one problem (`code` from ACTIONS) in `file` (a path relative to the source)
        at `entry` inside it. A symbolic link is reported once, however often it is met."""
        if code == "symlink":
            if file in self.links:
                return
            self.links.add(file)
        self.counts[code] += 1
        if len(self.problems) < MAX_STORED:
            self.problems.append(
                {
                    "code": code,
                    "file": file,
                    "entry": entry,
                    "problem": problem,
                    "action": action or ACTIONS.get(code, "noted"),
                    "severity": SEVERITY.get(code, "warning"),
                }
            )

    def errors(self) -> list[dict]:
        return [p for p in self.problems if p["severity"] == "error"]

    def first(self, n: int = 5) -> str:
        """The first n problems as one line (for error messages)."""
        worst = self.errors() or [p for p in self.problems if p["severity"] != "info"]
        return "; ".join(f"{p['file']}: {p['problem']}" for p in worst[:n])

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "format": self.format,
            "problems": self.problems,
            "summary": dict(sorted(self.counts.items())),
            "truncated": max(0, sum(self.counts.values()) - len(self.problems)),
        }


def describe(value: object, limit: int = 40) -> str:
    """A short, safe rendering of a value from a source file for messages: `'x' (str)`,
    `[1, 2] (list)`, `nan (float)`; long values are cut, huge integers given by their size."""
    if isinstance(value, (dict, list)):
        text = _short_container(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        text = f"an integer of {value.bit_length()} bits"
    elif isinstance(value, str):
        text = repr(value[:limit])
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


def _short_container(value: dict | list) -> str:
    """repr of the first few items only (a value may be huge or nested thousands deep)."""
    if isinstance(value, dict):
        items = [f"{describe(k, 30).rsplit(' (', 1)[0]}: ..." for k in islice(value, 3)]
        return "{" + ", ".join(items) + (", ...}" if len(value) > 3 else "}")
    items = [
        "[...]" if isinstance(v, (dict, list)) else describe(v, 30).rsplit(" (", 1)[0]
        for v in value[:4]
    ]
    return "[" + ", ".join(items) + (", ...]" if len(value) > 4 else "]")


def format_report(report: dict) -> str:
    """Readable text for `data show`: a summary line per code, then each problem."""
    if not report or not report.get("problems"):
        return "no problems found"
    lines = [f"{code}: {n}" for code, n in report.get("summary", {}).items()]
    lines.append("")
    order = {"error": 0, "warning": 1, "info": 2}
    for p in sorted(report["problems"], key=lambda p: order.get(p["severity"], 1)):
        lines.append(f"[{p['severity']}] {p['file']}: {p['problem']} -> {p['action']}")
    if report.get("truncated"):
        lines.append(f"... and {report['truncated']} more (counted in the summary)")
    return "\n".join(lines)
