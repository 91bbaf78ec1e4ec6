"""Detectors for train jobs: a fresh one (timm or searched-cell backbone) or a stored model to
fine-tune. The model-file format itself (save/load/rebuild) is core.det.model_file; a `models`
row is found by core.references.resolve_model_row.
"""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

from core.checkpoint import load_checkpoint
from core.det import create_detector
from core.det.model_file import TIMM_BACKBONE, build_from_checkpoint, nas_from_record
from core.nas.backbone import DEFAULT_C, DEFAULT_LAYERS, DEFAULT_STEM
from core.nas.resolve import resolve_genotype
from core.references import resolve_model_row
from core.train.presets import BACKBONE_PREFIXES

log = logging.getLogger(__name__)


def nas_backbone(store, spec: str) -> tuple[nn.Module, dict[str, Any]]:
    """A searched-cell backbone for `nas:JOB_ID | nas:NAME | nas-arch:ID | nas-file:PATH` and the
    record that rebuilds it (genotype, width C, depth layers)."""
    genotype = resolve_genotype(store, spec)
    record = {
        "kind": "nas",
        "spec": spec,
        "genotype": genotype.to_dict(),
        "C": DEFAULT_C,
        "layers": DEFAULT_LAYERS,
        "stem": DEFAULT_STEM,
    }
    return nas_from_record(record), record


def create_for_training(
    store,
    model_name: str,
    num_classes: int,
    image_size: tuple[int, int] | None,
    backbone: str | None,
    pretrained_backbone: str | None,
    overrides: dict[str, Any] | None = None,
) -> tuple[nn.Module, dict]:
    """A fresh detector for a train job -> (model, backbone record for its checkpoint)."""
    record: dict[str, Any] = dict(TIMM_BACKBONE)
    module_or_name: Any = backbone
    if backbone and backbone.startswith(BACKBONE_PREFIXES):
        module_or_name, record = nas_backbone(store, backbone)
    if pretrained_backbone:
        pretrained_backbone = str(store.resolve_path(pretrained_backbone))
    model = create_detector(
        model_name,
        num_classes,
        image_size=image_size,
        backbone=module_or_name,
        pretrained_backbone=pretrained_backbone,
        overrides=overrides,
    )
    return model, record


def init_from_model(
    store, name_or_job: str, classes: list[str], image_size: tuple[int, int] | None
) -> tuple[nn.Module, dict[str, Any]]:
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
        log.info(
            "fine-tuning %s: new class head for %d classes (was %d)",
            row["name"],
            len(classes),
            len(state.get("classes") or []),
        )
    return model, dict(state.get("backbone") or TIMM_BACKBONE)
