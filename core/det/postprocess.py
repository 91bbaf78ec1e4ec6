"""Post-processing: raw per-level outputs -> at most `max_detections` boxes per image.

As automl/effdet: keep the top `max_detection_points` (5000) (anchor, class) logits over all
levels, decode their boxes, clip to the image, class-aware NMS at IoU 0.5 (or Gaussian soft-NMS),
keep the best 100. Before the 100 are kept, one step effdet lacks: of two boxes of different
classes that overlap at IoU above `cross_class_iou` (0.7: one object, not two neighbours) only
the higher score stays, so an object carries one label (a circle also read as a hexagon keeps
the likelier name); None turns it off (effdet's output exactly). Soft-NMS keeps its overlapping
boxes on purpose and skips this step.

The top-k is exact but cheap: the 5000 best pairs can only come from the 5000 anchors with the
best per-anchor maximum, so the top-k runs over those anchors' classes only (in eager mode only
over the groups of ~sqrt(C) classes whose maximum reaches the 5000th anchor maximum), and only
the boxes that NMS reaches are decoded.

Everything is batched tensor code (one NMS over the whole batch with per-image/class offsets), so
it also exports to ONNX with a dynamic batch. Boxes are (x1, y1, x2, y2) in input pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torchvision.ops import box_iou, nms

from core.det import box_coder

NMS_PREFIX = 256  # eager NMS starts with each image's best candidates (see `postprocess`)


@dataclass(frozen=True)
class PostprocessConfig:
    max_detection_points: int = 5000  # candidates before NMS
    max_detections: int = 100  # per image, after NMS
    nms_iou: float = 0.5
    cross_class_iou: float | None = 0.7  # one label per object (module docstring); None: off
    # (after hard NMS only)
    soft_nms: bool = False  # Gaussian soft-NMS (Bodla et al. 2017); slow, off by default
    soft_nms_sigma: float = 0.5


def top_candidates(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """logits [B, N, C] -> (scores_logit [B, k], anchor_idx [B, k], class_idx [B, k]), k <= N*C."""
    num, num_classes = logits.shape[1:]
    best_anchor = logits.amax(dim=2).topk(min(k, num), dim=1).indices  # [B, k']
    sub = logits.gather(1, best_anchor[..., None].expand(-1, -1, num_classes))  # [B, k', C]
    return _top_of_subset(sub, best_anchor, k)


def _top_of_subset(
    sub: torch.Tensor, best_anchor: torch.Tensor, k: int, sorted: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    num_classes = sub.shape[-1]
    values, flat = sub.flatten(1).topk(min(k, sub.shape[1] * num_classes), dim=1, sorted=sorted)
    anchor_idx = best_anchor.gather(1, torch.div(flat, num_classes, rounding_mode="floor"))
    return values, anchor_idx, flat % num_classes


def top_candidates_per_level(
    class_outputs: list[torch.Tensor],
    num_classes: int,
    k: int,
    min_logit: float | None = None,
    sorted: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """As `top_candidates` on the flattened outputs, without flattening all N x C logits:
    per-anchor maxima are taken in the native [B, A*C, H, W] layout and only the chosen
    anchors' class vectors are gathered (one `take` per level; in eager mode, only the class
    groups that can hold a top-k pair, see `_top_above`). In eager mode, `min_logit`
    (the score threshold as a logit) drops anchors that cannot pass it before the top-k.
    `sorted=False` leaves the k candidates in no particular order (a top-k that does not sort
    its result is several times faster)."""
    group = _class_group(num_classes)
    group_max, maxima, offsets, total = [], [], [], 0
    for out in class_outputs:
        a, hw = out.shape[1] // num_classes, out.shape[2] * out.shape[3]
        # max over groups of classes, then over the groups: two short reductions over the
        # native layout are faster than one long one, and the group maxima serve `_top_above`
        group_max.append(out.reshape(-1, a, num_classes // group, group, hw).amax(dim=3))
        maxima.append(group_max[-1].amax(dim=2).transpose(1, 2).flatten(1))  # [B, HW*A]
        offsets.append(total)
        total += a * hw
    anchor_max = torch.cat(maxima, dim=1)  # [B, N], anchor order
    n_anchors = min(k, total)
    if min_logit is not None and not torch.jit.is_tracing():
        passing = int((anchor_max >= min_logit).sum(1).max())
        n_anchors = min(n_anchors, max(1, passing))  # >= 1 keeps shapes valid when none pass
    best = anchor_max.topk(n_anchors, dim=1, sorted=False)  # [B, k']
    if n_anchors == k and not torch.jit.is_tracing():
        return _top_above(class_outputs, group_max, offsets, best.values.amin(1), k, sorted)
    sub = anchor_rows(class_outputs, best.indices, num_classes)
    return _top_of_subset(sub, best.indices, k, sorted)


def anchor_rows(outputs: list[torch.Tensor], anchor_idx: torch.Tensor, per: int) -> torch.Tensor:
    """Per-level outputs [B, A*per, H, W], anchor indices [B, m] (anchor order) -> [B, m, per],
    read from the native layout (as flatten_outputs(outputs, per) gathered at anchor_idx)."""
    rows = outputs[0].new_zeros(anchor_idx.shape + (per,))
    offset = 0
    for out in outputs:
        a, hw = out.shape[1] // per, out.shape[2] * out.shape[3]
        b_idx, j = ((anchor_idx >= offset) & (anchor_idx < offset + a * hw)).nonzero(as_tuple=True)
        local = anchor_idx[b_idx, j] - offset
        loc, anchor = torch.div(local, a, rounding_mode="floor"), local % a
        rows[b_idx, j] = _class_rows(out, b_idx, anchor * per, loc, per).t()
        offset += a * hw
    return rows


def _class_group(num_classes: int) -> int:
    """Classes per group for the two-step maximum: the largest divisor <= sqrt(C), or all C
    when that is below 4 (prime or small C)."""
    group = max(d for d in range(1, math.isqrt(num_classes) + 1) if num_classes % d == 0)
    return group if group >= 4 else num_classes


def _class_rows(
    out: torch.Tensor, b_idx: torch.Tensor, first: torch.Tensor, loc: torch.Tensor, count: int
) -> torch.Tensor:
    """out[b, first + i, loc] of one level [B, A*C, H, W] for i < count -> [count, n].
    Read row-major with one flat `take`: each channel row is walked in order (cache-friendly)."""
    hw = out.shape[2] * out.shape[3]
    base = (b_idx * out.shape[1] + first) * hw + loc
    strides = torch.arange(count, device=out.device) * hw
    return out.contiguous().take(base[None, :] + strides[:, None])


def _top_above(
    class_outputs: list[torch.Tensor],
    group_max: list[torch.Tensor],
    offsets: list[int],
    floor: torch.Tensor,
    k: int,
    sorted: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eager top-k when k anchors are chosen: each image's best k pairs all have logit >= its
    k-th best anchor maximum (`floor`, [B]), and at least k pairs do, so the top-k runs over the
    few pairs above it: the classes of the groups whose maximum (`group_max`, per level
    [B, A, G, HW]) reaches the floor, read from the native layout."""
    values, anchors, classes, images = [], [], [], []
    for out, level_max, offset in zip(class_outputs, group_max, offsets):
        a, groups = level_max.shape[1:3]
        group = out.shape[1] // (a * groups)
        b_idx, anchor, g, loc = (level_max >= floor[:, None, None, None]).nonzero(as_tuple=True)
        first = (anchor * groups + g) * group  # channel of the group's first class
        rows = _class_rows(out, b_idx, first, loc, group)  # [group, n]
        i, n = (rows >= floor[b_idx][None, :]).nonzero(as_tuple=True)
        values.append(rows[i, n])
        anchors.append(offset + loc[n] * a + anchor[n])
        classes.append(g[n] * group + i)
        images.append(b_idx[n])
    values, anchors, classes, images = (torch.cat(t) for t in (values, anchors, classes, images))
    out_values, out_anchors, out_classes = [], [], []
    for b in range(len(floor)):
        mine = (images == b).nonzero().squeeze(1) if len(floor) > 1 else None
        top = (values if mine is None else values[mine]).topk(k, sorted=sorted)
        index = top.indices if mine is None else mine[top.indices]
        out_values.append(top.values)
        out_anchors.append(anchors[index])
        out_classes.append(classes[index])
    return torch.stack(out_values), torch.stack(out_anchors), torch.stack(out_classes)


