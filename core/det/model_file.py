"""Model files: the one format of trained and imported detectors (save, load, rebuild).

A model checkpoint (kind "model", see core.checkpoint) holds:
  model: the EfficientDet state dict (EMA weights for a trained model),
  det_config: `DetConfig.to_dict()` (architecture and anchors),
  backbone: {"kind": "timm"} or {"kind": "nas", "spec": "nas:...", "genotype": {...}, "C": ...,
    "layers": ...} (a searched backbone is rebuilt from its genotype, so the file works without
    the search job),
  classes: class names (index i <-> label i), image_size: [H, W] it was trained at.
The `models` row points at such a file (core.references.resolve_model_row finds it). Training
(core.train.models), evaluation, prediction, export and `models import-effdet` all use this module.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from torch import nn

from core.checkpoint import load_checkpoint, load_weights, save_checkpoint
from core.det.config import DetConfig, validate_config
from core.det.model import build_detector
from core.errors import CheckpointError, SpecError
from core.nas.backbone import LEGACY_STEM, NasBackbone
from core.nas.genotypes import Genotype

TIMM_BACKBONE = {"kind": "timm"}


def nas_from_record(record: dict[str, Any]) -> nn.Module:
    """The searched-cell backbone a model file's backbone record describes (genotype, C, layers,
    stem; records without a stem are from before it could be chosen: the DARTS stem)."""
    return NasBackbone(
        Genotype.from_dict(record["genotype"]),
        C=int(record["C"]),
        layers=int(record["layers"]),
        stem=str(record.get("stem", LEGACY_STEM)),
    )


def save_model_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    classes: list[str],
    backbone: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a kind-"model" checkpoint of `model` (weights, DetConfig, backbone, classes)."""
    config = model.config
    payload = {
        "model": model.state_dict(),
        "det_config": config.to_dict(),
        "backbone": backbone or dict(TIMM_BACKBONE),
        "classes": list(classes),
        "image_size": list(config.image_size),
        **(extra or {}),
    }
    return save_checkpoint(path, payload, kind="model")


def build_from_checkpoint(
    state: dict[str, Any], source: str, image_size: tuple[int, int] | None = None
) -> nn.Module:
    """The detector stored in a model checkpoint dict, with its weights loaded.

    `image_size` changes the size the model is meant for (weights do not depend on it).
    """
    try:
        config = DetConfig.from_dict(state["det_config"])
    except (KeyError, TypeError, SpecError) as exc:
        raise CheckpointError(
            f"{source} has no usable detector config ({exc}); it was not "
            "written by NASDet Studio's trainer or importer"
        ) from exc
    if image_size is not None:
        config = dataclasses.replace(config, image_size=tuple(image_size))
        validate_config(config)  # SpecError: sides must be multiples of 2**max_level
    record = state.get("backbone") or TIMM_BACKBONE
    backbone = nas_from_record(record) if record.get("kind") == "nas" else None
    model = build_detector(config, backbone)
    load_weights(model, state["model"], source)
    return model


def load_model_file(
    path: str | os.PathLike, image_size: tuple[int, int] | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """(detector with weights, checkpoint dict without the weights) from a model checkpoint."""
    state = load_checkpoint(path, kind="model")
    model = build_from_checkpoint(state, str(path), image_size=image_size)
    meta = {k: v for k, v in state.items() if k != "model"}
    return model, meta
