"""DetectionBench API (loss/predict contract), crowd boxes, padding, fused inference model."""

from __future__ import annotations

import torch

from core.det import DetectionBench, create_detector


def _bench(num_classes: int = 3) -> DetectionBench:
    torch.manual_seed(0)
    return DetectionBench(create_detector("efficientdet_tiny", num_classes, image_size=128))


def _targets():
    return [
        {"boxes": torch.tensor([[10.0, 10.0, 60.0, 80.0]]), "labels": torch.tensor([1])},
        {
            "boxes": torch.tensor([[5.0, 5.0, 50.0, 50.0], [0.0, 0.0, 128.0, 128.0]]),
            "labels": torch.tensor([0, 2]),
            "iscrowd": torch.tensor([False, True]),
        },
    ]


def test_loss_contract_and_crowd_boxes_are_ignored():
    bench = _bench()
    images = torch.rand(2, 3, 128, 128)
    out = bench.loss(images, _targets())
    assert set(out) == {"loss", "class_loss", "box_loss"} and out["loss"].requires_grad
    no_crowd = _targets()
    no_crowd[1] = {"boxes": no_crowd[1]["boxes"][:1], "labels": no_crowd[1]["labels"][:1]}
    ref = bench.loss(images, no_crowd)
    assert torch.allclose(out["loss"], ref["loss"])


def test_predict_contract_and_train_mode_is_restored():
    bench = _bench()
    bench.train()
    with torch.no_grad():  # make one class confident everywhere
        bench.model.class_net.predict.conv_pw.bias.fill_(-10.0)
        bench.model.class_net.predict.conv_pw.bias[1::3].fill_(10.0)
    results = bench.predict(torch.rand(2, 3, 100, 120), score_threshold=0.5, max_detections=7)
    assert bench.model.training
    assert len(results) == 2
    for r in results:
        assert r["boxes"].shape == (7, 4) and r["scores"].shape == (7,)
        assert r["labels"].dtype == torch.int64 and set(r["labels"].tolist()) == {1}
        assert torch.all(r["scores"][:-1] >= r["scores"][1:])
        assert r["boxes"][:, 2].max() <= 120 and r["boxes"][:, 3].max() <= 100


def test_overfits_a_few_steps():
    bench = _bench(2)
    images = torch.rand(2, 3, 128, 128)
    targets = _targets()[:1] * 2
    opt = torch.optim.Adam(bench.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = bench.loss(images, targets)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_inference_model_matches_and_bench_uses_it():
    bench = _bench().eval()
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        ref_cls, ref_box = bench(x)
    fused = bench.model.inference_model()
    with torch.no_grad():
        cls, box = fused(bench.prepare(x).contiguous(memory_format=torch.channels_last))
    assert max((a - b).abs().max().item() for a, b in zip(ref_cls + ref_box, cls + box)) < 1e-4
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    ref = bench.predict(x, score_threshold=0.0)
    bench.optimize_for_inference()
    out = bench.predict(x, score_threshold=0.0)
    assert torch.allclose(out[0]["scores"], ref[0]["scores"], atol=1e-4)
