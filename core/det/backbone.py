"""Backbones for EfficientDet: timm `features_only` models or any module with `feature_info`.

A backbone maps images [B, 3, H, W] to a list of 3 feature maps at strides 8, 16, 32 (C3, C4,
C5). It is either a timm model name (created with `features_only=True`, `pretrained=False`:
nothing is ever downloaded; ImageNet weights come from a file via `load_backbone_weights`) or an
`nn.Module` whose `feature_info` is a timm FeatureInfo or a list of dicts {"num_chs",
"reduction"} (e.g. `core.nas.backbone.NasBackbone`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import timm
import torch
from torch import nn

from core.errors import CheckpointError, SpecError

log = logging.getLogger(__name__)

REQUIRED_REDUCTIONS = (8, 16, 32)


def feature_dicts(module: nn.Module) -> list[dict[str, int]]:
    """The module's feature_info as a list of {"num_chs", "reduction"} dicts."""
    info = getattr(module, "feature_info", None)
    if info is None:
        raise SpecError(
            f"backbone {type(module).__name__} has no feature_info; give it a list of "
            "dicts {'num_chs': int, 'reduction': int} for strides 8, 16, 32"
        )
    if hasattr(info, "get_dicts"):
        info = info.get_dicts(keys=["num_chs", "reduction"])
    elif callable(info):
        info = info()
    try:
        return [{"num_chs": int(d["num_chs"]), "reduction": int(d["reduction"])} for d in info]
    except (KeyError, TypeError) as exc:
        raise SpecError(
            f"backbone feature_info must be dicts with num_chs and reduction: {exc}"
        ) from exc


def check_strides(info: list[dict[str, int]], name: str) -> list[int]:
    """Channels of the three maps; SpecError unless the reductions are exactly 8, 16, 32."""
    reductions = tuple(d["reduction"] for d in info)
    if reductions != REQUIRED_REDUCTIONS:
        raise SpecError(
            f"backbone {name} gives feature maps at strides {list(reductions)}; "
            f"EfficientDet needs exactly {list(REQUIRED_REDUCTIONS)}"
        )
    return [d["num_chs"] for d in info]


def create_timm_backbone(
    name: str, out_indices: tuple[int, ...], drop_path_rate: float
) -> tuple[nn.Module, list[int]]:
    """A timm features_only model at strides 8/16/32 (other indices are searched if needed)."""
    kwargs: dict[str, Any] = {"drop_path_rate": drop_path_rate} if drop_path_rate else {}
    try:
        model = _timm_features(name, out_indices, kwargs)
        info = feature_dicts(model)
        if tuple(d["reduction"] for d in info) != REQUIRED_REDUCTIONS:
            model = _timm_features(name, _indices_for_strides(name, kwargs), kwargs)
            info = feature_dicts(model)
    except RuntimeError as exc:  # timm: unknown model / no features_only support
        raise SpecError(f"cannot create timm backbone {name!r}: {exc}") from exc
    return model, check_strides(info, name)


def _timm_features(name: str, out_indices: tuple[int, ...], kwargs: dict) -> nn.Module:
    if not timm.is_model(name):
        raise SpecError(f"unknown timm backbone {name!r} (see timm.list_models())")
    try:
        return timm.create_model(
            name, pretrained=False, features_only=True, out_indices=out_indices, **kwargs
        )
    except TypeError:  # model does not take drop_path_rate
        return timm.create_model(
            name, pretrained=False, features_only=True, out_indices=out_indices
        )


def _indices_for_strides(name: str, kwargs: dict) -> tuple[int, ...]:
    with torch.device("meta"):
        probe = _timm_features(name, tuple(range(5)), kwargs)
    info = feature_dicts(probe)
    by_reduction = {d["reduction"]: i for i, d in enumerate(info)}
    missing = [r for r in REQUIRED_REDUCTIONS if r not in by_reduction]
    if missing:
        raise SpecError(
            f"timm backbone {name!r} has no feature maps at strides {missing}; "
            f"its strides are {[d['reduction'] for d in info]}"
        )
    return tuple(by_reduction[r] for r in REQUIRED_REDUCTIONS)


def load_backbone_weights(backbone: nn.Module, path: str | os.PathLike) -> None:
    """Load ImageNet weights (a timm/torchvision state dict file) into a features_only backbone.

    Classifier keys are ignored; any backbone weight missing from the file is an error.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"cannot read backbone weights {path}: {exc}") from exc
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = backbone.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        raise CheckpointError(
            f"backbone weights in {path} do not fit this backbone: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(wrong)} of another shape (e.g. {wrong[:3]}); "
            "give the ImageNet checkpoint of the same timm model"
        )
    backbone.load_state_dict({k: state[k] for k in own})
    log.info("loaded backbone weights from %s", path)
