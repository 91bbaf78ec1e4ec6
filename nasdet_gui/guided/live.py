"""What moves on the Guided demo's screen while its jobs run (read through core, drawn by core.viz).

Search: each scored cell as a point (score against parameters), the best cell so far redrawn,
and beside them the DARTS alpha heatmap while searching, then the searched-vs-random bars as the
final report trains them. Training: four validation pictures with the current model's boxes
(runs/<id>/preview.json, rewritten every epoch), the loss and the AP50 curves.
Images go to Gradio as numpy arrays, never as paths into the home folder.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from core.app import datasets, searches, trainings
from core.app.jobs import Store
from core.errors import NasdetError
from core.viz.search_report import REPORT_ROLES
from nasdet_gui import figures
from nasdet_gui.figures import SEARCH_ROLES

log = logging.getLogger(__name__)

CHART_H = 300
TRAIN_CHART_H = 240  # px: the loss and AP50 curves, stacked beside the training pictures
PREVIEW_SIDE = 360  # px: preview pictures are drawn this large, so tags stay readable
FALLBACK_THRESHOLD = 0.3
PREVIEW_MIN_THRESHOLD = 0.25  # an early, unsure model's own threshold would flood the pictures
MAX_BOXES = 12  # per picture: the most confident ones (the rest would hide the picture)
ALPHA_W = 1100  # px: the alpha view across the step (heatmap beside the derived cell)


def _fit(fig, height: int = CHART_H, title: str | None = None):
    """One size for the demo's charts, the title inside the top margin (no overlaps)."""
    fig.update_layout(height=height, margin=dict(l=52, r=12, t=40 if title else 12, b=44))
    if title:
        fig.update_layout(
            title=dict(
                text=title, x=0.01, xanchor="left", y=0.97, yanchor="top", font=dict(size=14)
            )
        )
    return fig


def note(message: str, height: int = CHART_H):
    from core.viz.common import empty_figure

    return empty_figure(message, height=height)


# -- search -----------------------------------------------------------------------------------


def search_scatter(archs: list[dict]):
    """Proxy accuracy against parameters of every cell the search phase trained (the Pareto
    line: the most accurate for their size), over a strip of the cells ranked without training
    (zero-cost proxies; no accuracy yet), so the chart moves from the first ranked cell on."""
    import plotly.graph_objects as go

    from core.viz.curves import search_tradeoff_figure

    # y is the proxy accuracy the axis names (the score may be a latency-weighted reward)
    rows = [
        {**a, "score": searches.proxy_accuracy(a)}
        for a in archs
        if a["role"] in SEARCH_ROLES and a.get("score") is not None and a.get("params")
    ]
    ranked = [
        a["params"]
        for a in archs
        if a["role"] == "candidate"
        and a.get("score") is None
        and a.get("params")
        and "synflow" in (a.get("extra") or {})
    ]
    if not rows and not ranked:
        return note("Scored cells appear here as the search tries them.")
    if rows:
        fig = search_tradeoff_figure(rows, "params", title="Cells scored so far")
    else:
        fig = note(
            f"{len(ranked)} cells ranked without training so far:<br>the best-ranked "
            "train next and appear here with their accuracy."
        )
    fig.update_layout(yaxis_title="proxy accuracy", showlegend=False)
    if ranked:
        fig.add_trace(
            go.Scatter(
                x=ranked,
                y=[0] * len(ranked),
                yaxis="y2",
                mode="markers",
                name="ranked",
                marker=dict(size=7, color="rgba(120,130,150,0.45)", symbol="line-ns-open"),
                hovertemplate="ranked without training<br>%{x:,} parameters<extra></extra>",
            )
        )
        fig.update_layout(
            xaxis=dict(anchor="y2"),
            yaxis=dict(domain=[0.24, 1]),
            yaxis2=dict(domain=[0, 0.1], visible=False, range=[-1, 1]),
        )
        fig.add_annotation(
            text=f"{len(ranked)} ranked without training",
            x=0,
            xref="paper",
            xanchor="left",
            y=0.11,
            yref="paper",
            yanchor="bottom",
            showarrow=False,
            font=dict(size=11, color="#6b7280"),
        )
        if not rows:
            fig.update_xaxes(visible=True, title_text="parameters")
    return _fit(fig, title="Cells scored so far")


def best_cell(store: Store, search_id: int):
    """The best (or, once chosen, the searched) cell's normal-cell graph."""
    from core.viz.cell_graph import cell_figure

    best = searches.search_best(store, search_id)
    if not best:
        return note("The best cell is drawn here once the search has scored one.")
    title = "The found cell" if best["final"] else "Best cell so far"
    if best.get("accuracy") is not None and not best["final"]:
        title += f" ({100 * best['accuracy']:.0f}% proxy accuracy)"
    return _fit(cell_figure(best["genotype"], "normal", title=title), title=title)


PHASE_NOTES = {
    "none": "The found cell is compared with random cells here after the search.",
    "reading": "Reading the search's weights...",
    "empty": "The first weights appear after the first epoch.",
}


