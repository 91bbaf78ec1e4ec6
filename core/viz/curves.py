"""Search and training charts: scores over time, Pareto fronts, loss/lr/AP curves of several runs.

Inputs are store rows (see docs/ARCHITECTURE.md): architectures {id, step, created_at, score,
params, flops, latency_ms, ...} and metrics {step, epoch, key, value, ts}. The charts stay fast
and light with 10,000 architectures or 100,000 metric points: large scatters use WebGL and keep
at most `max_points` points (every point that is on the Pareto front or sets a best-so-far is
kept), long curves are cut into at most `buckets` buckets drawn as a min/max band plus the
smoothed line, so the browser gets a few thousand numbers whatever the run length.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz.common import base_layout, empty_figure
from core.viz.search_curves import (  # noqa: F401 (re-exported: the search charts' home)
    MAX_SCATTER_POINTS,
    TRADEOFF_AXES,
    WEBGL_ABOVE,
    best_so_far,
    pareto_front,
    search_progress_figure,
    search_tradeoff_figure,
)

log = logging.getLogger(__name__)

RUN_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
DEFAULT_BUCKETS = 600  # curve buckets (~1 per pixel of a 600 px chart)
DEFAULT_SMOOTHING = 0.8  # EMA weight over bucket means (TensorBoard-style slider value)


# -- numeric helpers -------------------------------------------------------------------------------


def ema(values: Sequence[float], weight: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing); weight in [0, 1)."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    acc, norm = 0.0, 0.0
    for i, v in enumerate(values.tolist()):
        acc = weight * acc + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out[i] = acc / norm
    return out


def bucket_stats(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, ...]:
    """Split sorted (x, y) into at most `buckets` equal-count buckets.

    Returns (x_mid, y_min, y_max, y_mean) per bucket (x_mid: mean x). With n <= buckets every
    point is its own bucket.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    if n <= buckets:
        return x, y, y, y
    starts = np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]
    counts = np.diff(np.append(starts, n))
    return (
        np.add.reduceat(x, starts) / counts,
        np.minimum.reduceat(y, starts),
        np.maximum.reduceat(y, starts),
        np.add.reduceat(y, starts) / counts,
    )


