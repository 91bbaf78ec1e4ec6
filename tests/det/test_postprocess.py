"""Post-processing: top-k, NMS, padding per image; parity with effdet on random outputs."""

from __future__ import annotations

import pytest
import torch

from core.det.anchors import generate_anchors
from core.det.postprocess import PostprocessConfig, postprocess, top_candidates

RATIOS = ((1.0, 1.0), (1.4, 0.7), (0.7, 1.4))


def test_top_candidates_equal_a_full_topk():
    torch.manual_seed(0)
    logits = torch.randn(2, 3000, 20)
    values, anchor_idx, classes = top_candidates(logits, 500)
    ref_values, ref_idx = logits.reshape(2, -1).topk(500, dim=1)
    assert torch.equal(values, ref_values)
    assert torch.equal(anchor_idx, ref_idx // 20) and torch.equal(classes, ref_idx % 20)


def _outputs(anchor_logits: list[list[float]], num_classes: int):
    """One level 1x1, A anchors: class logits per anchor -> [1, A*C, 1, 1], zero deltas."""
    cls = torch.tensor(anchor_logits).reshape(1, -1, 1, 1)
    box = torch.zeros(1, 4 * len(anchor_logits), 1, 1)
    return [cls], [box]


def test_nms_keeps_best_of_overlapping_same_class_and_pads():
    anchors = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 11], [0.0, 0, 10, 10]])
    cls, box = _outputs([[3.0, -9.0], [2.0, -9.0], [-9.0, 1.0]], num_classes=2)
    class_aware = PostprocessConfig(max_detections=4, cross_class_iou=None)
    det = postprocess(cls, box, anchors, (20, 20), 0.05, class_aware)
    assert det.shape == (1, 4, 6)
    # anchor 1 suppressed by anchor 0 (same class, IoU 0.91); anchor 2 is another class: kept
    assert det[0, :2, 5].tolist() == [0.0, 1.0]
    assert det[0, 0, 4].item() == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item())
    assert torch.allclose(det[0, 0, :4], anchors[0])
    assert torch.all(det[0, 2:] == 0)


def test_one_label_per_object_across_classes():
    """Anchor 0 reads circle (logit 3), anchor 1 the same place as hexagon (logit 2.5): one
    object, one label, the likelier. Anchor 2 (hexagon) is a neighbour at IoU 1/3 (x 0-10
    and 5-15, 10 high: overlap 50, union 150): kept. Anchor 3 (a third class) lies inside
    anchor 0 at IoU 0.8 (80 / 100): suppressed. With cross_class_iou=None every class keeps
    its own box."""
    anchors = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10], [5.0, 0, 15, 10], [0.0, 0, 10, 8]])
    logits = [[3.0, -9.0, -9.0], [-9.0, 2.5, -9.0], [-9.0, 2.0, -9.0], [-9.0, -9.0, 1.0]]
    cls, box = _outputs(logits, num_classes=3)
    config = PostprocessConfig(max_detections=6)
    det = postprocess(cls, box, anchors, (20, 20), 0.05, config)[0]
    det = det[det[:, 4] > 0]
    assert det[:, 5].tolist() == [0.0, 1.0]  # circle at anchor 0, the neighbouring hexagon
    assert torch.allclose(det[:, :4], anchors[[0, 2]])
    assert det[0, 4].item() == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item())
    both = postprocess(
        cls,
        box,
        anchors,
        (20, 20),
        0.05,
        PostprocessConfig(max_detections=6, cross_class_iou=None),
    )[0]
    assert sorted(both[both[:, 4] > 0, 5].tolist()) == [0.0, 1.0, 1.0, 2.0]


def test_score_threshold_max_detections_and_clipping():
    anchors = torch.tensor([[-5.0, -5, 10, 10], [30.0, 30, 40, 40], [60.0, 60, 70, 70]])
    cls, box = _outputs([[2.0], [1.0], [-4.0]], num_classes=1)  # last score 0.018 < 0.05
    det = postprocess(cls, box, anchors, (50, 50), 0.05, PostprocessConfig(max_detections=1))
    assert det.shape == (1, 1, 6)
    assert det[0, 0, :4].tolist() == [0.0, 0.0, 10.0, 10.0]  # clipped to the image
    det = postprocess(cls, box, anchors, (50, 50), 0.05, PostprocessConfig(max_detections=5))
    assert (det[0, :, 4] > 0).sum().item() == 2


