"""Stored detectors on one chart: validation AP50 against latency at batch 1, the Pareto front
drawn through the models no other model beats on both, the selected ones ringed. Each point
carries its model's name as customdata (the Models tab selects a model from a click on it) and
its title, AP50 and latency on hover. Pure: rows in (core.app.model_list), figure out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from core.viz.common import MUTED_COLOR, base_layout, empty_figure

ORIGIN_COLORS = {
    "demo": "#4f46e5",
    "train": "#0ea5e9",
    "search.detector": "#16a34a",
    "import": "#9333ea",
}
ORIGIN_LABELS = {
    "demo": "Guided demo",
    "train": "trained",
    "search.detector": "detector search pick",
    "import": "imported",
}
FRONT_COLOR = "#dc2626"


def _hover(row: Mapping[str, Any]) -> str:
    return (
        f"<b>{row['name']}</b><br>{row['title']}<br>AP50 {row['AP50']:.3f} · "
        f"{row['latency_ms']:.1f} ms ({row.get('latency_device') or '?'})"
    )


def models_figure(
    rows: Sequence[Mapping[str, Any]],
    front: Sequence[str],
    selected: Sequence[str] = (),
    height: int = 380,
) -> go.Figure:
    """AP50 (y) against latency in ms (x) of the rows that have both; one colour per origin,
    the Pareto front as a line through `front` (names, fastest first), `selected` ringed."""
    shown = [r for r in rows if r.get("AP50") is not None and r.get("latency_ms") is not None]
    if not shown:
        return empty_figure("No model with both an AP50 and a latency yet", height)
    fig = go.Figure(
        layout=base_layout(
            height=height,
            xaxis_title="latency per picture (ms, batch 1, this machine)",
            yaxis_title="validation AP50",
        )
    )
    by_name = {r["name"]: r for r in shown}
    line = [by_name[n] for n in front if n in by_name]
    if len(line) > 1:
        fig.add_trace(
            go.Scatter(
                x=[r["latency_ms"] for r in line],
                y=[r["AP50"] for r in line],
                mode="lines",
                line=dict(color=FRONT_COLOR, width=1.5, dash="dot"),
                name="best trade-offs (Pareto front)",
                hoverinfo="skip",
            )
        )
    for origin, color in ORIGIN_COLORS.items():
        group = [r for r in shown if r["origin"] == origin]
        if group:
            fig.add_trace(_points(group, color, ORIGIN_LABELS[origin], set(front)))
    ringed = [by_name[n] for n in selected if n in by_name]
    if ringed:
        fig.add_trace(
            go.Scatter(
                x=[r["latency_ms"] for r in ringed],
                y=[r["AP50"] for r in ringed],
                mode="markers+text",
                text=[chr(ord("A") + k) for k in range(len(ringed))],
                textposition="top center",
                marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(color="#111827", width=2)),
                customdata=[r["name"] for r in ringed],
                name="selected",
                hoverinfo="skip",
            )
        )
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.18, x=0))
    return fig


def _points(group: Sequence[Mapping[str, Any]], color: str, label: str, front: set) -> go.Scatter:
    return go.Scatter(
        x=[r["latency_ms"] for r in group],
        y=[r["AP50"] for r in group],
        mode="markers",
        name=label,
        customdata=[r["name"] for r in group],
        hovertext=[_hover(r) for r in group],
        hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(
            size=11,
            color=color,
            line=dict(
                color=[FRONT_COLOR if r["name"] in front else MUTED_COLOR for r in group],
                width=2,
            ),
        ),
    )
