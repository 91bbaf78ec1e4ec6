"""Dataset statistics charts: objects per class, relative box sizes, objects per image.

Input is the `stats` dict of `core.data.stats.compute_stats` (stored in the datasets table):
{"per_class": {class: {"train": n, "val": n}}, "box_size": {"edges", "counts"} (relative size
sqrt(box area / image area)), "objects_per_image": {"histogram": {n: images}, "mean", "max"},
...}. Classes keep their colours from `core.viz.detections.class_color_hex`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz.common import base_layout, empty_figure, plain_text
from core.viz.detections import class_color_hex

VAL_OPACITY = 0.45  # val bars: the class colour, lighter


def objects_per_class_traces(stats: Mapping[str, Any]) -> list[go.Bar]:
    """Grouped bars per class: train (class colour) and val (lighter)."""
    per_class = stats.get("per_class") or {}
    names = list(per_class)
    colors = [class_color_hex(i) for i in range(len(names))]
    return [
        go.Bar(
            x=[plain_text(n) for n in names],  # class names drawn as text
            y=[per_class[n].get(split, 0) for n in names],
            name=split,
            marker=dict(
                color=colors,
                opacity=1.0 if split == "train" else VAL_OPACITY,
                line=dict(color=colors, width=1),
            ),
            hovertemplate=f"%{{x}} ({split}): %{{y}}<extra></extra>",
        )
        for split in ("train", "val")
    ]


def box_size_trace(stats: Mapping[str, Any]) -> go.Bar:
    """Histogram of relative box size over the stored (fixed) bin edges."""
    edges = np.asarray(stats["box_size"]["edges"], dtype=np.float64)
    counts = stats["box_size"]["counts"]
    return go.Bar(
        x=(edges[:-1] + edges[1:]) / 2,
        y=counts,
        width=np.diff(edges) * 0.95,
        customdata=np.stack([edges[:-1], edges[1:]], axis=1),
        name="boxes",
        marker_color="#4c78a8",
        showlegend=False,
        hovertemplate="size %{customdata[0]:.2f}-%{customdata[1]:.2f}: %{y} boxes<extra></extra>",
    )


def objects_per_image_trace(stats: Mapping[str, Any]) -> go.Bar:
    """Bars: number of images with n objects, for each n."""
    hist = stats["objects_per_image"]["histogram"]
    ns = sorted(int(n) for n in hist)
    return go.Bar(
        x=ns,
        y=[hist[str(n)] for n in ns],
        name="images",
        marker_color="#72b7b2",
        showlegend=False,
        hovertemplate="%{x} objects: %{y} images<extra></extra>",
    )


def dataset_stats_figure(stats: Mapping[str, Any] | None, title: str | None = None) -> go.Figure:
    """Three panels: objects per class (train / val), relative box size histogram, objects per
    image histogram, with the mean and max in the panel title."""
    if not stats or not stats.get("per_class"):
        return empty_figure("no dataset statistics")
    fig = make_subplots(
        rows=2,
        cols=2,
        specs=[[{"colspan": 2}, None], [{}, {}]],
        vertical_spacing=0.2,
        horizontal_spacing=0.12,
        subplot_titles=[
            "objects per class",
            "box size (sqrt of area share of the image)",
            _per_image_title(stats),
        ],
    )
    for trace in objects_per_class_traces(stats):
        fig.add_trace(trace, row=1, col=1)
    fig.add_trace(box_size_trace(stats), row=2, col=1)
    fig.add_trace(objects_per_image_trace(stats), row=2, col=2)
    fig.update_layout(
        **base_layout(
            title=title,
            height=520,
            barmode="group",
            margin=dict(l=56, r=16, t=64 if title else 36, b=40),
        )
    )
    fig.update_layout(legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"))
    fig.update_annotations(font_size=12)
    fig.update_xaxes(tickangle=-30, row=1, col=1)
    return fig


def _per_image_title(stats: Mapping[str, Any]) -> str:
    opi = stats["objects_per_image"]
    return f"objects per image (mean {opi['mean']:.1f}, max {opi['max']})"


def objects_per_class_figure(
    stats: Mapping[str, Any] | None, title: str | None = None
) -> go.Figure:
    """Grouped train / val bars of objects per class, in the class colours."""
    if not stats or not stats.get("per_class"):
        return empty_figure("no dataset statistics")
    fig = go.Figure(
        objects_per_class_traces(stats),
        layout=base_layout(title=title or "Objects per class", barmode="group", height=340),
    )
    fig.update_xaxes(tickangle=-30)
    return fig


def sizes_figure(stats: Mapping[str, Any] | None, title: str | None = None) -> go.Figure:
    """Relative box size histogram beside the objects-per-image histogram."""
    if not stats or not stats.get("box_size"):
        return empty_figure("no dataset statistics")
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=["box size (sqrt of area share)", _per_image_title(stats)],
    )
    fig.add_traces(
        [box_size_trace(stats), objects_per_image_trace(stats)], rows=[1, 1], cols=[1, 2]
    )
    fig.update_layout(
        **base_layout(
            title=title,
            height=320,
            showlegend=False,
            margin=dict(l=56, r=16, t=64 if title else 36, b=40),
        )
    )
    fig.update_annotations(font_size=12)
    return fig


def stats_figures(
    stats: Mapping[str, Any] | None, classes: Sequence[str] | None = None
) -> tuple[go.Figure, go.Figure]:
    """(objects per class, box sizes + objects per image) for two gr.Plot slots. `classes` is
    accepted for symmetry with the dataset row; class order comes from stats["per_class"]."""
    return objects_per_class_figure(stats), sizes_figure(stats)
