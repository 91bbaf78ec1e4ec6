"""Checkpoint files: atomic writes, safe loading (weights_only); RNG states via core.torch_util.

A checkpoint is a dict saved with `torch.save` holding only tensors and plain Python values
(so `torch.load(..., weights_only=True)` can read it without running pickled code):
{"format": FORMAT, "version": VERSION, "kind": "train" | "model", ...payload}.
A "train" checkpoint carries everything exact resumption needs (model, EMA, optimiser,
scheduler, grad scaler, epoch/step counters and all RNG states); a "model" checkpoint
(best.pt / last.pt) carries the detector's weights, its build config and class names.
Every failure to read one raises CheckpointError naming the file and what to do.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import CheckpointError
from core.io import atomic_open
from core.torch_util import rng_state, set_rng_state  # noqa: F401 (the one RNG helper)

FORMAT = "nasdet-checkpoint"
VERSION = 1
MAX_LISTED_KEYS = 5


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any], kind: str) -> Path:
    """Write {"format", "version", "kind", **payload} to `path` atomically (core.io.atomic_open).

    On any error (DiskFullError for a full disk) the temp file is gone and the previous file at
    `path` is untouched.
    """
    path = Path(path)
    state = {"format": FORMAT, "version": VERSION, "kind": kind, **payload}
    with atomic_open(path) as f:
        torch.save(state, f)
    return path


def load_checkpoint(
    path: str | os.PathLike, kind: str | None = None, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` (weights_only=True: no code runs).

    Raises CheckpointError if the file is missing, truncated/corrupt, not ours, from a newer
    version, or of another `kind` than asked for.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; train a model first or pass "
            "the path of an existing .pt file"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not zipfile.is_zipfile(path):  # random bytes also fail as "unpickling"
            raise CheckpointError(
                f"checkpoint {path} is corrupt (not a torch.save file); "
                "delete it and resume from an earlier one or retrain"
            ) from exc
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain "
            "values, so it was refused (weights_only loading); only load "
            "files you trust, and re-save them as plain state dicts"
        ) from exc
    except Exception as exc:  # unpickling arbitrary bytes can raise nearly anything; report it
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); delete it and "
            "resume from an earlier one or retrain"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a NASDet Studio checkpoint (no {FORMAT!r} marker); "
            "effdet/timm weights are imported with `models import-effdet`"
        )
    if int(state.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"checkpoint {path} has version {state['version']}, newer than this "
            f"NASDet Studio ({VERSION}); upgrade to read it"
        )
    if kind is not None and state.get("kind") != kind:
        raise CheckpointError(
            f"checkpoint {path} is a {state.get('kind')!r} checkpoint, expected {kind!r}"
        )
    return state


def load_weights(module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """`module.load_state_dict(strict)` with a CheckpointError that lists what does not fit."""
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = [
            f"{label} ({len(items)}): {', '.join(items[:MAX_LISTED_KEYS])}"
            + (" ..." if len(items) > MAX_LISTED_KEYS else "")
            for label, items in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shape mismatch, file vs model", shapes),
            )
            if items
        ]
        raise CheckpointError(
            f"weights from {source} do not match the model: "
            + "; ".join(parts)
            + ". Build the model with the same name, "
            "backbone, image size and number of classes as the checkpoint"
        )
    module.load_state_dict(state_dict, strict=True)
