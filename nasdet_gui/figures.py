"""Store data -> core.viz figures, for the tabs. Reads go through core.app; the drawing is
core.viz's. Every function returns a plotly Figure (a note figure when there is
nothing to show yet), so a gr.Plot can always take the result.
"""

from __future__ import annotations

import logging

from core.app import searches
from core.app.jobs import Store
from core.errors import NasdetError
from core.viz.alphas import alpha_figure, load_alphas
from core.viz.cell_graph import cell_figure
from core.viz.common import empty_figure
from core.viz.curves import metrics_figure, search_progress_figure, training_figure
from core.viz.search_report import REPORT_ROLES, report_bars

log = logging.getLogger(__name__)

NOTE_HEIGHT = 260
SEARCH_ROLES = ("derived", "candidate")
SEARCH_METRICS = ["search/train_acc", "search/val_acc"]


def note(message: str):
    """An empty figure that says why there is nothing to show."""
    return empty_figure(message, height=NOTE_HEIGHT)


def cells(genotype: dict | None, title: str = "") -> tuple:
    """(normal cell figure, reduction cell figure) of a genotype dict."""
    if not genotype:
        empty = note("No cell yet.")
        return empty, empty
    return (
        cell_figure(genotype, "normal", title=f"{title} normal cell".strip()),
        cell_figure(genotype, "reduce", title=f"{title} reduction cell".strip()),
    )


def search_chart(store: Store, job_id: int):
    """The search phase's scores (derived / candidate cells, with the best-so-far line); the
    y axis says where the score comes from (the supernet, or cells trained from scratch). The
    report's retrained accuracies are a separate chart (`report_chart`)."""
    rows = [a for a in searches.architectures(store, job_id) if a["role"] in SEARCH_ROLES]
    if rows:
        sources = {(a.get("extra") or {}).get("score_source") for a in rows} - {None}
        source = sources.pop() if len(sources) == 1 else "mixed sources"
        fig = search_progress_figure(rows, title=f"Search phase - score: {source}")
        fig.update_layout(yaxis_title="search score", height=340)
        return fig
    metrics = store.metrics(job_id, keys=SEARCH_METRICS)
    if not metrics:
        return note("Scores appear after the first epoch or architecture.")
    return metrics_figure(metrics, SEARCH_METRICS, title="Search accuracy", y_title="accuracy")


def report_chart(store: Store, job_id: int):
    """The final report: searched cell vs random cells, retrained from scratch (bars)."""
    rows = [a for a in searches.architectures(store, job_id) if a["role"] in REPORT_ROLES]
    return report_bars(rows, height=300)


def training_curves(store: Store, job_id: int):
    """A train job's four panels: loss, class/box loss, learning rate (per step) and
    validation AP / AP50 (per epoch), sized for a full-width column."""
    metrics = store.metrics(job_id, last=20_000)
    if not metrics:
        return note("Charts appear after the first steps.")
    fig = training_figure(metrics)
    fig.update_layout(showlegend=False, height=480)  # one run: the panel titles say it all
    return fig


ALPHA_NOTES = {
    "none": "Alpha heatmaps exist for DARTS searches.",
    "reading": "Reading the alphas...",
    "empty": "No alpha snapshot yet.",
}


def alphas(store: Store, job_id: int, width: int = 600, notes: dict[str, str] = ALPHA_NOTES):
    """The latest DARTS alpha snapshot as a heatmap; `notes` say why there is none yet
    ("none": no alphas artifact, "reading": being rewritten, "empty": no snapshot yet)."""
    found = store.artifacts(job_id, kind="alphas")
    if not found:
        return note(notes["none"])
    try:
        snapshots = load_alphas(store.resolve_path(found[-1]["path"]))
    except NasdetError as exc:  # being rewritten by the search: the next tick reads it
        log.debug("alphas of job %s not readable yet: %s", job_id, exc)
        return note(notes["reading"])
    if not snapshots:
        return note(notes["empty"])
    return alpha_figure(snapshots, width=width)
