"""Anchors (hand-computed), matching rules, Faster R-CNN box coding."""

from __future__ import annotations

import math

import pytest
import torch

from core.det import box_coder
from core.det.anchors import BACKGROUND, generate_anchors, match_anchors


def test_anchors_small_hand_computed_case():
    # 16x16 image, level 3 only (stride 8 -> 2x2 locations), 2 octave scales,
    # ratios (1, 1) and (1.4, 0.7)
    anchors = generate_anchors(
        (16, 16), 3, 3, num_scales=2, aspect_ratios=((1.0, 1.0), (1.4, 0.7)), anchor_scale=4.0
    )
    s1 = 32 * 2**0.5  # second octave: 4 * 8 * 2**(1/2)
    halves = [(16.0, 16.0), (22.4, 11.2), (s1 / 2, s1 / 2), (s1 * 1.4 / 2, s1 * 0.7 / 2)]
    expected = []
    for cy, cx in [(4, 4), (4, 12), (12, 4), (12, 12)]:  # row-major locations
        for hx, hy in halves:
            expected.append([cx - hx, cy - hy, cx + hx, cy + hy])
    assert anchors.shape == (16, 4)
    assert torch.allclose(anchors, torch.tensor(expected), atol=1e-4)


def test_anchor_count_and_levels_for_d0():
    anchors = generate_anchors((512, 512), 3, 7, 3, ((1.0, 1.0), (1.4, 0.7), (0.7, 1.4)), 4.0)
    assert anchors.shape == (49104, 4)
    assert torch.allclose(anchors[0], torch.tensor([-12.0, -12.0, 20.0, 20.0]))  # P3, 32 px
    # the last anchor: P7 (stride 128), location (448, 448), octave 2**(2/3), ratio (0.7, 1.4)
    side = 4 * 128 * 2 ** (2 / 3)
    hx, hy = side * 0.7 / 2, side * 1.4 / 2
    assert torch.allclose(anchors[-1], torch.tensor([448 - hx, 448 - hy, 448 + hx, 448 + hy]))


def test_anchors_match_effdet():
    effdet_anchors = pytest.importorskip("effdet.anchors")
    ref = effdet_anchors.Anchors(
        3, 7, 3, [(1.0, 1.0), (1.4, 0.7), (0.7, 1.4)], 4.0, (256, 384)
    ).boxes
    ours = generate_anchors((256, 384), 3, 7, 3, ((1.0, 1.0), (1.4, 0.7), (0.7, 1.4)), 4.0)
    assert torch.allclose(ours, ref[:, [1, 0, 3, 2]], atol=1e-4)


def test_matching_thresholds_and_forced_match():
    anchors = torch.tensor(
        [
            [0.0, 0, 10, 10],  # IoU 1.0 with gt 0 -> positive class 2
            [0.0, 0, 10, 20],  # IoU 0.5 with gt 0 -> positive (>= 0.5)
            [0.0, 0, 10, 21],  # IoU 100/210 < 0.5 -> background
            [50.0, 50, 70, 70],  # IoU 0.25 with gt 1, but its best anchor: forced
            [100.0, 100, 110, 110],
        ]
    )  # no overlap -> background
    gt = [torch.tensor([[0.0, 0, 10, 10], [50.0, 50, 60, 60]])]
    labels = [torch.tensor([2, 1])]
    targets = match_anchors(anchors, gt, labels)
    assert targets.cls.tolist() == [[2, 2, BACKGROUND, 1, BACKGROUND]]
    assert targets.num_positives.tolist() == [3.0]
    assert torch.all(targets.box[0, [2, 4]] == 0)
    assert torch.allclose(targets.box[0, 0], torch.zeros(4), atol=1e-5)


def test_matching_with_empty_ground_truth_in_batch():
    anchors = torch.tensor([[0.0, 0, 10, 10], [5.0, 5, 15, 15]])
    targets = match_anchors(
        anchors,
        [torch.zeros(0, 4), torch.tensor([[5.0, 5, 15, 15]])],
        [torch.zeros(0, dtype=torch.long), torch.tensor([0])],
    )
    assert targets.cls.tolist() == [[BACKGROUND, BACKGROUND], [BACKGROUND, 0]]
    assert targets.num_positives.tolist() == [0.0, 1.0]


def test_box_coder_hand_value_and_round_trip():
    anchor = torch.tensor([[0.0, 0.0, 10.0, 20.0]])  # xc 5, yc 10, w 10, h 20
    box = torch.tensor([[2.0, 4.0, 22.0, 14.0]])  # xc 12, yc 9, w 20, h 10
    codes = box_coder.encode(box, anchor)
    ty, tx, th, tw = (9 - 10) / 20, (12 - 5) / 10, math.log(10 / 20), math.log(20 / 10)
    assert torch.allclose(codes, torch.tensor([[ty, tx, th, tw]]), atol=1e-6)
    torch.manual_seed(0)
    anchors = torch.rand(100, 2) * 100
    anchors = torch.cat([anchors, anchors + 1 + torch.rand(100, 2) * 50], dim=1)
    boxes = torch.rand(100, 2) * 100
    boxes = torch.cat([boxes, boxes + 1 + torch.rand(100, 2) * 50], dim=1)
    assert torch.allclose(
        box_coder.decode(box_coder.encode(boxes, anchors), anchors), boxes, atol=1e-3
    )
