"""Trainings as a screen sees them while they run: the per-epoch preview (pictures with the
detector's boxes so far) and when it last changed, and the train settings on offer (presets,
detector configurations, published cells for a NAS backbone)."""

from __future__ import annotations

from pathlib import Path

from core.det.config import list_models
from core.engine.jobs import run_dir
from core.engine.store import Store
from core.nas.genotypes import PUBLISHED_GENOTYPES
from core.train.presets import DEFAULT_PRESET, PRESETS, TrainConfig
from core.train.preview import PREVIEW_FILE, load_preview

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "PUBLISHED_GENOTYPES",
    "TrainConfig",
    "list_models",
    "load_preview",
    "preview_stamp",
]


def preview_stamp(store: Store, train_id: int | None) -> float | None:
    """When a training's per-epoch preview file last changed (None before the first)."""
    if not train_id:
        return None
    try:
        return (Path(run_dir(store, train_id)) / PREVIEW_FILE).stat().st_mtime
    except OSError:
        return None
