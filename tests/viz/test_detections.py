"""Tests for core.viz.detections: stable class colours, tags inside the image, TP/FP/misses."""

from __future__ import annotations

import numpy as np
import pytest

from core.viz import detections as det
from core.viz.labels import rects_overlap


def test_class_color_stable_and_distinct():
    colors = [det.class_color(i) for i in range(200)]
    assert colors == [det.class_color(i) for i in range(200)]  # same answer every call
    assert len(set(colors)) == 200
    assert colors[: len(det.PALETTE)] == list(det.PALETTE)
    for c in colors:
        assert all(isinstance(v, int) and 0 <= v <= 255 for v in c)
    assert det.class_color_hex(0) == "#1f77b4"
    with pytest.raises(ValueError):
        det.class_color(-1)


def _changed_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


@pytest.mark.parametrize(
    "box",
    [
        [0, 0, 20, 20],  # top-left corner: tag cannot go above
        [90, 90, 99, 99],  # bottom-right corner
        [0, 0, 10, 10],  # tiny box in the corner
        [95, 40, 99, 60],  # thin box at the right edge: tag shifted left
    ],
)
def test_tags_stay_inside_image(box):
    img = np.full((100, 100, 3), 255, np.uint8)
    out = det.draw_boxes(img, [box], [1], ["a_long_class_name_for_testing"], scores=[0.93])
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.all(img == 255), "input image must not be modified"
    canvas = img.copy()
    x1, y1, x2, y2 = det.draw_tag(canvas, box, "cls 0.93", det.class_color(1), 0.4, 1)
    assert 0 <= x1 < x2 <= 100 and 0 <= y1 < y2 <= 100
    assert y2 - y1 >= 10 and x2 - x1 >= 30, "tag must keep its full size, not be cut at the border"
    patch = canvas[y1:y2, x1:x2]
    assert not np.all(patch == 255, axis=2).any(), "the whole tag rectangle is painted"
    # a label too long for the image is shortened, never drawn past the border
    x1, _, x2, _ = det.draw_tag(canvas, box, "x" * 200, det.class_color(1), 0.4, 1)
    assert 0 <= x1 < x2 <= 100


def test_tag_rect_prefers_above_then_inside():
    assert det.tag_rect([10, 50, 40, 80], 30, 12, 200, 200) == (10, 38, 40, 50)  # above
    assert det.tag_rect([10, 5, 40, 80], 30, 12, 200, 200) == (10, 5, 40, 17)  # inside top
    assert det.tag_rect([190, 50, 199, 80], 30, 12, 200, 200) == (170, 38, 200, 50)


def test_draw_uses_class_colour():
    img = np.full((120, 120, 3), 255, np.uint8)
    style = det.BoxStyle(show_labels=False, thickness=2)
    out = det.draw_boxes(img, [[30, 40, 90, 100]], [2], ["a", "b", "c"], style=style)
    assert tuple(out[70, 30]) == det.class_color(2)  # left edge pixel
    assert tuple(out[70, 60]) == (255, 255, 255)  # interior untouched


def test_draw_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        det.draw_boxes(np.zeros((10, 10, 3), np.uint8), [[0, 0, 5, 5]], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="RGB uint8"):
        det.draw_boxes(np.zeros((10, 10), np.uint8), [], [], [])


def test_match_detections_tp_fp_miss():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], float)
    gt_labels = [0, 1, 0]
    pred = np.array(
        [
            [0, 0, 10, 11],  # TP for gt 0
            [1, 0, 10, 10],  # duplicate of gt 0, lower score -> FP
            [20, 20, 30, 30],  # right place, wrong class -> FP
            [80, 80, 90, 90],
        ],  # nowhere -> FP
        float,
    )
    m = det.match_detections(gt, gt_labels, pred, [0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6])
    assert m.pred_tp.tolist() == [True, False, False, False]
    assert m.pred_match.tolist() == [0, -1, -1, -1]
    assert m.gt_matched.tolist() == [True, False, False]


def test_box_iou_np_hand_computed():
    iou = det.box_iou_np([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [[1 / 7, 1.0, 0.0]])


def test_comparison_and_grid_shapes():
    img = np.full((64, 80, 3), 128, np.uint8)
    comp = det.draw_comparison(img, [[5, 5, 30, 30]], [0], [[40, 40, 60, 60]], [0], [0.5], ["x"])
    assert comp.shape == (64 + det.PANEL_HEADER_PX, 2 * 80 + 6, 3)
    grid = det.image_grid([img] * 5, columns=3, tile_size=32, captions=list("abcde"))
    assert grid.shape == (2 * (32 + det.PANEL_HEADER_PX) + 4, 3 * 32 + 2 * 4, 3)


def test_tags_of_crowded_boxes_never_overlap():
    """Six boxes on one spot: every drawn tag sits clear of the others; the ones with no free
    spot are left out, highest scores first to get a tag."""
    canvas = np.zeros((120, 160, 3), np.uint8)
    taken: list = []
    rects = [
        det.draw_tag(canvas, [50, 50, 90, 80], f"shape {k} 0.9", det.class_color(k), 0.4, 1, taken)
        for k in range(6)
    ]
    drawn = [r for r in rects if r is not None]
    assert len(drawn) == 3 and drawn == taken  # above, inside the top, below
    for i, a in enumerate(drawn):
        assert all(not rects_overlap(a, b) for b in drawn[i + 1 :]), drawn
    assert rects[0] is not None  # the first (highest-score) box always gets one


def test_draw_boxes_places_tags_by_score():
    img = np.full((100, 100, 3), 255, np.uint8)
    boxes = [[20, 40, 60, 70], [22, 40, 62, 70]]
    taken: list = []
    det.draw_boxes(img, boxes, [0, 1], ["a", "b"], scores=[0.2, 0.9], taken_tags=taken)
    assert len(taken) == 2 and not rects_overlap(*taken)
    # the 0.9 box (index 1) was placed first, above its box
    assert taken[0][3] == 40


def test_enlarge_and_legend():
    img = np.zeros((64, 128, 3), np.uint8)
    big, boxes = det.enlarge(img, [[8, 8, 16, 32]], 256)
    assert big.shape == (256, 512, 3) and boxes.tolist() == [[32, 32, 64, 128]]
    same, _ = det.enlarge(big, [[0, 0, 1, 1]], 200)
    assert same is big
    strip = det.legend_strip(["circle", "square", "triangle"], 120)
    assert strip.shape[1] == 120 and strip.shape[0] > 30  # wrapped onto more than one line
    assert (strip == np.array(det.class_color(0), np.uint8)).all(axis=2).any()
