"""Tests for core.viz.alphas: heatmap data, derived choices, epoch slider, snapshot checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.nas.genotypes import PUBLISHED_GENOTYPES
from core.nas.operations import PRIMITIVES
from core.viz import alphas as al


def _snapshots(epochs=3, nodes=4, seed=0, with_genotype=True):
    rng = np.random.default_rng(seed)
    edges = sum(i + 2 for i in range(nodes))
    snaps = []
    for e in range(epochs):
        snap = {"epoch": e}
        for cell in ("normal", "reduce"):
            a = rng.normal(0, 1 + e, (edges, len(PRIMITIVES)))
            w = np.exp(a) / np.exp(a).sum(1, keepdims=True)
            snap[cell] = w.round(5).tolist()
        if with_genotype:
            snap["genotype"] = PUBLISHED_GENOTYPES["DARTS_V2" if e % 2 else "DARTS_V1"].to_dict()
        snaps.append(snap)
    return snaps


def test_heatmaps_choices_and_slider():
    snaps = _snapshots(3)
    fig = al.alpha_figure(snaps, epoch=1)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 2
    np.testing.assert_allclose(heat[0].z, snaps[1]["normal"], atol=1e-4)
    np.testing.assert_allclose(heat[1].z, snaps[1]["reduce"], atol=1e-4)
    assert list(heat[0].x) == [al.short_op(op) for op in PRIMITIVES]
    assert heat[0].y[0] == al.edge_label(0, 0) and len(heat[0].y) == 14
    # the outlined choices are the epoch's genotype (DARTS_V2 at epoch 1): 8 per cell
    choices = [t for t in fig.data if t.name == "derived choice"]
    pairs = PUBLISHED_GENOTYPES["DARTS_V2"].normal
    assert sorted(zip(choices[0].x, choices[0].y)) == sorted(
        (al.short_op(op), al.edge_label(k // 2, src)) for k, (op, src) in enumerate(pairs)
    )
    # the derived cell beside it: labels name the genotype's ops
    labels = [t for t in fig.data if (t.meta or {}).get("role") == "op_labels"]
    assert sorted(labels[0].text) == sorted(op for op, _ in pairs)
    # one slider step per epoch, each restyling every trace with that epoch's weights
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["0", "1", "2"] and fig.layout.sliders[0].active == 1
    update, indices = steps[2].args
    assert list(indices) == list(range(len(fig.data)))
    np.testing.assert_allclose(update["z"][0], snaps[2]["normal"], atol=1e-4)
    assert fig.layout.meta == {"epochs": [0, 1, 2], "shown": 1}


def test_snapshot_without_genotype_uses_derive_rule():
    from core.nas.derive import derive_genotype

    snaps = _snapshots(1, with_genotype=False)
    fig = al.alpha_figure(snaps, cells=("normal",), width=600)
    expected = derive_genotype(snaps[0]["normal"], snaps[0]["reduce"], 4)
    labels = next(t for t in fig.data if (t.meta or {}).get("role") == "op_labels")
    assert sorted(labels.text) == sorted(op for op, _ in expected.normal)


def test_many_epochs_are_sampled_keeping_first_and_last():
    fig = al.alpha_figure(_snapshots(45), max_frames=10)
    epochs = fig.layout.meta["epochs"]
    assert len(epochs) <= 10 and epochs[0] == 0 and epochs[-1] == 44


def test_load_and_errors(tmp_path):
    path = tmp_path / "alphas.json"
    path.write_text(json.dumps(list(reversed(_snapshots(2)))))
    assert [s["epoch"] for s in al.load_alphas(path)] == [0, 1]
    with pytest.raises(al.AlphaSnapshotError, match="epoch, normal, reduce"):
        al.check_snapshots([{"epoch": 0}])
    bad = _snapshots(2)
    bad[1]["reduce"] = bad[1]["reduce"][:5]
    with pytest.raises(al.AlphaSnapshotError, match="shape"):
        al.check_snapshots(bad)
    with pytest.raises(al.AlphaSnapshotError, match="cannot read"):
        al.load_alphas(tmp_path / "missing.json")
    assert "no alpha snapshots" in al.alpha_figure([]).layout.annotations[0].text
