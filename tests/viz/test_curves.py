"""Tests for core.viz.curves: Pareto front, best-so-far, smoothing, bucketing, chart contents."""

from __future__ import annotations

import numpy as np
import pytest

from core.viz import curves as cv


def _brute_pareto(cost, score):
    keep = []
    for i in range(len(cost)):
        dominated = any(
            (cost[j] <= cost[i] and score[j] >= score[i])
            and (cost[j] < cost[i] or score[j] > score[i])
            for j in range(len(cost))
        )
        if not dominated:
            keep.append(i)
    return keep


def test_pareto_front_hand_example_and_brute_force():
    cost = [10, 20, 5, 30, 20, 7]
    score = [0.5, 0.7, 0.4, 0.6, 0.65, 0.4]
    assert cv.pareto_front(cost, score).tolist() == [2, 0, 1]  # by increasing cost
    rng = np.random.default_rng(0)
    c, s = rng.integers(0, 30, 300).astype(float), rng.integers(0, 30, 300).astype(float)
    front = cv.pareto_front(c, s)
    brute = _brute_pareto(c, s)
    # equal (cost, score) duplicates: the front keeps one representative of each
    assert {(c[i], s[i]) for i in front} == {(c[i], s[i]) for i in brute}
    assert cv.pareto_front([1.0, np.nan], [np.nan, 0.5]).tolist() == []


def test_best_so_far_steps():
    x, best = cv.best_so_far([3, 1, 2, 4, 5], [0.2, 0.1, 0.3, 0.25, 0.4])
    assert x.tolist() == [1, 2, 5] and best.tolist() == [0.1, 0.3, 0.4]


def test_ema_debiased():
    np.testing.assert_allclose(cv.ema([1.0, 1.0, 1.0], 0.9), [1.0, 1.0, 1.0])
    # second value: (0.5*0.5*1 + 0.5*3) / (0.5*0.5 + 0.5) = 1.75 / 0.75
    np.testing.assert_allclose(cv.ema([1.0, 3.0], 0.5), [1.0, 1.75 / 0.75])
    with pytest.raises(ValueError):
        cv.ema([1.0], 1.0)


def test_bucket_stats_keeps_extremes():
    x = np.arange(10_000, dtype=float)
    y = np.zeros(10_000)
    y[1234], y[8765] = 5.0, -3.0
    xm, lo, hi, mean = cv.bucket_stats(x, y, 100)
    assert len(xm) == 100 and hi.max() == 5.0 and lo.min() == -3.0
    assert xm[0] == pytest.approx(49.5) and mean.sum() == pytest.approx(2.0 / 100)


def _archs(n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        dict(
            id=i + 1,
            step=i,
            created_at=1000.0 + 2 * i,
            score=float(rng.random()),
            params=float(rng.integers(1_000, 1_000_000)),
            flops=None,
            latency_ms=1.0 + i,
        )
        for i in range(n)
    ]


def test_search_progress_ids_and_best_line():
    archs = _archs(50)
    unscored = dict(id=999, step=60, created_at=0, score=None, params=1, latency_ms=1)
    archs.append(unscored)
    fig = cv.search_progress_figure(archs)
    pts, best_line, star = fig.data
    assert sorted(pts.customdata.tolist()) == list(range(1, 51))
    assert best_line.y[-1] == max(a["score"] for a in archs[:50])
    assert star.customdata[0] == max(archs[:50], key=lambda a: a["score"])["id"]
    timed = cv.search_progress_figure(archs, x="time")
    assert timed.data[0].x.max() == pytest.approx(49 * 2 / 60)


def test_tradeoff_front_and_downsampling_keeps_front():
    archs = _archs(3000)
    full = cv.search_tradeoff_figure(archs, "params")
    small = cv.search_tradeoff_figure(archs, "params", max_points=500)
    front_ids = set(full.data[1].customdata.tolist())
    assert set(small.data[1].customdata.tolist()) == front_ids
    assert len(small.data[0].x) == 500 and front_ids <= set(small.data[0].customdata.tolist())
    assert full.layout.xaxis.type == "log"
    assert cv.search_tradeoff_figure(archs, "latency_ms").layout.xaxis.type == "linear"
    assert "no scored" in cv.search_tradeoff_figure(archs, "flops").layout.annotations[0].text


def _metric_rows(steps, offset=0.0):
    rows = [
        dict(step=s, epoch=None, key=k, value=v + offset, ts=0.0)
        for s in range(steps)
        for k, v in (
            ("train/loss", 2.0 - s / steps),
            ("train/class_loss", 1.0),
            ("train/box_loss", 0.5),
            ("train/lr", 1e-3),
        )
    ]
    rows += [
        dict(step=None, epoch=e, key=k, value=0.1 * e, ts=0.0)
        for e in range(5)
        for k in ("val/AP", "val/AP50")
    ]
    return rows


def test_training_figure_bounded_points_and_runs():
    rows = _metric_rows(20_000)
    fig = cv.training_figure({"a": rows, "b": _metric_rows(100, 0.5)}, buckets=200)
    # 20,000 steps x 4 keys are drawn with a few hundred points each
    assert cv.points_in_figure(fig) < 5_000
    assert {t.name for t in fig.data if t.showlegend} == {"a", "b"}
    ap = [t for t in fig.data if t.mode == "lines+markers" and t.line.dash == "solid"]
    assert [t.y.tolist() for t in ap][0] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    # the smoothed total loss of run a follows the data: starts near 2, ends near 1
    loss = next(
        t
        for t in fig.data
        if t.name == "a" and t.xaxis == "x" and t.mode == "lines" and t.line.width == 1.8
    )
    assert loss.y[0] == pytest.approx(2.0, abs=0.01) and loss.y[-1] == pytest.approx(1.0, abs=0.05)


def test_metric_arrays_sorts_and_dedups():
    rows = [
        dict(step=2, epoch=None, key="k", value=1.0),
        dict(step=1, epoch=None, key="k", value=2.0),
        dict(step=2, epoch=None, key="k", value=3.0),
        dict(step=None, epoch=4, key="e", value=9.0),
    ]
    arr = cv.metric_arrays(rows)
    assert arr["k"][0].tolist() == [1, 2] and arr["k"][1].tolist() == [2.0, 3.0]
    assert arr["e"][0].tolist() == [4]


def test_metrics_figure_and_empty():
    rows = [
        dict(step=None, epoch=e, key=k, value=float(e), ts=0)
        for e in range(3)
        for k in ("search/train_acc", "search/val_acc")
    ]
    fig = cv.metrics_figure(rows, ["search/train_acc", "search/val_acc"])
    assert [t.name for t in fig.data] == ["training accuracy", "validation accuracy"]
    empty = cv.metrics_figure([], ["val/AP50"]).layout.annotations[0].text
    assert empty == "no validation AP50 yet"


def test_training_figure_speaks_words_with_axes():
    """Panel titles, axis titles and hover texts name what is drawn, never a metric key."""
    fig = cv.training_figure(_metric_rows(50))
    texts = [a.text for a in fig.layout.annotations]
    axes = [
        fig.layout[name].title.text for name in fig.layout if name.startswith(("xaxis", "yaxis"))
    ]
    hovers = [t.hovertemplate or "" for t in fig.data]
    assert texts[0] == "training loss" and "validation AP (solid) and AP50 (dashed)" in texts
    assert sorted(axes) == sorted(
        ["training step"] * 3 + ["epoch"] + ["loss", "loss", "", "AP, 0 to 1"]
    )
    assert not [t for t in texts + axes + hovers if "train/" in t or "val/" in t]
