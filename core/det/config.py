"""EfficientDet model configurations: the D0-D7x table as data, plus small CPU variants.

EfficientDet: Scalable and Efficient Object Detection (Tan, Pang, Le, CVPR 2020), Table 1, with
the details of the official automl code as ported by efficientdet-pytorch (effdet 0.4.1): the
`efficientdet_*` names use timm's PyTorch-padded EfficientNets, the `tf_efficientdet_*` names
use the TF-ported ones with TF "same" padding. Quirks of effdet kept on purpose so that weights
and parameter counts match: `efficientdet_d4`/`d5` use "same" padding in the BiFPN and heads and
redundant conv biases (as the TF models), D6-D7x fuse by a plain sum, D7 has anchor scale 5 and
D7x adds a P8 level.

A `DetConfig` holds only the architecture and the anchors (what the weights depend on); loss and
post-processing settings live with the bench (`core.det.loss.LossConfig`,
`core.det.postprocess.PostprocessConfig`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError
from core.spec import coerce_fields, image_size_hw, load, param
from core.spec_values import did_you_mean

# Anchor aspect ratios as (x, y) multipliers, the automl / effdet default: w/h = 1, ~2, ~0.5.
DEFAULT_ASPECT_RATIOS: tuple[tuple[float, float], ...] = ((1.0, 1.0), (1.4, 0.7), (0.7, 1.4))
MAX_CHANNELS = 2048  # BiFPN width (D7: 384)
MAX_REPEATS = 16  # BiFPN / head repeats (D7: 8 / 5)
MAX_CLASSES = 10_000
FIXED_FIELDS = ("name", "num_classes", "image_size")  # get_config arguments, not overrides


@dataclass(frozen=True)
class DetConfig:
    """Architecture and anchors of one EfficientDet variant (JSON-serialisable via `to_dict`)."""

    name: str
    backbone_name: str  # timm model name; "custom" when a module was given
    image_size: tuple[int, int] = param(parse=image_size_hw)  # (H, W); any multiple of 2**max_level
    fpn_channels: int = param(lo=1, hi=MAX_CHANNELS)
    fpn_cell_repeats: int = param(lo=1, hi=MAX_REPEATS)
    box_class_repeats: int = param(lo=1, hi=MAX_REPEATS)
    num_classes: int = param(90, lo=1, hi=MAX_CLASSES)
    min_level: int = 3
    max_level: int = param(7, lo=5, hi=10)
    num_scales: int = param(3, lo=1, hi=8)  # octave scales 2**0, 2**(1/3), 2**(2/3)
    aspect_ratios: tuple[tuple[float, float], ...] = param(DEFAULT_ASPECT_RATIOS, gt=0.0, hi=100.0)
    anchor_scale: float = param(4.0, gt=0.0, hi=100.0)  # base anchor side = anchor_scale * stride
    pad_type: str = param("same", choices=("same", ""))  # "same": TF-style; "": PyTorch symmetric
    act_type: str = "swish"
    fpn_weight_method: str = param(
        "fastattn", choices=("fastattn", "sum")
    )  # fast normalised fusion
    separable_conv: bool = True
    redundant_bias: bool = True  # TF models have conv bias right before BN (kept for weights)
    bn_momentum: float = param(0.01, lo=0.0, hi=1.0)  # PyTorch convention (= 1 - TF's 0.99)
    bn_eps: float = param(1e-3, gt=0.0, lt=1.0)
    backbone_drop_path_rate: float = param(0.2, lo=0.0, lt=1.0)
    backbone_indices: tuple[int, ...] = param((2, 3, 4), lo=0, hi=8)  # timm features at 8, 16, 32

    @property
    def num_levels(self) -> int:
        return self.max_level - self.min_level + 1

    @property
    def num_anchors(self) -> int:
        """Anchors per feature-map location (A)."""
        return self.num_scales * len(self.aspect_ratios)

    @property
    def stride_multiple(self) -> int:
        """Input sides must be multiples of this (2**max_level)."""
        return 2**self.max_level

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetConfig:
        """`to_dict` output (e.g. from a model file) -> DetConfig, types and bounds checked."""
        return load(cls, data, what="det_config")


def _pt(
    backbone: str, size: int, ch: int, fpn: int, head: int, drop: float = 0.2, **extra: Any
) -> dict:
    """A PyTorch-padding row (effdet's efficientdet_dN)."""
    return dict(
        backbone_name=backbone,
        image_size=(size, size),
        fpn_channels=ch,
        fpn_cell_repeats=fpn,
        box_class_repeats=head,
        pad_type="",
        redundant_bias=False,
        backbone_drop_path_rate=drop,
        **extra,
    )


def _tf(backbone: str, size: int, ch: int, fpn: int, head: int, **extra: Any) -> dict:
    """A TF-port row (effdet's tf_efficientdet_dN): "same" padding, redundant bias."""
    return dict(
        backbone_name=backbone,
        image_size=(size, size),
        fpn_channels=ch,
        fpn_cell_repeats=fpn,
        box_class_repeats=head,
        **extra,
    )


# name -> DetConfig fields. Paper Table 1: input 512..1536, BiFPN width 64..384, BiFPN repeats
# 3..8, head repeats 3,3,3,4,4,4,5 (D0..D7).
MODEL_TABLE: dict[str, dict[str, Any]] = {
    "efficientdet_d0": _pt("efficientnet_b0", 512, 64, 3, 3, drop=0.1),
    "efficientdet_d1": _pt("efficientnet_b1", 640, 88, 4, 3),
    "efficientdet_d2": _pt("efficientnet_b2", 768, 112, 5, 3),
    "efficientdet_d3": _pt("efficientnet_b3", 896, 160, 6, 4),
    # effdet defines d4/d5 without pad_type/redundant_bias overrides: "same" + redundant bias.
    "efficientdet_d4": _tf("efficientnet_b4", 1024, 224, 7, 4),
    "efficientdet_d5": _tf("efficientnet_b5", 1280, 288, 7, 4),
    "tf_efficientdet_d0": _tf("tf_efficientnet_b0", 512, 64, 3, 3),
    "tf_efficientdet_d1": _tf("tf_efficientnet_b1", 640, 88, 4, 3),
    "tf_efficientdet_d2": _tf("tf_efficientnet_b2", 768, 112, 5, 3),
    "tf_efficientdet_d3": _tf("tf_efficientnet_b3", 896, 160, 6, 4),
    "tf_efficientdet_d4": _tf("tf_efficientnet_b4", 1024, 224, 7, 4),
    "tf_efficientdet_d5": _tf("tf_efficientnet_b5", 1280, 288, 7, 4),
    # D6+: unweighted sum fusion "for training stability" (automl).
    "tf_efficientdet_d6": _tf("tf_efficientnet_b6", 1280, 384, 8, 5, fpn_weight_method="sum"),
    "tf_efficientdet_d7": _tf(
        "tf_efficientnet_b6", 1536, 384, 8, 5, fpn_weight_method="sum", anchor_scale=5.0
    ),
    "tf_efficientdet_d7x": _tf(
        "tf_efficientnet_b7", 1536, 384, 8, 5, fpn_weight_method="sum", max_level=8
    ),
    # Small variants (not in the paper) for fast CPU training and tests: narrow BiFPN, two
    # repeats, PyTorch padding, a light timm backbone.
    "efficientdet_tiny": _pt("tinynet_e", 256, 32, 2, 2, drop=0.0),
    "efficientdet_small": _pt("efficientnet_lite0", 384, 48, 2, 2, drop=0.0),
}

# Names that effdet 0.4.1 also defines (weights can be imported for these).
EFFDET_NAMES = tuple(
    n for n in MODEL_TABLE if n.startswith(("efficientdet_d", "tf_efficientdet_d"))
)


def list_models() -> list[str]:
    return list(MODEL_TABLE)


def get_config(
    name: str,
    num_classes: int = 90,
    image_size: int | tuple[int, int] | None = None,
    **overrides: Any,
) -> DetConfig:
    """The DetConfig of a registered variant, with `overrides` applied to its fields.

    `image_size` is an int (square) or (H, W); both sides must be multiples of 2**max_level.
    """
    if name not in MODEL_TABLE:
        raise SpecError(
            f"model={name!r}: unknown detector{did_you_mean(name, MODEL_TABLE)}; "
            f"known: {', '.join(MODEL_TABLE)}"
        )
    fixed = sorted(set(overrides) & set(FIXED_FIELDS))
    if fixed:
        raise SpecError(
            f"model_overrides: {', '.join(fixed)} cannot be overridden (the model "
            "name, the dataset's classes and the image_size option set them)"
        )
    overrides = coerce_fields(DetConfig, overrides, what="model_overrides")
    fields = dict(MODEL_TABLE[name], name=name, num_classes=num_classes, **overrides)
    if image_size is not None:
        fields["image_size"] = image_size_hw(image_size)
    config = DetConfig(**fields)
    validate_config(config)
    return config


def normalize_image_size(image_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """An int S or (H, W) -> (H, W) (core.spec.image_size_hw: the one image-size parser)."""
    return image_size_hw(image_size)


def validate_config(config: DetConfig) -> None:
    """Raise SpecError for settings the model cannot be built with."""
    if config.num_classes < 1:
        raise SpecError(f"num_classes must be >= 1, got {config.num_classes}")
    if config.min_level != 3:
        raise SpecError("min_level must be 3 (backbone features at strides 8, 16, 32)")
    if config.max_level < 5:
        raise SpecError(f"max_level must be >= 5, got {config.max_level}")
    multiple = config.stride_multiple
    if any(s <= 0 or s % multiple for s in config.image_size):
        height, width = config.image_size
        raise SpecError(
            f"image_size={width}x{height}: sides must be positive multiples of "
            f"{multiple} (2**max_level) for {config.name}"
        )
    if config.fpn_weight_method not in ("fastattn", "sum"):
        raise SpecError(
            f"fpn_weight_method must be 'fastattn' or 'sum', got {config.fpn_weight_method!r}"
        )
    if config.pad_type not in ("same", ""):
        raise SpecError(f"pad_type must be 'same' or '', got {config.pad_type!r}")


__all__ = [
    "DetConfig",
    "MODEL_TABLE",
    "EFFDET_NAMES",
    "get_config",
    "list_models",
    "normalize_image_size",
    "validate_config",
]
