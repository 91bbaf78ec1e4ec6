"""The default score threshold: the F1-best one, from hand-made scores and matches."""

from __future__ import annotations

import pytest

from core.train.threshold import FALLBACK_THRESHOLD, choose_threshold, f1_best_threshold, match_coco


def test_f1_best_threshold_picks_the_peak():
    # kept at 0.9: P 1 R .25 F1 .4; 0.8: 1/.5/.667; 0.7: .667/.5/.571; 0.6: .75/.75/.75;
    # 0.5: .6/.75/.667; 0.4: .5/.75/.6 -> 0.6
    choice = f1_best_threshold(
        [0.5, 0.9, 0.7, 0.6, 0.4, 0.8], [False, True, False, True, False, True], 4
    )
    assert choice.threshold == 0.6
    assert (choice.precision, choice.recall) == (0.75, 0.75)
    assert choice.f1 == pytest.approx(0.75)
    assert (choice.true_positives, choice.detections, choice.ground_truths) == (3, 4, 4)


def test_equal_scores_are_kept_together():
    # 0.9 alone: P 1 R .5 F1 .667; the two 0.7s together: P 2/3 R 1 F1 .8 (never one of them)
    choice = f1_best_threshold([0.9, 0.7, 0.7], [True, False, True], 2)
    assert choice.threshold == 0.7 and choice.detections == 3
    assert choice.f1 == pytest.approx(0.8)


def test_an_f1_tie_takes_the_higher_threshold():
    # G = 3: one TP at 0.9 gives 2/(1+3) = .5; two TPs among five gives 4/(5+3) = .5 too
    choice = f1_best_threshold([0.9, 0.8, 0.7, 0.6, 0.5], [True, False, False, False, True], 3)
    assert choice.threshold == 0.9 and choice.f1 == pytest.approx(0.5)


def test_floor_and_fallback():
    # below the floor nothing counts; nothing left -> the fallback, with zero scores
    assert f1_best_threshold([0.04, 0.01], [True, True], 2).threshold == FALLBACK_THRESHOLD
    assert f1_best_threshold([], [], 3).f1 == 0.0
    choice = f1_best_threshold([0.3, 0.02], [True, True], 2, floor=0.05)
    assert choice.threshold == 0.3 and choice.recall == 0.5
    with pytest.raises(ValueError):
        f1_best_threshold([0.5, 0.4], [True, True], 1)  # more hits than boxes


def test_match_coco_is_greedy_per_image_and_class():
    gt = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1}, {"id": 2}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10]},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [0, 0, 10, 10]},
            {"id": 4, "image_id": 2, "category_id": 2, "bbox": [50, 50, 9, 9], "iscrowd": 1},
        ],
    }
    preds = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},  # TP
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.8},  # dup: FP
        {"image_id": 1, "category_id": 2, "bbox": [20, 20, 10, 10], "score": 0.7},  # class: FP
        {"image_id": 2, "category_id": 2, "bbox": [0, 0, 10, 14], "score": 0.6},  # IoU .71: TP
        {"image_id": 2, "category_id": 2, "bbox": [0, 0, 10, 25], "score": 0.95},  # IoU .4: FP
    ]
    scores, tp, num_gt = match_coco(gt, preds)
    assert tp.tolist() == [True, False, False, True, False]
    assert num_gt == 3  # the crowd box is not counted
    # kept at .95: P 0; .9: 1/2 R 1/3; .8: 1/3; .7: 1/4; .6: 2/5 R 2/3 F1 .5 -> 0.6
    choice = choose_threshold(gt, preds)
    assert choice.threshold == 0.6 and choice.f1 == pytest.approx(0.5)
    assert scores.tolist() == [0.9, 0.8, 0.7, 0.6, 0.95]