def test_no_candidate_above_threshold_gives_empty_detections():
    """Regression: an untrained model whose every score is below the threshold (GUI demo)."""
    anchors = torch.tensor([[0.0, 0, 10, 10], [20.0, 20, 30, 30]])
    cls, box = _outputs([[-6.0, -7.0], [-8.0, -9.0]], num_classes=2)
    for config in (PostprocessConfig(max_detections=3), PostprocessConfig(soft_nms=True)):
        det = postprocess(cls, box, anchors, (40, 40), 0.5, config)
        assert det.shape[0] == 1 and torch.all(det == 0)


def test_soft_nms_decays_instead_of_removing():
    anchors = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 11]])
    cls, box = _outputs([[3.0], [2.0]], num_classes=1)
    det = postprocess(cls, box, anchors, (20, 20), 0.05, PostprocessConfig(soft_nms=True))
    scores = det[0, :, 4]
    assert (scores > 0).sum().item() == 2
    assert scores[1].item() < torch.sigmoid(torch.tensor(2.0)).item()


def test_matches_effdet_post_processing():
    effdet_bench = pytest.importorskip("effdet.bench")
    torch.manual_seed(0)
    size, num_classes = (256, 256), 5
    anchors = generate_anchors(size, 3, 7, 3, RATIOS, 4.0)
    cls = [torch.randn(2, 9 * num_classes, 256 >> l, 256 >> l) - 2 for l in range(3, 8)]
    box = [torch.randn(2, 36, 256 >> l, 256 >> l) * 0.1 for l in range(3, 8)]
    c, b, idx, classes = effdet_bench._post_process(cls, box, 5, num_classes, 5000)
    ref = effdet_bench._batch_detection(
        2,
        c,
        b,
        anchors[:, [1, 0, 3, 2]],
        idx,
        classes,
        torch.ones(2),
        torch.tensor([[256.0, 256.0]] * 2),
        100,
    )
    class_aware = PostprocessConfig(cross_class_iou=None)  # effdet has no cross-class step
    ours = postprocess(cls, box, anchors, size, score_threshold=0.0, config=class_aware)
    ref[..., 5] -= 1  # effdet classes are 1-based
    assert torch.allclose(ours, ref, atol=1e-4)


@pytest.mark.parametrize("num_classes", [7, 20, 90])  # one class group; groups of 4; of 9
def test_per_level_top_candidates_equal_flattened(num_classes):
    from core.det.loss import flatten_outputs
    from core.det.postprocess import top_candidates_per_level

    torch.manual_seed(0)
    outs = [torch.randn(2, 9 * num_classes, 8, 6), torch.randn(2, 9 * num_classes, 4, 3)]
    ref = top_candidates(flatten_outputs(outs, num_classes), 300)
    got = top_candidates_per_level(outs, num_classes, 300)
    for r, g in zip(ref, got):
        assert torch.equal(r, g)
    unsorted = top_candidates_per_level(outs, num_classes, 300, sorted=False)
    order = unsorted[0].argsort(dim=1, descending=True)
    for r, u in zip(ref, unsorted):
        assert torch.equal(r, u.gather(1, order))


@pytest.mark.parametrize("num_classes", [6, 20])
def test_eager_shortcuts_equal_the_traced_computation(monkeypatch, num_classes):
    """The eager top-k (pairs above the k-th anchor maximum) and the NMS over a growing prefix
    give exactly what the plain computation (the traced/ONNX path) gives."""
    import core.det.postprocess as post

    torch.manual_seed(0)
    size = (128, 128)
    anchors = generate_anchors(size, 3, 7, 3, RATIOS, 4.0)
    cls = [torch.randn(2, 9 * num_classes, 128 >> l, 128 >> l) - 2 for l in range(3, 8)]
    box = [torch.randn(2, 36, 128 >> l, 128 >> l) * 0.1 for l in range(3, 8)]
    config = PostprocessConfig(max_detection_points=500, max_detections=50)
    eager = postprocess(cls, box, anchors, size, 0.05, config)
    monkeypatch.setattr(post, "NMS_PREFIX", 4)  # forces the prefix to grow several times
    assert torch.equal(postprocess(cls, box, anchors, size, 0.05, config), eager)
    monkeypatch.setattr(torch.jit, "is_tracing", lambda: True)
    assert torch.allclose(postprocess(cls, box, anchors, size, 0.05, config), eager)
