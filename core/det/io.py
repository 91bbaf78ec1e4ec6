"""Detector files: one torch file with the DetConfig, the weights and the class names.

    save_detector(path, model, classes, extra={"backbone": "nas:12"})
    loaded = load_detector(path)   # LoadedDetector(model, classes, extra)

The file is read with `torch.load(weights_only=True)` (plain dicts, lists and tensors only). A
detector built on a custom backbone module (e.g. a NAS backbone) is rebuilt by passing that
module (`backbone=`) to `load_detector`; `extra` is free-form JSON-like data for the caller (e.g.
how to rebuild the backbone).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.det.config import DetConfig
from core.det.model import EfficientDet, build_detector
from core.errors import CheckpointError

FORMAT = "nasdet-detector"
VERSION = 1


@dataclass
class LoadedDetector:
    model: EfficientDet
    classes: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def detector_payload(model: EfficientDet, classes: list[str], extra: dict | None = None) -> dict:
    if len(classes) != model.config.num_classes:
        raise ValueError(f"{len(classes)} class names for a {model.config.num_classes}-class model")
    return {"format": FORMAT, "version": VERSION, "config": model.config.to_dict(),
            "state_dict": model.state_dict(), "classes": list(classes), "extra": extra or {}}


def save_detector(path: str | os.PathLike, model: EfficientDet, classes: list[str],
                  extra: dict | None = None) -> Path:
    """Write atomically (temp file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(detector_payload(model, classes, extra), tmp)
    os.replace(tmp, path)
    return path


def load_detector(path: str | os.PathLike, backbone: nn.Module | None = None,
                  map_location: str | torch.device = "cpu") -> LoadedDetector:
    """Rebuild a detector written by `save_detector` (CheckpointError if corrupt/mismatched)."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"detector file {path} does not exist") from exc
    except (OSError, RuntimeError, ValueError, EOFError) as exc:
        raise CheckpointError(f"detector file {path} is unreadable or corrupt: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a NASDet detector file (format {FORMAT!r})")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer NASDet Studio "
                              f"(version {payload['version']} > {VERSION})")
    config = DetConfig.from_dict(payload["config"])
    model = build_detector(config, backbone)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {path} do not match its config: {exc}") from exc
    return LoadedDetector(model, list(payload["classes"]), dict(payload.get("extra") or {}))
