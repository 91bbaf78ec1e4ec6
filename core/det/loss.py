"""EfficientDet training loss: sigmoid focal loss + Huber box loss (automl det_model_fn).

class_loss = sum over anchors and classes of focal(alpha=0.25, gamma=1.5) / (positives + 1)
box_loss   = sum of Huber(delta=0.1) over non-zero box targets / (4 * (positives + 1))
loss       = class_loss + 50 * box_loss
Positives are summed over the batch. Focal loss: Lin et al. 2017, eq. 5 (torchvision's
`sigmoid_focal_loss`, identical to effdet's "new" focal loss without label smoothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from core.det.anchors import BACKGROUND, AnchorTargets

IGNORE = -2  # class target of an anchor that takes no part in the class loss


@dataclass(frozen=True)
class LossConfig:
    alpha: float = 0.25
    gamma: float = 1.5
    delta: float = 0.1  # Huber delta: about the mean regression target at 512 px (automl)
    box_loss_weight: float = 50.0


def flatten_outputs(outputs: list[torch.Tensor], k: int) -> torch.Tensor:
    """Per-level [B, A*K, H, W] -> [B, N, K] in anchor order (level, y, x, anchor)."""
    # -1 on the batch axis (not B from .shape) keeps traced/exported graphs batch-dynamic
    return torch.cat(
        [
            o.permute(0, 2, 3, 1).reshape(-1, o.shape[2] * o.shape[3] * o.shape[1] // k, k)
            for o in outputs
        ],
        dim=1,
    )


def focal_loss_sum(
    logits: torch.Tensor, cls_targets: torch.Tensor, config: LossConfig
) -> torch.Tensor:
    """logits [B, N, C]; cls_targets [B, N] (class, BACKGROUND or IGNORE) -> summed focal loss."""
    num_classes = logits.shape[-1]
    positive = cls_targets >= 0
    onehot = torch.zeros_like(logits)
    onehot[positive] = F.one_hot(cls_targets[positive], num_classes).to(logits.dtype)
    loss = sigmoid_focal_loss(
        logits, onehot, alpha=config.alpha, gamma=config.gamma, reduction="none"
    )
    ignore = cls_targets == IGNORE
    if ignore.any():
        loss = loss.masked_fill(ignore[..., None], 0.0)
    return loss.sum()


def box_loss_sum(
    box_outputs: torch.Tensor, box_targets: torch.Tensor, delta: float
) -> torch.Tensor:
    """Huber loss summed over the non-zero targets (automl's mask: box_targets != 0)."""
    mask = box_targets != 0.0
    return F.huber_loss(box_outputs[mask], box_targets[mask], delta=delta, reduction="sum")


def detection_loss(
    class_outputs: list[torch.Tensor],
    box_outputs: list[torch.Tensor],
    targets: AnchorTargets,
    config: LossConfig = LossConfig(),
    reduce_positives: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Raw model outputs + anchor targets -> {"loss", "class_loss", "box_loss"} (scalars).

    reduce_positives maps this batch's positive count to the count that normalises the sums:
    data-parallel training passes the sum over all processes
    (core.train.distributed.ddp.DistributedLoss).
    """
    num_classes = class_outputs[0].shape[1] * 4 // box_outputs[0].shape[1]
    logits = flatten_outputs(class_outputs, num_classes).float()
    deltas = flatten_outputs(box_outputs, 4).float()
    positives = targets.num_positives.sum()
    if reduce_positives is not None:
        positives = reduce_positives(positives.float())
    normalizer = positives + 1.0
    class_loss = focal_loss_sum(logits, targets.cls, config) / normalizer
    box_loss = box_loss_sum(deltas, targets.box, config.delta) / (normalizer * 4.0)
    return {
        "loss": class_loss + config.box_loss_weight * box_loss,
        "class_loss": class_loss,
        "box_loss": box_loss,
    }


__all__ = [
    "LossConfig",
    "detection_loss",
    "focal_loss_sum",
    "box_loss_sum",
    "flatten_outputs",
    "IGNORE",
    "BACKGROUND",
]
