"""Plain words for the Guided demo: one sentence for each number on screen, and the HTML blocks
that put numbers into sentences (the search verdict, the detector's score)."""

from __future__ import annotations

from typing import Any

from core.viz.common import plain_text

EXPLAIN = {
    "proxy": "Proxy accuracy: the share of small picture crops that a tiny network built from "
    "a cell names correctly - the search's quick test of a cell.",
    "scatter": "Each dot is a cell the search has trained and scored: higher is better, "
    "further right is bigger (more parameters); the orange line joins the best "
    "for their size. The grey ticks along the bottom are cells ranked first without "
    "training (quick proxies); the best-ranked of them are the ones trained.",
    "best_cell": "The best cell so far, redrawn whenever the search finds a better one (a "
    "search that also weighs speed may prefer a faster cell to a slightly more "
    "accurate one).",
    "alphas": "How much the search currently trusts each operation on each connection "
    "(darker = more); the cell is read off the darkest squares.",
    "report": "The found cell and a few random cells, each trained from scratch the same way: "
    'the found cell "beats the random cells" when its bar is longer than their '
    "average (dotted line).",
    "trials": "Each mark is a detector the search trained and timed: higher finds more shapes, "
    "further left is faster. Circles are built on the found cell, squares on the hand-made "
    "network; hollow ones were stopped early because others were doing better.",
    "loss": "Loss: how wrong the detector still is on the training pictures; going down means "
    "it is learning.",
    "ap50": "AP50 (0 to 1): how well the detector finds the shapes with boxes at least half "
    "right; 1.0 means every shape found and no false alarm.",
    "gallery": "The current detector on four pictures it never trains on, refreshed after "
    "every epoch (one pass over the training pictures).",
    "threshold": "Boxes the detector is less sure about than the threshold are hidden; the "
    "default is the one that balanced found shapes and false alarms best on the "
    "validation pictures.",
    "own": "Draw coloured shapes (circles, squares, triangles) or upload a picture: the "
    "detector answers as soon as you lift the pen or the picture arrives.",
}


def explain(key: str) -> str:
    """The plain sentence for `key` as a small grey note (HTML-safe)."""
    return f"<p class='note demo-explain'>{plain_text(EXPLAIN[key])}</p>"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def verdict_html(report: dict[str, Any] | None, trained: int | None = None) -> str:
    """ "Does the found cell beat the random cells?" in one sentence (empty before the report).
    `trained`: how many cells the search trained; with none, the page says so and makes no
    claim (the cell kept is then only the best-ranked one)."""
    if trained == 0:
        return (
            "<div class='demo-verdict' id='demo-verdict'>The search had no time to train a "
            "single cell on this machine, so the cell shown is only the best-ranked one "
            "<b>without training</b>; nothing is claimed about it. Give the search more minutes "
            "to compare it with random cells.</div>"
        )
    if not report or not report.get("searched"):
        return ""
    searched = report["searched"].get("mean")
    rand = (report.get("random") or {}).get("mean")
    if searched is None:
        return ""
    if rand is None:
        return (
            f"<div class='demo-verdict'>The found cell reached {pct(searched)} proxy "
            f"accuracy (no random cells to compare with).</div>"
        )
    margin = searched - rand
    points = abs(100 * margin)
    if points < 0.05:  # the same crops right: a tie, not a loss
        return (
            f"<div class='demo-verdict' id='demo-verdict'>The found cell <b>ties with the "
            f"random cells</b>: {pct(searched)} against {pct(rand)} on average, "
            f"each trained from scratch the same way.</div>"
        )
    beats = margin > 0
    word = "beats" if beats else "does not beat"
    return (
        f"<div class='demo-verdict {'win' if beats else 'loss'}' id='demo-verdict'>"
        f"The found cell <b>{word} the random cells</b>: {pct(searched)} against "
        f"{pct(rand)} on average ({points:.{0 if points >= 1 else 1}f} points "
        f"{'better' if beats else 'worse'}), each trained from scratch the same way.</div>"
    )


def detector_verdict_html(verdict: dict[str, Any] | None) -> str:
    """The walk's last sentence (core.app.demo_results.verdict) as a verdict block."""
    if not verdict:
        return ""
    return (
        f"<div class='demo-verdict {'win' if verdict['win'] else ''}' id='demo-verdict-detector'>"
        f"{plain_text(verdict['text'])}</div>"
    )


def score_html(metrics: dict[str, Any] | None) -> str:
    """The detector's score in plain words, from its evaluation (eval.json or model metrics)."""
    if not metrics or metrics.get("AP50") is None:
        return ""
    choice = metrics.get("threshold") or {}
    ap50 = float(metrics["AP50"])
    text = f"AP50 {ap50:.2f}"
    words = ""
    if choice.get("recall") is not None:
        words = (
            f"It finds <b>{pct(choice['recall'])} of the shapes</b> in pictures it never "
            f"saw, and <b>{pct(choice['precision'])} of its boxes are right</b> "
            f"(showing boxes it is at least {choice['threshold']:.2f} sure of)."
        )
    return (
        f"<div class='big-number' id='demo-ap'>Score: {text}</div>"
        f"<p class='demo-words'>{words}</p>{explain('ap50')}"
    )


def status_line(job: dict[str, Any] | None, what: str) -> str:
    """One line in plain words: 'Searching: 43% - epoch 3/10 · about 2m 10s left · 1m 05s so
    far'. The running clock changes every tick, so the screen never sits still."""
    import time

    from nasdet_gui.common import fmt_duration

    if not job:
        return f"{what}: not started yet."
    status = job["status"]
    if status == "queued":
        waits = job.get("after_id")
        return (
            f"{what}: waiting for job {waits} to finish first."
            if waits
            else f"{what}: queued, starting in a moment."
        )
    if status == "running":
        text = f"**{what}: {100 * (job.get('progress') or 0):.0f}%**"
        if job.get("message"):
            text += f" - {plain_text(job['message'])}"
        if job.get("eta_s") is not None:
            text += f" · about {fmt_duration(job['eta_s'])} left"
        if job.get("started_at"):
            text += f" · {fmt_duration(time.time() - job['started_at'])} so far"
        return text
    if status == "succeeded":
        took = (job.get("finished_at") or 0) - (job.get("started_at") or 0)
        return f"{what}: **done**" + (f" in {fmt_duration(took)}." if took > 0 else ".")
    reason = f" {plain_text(job['error'])}" if job.get("error") else ""
    return f"{what}: **{status}**.{reason} The Jobs tab can resume it."
