"""Focal + Huber loss against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from core.det.anchors import BACKGROUND, AnchorTargets
from core.det.loss import IGNORE, LossConfig, detection_loss


def _focal(p_t: float, alpha_t: float, gamma: float = 1.5) -> float:
    return -alpha_t * (1 - p_t) ** gamma * math.log(p_t)


def test_loss_hand_computed():
    # one level, 1x1 map, 1 anchor (A=1), C=2 classes, batch 1 -> 2 "anchors" via 1x2 map
    logits = torch.tensor([[[[0.0, 2.0]], [[1.0, -1.0]]]])  # [B=1, A*C=2, H=1, W=2]
    deltas = torch.zeros(1, 4, 1, 2)
    deltas[0, :, 0, 0] = torch.tensor([0.05, -0.3, 0.0, 0.2])
    # anchor 0 positive class 1 with box targets; anchor 1 background
    targets = AnchorTargets(
        cls=torch.tensor([[1, BACKGROUND]]),
        box=torch.tensor([[[0.1, 0.1, 0.0, -0.5], [0, 0, 0, 0]]]),
        num_positives=torch.tensor([1.0]),
    )
    out = detection_loss([logits], [deltas], targets, LossConfig())
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    # anchor 0: logits (class0 = 0.0, class1 = 1.0); anchor 1: (2.0, -1.0)
    cls = (
        _focal(1 - sig(0.0), 0.75)
        + _focal(sig(1.0), 0.25)
        + _focal(1 - sig(2.0), 0.75)
        + _focal(1 - sig(-1.0), 0.75)
    )
    norm = 1.0 + 1.0
    # Huber(delta 0.1) on non-zero targets: errors 0.05, 0.4 (linear), th target 0 -> masked, 0.7
    huber = 0.5 * 0.05**2 + (0.1 * 0.4 - 0.5 * 0.01) + (0.1 * 0.7 - 0.5 * 0.01)
    assert out["class_loss"].item() == pytest.approx(cls / norm, rel=1e-5)
    assert out["box_loss"].item() == pytest.approx(huber / (4 * norm), rel=1e-5)
    assert out["loss"].item() == pytest.approx(cls / norm + 50 * huber / (4 * norm), rel=1e-5)


def test_ignored_anchors_do_not_count_and_loss_has_gradients():
    logits = torch.randn(1, 2, 1, 2, requires_grad=True)
    deltas = torch.randn(1, 4, 1, 2, requires_grad=True)
    base = AnchorTargets(
        torch.tensor([[BACKGROUND, BACKGROUND]]), torch.zeros(1, 2, 4), torch.zeros(1)
    )
    ignored = AnchorTargets(
        torch.tensor([[BACKGROUND, IGNORE]]), torch.zeros(1, 2, 4), torch.zeros(1)
    )
    full = detection_loss([logits], [deltas], base)["class_loss"]
    part = detection_loss([logits], [deltas], ignored)["class_loss"]
    assert part.item() < full.item()
    full.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