def postprocess(
    class_outputs: list[torch.Tensor],
    box_outputs: list[torch.Tensor],
    anchors: torch.Tensor,
    image_size: tuple[int, int],
    score_threshold: float = 0.05,
    config: PostprocessConfig = PostprocessConfig(),
) -> torch.Tensor:
    """Raw outputs -> detections [B, max_detections, 6] = (x1, y1, x2, y2, score, class),
    zero-padded rows (score 0) after each image's detections; classes 0-based."""
    num_classes = class_outputs[0].shape[1] * 4 // box_outputs[0].shape[1]
    min_logit = (
        math.log(score_threshold / (1 - score_threshold)) if 0 < score_threshold < 1 else None
    )
    tracing = torch.jit.is_tracing()
    values, anchor_idx, classes = top_candidates_per_level(
        class_outputs, num_classes, config.max_detection_points, min_logit, sorted=tracing
    )
    # image ids from tensor ops (not arange(batch)) so that traced/exported graphs keep B dynamic
    batch_ids = torch.ones_like(classes[:, 0]).cumsum(0) - 1  # [B]

    def passing(values, anchor_idx, classes):  # [B, m] candidates -> flat, decoded, >= threshold
        boxes = box_coder.decode(
            anchor_rows(box_outputs, anchor_idx, 4).float(), anchors[anchor_idx]
        )
        return _passing(
            clip_boxes(boxes, image_size),
            values.float().sigmoid(),
            classes,
            batch_ids[:, None].expand_as(classes),
            score_threshold,
        )

    if config.soft_nms:
        flat = passing(values, anchor_idx, classes)
        kept, flat[1] = soft_nms(
            flat[0],
            flat[1],
            flat[3] * num_classes + flat[2],
            config.soft_nms_sigma,
            score_threshold,
        )
        return _pad_per_image(*(t[kept] for t in flat), batch_ids, config.max_detections)
    # Greedy NMS keeps a box or not from the higher-scoring boxes alone, so NMS over the best m
    # candidates of each image gives exactly the first kept boxes of NMS over all of them: once
    # every image has max_detections kept (or no candidate left above the threshold), the rest
    # cannot change the result. Eager mode starts with a short prefix (only its boxes are
    # decoded); traced graphs take all.
    total = values.shape[1]
    m = total if tracing else min(total, NMS_PREFIX)
    while True:
        if m == total:
            prefix = values, anchor_idx, classes
        else:
            best = values.topk(m, dim=1)  # sorted: the prefix's last score bounds the rest
            prefix = (
                best.values,
                anchor_idx.gather(1, best.indices),
                classes.gather(1, best.indices),
            )
        flat = passing(*prefix)
        kept = grouped_nms(
            flat[0], flat[1], flat[3] * num_classes + flat[2], config.nms_iou, max(image_size)
        )  # sorted by score
        kept = _across_classes(flat, kept, config.cross_class_iou, max(image_size))
        if m == total or _prefix_is_enough(
            flat[3][kept],
            prefix[0][:, -1].float().sigmoid(),
            batch_ids,
            config.max_detections,
            score_threshold,
        ):
            return _pad_per_image(*(t[kept] for t in flat), batch_ids, config.max_detections)
        m = min(total, 4 * m)


