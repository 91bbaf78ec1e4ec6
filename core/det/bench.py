"""DetectionBench: an EfficientDet wrapped with normalisation, anchors, matching, loss and NMS.

    bench = DetectionBench(create_detector("efficientdet_d0", num_classes=3))
    losses = bench.loss(images, targets)          # images [B, 3, H, W] float in [0, 1]
    detections = bench.predict(images)            # list of {"boxes", "scores", "labels"}

Targets are dicts with "boxes" float [N, 4] (x1, y1, x2, y2) in input pixels, "labels" int64 [N]
0-based, optional "iscrowd" bool [N] (crowd boxes are dropped, as effdet's COCO loader does).
Images whose sides are not multiples of 2**max_level are zero-padded at the bottom/right.
ImageNet mean/std normalisation happens here, not in the data pipeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from core.det.anchors import Anchors, match_anchors
from core.det.loss import LossConfig, detection_loss
from core.det.model import EfficientDet
from core.det.postprocess import PostprocessConfig, postprocess

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DetectionBench(nn.Module):
    """Training loss and prediction around a raw EfficientDet (which stays pure)."""

    def __init__(
        self,
        model: EfficientDet,
        loss_config: LossConfig = LossConfig(),  # noqa: B008 - frozen: one shared default is safe
        post_config: PostprocessConfig = PostprocessConfig(),  # noqa: B008 - frozen as well
    ):
        super().__init__()
        self.model = model
        self.loss_config = loss_config
        self.post_config = post_config
        self.anchors = Anchors(model.config)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._inference: nn.Module | None = None

    @property
    def config(self):
        return self.model.config

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [0, 1] -> normalised, padded to multiples of 2**max_level."""
        multiple = self.config.stride_multiple
        h, w = images.shape[-2:]
        pad_h, pad_w = (-h) % multiple, (-w) % multiple
        if pad_h or pad_w:
            images = F.pad(images, (0, pad_w, 0, pad_h))
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Raw per-level outputs for images in [0, 1]."""
        return self.model(self.prepare(images))

    def loss(
        self,
        images: torch.Tensor,
        targets: list[dict],
        reduce_positives: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Focal + Huber loss of a batch -> {"loss", "class_loss", "box_loss"} scalars
        (reduce_positives: see core.det.loss.detection_loss)."""
        x = self.prepare(images)
        class_out, box_out = self.model(x)
        anchors = self.anchors.boxes(tuple(x.shape[-2:]), x.device)
        boxes, labels = zip(*(_training_boxes(t, x.device) for t in targets))
        with torch.no_grad():
            anchor_targets = match_anchors(anchors, list(boxes), list(labels))
        return detection_loss(
            class_out, box_out, anchor_targets, self.loss_config, reduce_positives
        )

    def optimize_for_inference(self) -> DetectionBench:
        """Use a BN-folded, channels_last copy of the model for `predict` (not for `loss`)."""
        h, w = self.config.image_size
        example = torch.zeros(1, 3, h, w, device=self.mean.device)
        self._inference = self.model.inference_model(self.prepare(example))
        return self

    def detect(
        self,
        images: torch.Tensor,
        score_threshold: float = 0.05,
        max_detections: int | None = None,
        one_label: bool = True,
    ) -> torch.Tensor:
        """Images in [0, 1] -> padded detections [B, max_detections, 6] (x1, y1, x2, y2, score,
        class); rows with score 0 are padding. Runs in whatever mode the model is in.
        `one_label=False` leaves out the cross-class step of post-processing (every class keeps
        its own boxes, as COCO evaluation expects; core.det.postprocess)."""
        x = self.prepare(images)
        model = self._inference if self._inference is not None else self.model
        if self._inference is not None:
            x = x.contiguous(memory_format=torch.channels_last)
        class_out, box_out = model(x)
        anchors = self.anchors.boxes(tuple(x.shape[-2:]), x.device)
        config = self.post_config
        if max_detections is not None and max_detections != config.max_detections:
            config = dataclasses.replace(config, max_detections=max_detections)
        if not one_label:
            config = dataclasses.replace(config, cross_class_iou=None)
        return postprocess(
            class_out, box_out, anchors, tuple(images.shape[-2:]), score_threshold, config
        )

    def predict(
        self,
        images: torch.Tensor,
        score_threshold: float = 0.05,
        max_detections: int = 100,
        one_label: bool = True,
    ) -> list[dict[str, torch.Tensor]]:
        """Images [B, 3, H, W] in [0, 1] -> per image {"boxes" [K, 4] xyxy in input pixels,
        "scores" [K], "labels" [K] int64 0-based}, best first (eval mode, no gradients);
        `one_label` as in `detect`."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                dets = self.detect(images, score_threshold, max_detections, one_label)
        finally:
            self.model.train(was_training)
        results = []
        for det in dets:
            det = det[det[:, 4] > 0]
            results.append(
                {
                    "boxes": det[:, :4].clone(),
                    "scores": det[:, 4].clone(),
                    "labels": det[:, 5].long(),
                }
            )
        return results


def _training_boxes(target: dict, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes and labels that take part in matching: no crowd boxes, no empty boxes."""
    boxes = torch.as_tensor(target["boxes"], dtype=torch.float32, device=device).reshape(-1, 4)
    labels = torch.as_tensor(target["labels"], dtype=torch.long, device=device).reshape(-1)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    crowd = target.get("iscrowd")
    if crowd is not None:
        keep &= ~torch.as_tensor(crowd, dtype=torch.bool, device=device).reshape(-1)
    return boxes[keep], labels[keep]


__all__ = ["DetectionBench", "IMAGENET_MEAN", "IMAGENET_STD"]
