"""Trained-model files: build a detector for a train job, save/load it with its config and classes.

A model checkpoint (kind "model", see core.train.checkpoint) holds:
  model: the EfficientDet state dict (EMA weights for a trained model),
  det_config: `DetConfig.to_dict()` (architecture and anchors),
  backbone: {"kind": "timm"} or {"kind": "nas", "spec": "nas:...", "genotype": {...}} (a searched
    backbone is rebuilt from its genotype, so the file works without the search job),
  classes: class names (index i <-> label i), image_size: [H, W] it was trained at.
The `models` table row points at such a file; `job-<id>` names a train job's best model.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from torch import nn

from core.errors import CheckpointError, NotFoundError, SpecError
from core.train.checkpoint import load_checkpoint, load_weights, save_checkpoint
from core.train.presets import BACKBONE_PREFIXES

log = logging.getLogger(__name__)

TIMM_BACKBONE = {"kind": "timm"}


def resolve_model_row(store, name_or_job: str | int) -> dict:
    """The `models` row for a model name, `job-ID`, or a bare job id."""
    name = str(name_or_job).strip()
    try:
        return store.get_model(name)
    except NotFoundError:
        if name.isdigit():
            return store.get_model(f"job-{name}")
        raise


def nas_backbone(store, spec: str) -> tuple[nn.Module, dict[str, Any]]:
    """A searched-cell backbone for `nas:JOB_ID | nas:NAME | nas-arch:ID | nas-file:PATH` and the
    record that rebuilds it (genotype, width C, depth layers)."""
    try:
        from core.nas.backbone import DEFAULT_C, DEFAULT_LAYERS, NasBackbone
        from core.nas.resolve import resolve_genotype
    except ImportError as exc:
        raise SpecError(f"backbone {spec!r} needs core.nas.backbone, which is not available in "
                        f"this install ({exc})") from exc
    genotype = resolve_genotype(store, spec)
    record = {"kind": "nas", "spec": spec, "genotype": genotype.to_dict(), "C": DEFAULT_C,
              "layers": DEFAULT_LAYERS}
    return _nas_from_record(record), record


def _nas_from_record(record: dict[str, Any]) -> nn.Module:
    from core.nas.backbone import NasBackbone
    from core.nas.genotypes import Genotype

    return NasBackbone(Genotype.from_dict(record["genotype"]), C=int(record["C"]),
                       layers=int(record["layers"]))


def create_for_training(store, model_name: str, num_classes: int,
                        image_size: tuple[int, int] | None, backbone: str | None,
                        pretrained_backbone: str | None,
                        overrides: dict[str, Any] | None = None) -> tuple[nn.Module, dict]:
    """A fresh detector for a train job -> (model, backbone record for its checkpoint)."""
    from core.det import create_detector

    record: dict[str, Any] = dict(TIMM_BACKBONE)
    module_or_name: Any = backbone
    if backbone and backbone.startswith(BACKBONE_PREFIXES):
        module_or_name, record = nas_backbone(store, backbone)
    if pretrained_backbone:
        pretrained_backbone = str(store.resolve_path(pretrained_backbone))
    model = create_detector(model_name, num_classes, image_size=image_size,
                            backbone=module_or_name, pretrained_backbone=pretrained_backbone,
                            overrides=overrides)
    return model, record


def save_model_checkpoint(path: str | os.PathLike, model: nn.Module, classes: list[str],
                          backbone: dict[str, Any] | None = None,
                          extra: dict[str, Any] | None = None) -> Path:
    """Write a kind-"model" checkpoint of `model` (weights, DetConfig, backbone, classes)."""
    config = model.config
    payload = {"model": model.state_dict(), "det_config": config.to_dict(),
               "backbone": backbone or dict(TIMM_BACKBONE), "classes": list(classes),
               "image_size": list(config.image_size), **(extra or {})}
    return save_checkpoint(path, payload, kind="model")


def build_from_checkpoint(state: dict[str, Any], source: str,
                          image_size: tuple[int, int] | None = None) -> nn.Module:
    """The detector stored in a model checkpoint dict, with its weights loaded.

    `image_size` changes the size the model is meant for (weights do not depend on it).
    """
    from core.det.config import DetConfig, validate_config
    from core.det.model import build_detector

    try:
        config = DetConfig.from_dict(state["det_config"])
    except (KeyError, TypeError, SpecError) as exc:
        raise CheckpointError(f"{source} has no usable detector config ({exc}); it was not "
                              "written by NASDet Studio's trainer or importer") from exc
    if image_size is not None:
        config = dataclasses.replace(config, image_size=tuple(image_size))
        validate_config(config)  # SpecError: sides must be multiples of 2**max_level
    record = state.get("backbone") or TIMM_BACKBONE
    backbone = _nas_from_record(record) if record.get("kind") == "nas" else None
    model = build_detector(config, backbone)
    load_weights(model, state["model"], source)
    return model


def load_model_file(path: str | os.PathLike, image_size: tuple[int, int] | None = None
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """(detector with weights, checkpoint dict without the weights) from a model checkpoint."""
    state = load_checkpoint(path, kind="model")
    model = build_from_checkpoint(state, str(path), image_size=image_size)
    meta = {k: v for k, v in state.items() if k != "model"}
    return model, meta


def init_from_model(store, name_or_job: str, classes: list[str],
                    image_size: tuple[int, int] | None) -> tuple[nn.Module, dict[str, Any]]:
    """Fine-tuning start: a stored model's weights; a new class head if the classes differ.

    The head is kept when the class names are the same (in the same order); otherwise the
    class net is re-initialised for len(classes) outputs while backbone, BiFPN and box net keep
    their weights.
    """
    row = resolve_model_row(store, name_or_job)
    path = store.resolve_path(row["path"])
    state = load_checkpoint(path, kind="model")
    same = list(state.get("classes") or []) == list(classes)
    model = build_from_checkpoint(state, str(path), image_size=image_size)
    if not same:
        model.reset_class_head(len(classes))
        log.info("fine-tuning %s: new class head for %d classes (was %d)", row["name"],
                 len(classes), len(state.get("classes") or []))
    return model, dict(state.get("backbone") or TIMM_BACKBONE)