def phase_figure(store: Store, search_id: int, archs: list[dict]):
    """The searched-vs-random bars once the report has trained a cell; before, the DARTS
    alpha heatmap (other strategies: a note)."""
    from core.viz.search_report import report_bars

    if any(a["role"] in REPORT_ROLES and a.get("score") is not None for a in archs):
        return _fit(
            report_bars(archs, title="Found cell vs random cells"),
            title="Found cell vs random cells",
        )
    return figures.alphas(store, search_id, width=ALPHA_W, notes=PHASE_NOTES)


def search_views(store: Store, search_id: int | None) -> tuple:
    """(scatter, best cell, alphas-or-report) of a search."""
    if not search_id:
        empty = note("Start the search to see it work.")
        return empty, empty, empty
    archs = searches.architectures(store, search_id)
    return search_scatter(archs), best_cell(store, search_id), phase_figure(store, search_id, archs)


# -- training ---------------------------------------------------------------------------------


def train_curves(store: Store, train_id: int | None) -> tuple:
    """(loss per step, val AP50 per epoch) of a train job."""
    from core.viz.curves import metrics_figure

    if not train_id:
        empty = note("Curves appear when the training starts.", TRAIN_CHART_H)
        return empty, empty
    rows = store.metrics(train_id, keys=["train/loss", "val/AP50"], last=20_000)
    loss = metrics_figure(
        [r for r in rows if r["key"] == "train/loss"], ["train/loss"], y_title="loss", smoothing=0.6
    )
    ap = metrics_figure([r for r in rows if r["key"] == "val/AP50"], ["val/AP50"], y_title="AP50")
    loss.update_layout(showlegend=False, xaxis_title="training step")
    ap.update_layout(showlegend=False, xaxis_title="epoch", yaxis_range=[0, 1])
    return (
        _fit(loss, TRAIN_CHART_H, "Loss (lower is better)"),
        _fit(ap, TRAIN_CHART_H, "AP50 (higher is better)"),
    )


def draw_detections(
    item: dict, classes: list[str], threshold: float, side: int = PREVIEW_SIDE
) -> np.ndarray:
    """One picture with its detections >= threshold, drawn `side` px large, class colours."""
    from core.viz.detections import draw_boxes, enlarge

    image = item["image"] if "image" in item else datasets.read_rgb(item["path"])
    dets = sorted(
        (d for d in item["detections"] if d["score"] >= threshold), key=lambda d: -d["score"]
    )[:MAX_BOXES]
    big, boxes = enlarge(image, [d["box"] for d in dets], side)
    return draw_boxes(big, boxes, [d["label"] for d in dets], classes, [d["score"] for d in dets])


def caption(item: dict, threshold: float) -> str:
    """'found 4 of 5, 1 false alarm' for one picture (IoU >= 0.5, same class)."""
    from core.viz.detections import match_detections

    dets = [d for d in item["detections"] if d["score"] >= threshold]
    gt = np.array(item.get("gt_boxes") or [], np.float64).reshape(-1, 4)
    if "gt_labels" not in item:
        return f"{len(dets)} found"
    m = match_detections(
        gt,
        item["gt_labels"],
        np.array([d["box"] for d in dets]).reshape(-1, 4),
        [d["label"] for d in dets],
        [d["score"] for d in dets],
    )
    wrong = int((~m.pred_tp).sum())
    return f"found {int(m.gt_matched.sum())} of {len(gt)}" + (
        f", {wrong} false alarm{'s' * (wrong != 1)}" if wrong else ", no false alarm"
    )


def preview_gallery(store: Store, train_id: int | None, classes: list[str]):
    """The newest per-epoch preview of a train job: a gr.Gallery update with its pictures
    (image, caption) and "After epoch e of E" as its label."""
    import gradio as gr

    doc = trainings.load_preview(store, train_id)
    if not doc:
        return gr.Gallery(value=[], label="The pictures appear after the first epoch")
    threshold = max(doc.get("score_threshold") or FALLBACK_THRESHOLD, PREVIEW_MIN_THRESHOLD)
    out = []
    for item in doc["images"]:
        try:
            drawn = draw_detections(item, classes, threshold)
        except NasdetError as exc:  # a picture gone from the dataset: leave it out
            log.warning("preview picture not shown: %s", exc)
            continue
        out.append((drawn, caption(item, threshold)))
    return gr.Gallery(
        value=out,
        label=f"After epoch {doc['epoch']} of {doc['epochs']} "
        f"(boxes it is at least {threshold:.2f} sure of)",
    )


def dataset_classes(store: Store, train_job: dict[str, Any] | None) -> list[str]:
    """The class names of a train job's dataset ([] when unknown)."""
    name = ((train_job or {}).get("spec") or {}).get("dataset")
    if not name:
        return []
    try:
        return list(store.get_dataset(name)["classes"])
    except NasdetError:
        return []