def metric_arrays(rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Group metric rows by key: {key: (x, value)} sorted by x, where x is the step, or the epoch
    for per-epoch rows (step None). Duplicate x keep the last row."""
    grouped: dict[str, tuple[list, list]] = {}
    for r in rows:
        x = r.get("step") if r.get("step") is not None else r.get("epoch")
        if x is None or r.get("value") is None:
            continue
        xs, vs = grouped.setdefault(r["key"], ([], []))
        xs.append(x)
        vs.append(r["value"])
    out = {}
    for key, (xs, vs) in grouped.items():
        x = np.asarray(xs, dtype=np.float64)
        v = np.asarray(vs, dtype=np.float64)
        order = np.argsort(x, kind="stable")
        x, v = x[order], v[order]
        last = np.append(x[1:] != x[:-1], True)  # keep the last row of equal x
        out[key] = (x[last], v[last])
    return out


def _normalise_runs(runs: Mapping[str, Sequence[Mapping]] | Sequence[Mapping]) -> dict[str, dict]:
    if isinstance(runs, Mapping):
        return {str(name): metric_arrays(rows) for name, rows in runs.items()}
    return {"run": metric_arrays(runs)}


def _hex_rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def curve_traces(
    x: np.ndarray,
    y: np.ndarray,
    name: str,
    color: str,
    smoothing: float,
    buckets: int,
    dash: str = "solid",
    show_raw: bool = True,
    legendgroup: str | None = None,
    showlegend: bool = True,
) -> list[go.Scatter]:
    """A long per-step curve as <= 3 light traces: raw min/max band (or raw line when short)
    and the smoothed line: the EMA of the bucket means (so the chart looks equally smooth
    whatever the run length; per point when the curve has <= `buckets` points)."""
    xm, lo, hi, mean = bucket_stats(x, y, buckets)
    traces: list[go.Scatter] = []
    group = legendgroup or name
    if show_raw and len(x) > buckets:
        traces.append(
            go.Scatter(
                x=xm,
                y=hi,
                mode="lines",
                line=dict(width=0),
                showlegend=False,
                legendgroup=group,
                hoverinfo="skip",
                name=f"{name} max",
            )
        )
        traces.append(
            go.Scatter(
                x=xm,
                y=lo,
                mode="lines",
                line=dict(width=0),
                fill="tonexty",
                fillcolor=_hex_rgba(color, 0.18),
                showlegend=False,
                legendgroup=group,
                hoverinfo="skip",
                name=f"{name} min-max",
            )
        )
    elif show_raw:
        traces.append(
            go.Scatter(
                x=xm,
                y=lo,
                mode="lines",
                showlegend=False,
                legendgroup=group,
                line=dict(color=_hex_rgba(color, 0.3), width=1, dash=dash),
                name=f"{name} raw",
                hovertemplate="%{y:.4g}<extra>raw</extra>",
            )
        )
    smooth = ema(mean, smoothing) if smoothing > 0 else mean
    traces.append(
        go.Scatter(
            x=xm,
            y=smooth,
            mode="lines",
            name=name,
            legendgroup=group,
            showlegend=showlegend,
            line=dict(color=color, width=1.8, dash=dash),
            hovertemplate=f"{name}<br>step %{{x:.0f}}<br>%{{y:.4g}}<extra></extra>",
        )
    )
    return traces


# what a metric key means, as a chart's legend, hover and axis say it
METRIC_WORDS = {
    "train/loss": "training loss",
    "train/class_loss": "classification loss",
    "train/box_loss": "box loss",
    "train/lr": "learning rate",
    "val/AP": "validation AP",
    "val/AP50": "validation AP50",
    "search/train_acc": "training accuracy",
    "search/val_acc": "validation accuracy",
}


def metric_words(key: str) -> str:
    """A metric key in words ("val/AP50" -> "validation AP50"); unknown keys spaced."""
    return METRIC_WORDS.get(key) or key.replace("/", " ").replace("_", " ")


# (panel title, metric keys, y axis title, x axis title)
TRAIN_PANELS = (
    ("training loss", ("train/loss",), "loss", "training step"),
    (
        "classification (solid) and box (dotted) loss",
        ("train/class_loss", "train/box_loss"),
        "loss",
        "training step",
    ),
    ("learning rate", ("train/lr",), "", "training step"),  # the title names its axis
    (
        "validation AP (solid) and AP50 (dashed)",
        ("val/AP", "val/AP50"),
        "AP, 0 to 1",
        "epoch",
    ),
)
KEY_DASH = {"train/box_loss": "dot", "val/AP50": "dash"}


def _key_traces(
    xy: tuple[np.ndarray, np.ndarray],
    key: str,
    run: str,
    color: str,
    smoothing: float,
    buckets: int,
    legend_done: bool,
) -> list[go.Scatter]:
    """One metric of one run in its panel: validation metrics as markers per epoch, the others
    as per-step curves (the learning rate unsmoothed)."""
    x, y = xy
    dash = KEY_DASH.get(key, "solid")
    if key.startswith("val/"):
        return [
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=run,
                legendgroup=run,
                showlegend=not legend_done,
                marker=dict(size=5),
                line=dict(color=color, dash=dash, width=1.8),
                hovertemplate=f"{run} {metric_words(key)}<br>epoch %{{x:.0f}}"
                "<br>%{y:.4f}<extra></extra>",
            )
        ]
    return curve_traces(
        x,
        y,
        run,
        color,
        0.0 if key == "train/lr" else smoothing,
        buckets,
        dash=dash,
        show_raw=key != "train/lr",
        legendgroup=run,
        showlegend=not legend_done,
    )


def training_figure(
    runs: Mapping[str, Sequence[Mapping]] | Sequence[Mapping],
    smoothing: float = DEFAULT_SMOOTHING,
    buckets: int = DEFAULT_BUCKETS,
    title: str | None = None,
    log_loss: bool = False,
) -> go.Figure:
    """Training curves of one run (a list of metric rows) or several ({run name: rows}).

    Panels: total loss, class and box loss, learning rate (per step; raw min/max band plus the
    EMA-smoothed line) and validation AP / AP50 per epoch (markers). One colour per run.
    `log_loss`: loss panels on a log scale.
    """
    data = _normalise_runs(runs)
    if not any(data.values()):
        return empty_figure("no training metrics yet")
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[p[0] for p in TRAIN_PANELS],
        horizontal_spacing=0.12,
        vertical_spacing=0.22,  # room for the upper panels' x titles under them
    )
    batch: list[tuple[go.Scatter, int, int]] = []
    for r, (run, series) in enumerate(data.items()):
        color = RUN_COLORS[r % len(RUN_COLORS)]
        legend_done = False
        for p, (_, keys, _, _) in enumerate(TRAIN_PANELS):
            row, col = p // 2 + 1, p % 2 + 1
            for key in keys:
                if key not in series:
                    continue
                traces = _key_traces(series[key], key, run, color, smoothing, buckets, legend_done)
                legend_done = True
                batch += [(t, row, col) for t in traces]
    if batch:  # one call: add_trace per trace re-validates the subplot grid each time
        fig.add_traces(
            [b[0] for b in batch], rows=[b[1] for b in batch], cols=[b[2] for b in batch]
        )
    fig.update_layout(
        **base_layout(title=title, height=520, margin=dict(l=64, r=16, t=64 if title else 36, b=40))
    )
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.1, x=0))
    fig.update_annotations(font_size=12)
    for p, (_, _, y_title, x_title) in enumerate(TRAIN_PANELS):
        row, col = p // 2 + 1, p % 2 + 1
        fig.update_xaxes(title_text=x_title, title_font_size=11, row=row, col=col)
        fig.update_yaxes(title_text=y_title, title_font_size=11, row=row, col=col)
    if log_loss:
        fig.update_yaxes(type="log", row=1, col=1)
        fig.update_yaxes(type="log", row=1, col=2)
    return fig


def metrics_figure(
    runs: Mapping[str, Sequence[Mapping]] | Sequence[Mapping],
    keys: Sequence[str],
    title: str | None = None,
    y_title: str | None = None,
    smoothing: float = 0.0,
    buckets: int = DEFAULT_BUCKETS,
) -> go.Figure:
    """Any metric keys (e.g. search/train_acc, search/val_acc per epoch) of one or several runs
    in one chart: colour per run, dash per key."""
    data = _normalise_runs(runs)
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    fig = go.Figure(
        layout=base_layout(title=title, yaxis_title=y_title, xaxis_title="step / epoch")
    )
    for r, (run, series) in enumerate(data.items()):
        color = RUN_COLORS[r % len(RUN_COLORS)]
        for k, key in enumerate(keys):
            if key not in series:
                continue
            x, y = series[key]
            several = len(data) > 1  # colour per run and dash per key, else colour per key
            name = f"{run} · {metric_words(key)}" if several else metric_words(key)
            fig.add_traces(
                curve_traces(
                    x,
                    y,
                    name,
                    color if several else RUN_COLORS[k % len(RUN_COLORS)],
                    smoothing,
                    buckets,
                    dash=dashes[k % len(dashes)] if several else "solid",
                    show_raw=smoothing > 0,
                )
            )
    if not fig.data:
        return empty_figure("no " + ", ".join(metric_words(k) for k in keys) + " yet")
    return fig


def points_in_figure(fig: go.Figure) -> int:
    """Total number of x values shipped to the browser (for the speed benchmark)."""
    return int(sum(len(t.x) if getattr(t, "x", None) is not None else 0 for t in fig.data))


__all__ = [
    "pareto_front",
    "best_so_far",
    "ema",
    "bucket_stats",
    "search_progress_figure",
    "search_tradeoff_figure",
    "metric_arrays",
    "metric_words",
    "training_figure",
    "metrics_figure",
    "curve_traces",
    "points_in_figure",
]
