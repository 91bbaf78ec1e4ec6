"""Store data -> core.viz figures, for the tabs. Pure reads and calls; no drawing code here.

Every function returns a plotly Figure (a note figure when there is nothing to show yet or the
visualisation part is not installed), so a gr.Plot can always take the result.
"""

from __future__ import annotations

import logging

from core.engine.store import Store
from core.errors import NasdetError

from nasdet_gui.common import engine_part, note_figure

log = logging.getLogger(__name__)


def note(message: str):
    return note_figure(message)


def _viz(module: str, name: str):
    fn = engine_part(f"core.viz.{module}", name)
    if fn is None:
        log.debug("core.viz.%s.%s not available", module, name)
    return fn


def cells(genotype: dict | None, title: str = "") -> tuple:
    """(normal cell figure, reduction cell figure) of a genotype dict."""
    if not genotype:
        empty = note("No cell yet.")
        return empty, empty
    cell_figure = _viz("cell_graph", "cell_figure")
    if cell_figure is None:
        empty = note("Cell graphs are not available in this build yet.")
        return empty, empty
    return (cell_figure(genotype, "normal", title=f"{title} normal cell".strip()),
            cell_figure(genotype, "reduce", title=f"{title} reduction cell".strip()))


def search_chart(store: Store, job_id: int):
    """Each evaluated architecture's score with the best-so-far line (else per-epoch accuracy)."""
    archs = store.architectures(job_id)
    if archs:
        fn = _viz("curves", "search_progress_figure")
        return fn(archs) if fn else note("Search charts are not available in this build yet.")
    metrics = store.metrics(job_id, keys=["search/train_acc", "search/val_acc"])
    fn = _viz("curves", "metrics_figure")
    if not metrics or fn is None:
        return note("Scores appear after the first epoch or architecture.")
    return fn(metrics, ["search/train_acc", "search/val_acc"], title="Search accuracy")


def training_charts(store: Store, job_id: int) -> tuple:
    """(loss/lr/AP panels, validation AP chart) of a train job."""
    training_figure = _viz("curves", "training_figure")
    metrics_figure = _viz("curves", "metrics_figure")
    if training_figure is None or metrics_figure is None:
        empty = note("Training charts are not available in this build yet.")
        return empty, empty
    metrics = store.metrics(job_id, last=20_000)
    if not metrics:
        empty = note("Charts appear after the first steps.")
        return empty, empty
    return (training_figure(metrics, title="Training"),
            metrics_figure(metrics, ["val/AP", "val/AP50"], title="Validation AP",
                           y_title="AP"))


def alphas(store: Store, job_id: int):
    """The latest DARTS alpha snapshot as a heatmap (a note for other strategies)."""
    found = store.artifacts(job_id, kind="alphas")
    if not found:
        return note("Alpha heatmaps exist for DARTS searches.")
    load_alphas = _viz("alphas", "load_alphas")
    alpha_figure = _viz("alphas", "alpha_figure")
    if alpha_figure is None:
        return note("Alpha heatmaps are not available in this build yet.")
    try:
        snapshots = load_alphas(store.resolve_path(found[-1]["path"]))
    except NasdetError:  # being rewritten by the search: the next tick reads it
        return note("Reading the alphas...")
    if not snapshots:
        return note("No alpha snapshot yet.")
    return alpha_figure(snapshots, width=600)
