"""AP50 and recall by box-area tercile on a hand-made split whose answer is known."""

from __future__ import annotations

import pytest

from core.train.size_terciles import box_area_bounds, size_terciles

# one class; six squares of sides 10..60 over two images: areas 100, 400 | 900, 1600 | 2500, 3600
SIDES = {1: (10, 30, 50), 2: (20, 40, 60)}
POINTS = 101  # COCO's recall thresholds 0, 0.01, ..., 1


def _gt(area_field=None) -> dict:
    anns = []
    for image_id, sides in SIDES.items():
        for k, side in enumerate(sides):
            box = [70.0 * k, 0.0, float(side), float(side)]
            area = side * side if area_field is None else area_field
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=image_id,
                    category_id=1,
                    bbox=box,
                    area=area,
                    iscrowd=0,
                )
            )
    images = [dict(id=i, file_name=f"{i}.png", width=256, height=256) for i in SIDES]
    return dict(images=images, annotations=anns, categories=[dict(id=1, name="square")])


def _det(image_id, box, score):
    return dict(image_id=image_id, category_id=1, bbox=box, score=score)


PREDICTIONS = [
    _det(1, [0, 0, 10, 10], 0.9),  # small: both found
    _det(2, [0, 0, 20, 20], 0.8),
    _det(1, [70, 0, 30, 30], 0.7),  # mid: the 30 px one found, the 40 px one missed
    _det(1, [0, 150, 55, 55], 0.5),  # large: a false alarm (area 3025, on nothing) ...
    _det(2, [140, 0, 60, 60], 0.1),  # ... ranked above the one large hit
]


def test_bounds_are_the_area_terciles():
    low, high = box_area_bounds([100, 400, 900, 1600, 2500, 3600])
    assert low == pytest.approx(400 + 500 * 2 / 3)
    assert high == pytest.approx(1600 + 900 / 3)


def test_ap50_and_recall_per_tercile():
    small, mid, large = size_terciles(_gt(), PREDICTIONS, score_threshold=0.3)
    assert [t.name for t in (small, mid, large)] == ["small", "mid", "large"]
    assert [t.objects for t in (small, mid, large)] == [2, 2, 2]
    assert (large.area_min, large.area_max) == (2500, 3600)
    assert small.ap50 == pytest.approx(1.0) and small.recall == pytest.approx(1.0)
    # precision 1 up to recall 0.5, then nothing: 51 of the 101 recall points
    assert mid.ap50 == pytest.approx(51 / POINTS) and mid.recall == pytest.approx(0.5)
    # the false alarm first: precision 1/2 at recall 1/2
    assert large.ap50 == pytest.approx(0.5 * 51 / POINTS) and large.recall == pytest.approx(0.5)
    # at score >= 0.3 the large hit (0.1) is not drawn
    assert [t.recall_at_threshold for t in (small, mid, large)] == pytest.approx([1, 0.5, 0])


def test_terciles_use_box_area_not_the_annotation_area():
    """A polygon's "area" is its mask's; the terciles are of the boxes all the same."""
    by_box = size_terciles(_gt(), PREDICTIONS)
    assert size_terciles(_gt(area_field=1.0), PREDICTIONS) == by_box
    assert by_box[0].recall_at_threshold is None


def test_no_predictions_scores_zero_and_a_tercile_without_objects_is_minus_one():
    terciles = size_terciles(_gt(), [])
    assert [(t.ap50, t.recall) for t in terciles] == [(0.0, 0.0)] * 3
    one = dict(_gt(), annotations=_gt()["annotations"][:1])
    small, mid, large = size_terciles(one, PREDICTIONS[:1])
    assert small.ap50 == pytest.approx(1.0)
    assert (mid.objects, mid.ap50, large.ap50) == (0, -1.0, -1.0)
