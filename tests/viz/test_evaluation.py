"""Tests for core.viz.evaluation and core.viz.stats: PR curves equal COCOeval's precision slices,
AP bars, confusion matrix, dataset statistics charts."""

from __future__ import annotations

import numpy as np
import pytest

from core.viz import evaluation as ev
from core.viz import stats as st
from core.viz.detections import class_color_hex


@pytest.fixture(scope="module")
def coco_eval():
    """A real COCOeval run on a tiny hand-made set: 2 classes, 3 images, one miss, one FP."""
    pycocotools = pytest.importorskip("pycocotools")  # noqa: F841
    from core.train.evaluate import evaluate_coco

    images = [{"id": i, "width": 100, "height": 100, "file_name": f"{i}.png"} for i in (1, 2, 3)]
    gt = {
        "images": images,
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 10, 30, 30],
                "area": 900,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 2,
                "category_id": 1,
                "bbox": [50, 50, 20, 20],
                "area": 400,
                "iscrowd": 0,
            },
            {
                "id": 3,
                "image_id": 3,
                "category_id": 2,
                "bbox": [5, 5, 40, 40],
                "area": 1600,
                "iscrowd": 0,
            },
        ],
    }
    preds = [
        {"image_id": 1, "category_id": 1, "bbox": [11, 11, 30, 30], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},  # FP
        {"image_id": 3, "category_id": 2, "bbox": [6, 4, 40, 41], "score": 0.7},
    ]
    return evaluate_coco(gt, preds)


def test_pr_curve_equals_cocoeval_slice(coco_eval):
    p = np.asarray(coco_eval["precision"])
    for k in range(p.shape[2]):
        recall, prec = ev.pr_curve(p, k, "0.5")
        expected = p[0, :, k, 0, -1]
        np.testing.assert_array_equal(np.nan_to_num(prec, nan=-1), expected)
        assert recall[0] == 0 and recall[-1] == 1 and len(recall) == 101
        _, mean = ev.pr_curve(p, k, "0.5:0.95")
        s = p[:, :, k, 0, -1]
        for r in (0, 50, 100):
            valid = s[:, r][s[:, r] > -1]
            assert (np.isnan(mean[r]) and valid.size == 0) or mean[r] == pytest.approx(valid.mean())
    # AP over the curve equals the per-class AP that COCOeval reports
    _, cat_curve = ev.pr_curve(p, 0, "0.5:0.95")
    assert np.nanmean(np.where(np.isnan(cat_curve), 0, cat_curve)) == pytest.approx(
        coco_eval["per_class_AP"]["cat"], abs=1e-3
    )


def test_pr_curve_hand_array():
    p = -np.ones((10, 101, 2, 4, 3))
    p[0, :, 0, 0, 2] = 0.5
    p[1, :, 0, 0, 2] = 1.0  # IoU 0.55
    _, c50 = ev.pr_curve(p, 0, "0.5")
    _, cmean = ev.pr_curve(p, 0, "0.5:0.95")
    assert np.all(c50 == 0.5) and np.allclose(cmean, 0.75)
    assert np.isnan(ev.pr_curve(p, 1, "0.5")[1]).all()
    with pytest.raises(ValueError):
        ev.pr_curve(p, 0, "0.75")


def test_pr_figure_class_colours(coco_eval):
    fig = ev.pr_curves_figure(coco_eval)
    cat = [t for t in fig.data if t.name == "cat"]
    assert len(cat) == 2 and all(t.line.color == class_color_hex(0) for t in cat)
    np.testing.assert_array_equal(
        np.nan_to_num(np.asarray(cat[0].y, float), nan=-1),
        np.asarray(coco_eval["precision"])[0, :, 0, 0, -1],
    )


def test_ap_bars_and_confusion(coco_eval):
    bars = ev.per_class_ap_figure({"per_class_AP": {"a": 0.2, "b": -1.0, "c": 0.7}}).data[0]
    assert list(bars.y) == ["c", "a", "b"] and list(bars.text) == ["0.700", "0.200", "no GT"]
    assert bars.marker.color[0] == class_color_hex(2)
    conf = ev.confusion_figure(coco_eval)
    hm = conf.data[0]
    assert list(hm.x) == ["cat", "dog", "background"]
    np.testing.assert_array_equal(hm.z, np.asarray(coco_eval["confusion"]))
    matrix = [[3, 1, 0], [0, 0, 0], [1, 0, 0]]
    norm = ev.confusion_figure(matrix, ["a", "b"], normalize=True).data[0]
    np.testing.assert_allclose(norm.z, [[0.75, 0.25, 0], [0, 0, 0], [1, 0, 0]])
    assert "AP " in ev.summary_text(coco_eval)


def test_dataset_stats_figure():
    from core.data.stats import compute_stats

    doc = {
        "images": [{"id": i, "height": 100, "width": 100} for i in (1, 2)],
        "annotations": [
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
            {"image_id": 1, "category_id": 2, "bbox": [0, 0, 50, 50]},
        ],
    }
    stats = compute_stats(["a", "b"], {"train": doc, "val": doc})
    fig = st.dataset_stats_figure(stats)
    train, val, sizes, per_image = fig.data
    assert list(train.x) == ["a", "b"] and list(train.y) == [1, 1] and list(val.y) == [1, 1]
    assert list(train.marker.color) == [class_color_hex(0), class_color_hex(1)]
    assert sum(sizes.y) == 4 and dict(zip(per_image.x, per_image.y)) == {0: 2, 2: 2}
    assert "no dataset" in st.dataset_stats_figure({}).layout.annotations[0].text


def test_pr_figure_from_precision_array_and_stats_pair(coco_eval):
    fig = ev.pr_curves_figure(coco_eval["precision"], ["A", "B"])
    assert {t.name for t in fig.data} == {"A", "B"}
    from core.data.stats import compute_stats

    doc = {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
    }
    per_class, sizes = st.stats_figures(compute_stats(["a"], {"train": doc}), ["a"])
    assert list(per_class.data[0].y) == [1] and sum(sizes.data[0].y) == 1
