"""Charts of a search's architectures: every scored cell against the step, the best so far, and
score against cost (parameters, FLOPs, latency) with the Pareto front. Long searches stay fast:
more than MAX_SCATTER_POINTS architectures are sampled (the front and every best-so-far point
always kept) and WebGL draws above WEBGL_ABOVE points. Pure: rows in, figure out."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.viz.common import base_layout, empty_figure

log = logging.getLogger(__name__)

POINT_COLOR = "#4c78a8"
BEST_COLOR = "#e45756"
PARETO_COLOR = "#f58518"
WEBGL_ABOVE = 2_000  # scatters with more points use scattergl
MAX_SCATTER_POINTS = 20_000  # more architectures than this: a sample plus all notable points
TRADEOFF_AXES = {
    "params": ("parameters", True),
    "flops": ("FLOPs", True),
    "latency_ms": ("latency (ms)", False),
}


def pareto_front(cost: Sequence[float], score: Sequence[float]) -> np.ndarray:
    """Indices of the Pareto-optimal points (lower cost, higher score), by increasing cost.

    O(n log n): sort by cost (ties: best score first) and keep each point that beats the best
    score seen so far. NaNs are never on the front.
    """
    cost = np.asarray(cost, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    valid = np.flatnonzero(~(np.isnan(cost) | np.isnan(score)))
    order = valid[np.lexsort((-score[valid], cost[valid]))]
    s = score[order]
    prev_best = np.concatenate([[-np.inf], np.maximum.accumulate(s)[:-1]])
    return order[s > prev_best]


def best_so_far(x: Sequence[float], score: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(x, running max of score) at the points where the best score improves, sorted by x."""
    x = np.asarray(x, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    xs, ss = x[order], score[order]
    running = np.fmax.accumulate(ss)
    improves = np.concatenate([[True], running[1:] > running[:-1]])
    return xs[improves], running[improves]


def _sample_indices(n: int, keep: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """All `keep` indices plus a fixed-seed random sample of the rest, max_points in total."""
    if n <= max_points:
        return np.arange(n)
    rest = np.setdiff1d(np.arange(n), keep, assume_unique=False)
    take = max(max_points - len(keep), 0)
    sample = np.random.default_rng(seed).choice(rest, size=min(take, len(rest)), replace=False)
    return np.sort(np.concatenate([keep, sample]))


# -- architectures -----------------------------------------------------------------------------


def _arch_arrays(archs: Sequence[Mapping[str, Any]], key: str) -> dict[str, np.ndarray]:
    """Columns of the scored architectures (rows without a score or without `key` dropped;
    a missing step falls back to the row id)."""
    fallback = "id" if key == "step" else None  # rows without a step: plot in insertion order
    rows = [
        a
        for a in archs
        if a.get("score") is not None
        and (a.get(key) is not None or (fallback and a.get(fallback) is not None))
    ]
    cols = {
        name: np.array(
            [r.get(name) if r.get(name) is not None else np.nan for r in rows], dtype=np.float64
        )
        for name in ("id", "step", "created_at", "score", "params", "flops", "latency_ms")
    }
    cols["x"] = np.array(
        [r[key] if r.get(key) is not None else r[fallback] for r in rows], dtype=np.float64
    )
    return cols


def _scatter(x, y, ids, name: str, color: str, n_total: int, hover_x: str, **kw) -> go.Scatter:
    cls = go.Scattergl if len(x) > WEBGL_ABOVE else go.Scatter
    return cls(
        x=x,
        y=y,
        customdata=ids.astype(np.int64),
        mode="markers",
        name=name,
        marker=dict(size=5 if n_total > 2000 else 7, color=color, opacity=0.55, line=dict(width=0)),
        hovertemplate=f"arch #%{{customdata}}<br>score %{{y:.4f}}<br>{hover_x}<extra></extra>",
        **kw,
    )


def search_progress_figure(
    archs: Sequence[Mapping[str, Any]],
    x: str = "step",
    title: str | None = "Search progress",
    max_points: int = MAX_SCATTER_POINTS,
) -> go.Figure:
    """Each evaluated architecture's score against its step ("step") or wall time ("time",
    minutes since the first), with the best-so-far line. Hover and customdata give the
    architecture id (the GUI opens its graph from it)."""
    if x not in ("step", "time"):
        raise ValueError(f"x must be 'step' or 'time', got {x!r}")
    cols = _arch_arrays(archs, "step" if x == "step" else "created_at")
    if len(cols["x"]) == 0:
        return empty_figure("no scored architectures yet")
    xs = cols["x"] if x == "step" else (cols["x"] - np.nanmin(cols["x"])) / 60.0
    bx, by = best_so_far(xs, cols["score"])
    improving = np.flatnonzero(np.isin(xs, bx) & np.isin(cols["score"], by))
    keep = _sample_indices(len(xs), improving, max_points)
    x_label = "search step" if x == "step" else "time since start (minutes)"
    hover_x = "step %{x:.0f}" if x == "step" else "t %{x:.1f} min"
    name = (
        "architectures" if len(keep) == len(xs) else f"architectures ({len(keep):,} of {len(xs):,})"
    )
    fig = go.Figure(layout=base_layout(title=title, xaxis_title=x_label, yaxis_title="score"))
    fig.add_trace(
        _scatter(
            xs[keep], cols["score"][keep], cols["id"][keep], name, POINT_COLOR, len(xs), hover_x
        )
    )
    x_end = float(np.nanmax(xs))
    fig.add_trace(
        go.Scatter(
            x=np.append(bx, x_end),
            y=np.append(by, by[-1]),
            mode="lines",
            line=dict(shape="hv", color=BEST_COLOR, width=2),
            name="best so far",
            hoverinfo="skip",
        )
    )
    best = int(np.nanargmax(cols["score"]))
    fig.add_trace(
        go.Scatter(
            x=[xs[best]],
            y=[cols["score"][best]],
            mode="markers",
            customdata=[int(cols["id"][best])],
            name="best",
            marker=dict(
                symbol="star", size=14, color=BEST_COLOR, line=dict(color="white", width=1)
            ),
            hovertemplate="best: arch #%{customdata}<br>score %{y:.4f}<extra></extra>",
        )
    )
    return fig


def search_tradeoff_figure(
    archs: Sequence[Mapping[str, Any]],
    x: str = "params",
    title: str | None = None,
    max_points: int = MAX_SCATTER_POINTS,
) -> go.Figure:
    """Score against parameters, FLOPs or latency ("params", "flops", "latency_ms") with the
    Pareto front (fewer params / higher score) highlighted. Hover and customdata: arch id."""
    if x not in TRADEOFF_AXES:
        raise ValueError(f"x must be one of {sorted(TRADEOFF_AXES)}, got {x!r}")
    label, log_x = TRADEOFF_AXES[x]
    cols = _arch_arrays(archs, x)
    if len(cols["x"]) == 0:
        return empty_figure(f"no scored architectures with {label} yet")
    front = pareto_front(cols["x"], cols["score"])
    keep = _sample_indices(len(cols["x"]), front, max_points)
    hover_x = f"{label} %{{x:,.4~s}}" if log_x else f"{label} %{{x:.2f}}"
    fig = go.Figure(
        layout=base_layout(
            title=title or f"Score vs {label}",
            xaxis_title=label,
            yaxis_title="score",
            xaxis_type="log" if log_x and np.nanmin(cols["x"]) > 0 else "linear",
        )
    )
    name = (
        "architectures"
        if len(keep) == len(cols["x"])
        else f"architectures ({len(keep):,} of {len(cols['x']):,})"
    )
    fig.add_trace(
        _scatter(
            cols["x"][keep],
            cols["score"][keep],
            cols["id"][keep],
            name,
            POINT_COLOR,
            len(cols["x"]),
            hover_x,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=cols["x"][front],
            y=cols["score"][front],
            customdata=cols["id"][front].astype(np.int64),
            mode="lines+markers",
            name=f"Pareto front ({len(front)})",
            line=dict(shape="hv", color=PARETO_COLOR, width=2),
            marker=dict(size=9, color=PARETO_COLOR, line=dict(color="white", width=1)),
            hovertemplate=f"Pareto: arch #%{{customdata}}<br>score %{{y:.4f}}<br>{hover_x}"
            "<extra></extra>",
        )
    )
    return fig


# -- metrics -------------------------------------------------------------------------------------
