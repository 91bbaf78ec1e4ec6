"""COCO evaluation against hand-built ground truth where the AP is known in closed form."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import DatasetError
from core.train.evaluate import detections_to_coco, evaluate_coco


def _gt(boxes_by_image: dict[int, list[tuple[int, list[float]]]], classes=("a", "b")) -> dict:
    images = [
        {"id": i, "file_name": f"{i}.png", "width": 200, "height": 200} for i in boxes_by_image
    ]
    anns, next_id = [], 1
    for image_id, items in boxes_by_image.items():
        for cat, box in items:
            anns.append(
                {
                    "id": next_id,
                    "image_id": image_id,
                    "category_id": cat,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
            next_id += 1
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(classes)]
    return {"images": images, "annotations": anns, "categories": cats}


def _det(image_id, cat, box, score):
    return {"image_id": image_id, "category_id": cat, "bbox": box, "score": score}


BOX_A = [10.0, 10.0, 100.0, 100.0]
BOX_B = [120.0, 120.0, 60.0, 60.0]


def test_perfect_predictions_score_one(tmp_path):
    gt = _gt({1: [(1, BOX_A), (2, BOX_B)], 2: [(1, BOX_B)]})
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    preds = [_det(1, 1, BOX_A, 0.9), _det(1, 2, BOX_B, 0.8), _det(2, 1, BOX_B, 0.7)]
    out = evaluate_coco(path, preds)
    assert out["AP"] == pytest.approx(1.0) and out["AP50"] == pytest.approx(1.0)
    assert out["per_class_AP"] == pytest.approx({"a": 1.0, "b": 1.0})
    assert out["confusion"] == [[2, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert np.asarray(out["precision"]).shape == (10, 101, 2, 4, 3)
    json.dumps(out)  # JSON-able


def test_half_recall_gives_51_of_101_points():
    # 4 objects of one class, 2 found exactly and nothing else: precision 1 up to recall 0.5,
    # so 101-point interpolated AP = 51 / 101 at every IoU threshold.
    gt = _gt(
        {
            1: [(1, [0, 0, 40, 40]), (1, [50, 50, 40, 40])],
            2: [(1, [0, 0, 40, 40]), (1, [100, 100, 40, 40])],
        }
    )
    preds = [_det(1, 1, [0, 0, 40, 40], 0.9), _det(2, 1, [100, 100, 40, 40], 0.8)]
    out = evaluate_coco(gt, preds)
    assert out["AP"] == pytest.approx(51 / 101, abs=1e-6)
    assert out["AR100"] == pytest.approx(0.5)
    assert out["per_class_AP"]["b"] == -1.0  # no ground truth of class b
    precision = np.asarray(out["precision"])
    assert (precision[:, :, 1] == -1).all()  # -1 kept where there is nothing to measure
    assert out["confusion"] == [[2, 0, 2], [0, 0, 0], [0, 0, 0]]  # two misses


def test_iou_062_counts_at_three_of_ten_thresholds():
    gt = _gt({1: [(1, [0, 0, 100, 100])]})
    out = evaluate_coco(gt, [_det(1, 1, [0, 0, 62, 100], 0.9)])  # IoU 0.62
    assert out["AP50"] == pytest.approx(1.0)
    assert out["AP75"] == pytest.approx(0.0)
    assert out["AP"] == pytest.approx(0.3)  # matched at IoU 0.50, 0.55, 0.60


def test_ranking_false_positive_above_true_positive():
    # 1 object; a false positive (wrong place) scores above the hit: precision 0.5 at recall 1.
    gt = _gt({1: [(1, [0, 0, 50, 50])]})
    preds = [_det(1, 1, [140, 140, 50, 50], 0.9), _det(1, 1, [0, 0, 50, 50], 0.5)]
    out = evaluate_coco(gt, preds)
    assert out["AP50"] == pytest.approx(0.5)
    assert out["confusion"] == [[1, 0, 0], [0, 0, 0], [1, 0, 0]]  # one hit, one false positive


def test_wrong_class_is_off_diagonal_and_low_scores_ignored():
    gt = _gt({1: [(1, BOX_A)]})
    preds = [_det(1, 2, BOX_A, 0.9), _det(1, 1, BOX_B, 0.1)]  # second is below 0.3
    out = evaluate_coco(gt, preds)
    assert out["confusion"] == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    assert out["per_class_AP"]["a"] == pytest.approx(0.0)


def test_empty_predictions_and_unknown_images():
    gt = _gt({1: [(1, BOX_A)]})
    out = evaluate_coco(gt, [])
    assert out["AP"] == 0.0 and out["num_predictions"] == 0
    assert out["confusion"] == [[0, 0, 1], [0, 0, 0], [0, 0, 0]]
    with pytest.raises(DatasetError, match="not in the ground truth"):
        evaluate_coco(gt, [_det(99, 1, BOX_A, 0.5)])


def test_detections_to_coco_undoes_the_letterbox():
    # an image 100x200 (H, W) letterboxed into 64x64: scale 0.32, offset (0, 16)
    det = {
        "boxes": torch.tensor([[3.2, 16 + 6.4, 35.2, 16 + 22.4]]),
        "scores": torch.tensor([0.75]),
        "labels": torch.tensor([2]),
    }
    [res] = detections_to_coco([det], [7], [0.32], [(0.0, 16.0)], [(100, 200)])
    assert res["image_id"] == 7 and res["category_id"] == 3 and res["score"] == 0.75
    assert res["bbox"] == pytest.approx([10.0, 20.0, 100.0, 50.0], abs=1e-3)
    det["boxes"] = torch.tensor([[-3.0, 10.0, 70.0, 60.0]])  # spills into the padding: clipped
    [res] = detections_to_coco([det], [7], [0.32], [(0.0, 16.0)], [(100, 200)])
    assert res["bbox"] == pytest.approx([0.0, 0.0, 200.0, 100.0], abs=1e-3)
