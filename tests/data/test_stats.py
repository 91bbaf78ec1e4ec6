"""Dataset statistics, checked against hand-computed values."""

from __future__ import annotations

from core.data.stats import SIZE_EDGES, compute_stats


def test_compute_stats_hand_example():
    train = {
        "images": [
            {"id": 1, "height": 100, "width": 100},
            {"id": 2, "height": 100, "width": 100},
            {"id": 3, "height": 50, "width": 200},
        ],
        "annotations": [
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 0},  # 0.1
            {"image_id": 1, "category_id": 2, "bbox": [0, 0, 50, 50], "iscrowd": 0},  # 0.5
            {"image_id": 3, "category_id": 2, "bbox": [0, 0, 20, 5], "iscrowd": 0},  # 0.1
            {"image_id": 3, "category_id": 1, "bbox": [0, 0, 9, 9], "iscrowd": 1},
        ],
    }
    val = {
        "images": [{"id": 4, "height": 10, "width": 10}],
        "annotations": [{"image_id": 4, "category_id": 1, "bbox": [0, 0, 3, 3], "iscrowd": 0}],
    }  # 0.3
    stats = compute_stats(["a", "b"], {"train": train, "val": val})
    assert stats["per_class"] == {"a": {"train": 1, "val": 1}, "b": {"train": 2, "val": 0}}
    assert stats["crowd"] == 1 and stats["empty_images"] == 1
    assert stats["objects_per_image"]["histogram"] == {"0": 1, "1": 2, "2": 1}
    assert stats["objects_per_image"]["mean"] == 1.0 and stats["objects_per_image"]["max"] == 2
    counts = dict(zip(SIZE_EDGES[:-1], stats["box_size"]["counts"]))
    assert counts[0.1] == 2 and counts[0.3] == 1 and counts[0.5] == 1
    assert sum(stats["box_size"]["counts"]) == 4
    assert stats["image_size"] == {"min": [10, 10], "max": [100, 200]}
