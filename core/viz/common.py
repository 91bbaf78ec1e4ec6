"""Shared look and helpers of the plotly figures: base layout, downloads as standalone HTML.

Figures are designed for about 600 px of width (a gr.Plot in one column of a 1280x800 browser):
small margins, legends below the plot, 11-12 px fonts. `figure_to_html` gives a self-contained
page (plotly.js inline) that opens offline.
"""

from __future__ import annotations

import html as html_module
from typing import Any

import plotly.graph_objects as go

FONT_FAMILY = "Inter, Segoe UI, Helvetica, Arial, sans-serif"
FONT_SIZE = 12
MUTED_COLOR = "#9ca3af"
TEXT_COLOR = "#1f2937"


def base_layout(title: str | None = None, height: int = 380, **overrides: Any) -> dict:
    """Layout dict shared by the charts: white background, light grid, legend below the plot."""
    layout: dict[str, Any] = dict(
        template="plotly_white",
        height=height,
        autosize=True,
        font=dict(family=FONT_FAMILY, size=FONT_SIZE, color=TEXT_COLOR),
        margin=dict(l=56, r=16, t=48 if title else 16, b=48),
        legend=dict(
            orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0, font=dict(size=11)
        ),
        hoverlabel=dict(font=dict(family=FONT_FAMILY, size=11)),
    )
    if title:
        layout["title"] = dict(text=title, x=0.01, xanchor="left", font=dict(size=14))
    layout.update(overrides)
    return layout


def empty_figure(message: str, height: int = 300) -> go.Figure:
    """A blank figure that says why there is nothing to show (no data yet, job still queued)."""
    fig = go.Figure(layout=base_layout(height=height))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font=dict(size=14, color=MUTED_COLOR),
    )
    return fig


def figure_to_html(fig: go.Figure, title: str | None = None) -> str:
    """A standalone HTML page with plotly.js inline (works offline; about 4-5 MB). Animated
    figures (the alpha view) open on their selected frame and play on request."""
    html = fig.to_html(
        include_plotlyjs=True,
        full_html=True,
        auto_play=False,
        config={"displaylogo": False, "responsive": True},
    )
    if title:
        html = html.replace("<head>", f"<head><title>{plain_text(title)}</title>", 1)
    return html


# CommonMark's backslash escapes: each ASCII punctuation mark that can start Markdown syntax
_MARKDOWN_MARKS = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-.!|~"})


def plain_text(text: object) -> str:
    """User text (a class, dataset or file name, a job's message) made safe to show as text
    where HTML is rendered: gr.HTML, and plotly's labels, legends and hover text (which read a
    subset of HTML tags and decode these entities). `<script>` shows as written, runs never."""
    return html_module.escape(str(text), quote=True)


def markdown_text(text: object) -> str:
    """User text for gr.Markdown: its Markdown marks backslash-escaped (a class named `**x**`
    is not bold) and then HTML-escaped as by `plain_text`. Not for inside a `code span`,
    whose text Markdown shows literally already."""
    return plain_text(str(text).translate(_MARKDOWN_MARKS))