def _across_classes(
    flat: list[torch.Tensor], kept: torch.Tensor, iou: float | None, max_coordinate: float
) -> torch.Tensor:
    """Of the `kept` candidates (indices into flat [boxes, scores, classes, image_idx], by
    score), those no higher-scoring kept box of the same image overlaps at IoU above `iou`,
    whatever its class; all of them when `iou` is None. Greedy like the class-aware NMS
    before it, so a box's fate still depends on higher scores only (the NMS prefix holds)."""
    if iou is None:
        return kept
    boxes, scores, _, image_idx = (t[kept] for t in flat)
    return kept[grouped_nms(boxes, scores, image_idx, iou, max_coordinate)]


def _passing(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    image_idx: torch.Tensor,
    score_threshold: float,
) -> list[torch.Tensor]:
    """[B, m] candidates -> flat [boxes, scores, classes, image_idx] of those >= threshold."""
    keep = (scores >= score_threshold).reshape(-1)
    return [
        boxes.reshape(-1, 4)[keep],
        scores.reshape(-1)[keep],
        classes.reshape(-1)[keep],
        image_idx.reshape(-1)[keep],
    ]


def _prefix_is_enough(
    kept_images: torch.Tensor,
    last_scores: torch.Tensor,
    batch_ids: torch.Tensor,
    max_det: int,
    score_threshold: float,
) -> bool:
    """True when each image kept max_det boxes or its prefix already ended below the threshold."""
    counts = torch.bincount(kept_images, minlength=len(batch_ids))
    return bool(((counts >= max_det) | (last_scores < score_threshold)).all())


