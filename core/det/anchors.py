"""Multi-level anchors and IoU matching (RetinaNet, Lin et al. 2017, sec. 4; automl anchors.py).

Anchors: at level l (stride s = 2**l) and every location, num_scales octave scales
2**(i / num_scales) times the aspect ratios (x, y multipliers); side = anchor_scale * s * octave
* ratio. Order: level, then row (y), column (x), then octave scale, then aspect ratio, matching
the models' anchor-major channels. Boxes are (x1, y1, x2, y2) in input pixels.

Matching (automl ArgMaxMatcher): an anchor is positive for its best ground truth when IoU >= 0.5,
negative below, and every ground truth is also forced onto its best anchor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.det import box_coder
from core.det.config import DetConfig

MATCH_THRESHOLD = 0.5
BACKGROUND = -1  # class target of a negative anchor


def feature_sizes(image_size: tuple[int, int], max_level: int) -> list[tuple[int, int]]:
    """(H, W) of levels 0..max_level: ceil-halving as automl's get_feat_sizes."""
    sizes = [tuple(image_size)]
    for _ in range(max_level):
        h, w = sizes[-1]
        sizes.append(((h - 1) // 2 + 1, (w - 1) // 2 + 1))
    return sizes


def generate_anchors(
    image_size: tuple[int, int],
    min_level: int,
    max_level: int,
    num_scales: int,
    aspect_ratios: tuple[tuple[float, float], ...],
    anchor_scale: float,
) -> torch.Tensor:
    """All anchors for an input of `image_size` (H, W) -> [N, 4] float32 xyxy."""
    sizes = feature_sizes(image_size, max_level)
    per_level = []
    for level in range(min_level, max_level + 1):
        stride_y = image_size[0] / sizes[level][0]
        stride_x = image_size[1] / sizes[level][1]
        half = []  # (half width, half height) per anchor, in octave-then-ratio order
        for octave in range(num_scales):
            scale = anchor_scale * 2 ** (octave / num_scales)
            for ratio_x, ratio_y in aspect_ratios:
                half.append((scale * stride_x * ratio_x / 2, scale * stride_y * ratio_y / 2))
        half_t = torch.tensor(half, dtype=torch.float64)  # [A, 2]
        ys = torch.arange(stride_y / 2, image_size[0], stride_y, dtype=torch.float64)
        xs = torch.arange(stride_x / 2, image_size[1], stride_x, dtype=torch.float64)
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")
        centers = torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=-1)[:, None, :]  # [HW, 1, 2]
        boxes = torch.cat([centers - half_t, centers + half_t], dim=-1)  # [HW, A, 4]
        per_level.append(boxes.reshape(-1, 4))
    return torch.cat(per_level).float()


class Anchors:
    """Anchor boxes of a config, cached per (image size, device)."""

    def __init__(self, config: DetConfig):
        self.min_level = config.min_level
        self.max_level = config.max_level
        self.num_scales = config.num_scales
        self.aspect_ratios = config.aspect_ratios
        self.anchor_scale = config.anchor_scale
        self._cache: dict[tuple, torch.Tensor] = {}

    def boxes(
        self, image_size: tuple[int, int], device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """[N, 4] xyxy anchors for an input of (H, W)."""
        key = (tuple(image_size), str(device))
        if key not in self._cache:
            self._cache[key] = generate_anchors(
                tuple(image_size),
                self.min_level,
                self.max_level,
                self.num_scales,
                self.aspect_ratios,
                self.anchor_scale,
            ).to(device)
        return self._cache[key]

    def num_anchors(self, image_size: tuple[int, int]) -> int:
        sizes = feature_sizes(image_size, self.max_level)
        per_loc = self.num_scales * len(self.aspect_ratios)
        return sum(h * w * per_loc for h, w in sizes[self.min_level : self.max_level + 1])


@dataclass
class AnchorTargets:
    """Training targets for a batch: cls [B, N] (class index or BACKGROUND), box [B, N, 4] codes
    (zeros on negatives), num_positives [B]."""

    cls: torch.Tensor
    box: torch.Tensor
    num_positives: torch.Tensor


def batched_iou(gt: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """gt [B, M, 4], anchors [N, 4] (xyxy) -> IoU [B, M, N] (0 where boxes do not overlap)."""
    lt = torch.maximum(gt[..., :, None, :2], anchors[None, None, :, :2])
    rb = torch.minimum(gt[..., :, None, 2:], anchors[None, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_gt = (gt[..., 2] - gt[..., 0]) * (gt[..., 3] - gt[..., 1])
    area_a = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])
    union = area_gt[..., None] + area_a - inter
    return torch.where(inter > 0, inter / union, torch.zeros_like(inter))


def match_anchors(
    anchors: torch.Tensor,
    gt_boxes: list[torch.Tensor],
    gt_labels: list[torch.Tensor],
    threshold: float = MATCH_THRESHOLD,
) -> AnchorTargets:
    """Assign each anchor a class and box target from the batch's ground truth.

    anchors [N, 4] xyxy; gt_boxes[i] [M_i, 4] xyxy, gt_labels[i] [M_i] 0-based int64.
    """
    batch, num = len(gt_boxes), anchors.shape[0]
    device = anchors.device
    max_gt = max((b.shape[0] for b in gt_boxes), default=0)
    if max_gt == 0:
        return AnchorTargets(
            torch.full((batch, num), BACKGROUND, dtype=torch.long, device=device),
            torch.zeros(batch, num, 4, device=device),
            torch.zeros(batch, device=device),
        )
    boxes = anchors.new_zeros(batch, max_gt, 4)
    labels = torch.full((batch, max_gt), BACKGROUND, dtype=torch.long, device=device)
    valid = torch.zeros(batch, max_gt, dtype=torch.bool, device=device)
    for i, (b, lab) in enumerate(zip(gt_boxes, gt_labels)):
        boxes[i, : b.shape[0]] = b
        labels[i, : b.shape[0]] = lab
        valid[i, : b.shape[0]] = True
    iou = batched_iou(boxes, anchors).masked_fill_(~valid[..., None], -1.0)  # [B, M, N]
    best_iou, matched = iou.max(dim=1)  # [B, N]
    positive = best_iou >= threshold
    # force each ground truth onto its best anchor (the first gt wins a shared anchor)
    best_anchor = iou.argmax(dim=2)  # [B, M]
    forced = torch.zeros(batch, max_gt, num, dtype=torch.bool, device=device)
    forced.scatter_(2, best_anchor[..., None], valid[..., None])
    is_forced = forced.any(dim=1)
    matched = torch.where(is_forced, forced.to(torch.uint8).argmax(dim=1), matched)
    positive |= is_forced
    cls = torch.where(positive, labels.gather(1, matched), torch.full_like(matched, BACKGROUND))
    matched_boxes = boxes.gather(1, matched[..., None].expand(-1, -1, 4))
    box = torch.where(
        positive[..., None],
        box_coder.encode(matched_boxes, anchors),
        torch.zeros_like(matched_boxes),
    )
    return AnchorTargets(cls, box, positive.sum(dim=1).float())


def anchor_levels_sizes(config: DetConfig, image_size: tuple[int, int]) -> list[tuple[int, int]]:
    """(H_l, W_l) of the model's output levels for an input of (H, W)."""
    return feature_sizes(image_size, config.max_level)[config.min_level : config.max_level + 1]


__all__ = [
    "Anchors",
    "AnchorTargets",
    "generate_anchors",
    "match_anchors",
    "batched_iou",
    "feature_sizes",
    "anchor_levels_sizes",
    "MATCH_THRESHOLD",
    "BACKGROUND",
]
