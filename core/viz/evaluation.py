"""Evaluation views: PR curves per class, AP per class, the detection confusion matrix.

Input is the dict of `core.train.evaluate.evaluate_coco`: `precision` is COCOeval's
eval['precision'] as a nested list [T=10 IoU thresholds, R=101 recall points, K classes,
A=4 area ranges, M=3 max-detection settings] with -1 where a class has no ground truth;
`per_class_AP` {name: AP or -1}; `confusion` [K+1, K+1] counts (rows true class, columns
predicted, index K = background: row K false positives, column K misses). Class colours come
from `core.viz.detections.class_color_hex`, the same as in the drawn detections.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz.common import base_layout, empty_figure, plain_text
from core.viz.detections import class_color_hex

log = logging.getLogger(__name__)

AREA_ALL = 0  # COCOeval area ranges: all, small, medium, large
MAXDET_100 = -1  # COCOeval maxDets: 1, 10, 100
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
IOU_SETTINGS = ("0.5", "0.5:0.95")
TEXT_IN_CELLS_MAX_CLASSES = 25  # bigger confusion matrices show values on hover only


def pr_curve(
    precision: Sequence | np.ndarray,
    k: int,
    iou: str = "0.5",
    area: int = AREA_ALL,
    max_dets: int = MAXDET_100,
) -> tuple[np.ndarray, np.ndarray]:
    """(recall [R], precision [R]) of class k from COCOeval's precision array.

    iou "0.5": the slice precision[0, :, k, area, max_dets]; "0.5:0.95": the mean over the ten
    IoU thresholds of the valid (> -1) entries, as COCOeval averages AP. NaN where no value.
    """
    p = np.asarray(precision, dtype=np.float64)
    if p.ndim != 5:
        raise ValueError(f"precision must be [T, R, K, A, M], got shape {p.shape}")
    if iou == "0.5":
        curve = p[0, :, k, area, max_dets].copy()
        curve[curve < 0] = np.nan
    elif iou == "0.5:0.95":
        s = p[:, :, k, area, max_dets]
        valid = s > -1
        with np.errstate(invalid="ignore"):
            curve = np.where(valid, s, 0.0).sum(0) / valid.sum(0)  # NaN where no threshold valid
    else:
        raise ValueError(f"iou must be one of {IOU_SETTINGS}, got {iou!r}")
    recall = RECALL_POINTS if p.shape[1] == 101 else np.linspace(0.0, 1.0, p.shape[1])
    return recall, curve


def _class_names(evaluation: Mapping[str, Any], k: int) -> list[str]:
    """The k class names as plotly draws text (plain_text: a name is never read as HTML)."""
    names = evaluation.get("classes") or list((evaluation.get("per_class_AP") or {}).keys())
    return [plain_text(n) for n in names] if len(names) == k else [f"class {i}" for i in range(k)]


def pr_curves_figure(
    evaluation: Mapping[str, Any] | Sequence,
    classes: Sequence[str] | None = None,
    ious: Sequence[str] = IOU_SETTINGS,
    title: str | None = "Precision-recall per class",
) -> go.Figure:
    """PR curves per class (class colours), one panel per IoU setting ("0.5", "0.5:0.95").

    `evaluation`: evaluate_coco's dict, or its `precision` array alone (then pass `classes`).
    Clicking a legend entry hides the class in every panel. Classes without ground truth are
    left out (named in the title).
    """
    if not isinstance(evaluation, Mapping):
        evaluation = {"precision": evaluation, "classes": classes}
    elif classes:
        evaluation = {**evaluation, "classes": classes}
    if evaluation.get("precision") is None or not len(evaluation["precision"]):
        return empty_figure("no evaluation yet")
    p = np.asarray(evaluation["precision"], dtype=np.float64)
    names = _class_names(evaluation, p.shape[2])
    fig = make_subplots(
        rows=1,
        cols=len(ious),
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=[f"IoU {iou}" for iou in ious],
    )
    absent, traces, cols = [], [], []
    for k, name in enumerate(names):
        curves = [pr_curve(p, k, iou) for iou in ious]
        if all(np.isnan(c).all() for _, c in curves):
            absent.append(name)
            continue
        for col, (recall, prec) in enumerate(curves, start=1):
            ap = float(np.nanmean(prec)) if not np.isnan(prec).all() else float("nan")
            traces.append(
                go.Scatter(
                    x=recall,
                    y=prec,
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line=dict(color=class_color_hex(k), width=2),
                    hovertemplate=f"{name} (AP {ap:.3f})<br>recall %{{x:.2f}}<br>precision "
                    "%{y:.3f}<extra></extra>",
                )
            )
            cols.append(col)
    if traces:  # one call: add_trace per trace re-validates the subplot grid each time
        fig.add_traces(traces, rows=[1] * len(traces), cols=cols)
    subtitle = f" · no ground truth: {', '.join(absent)}" if absent else ""
    fig.update_layout(**base_layout(title=(title or "") + subtitle, height=380))
    fig.update_xaxes(title_text="recall", range=[0, 1.0])
    fig.update_yaxes(range=[0, 1.02])
    fig.update_yaxes(title_text="precision", col=1)
    return fig


def per_class_ap_figure(
    evaluation: Mapping[str, Any], key: str = "per_class_AP", title: str | None = None
) -> go.Figure:
    """Horizontal bars of AP per class (class colours), best first; -1 (no ground truth) as
    an empty bar marked "no GT". `key`: per_class_AP (0.5:0.95) or per_class_AP50."""
    per_class = evaluation.get(key) or {}
    if not per_class:
        return empty_figure("no per-class AP yet")
    names = list(per_class)
    order = sorted(range(len(names)), key=lambda i: -per_class[names[i]])
    values = [max(per_class[names[i]], 0.0) for i in order]
    labels = ["no GT" if per_class[names[i]] < 0 else f"{per_class[names[i]]:.3f}" for i in order]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=[plain_text(names[i]) for i in order],
            orientation="h",
            text=labels,
            textposition="outside",
            marker_color=[class_color_hex(i) for i in order],
            cliponaxis=False,
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    metric = "AP50" if key.endswith("50") else "AP (0.5:0.95)"
    fig.update_layout(
        **base_layout(
            title=title or f"{metric} per class",
            height=max(220, 60 + 22 * len(names)),
            xaxis=dict(range=[0, 1.1], title=metric),
            yaxis=dict(autorange="reversed"),
            showlegend=False,
        )
    )
    return fig


def confusion_figure(
    evaluation: Mapping[str, Any] | Sequence[Sequence[float]],
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Detection confusion matrix heatmap, rows true class, columns predicted, with a
    "background" row (false positives) and column (misses). normalize=True divides each row
    by its total (a row's share of each outcome); counts stay in the hover."""
    if isinstance(evaluation, Mapping):
        matrix = evaluation.get("confusion")
        class_names = class_names or evaluation.get("classes")
    else:
        matrix = evaluation
    if not matrix:
        return empty_figure("no confusion matrix yet")
    counts = np.asarray(matrix, dtype=np.float64)
    k = counts.shape[0] - 1
    names = (
        list(class_names)
        if class_names and len(class_names) == k
        else [f"class {i}" for i in range(k)]
    )
    labels = [plain_text(n) for n in names] + ["background"]
    totals = counts.sum(1, keepdims=True)
    shown = (
        np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        if normalize
        else counts
    )
    text = np.vectorize(lambda v: f"{v:.2f}" if normalize else f"{int(v)}")(shown)
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            x=labels,
            y=labels,
            colorscale="Blues",
            customdata=counts,
            text=text if k <= TEXT_IN_CELLS_MAX_CLASSES else None,
            texttemplate="%{text}" if k <= TEXT_IN_CELLS_MAX_CLASSES else None,
            hovertemplate="true %{y}<br>predicted %{x}<br>count %{customdata:.0f}<extra></extra>",
            colorbar=dict(thickness=10, title=dict(text="share" if normalize else "count")),
            xgap=1,
            ygap=1,
        )
    )
    iou = evaluation.get("confusion_iou") if isinstance(evaluation, Mapping) else None
    sub = f" (IoU {iou})" if iou else ""
    fig.update_layout(
        **base_layout(
            title=title
            or (("Confusion matrix, row-normalised" if normalize else "Confusion matrix") + sub),
            height=min(max(320, 120 + 28 * (k + 1)), 720),
            xaxis=dict(title="predicted", tickangle=-45, constrain="domain"),
            yaxis=dict(title="true", autorange="reversed", scaleanchor="x"),
            margin=dict(l=96, r=16, t=48, b=96),
        )
    )
    return fig


def summary_text(evaluation: Mapping[str, Any]) -> str:
    """One line with the headline numbers, e.g. for a figure title or a report."""
    keys = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")
    parts = [
        f"{k} {evaluation[k]:.3f}"
        for k in keys
        if isinstance(evaluation.get(k), (int, float)) and evaluation[k] >= 0
    ]
    return " · ".join(parts) if parts else "no evaluation"


__all__ = [
    "pr_curve",
    "pr_curves_figure",
    "per_class_ap_figure",
    "confusion_figure",
    "summary_text",
]