def grouped_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    groups: torch.Tensor,
    iou_threshold: float,
    max_coordinate: float,
) -> torch.Tensor:
    """NMS within each group in one call: boxes (inside [0, max_coordinate]) of different groups
    are shifted apart (the "coordinate trick"; the same computation eager, traced, in ONNX)."""
    offsets = groups.to(boxes.dtype)[:, None] * float(max_coordinate + 1)
    return nms(boxes + offsets, scores, iou_threshold)


def clip_boxes(boxes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """Clip xyxy boxes to [0, W] x [0, H]."""
    h, w = image_size
    limits = boxes.new_tensor([w, h, w, h])
    return torch.minimum(boxes.clamp(min=0), limits)


def _pad_per_image(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    image_idx: torch.Tensor,
    batch_ids: torch.Tensor,
    max_det: int,
) -> torch.Tensor:
    """Score-sorted detections of the whole batch -> [B, max_det, 6], best first per image."""
    order = torch.sort(image_idx * 2.0 - scores.clamp(0, 1)).indices  # by image, then score
    boxes, scores, classes, image_idx = (
        boxes[order],
        scores[order],
        classes[order],
        image_idx[order],
    )
    counts = (image_idx[:, None] == batch_ids[None, :]).sum(0)  # (bincount has no ONNX op)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.ones_like(image_idx).cumsum(0) - 1 - starts[image_idx]
    sel = rank < max_det
    out = torch.zeros_like(batch_ids[:, None, None], dtype=boxes.dtype).expand(-1, max_det, 6)
    out = out.reshape(-1, 6).clone()
    rows = torch.cat([boxes, scores[:, None], classes[:, None].to(boxes.dtype)], dim=1)
    out[(image_idx * max_det + rank)[sel]] = rows[sel]
    return out.reshape(-1, max_det, 6)


def soft_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    groups: torch.Tensor,
    sigma: float,
    score_threshold: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian soft-NMS within each group -> (kept indices, their decayed scores), by score."""
    offset = groups.to(boxes.dtype)[:, None] * (boxes.max() + 1 if boxes.numel() else 1)
    shifted = boxes + offset
    scores = scores.clone()
    remaining = torch.arange(scores.numel(), device=boxes.device)
    kept, kept_scores = [], []
    while remaining.numel():
        best = int(scores[remaining].argmax())
        i = remaining[best]
        kept.append(i)
        kept_scores.append(scores[i])
        remaining = torch.cat([remaining[:best], remaining[best + 1 :]])
        if not remaining.numel():
            break
        iou = box_iou(shifted[i][None], shifted[remaining])[0]
        scores[remaining] *= torch.exp(-(iou**2) / sigma)
        remaining = remaining[scores[remaining] >= score_threshold]
    if not kept:
        return remaining, scores[remaining]
    kept_t = torch.stack(kept)
    new_scores = torch.stack(kept_scores)
    order = torch.argsort(new_scores, descending=True)
    full = scores.clone()
    full[kept_t] = new_scores
    return kept_t[order], full


__all__ = [
    "PostprocessConfig",
    "anchor_rows",
    "postprocess",
    "top_candidates",
    "top_candidates_per_level",
    "clip_boxes",
    "soft_nms",
]
