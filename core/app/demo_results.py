"""What the Guided demo's detector steps show: the detector search's trials as chart points, the
hand-made detectors this home trained on the same data (the baselines), the pick after its
training went on, and the verdict in one sentence - every number read from the store.

The verdict compares like with like. Against a baseline trained here (a Train-tab or CLI
training of a hand-made backbone on the same dataset) it compares the finished pick with the
finished baseline: AP50 and latency, both stored. Without one, it compares within the search,
where every trial had the same recipe: the pick's own trial against the best hand-made trial
trained for as many epochs; the pick's score after its training went on is then stated apart.
"""

from __future__ import annotations

from typing import Any

from core.app import model_list
from core.engine.queries import find_job
from core.engine.store import Store
from core.nas.detector.results import trials
from core.nas.detector.space import DetectorChoice

CELL_PREFIXES = ("nas:",)  # a trial on a cell (searched or published), not a hand-made backbone
BASELINE_ORIGINS = ("train", "import")


def trial_points(store: Store, detector_id: int | None) -> list[dict[str, Any]]:
    """The detector search's finished trials as detector_search_figure reads them."""
    if not detector_id:
        return []
    out = []
    for t in trials(store, detector_id):
        choice = DetectorChoice.from_dict(t["config"])
        out.append(
            {
                "trial": t["trial"],
                "label": choice.label(),
                "on_cell": choice.backbone.startswith(CELL_PREFIXES),
                "AP50": t["AP50"],
                "latency_ms": t["latency_ms"],
                "epochs": int(t["epochs"] or 0),
                "complete": t["state"] == "complete",
            }
        )
    return out


def baselines(store: Store, dataset: str | None) -> list[dict[str, Any]]:
    """Model rows of hand-made detectors (no cell backbone) trained or imported in this home on
    `dataset`, with an AP50 and a latency."""
    if not dataset:
        return []
    return [
        r
        for r in model_list.model_table(store, dataset)
        if r["origin"] in BASELINE_ORIGINS
        and not r["backbone"].startswith(("searched cell", "published cell"))
        and r["AP50"] is not None
        and r["latency_ms"] is not None
    ]


def pick_row(store: Store, train_id: int | None) -> dict[str, Any] | None:
    """The model row of the walk's finished training (the pick, trained on), or None."""
    job = find_job(store, train_id)
    name = ((job or {}).get("result") or {}).get("model")
    if not name:
        return None
    rows = [r for r in model_list.model_table(store) if r["name"] == name]
    return rows[0] if rows else None


def _compare(a_ap: float, a_ms: float, b_ap: float, b_ms: float) -> str:
    """How detector a stands against b, in words."""
    better, faster = a_ap > b_ap, a_ms < b_ms
    if better and faster:
        return "more accurate and faster than"
    if better:
        return "more accurate but slower than"
    if faster:
        return "faster but less accurate than"
    return "neither more accurate nor faster than"


def verdict(store: Store, detector_id: int | None, train_id: int | None) -> dict[str, Any] | None:
    """{"text": the sentence, "win": whether the pick is both more accurate and faster} for a
    finished walk, or None before its training has registered the pick."""
    pick = pick_row(store, train_id)
    detector = find_job(store, detector_id)
    if pick is None or detector is None:
        return None
    found = (
        f"The pick ({pick['title']}) finds AP50 {pick['AP50']:.2f} at {pick['latency_ms']:.0f} ms"
    )
    rivals = baselines(store, pick["dataset"])
    if rivals:
        best = max(rivals, key=lambda r: (r["AP50"], -r["latency_ms"]))
        words = _compare(pick["AP50"], pick["latency_ms"], best["AP50"], best["latency_ms"])
        return {
            "text": f"{found}: {words} {best['title']}, trained here on the same pictures "
            f"(AP50 {best['AP50']:.2f} at {best['latency_ms']:.0f} ms).",
            "win": words.startswith("more accurate and faster"),
        }
    chosen = ((detector.get("result") or {}).get("pick") or {}).get("trial")
    points = trial_points(store, detector_id)
    own = next((t for t in points if t["trial"] == chosen), None)
    # the other kind (hand-made against a pick on the cell, and the reverse), same epochs
    others = [
        t for t in points if own and t["on_cell"] != own["on_cell"] and t["epochs"] == own["epochs"]
    ]
    if own is None or not others:
        if own and not own["on_cell"]:
            why = "the search had no time to train a detector on the found cell to compare it with"
        else:
            why = (
                "no hand-made detector was trained here on these pictures for as long to compare "
                "it with (train one in the Train tab and it appears on the chart)"
            )
        return {"text": f"{found}; {why}.", "win": False}
    best = max(others, key=lambda t: (t["AP50"], -t["latency_ms"]))
    words = _compare(own["AP50"], own["latency_ms"], best["AP50"], best["latency_ms"])
    epochs = f"{own['epochs']} epoch{'s' * (own['epochs'] != 1)}"
    rival = "hand-made detector" if own["on_cell"] else "detector on the found cell"
    return {
        "text": f"{found}. In the search, after {epochs} each, it was {words} the best "
        f"{rival} ({best['label']}: AP50 {best['AP50']:.2f} at {best['latency_ms']:.0f} ms, "
        f"against {own['AP50']:.2f} at {own['latency_ms']:.0f} ms).",
        "win": bool(own["on_cell"]) and words.startswith("more accurate and faster"),
    }
