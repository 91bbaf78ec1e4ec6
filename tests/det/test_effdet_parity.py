"""effdet 0.4.1 parity: same weights -> same raw outputs (<= 1e-4) and same training loss."""

from __future__ import annotations

import pytest
import torch

from core.det.bench import DetectionBench
from core.det.effdet_import import import_effdet
from core.errors import CheckpointError

effdet = pytest.importorskip("effdet")

SIZE = 256


def _random_effdet(name: str, num_classes: int = 90):
    torch.manual_seed(0)
    model = effdet.create_model(
        name,
        pretrained=False,
        pretrained_backbone=False,
        image_size=(SIZE, SIZE),
        num_classes=num_classes,
    ).eval()
    with torch.no_grad():  # non-trivial BN statistics and fusion weights
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for n, p in model.named_parameters():
            if n.endswith("edge_weights"):
                p.uniform_(0.1, 1.5)
    return model


@pytest.mark.parametrize("name", ["efficientdet_d0", "tf_efficientdet_d0"])
def test_raw_outputs_match_effdet(name):
    theirs = _random_effdet(name)
    ours = import_effdet(theirs.state_dict(), name).eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        ref_cls, ref_box = theirs(x)
        cls, box = ours(x)
    diffs = [(a - b).abs().max().item() for a, b in zip(ref_cls + ref_box, cls + box)]
    assert len(diffs) == 10 and max(diffs) <= 1e-4


def test_loss_matches_effdet_bench():
    """Anchors, matching, focal and Huber loss together against effdet's DetBenchTrain."""
    theirs = _random_effdet("efficientdet_d0", num_classes=3)
    ours = DetectionBench(import_effdet(theirs.state_dict(), "efficientdet_d0").eval())
    images = torch.rand(2, 3, SIZE, SIZE)
    boxes = [
        torch.tensor([[10.0, 20.0, 90.0, 140.0], [120.0, 100.0, 250.0, 180.0]]),
        torch.tensor([[30.0, 30.0, 60.0, 50.0]]),
    ]
    labels = [torch.tensor([0, 2]), torch.tensor([1])]
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]
    train_bench = effdet.DetBenchTrain(theirs, create_labeler=True).eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    pad = -torch.ones(2, 2, 4)  # effdet pads ground truth with -1 (filtered by class > -1)
    pad[0, :2] = boxes[0][:, [1, 0, 3, 2]]
    pad[1, :1] = boxes[1][:, [1, 0, 3, 2]]
    cls = torch.tensor([[1, 3], [2, -1]])
    with torch.no_grad():
        ref = train_bench(
            (images - mean) / std,
            {
                "bbox": pad,
                "cls": cls,
                "img_scale": torch.ones(2),
                "img_size": torch.full((2, 2), SIZE),
            },
        )
        out = ours.loss(images, targets)
    for key in ("loss", "class_loss", "box_loss"):
        assert out[key].item() == pytest.approx(ref[key].item(), rel=1e-4, abs=1e-6), key


def test_wrong_variant_is_a_clear_error():
    theirs = _random_effdet("efficientdet_d0")
    with pytest.raises(CheckpointError, match="not effdet efficientdet_d1"):
        import_effdet(theirs.state_dict(), "efficientdet_d1")
