"""The EfficientDet model: backbone -> BiFPN -> class net + box net, raw per-level outputs.

`create_detector(name, num_classes, ...)` builds a variant of `core.det.config.MODEL_TABLE`.
The forward is four calls (as effdet) and returns `(class_outputs, box_outputs)`: per level
[B, A*C, H_l, W_l] logits and [B, A*4, H_l, W_l] box deltas (ty, tx, th, tw), anchor-major.
Anchors, matching, loss and post-processing live in `core.det.bench.DetectionBench`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any

import torch
from torch import nn

from core.det.backbone import (
    check_strides,
    create_timm_backbone,
    feature_dicts,
    load_backbone_weights,
)
from core.det.bifpn import BiFpn
from core.det.config import DetConfig, get_config
from core.det.fuse import fuse_detector
from core.det.head import CLASS_PRIOR_PROBABILITY, HeadNet
from core.det.layers import glorot_uniform_
from core.errors import SpecError
from core.torch_util import count_parameters  # noqa: F401 (the one counter; core.det re-exports it)

CUSTOM_BACKBONE = "custom"


class EfficientDet(nn.Module):
    """EfficientDet (Tan, Pang, Le, CVPR 2020). `config`: the frozen DetConfig it was built from."""

    def __init__(self, config: DetConfig, backbone: nn.Module, backbone_channels: list[int]):
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.fpn = BiFpn(config, backbone_channels)
        self.class_net = HeadNet(config, num_outputs=config.num_classes)
        self.box_net = HeadNet(config, num_outputs=4)
        self.init_weights()

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """x: [B, 3, H, W] normalised images, sides multiples of 2**max_level."""
        feats = self.fpn(self.backbone(x))
        return self.class_net(feats), self.box_net(feats)

    def init_weights(self) -> None:
        """automl/effdet init of everything but the backbone."""
        for module in self.fpn.modules():
            if isinstance(module, nn.Conv2d):
                glorot_uniform_(module.weight, groups=module.groups)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self.class_net.init_weights(CLASS_PRIOR_PROBABILITY)
        self.box_net.init_weights()

    def reset_class_head(self, num_classes: int) -> None:
        """A new, freshly initialised class net for `num_classes` (fine-tuning to a new dataset)."""
        self.config = dataclasses.replace(self.config, num_classes=num_classes)
        device = next(self.class_net.parameters()).device
        self.class_net = HeadNet(self.config, num_outputs=num_classes).to(device)
        self.class_net.init_weights(CLASS_PRIOR_PROBABILITY)

    def inference_model(self, example: torch.Tensor | None = None) -> EfficientDet:
        """A copy for fast inference: eval mode, BatchNorm folded into convs, channels_last.

        `example` ([1, 3, H, W]) is used to find conv -> BN pairs in the backbone; the copy gives
        the same outputs within float rounding. Not trainable (BN is gone).
        """
        return fuse_detector(copy.deepcopy(self).eval(), example)


def create_detector(
    name: str,
    num_classes: int,
    image_size: int | tuple[int, int] | None = None,
    backbone: str | nn.Module | None = None,
    pretrained_backbone: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
) -> EfficientDet:
    """Build an EfficientDet variant (see `core.det.config.MODEL_TABLE`), from scratch.

    backbone: None (the variant's timm EfficientNet), a timm model name, or an nn.Module with
      `feature_info` (list of {"num_chs", "reduction"} or a timm FeatureInfo) whose forward
      returns the 3 maps at strides 8, 16, 32.
    pretrained_backbone: a file with ImageNet weights for a timm backbone (never downloaded).
    overrides: DetConfig fields to change, e.g. {"fpn_channels": 32, "fpn_cell_repeats": 2}.
    """
    overrides = dict(overrides or {})
    if isinstance(backbone, str):
        overrides["backbone_name"] = backbone
    elif isinstance(backbone, nn.Module):
        overrides["backbone_name"] = CUSTOM_BACKBONE
    elif backbone is not None:
        raise SpecError(
            f"backbone must be a timm name or an nn.Module, not {type(backbone).__name__}"
        )
    config = get_config(name, num_classes=num_classes, image_size=image_size, **overrides)
    return build_detector(
        config, backbone if isinstance(backbone, nn.Module) else None, pretrained_backbone
    )


def build_detector(
    config: DetConfig,
    backbone: nn.Module | None = None,
    pretrained_backbone: str | os.PathLike | None = None,
) -> EfficientDet:
    """Build from a DetConfig (e.g. one read back from a checkpoint)."""
    if backbone is not None:
        channels = check_strides(feature_dicts(backbone), type(backbone).__name__)
        if pretrained_backbone:
            raise SpecError(
                "pretrained_backbone applies to timm backbones only; load the custom "
                "backbone's weights before passing it"
            )
    else:
        if config.backbone_name == CUSTOM_BACKBONE:
            raise SpecError(
                "this detector was built with a custom backbone module; pass the same "
                "backbone module to rebuild it"
            )
        if pretrained_backbone is True:
            raise SpecError(
                "pretrained_backbone must be a weights file path (nothing is downloaded)"
            )
        backbone, channels = create_timm_backbone(
            config.backbone_name, config.backbone_indices, config.backbone_drop_path_rate
        )
        if pretrained_backbone:
            load_backbone_weights(backbone, pretrained_backbone)
    return EfficientDet(config, backbone, channels)
