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


def _ap50_latency_figure(height: int) -> go.Figure:
    """An empty chart of validation AP50 (y) against latency at batch 1 (x)."""
    return go.Figure(
        layout=base_layout(
            height=height,
            xaxis_title="latency per picture (ms, batch 1, this machine)",
            yaxis_title="validation AP50",
        )
    )


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
    fig = _ap50_latency_figure(height)
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


TRIAL_COLORS = {"cell": "#4f46e5", "hand-made": "#f59e0b"}
PICK_COLOR = "#16a34a"
BASELINE_COLOR = "#0ea5e9"


def _trial_hover(t: Mapping[str, Any]) -> str:
    state = "trained to the end" if t["complete"] else "stopped early"
    return (
        f"<b>trial {t['trial']}</b>: {t['label']}<br>AP50 {t['AP50']:.3f} after "
        f"{t['epochs']} epoch{'s' * (t['epochs'] != 1)} ({state}) · {t['latency_ms']:.1f} ms"
    )


def detector_search_figure(
    trials: Sequence[Mapping[str, Any]],
    baselines: Sequence[Mapping[str, Any]] = (),
    pick: Mapping[str, Any] | None = None,
    height: int = 340,
) -> go.Figure:
    """A detector search on one chart: each trial's val AP50 (y) after its epochs against its
    latency (x), on the searched cell (filled circles) or a hand-made backbone (squares), hollow
    when it was stopped early; `baselines` (model rows: detectors trained in this home on the
    same data) as diamonds; `pick` ({"AP50", "latency_ms", "title"}: the chosen detector after
    its training went on) as a star. Trials: {"trial", "label", "on_cell", "AP50",
    "latency_ms", "epochs", "complete"}."""
    shown = [t for t in trials if t.get("AP50") is not None and t.get("latency_ms") is not None]
    if not shown and not baselines and not pick:
        return empty_figure("The first detector is training; its point appears here", height)
    fig = _ap50_latency_figure(height)
    for kind, symbol in (("cell", "circle"), ("hand-made", "square")):
        group = [t for t in shown if bool(t["on_cell"]) == (kind == "cell")]
        if not group:
            continue
        color = TRIAL_COLORS[kind]
        fig.add_trace(
            go.Scatter(
                x=[t["latency_ms"] for t in group],
                y=[t["AP50"] for t in group],
                mode="markers",
                name=f"tried: {'on the found cell' if kind == 'cell' else 'hand-made backbone'}",
                hovertext=[_trial_hover(t) for t in group],
                hovertemplate="%{hovertext}<extra></extra>",
                marker=dict(
                    size=11,
                    symbol=[symbol if t["complete"] else f"{symbol}-open" for t in group],
                    color=color,
                    line=dict(color=color, width=2),
                ),
            )
        )
    usable = [b for b in baselines if b.get("AP50") is not None and b.get("latency_ms")]
    if usable:
        fig.add_trace(
            go.Scatter(
                x=[b["latency_ms"] for b in usable],
                y=[b["AP50"] for b in usable],
                mode="markers",
                name="trained here before (hand-made)",
                hovertext=[_hover(b) for b in usable],
                hovertemplate="%{hovertext}<extra></extra>",
                marker=dict(size=13, symbol="diamond", color=BASELINE_COLOR),
            )
        )
    if pick and pick.get("AP50") is not None and pick.get("latency_ms") is not None:
        fig.add_trace(
            go.Scatter(
                x=[pick["latency_ms"]],
                y=[pick["AP50"]],
                mode="markers",
                name="the pick, trained on",
                hovertext=[
                    f"<b>the pick</b>: {pick.get('title', '')}<br>AP50 "
                    f"{pick['AP50']:.3f} · {pick['latency_ms']:.1f} ms"
                ],
                hovertemplate="%{hovertext}<extra></extra>",
                marker=dict(
                    size=20, symbol="star", color=PICK_COLOR, line=dict(color="#111827", width=1)
                ),
            )
        )
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    return fig
