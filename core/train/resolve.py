"""TaskDef.resolve of `train` and `evaluate`: references resolved and the memory estimate
checked at submit (core.engine.jobs.submit_job), so a job that cannot run is never queued."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.det.config import DetConfig
from core.references import check_checkpoint_file, check_dataset, check_model, check_nas_backbone
from core.train.presets import BACKBONE_PREFIXES, build_config, det_config
from core.train.resources import check_fits, estimate_train_memory, resolve_device_cheaply


def resolve_train_spec(spec: dict, store, device: str) -> None:
    """TaskDef.resolve of `train`: references exist and are valid; the job fits its device
    (unless force)."""
    config = build_config(spec)
    dataset = check_dataset(store, config.dataset, "train")
    init_row = check_model(store, config.init, "train", "init") if config.init else None
    backbone = config.backbone or ""
    if backbone.startswith(BACKBONE_PREFIXES):
        check_nas_backbone(store, backbone, f"train: backbone={backbone!r}")
    if config.pretrained_backbone:
        check_checkpoint_file(
            store.resolve_path(config.pretrained_backbone),
            f"train: pretrained_backbone={config.pretrained_backbone!r}",
        )
    if not config.force:
        check_train_memory(config, dataset, init_row, device)


def check_train_memory(config: Any, dataset: dict, init_row: dict | None, device: str) -> None:
    """The D-table memory estimate of one train step against the device's memory."""
    if init_row is not None:
        stored = init_row.get("config")
        if not isinstance(stored, dict):
            return  # an imported model without a stored config: estimated when it loads
        det = DetConfig.from_dict(stored)
        if config.image_size is not None:
            det = dataclasses.replace(det, image_size=tuple(config.image_size))
    else:
        det = det_config(config, num_classes=max(1, len(dataset.get("classes") or [])))
    device = resolve_device_cheaply(device)
    gpu = device.startswith("cuda")
    estimate = estimate_train_memory(
        det,
        config.batch_size,
        nas_backbone=(config.backbone or "").startswith(BACKBONE_PREFIXES),
        amp_on_gpu=gpu and config.amp,
    )
    if not gpu:  # every process of a CPU run holds its own batch in the same RAM
        estimate = dataclasses.replace(
            estimate,
            activations=estimate.activations * config.nproc,
            weights=estimate.weights * config.nproc,
        )
    height, width = det.image_size
    check_fits(
        estimate,
        device,
        "train",
        f"{det.name} at {width}x{height}, batch "
        f"{config.batch_size}"
        + (f" x {config.nproc} processes" if config.nproc > 1 and not gpu else ""),
    )


def resolve_evaluate_spec(spec: dict, store, device: str) -> None:
    """TaskDef.resolve of `evaluate`: the dataset and the model exist."""
    check_dataset(store, spec["dataset"], "evaluate")
    check_model(store, spec["model"], "evaluate")
