"""The final report of a search as bars: the searched cell retrained from scratch beside each
random cell under the same budget (core.nas.report), so "does the search beat random?" is one
look. Input: architecture rows {id, score, role ('searched' | 'random'), extra: {repeat}}; rows
of other roles are ignored. Bars fill in while the report is running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from core.viz.common import MUTED_COLOR, base_layout, empty_figure

SEARCHED_COLOR = "#e45756"
RANDOM_COLOR = "#9ca3af"
REPORT_ROLES = ("searched", "random")


def report_bars(
    archs: Sequence[Mapping[str, Any]], title: str | None = "Searched vs random", height: int = 300
) -> go.Figure:
    """Horizontal bars of retrained proxy accuracy (%): searched repeats first, then the random
    cells, with a dotted line at the random mean."""
    rows = [a for a in archs if a.get("role") in REPORT_ROLES and a.get("score") is not None]
    if not rows:
        return empty_figure("The searched-vs-random report has not trained a cell yet.", height)
    rows.sort(key=lambda a: (REPORT_ROLES.index(a["role"]), a["id"]))
    counts = {"searched": 0, "random": 0}
    names, values, colors, ids = [], [], [], []
    for a in rows:
        counts[a["role"]] += 1
        names.append(f"{a['role']} {counts[a['role']]}")
        values.append(100.0 * float(a["score"]))
        colors.append(SEARCHED_COLOR if a["role"] == "searched" else RANDOM_COLOR)
        ids.append(int(a["id"]))
    fig = go.Figure(
        layout=base_layout(
            title=title,
            height=height,
            xaxis_title="proxy accuracy, retrained from scratch (%)",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=colors,
            customdata=ids,
            text=[f"{v:.1f}%" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1f}%<br>arch #%{customdata}<extra></extra>",
        )
    )
    randoms = [v for v, a in zip(values, rows) if a["role"] == "random"]
    if randoms:
        mean = sum(randoms) / len(randoms)
        fig.add_vline(
            x=mean,
            line_dash="dot",
            line_color=MUTED_COLOR,
            annotation_text=f"random mean {mean:.1f}%",
            annotation_position="top",
        )
    fig.update_yaxes(autorange="reversed")
    return fig
