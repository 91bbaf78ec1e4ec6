"""Pieces of the EfficientDet training recipe (Tan, Pang, Le, CVPR 2020, sec. 5.1; automl code),
used by core.train.trainer: the weights' exponential moving average, optimiser parameter groups,
the warm-up + cosine schedule, per-device precision, seeding, and small target/metric helpers.
"""

from __future__ import annotations

import copy
import json
import math
import random
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.checkpoint import load_weights
from core.errors import NasdetError
from core.io import write_json_atomic
from core.train.evaluate import SUMMARY_KEYS
from core.train.presets import TrainConfig

EPOCH_SEED_STRIDE = 1_000_003  # the sample order of epoch e comes from seed * stride + e


class NonFiniteLossError(NasdetError):
    """The training loss became NaN or infinite."""


class ModelEma:
    """Exponential moving average of a model's weights and buffers (TF ExponentialMovingAverage).

    decay_n = min(decay, (1 + n) / (10 + n)) after n updates: early on the average follows the
    model closely, later it settles at `decay` (0.9998 in automl).
    """

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = self.current_decay()
        ema, new = [], []
        # parameters and buffers, not state_dict(): the same tensors without building two
        # ordered dicts of a few thousand entries per step
        for e, m in zip(_tensors(self.module), _tensors(model)):
            if e.dtype.is_floating_point:
                ema.append(e)
                new.append(m.detach())
            else:
                e.copy_(m)
        torch._foreach_lerp_(ema, new, 1.0 - decay)  # ema += (new - ema) * (1 - decay)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        load_weights(self.module, state["module"], source)
        self.updates = int(state["updates"])


def _tensors(model: nn.Module) -> list[torch.Tensor]:
    return [*model.parameters(), *model.buffers()]


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv/linear weights (ndim >= 2) only; none on BN, biases, fusion weights."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(
    model: nn.Module, config: TrainConfig, lr_scale: float = 1.0
) -> torch.optim.Optimizer:
    """SGD or AdamW at config.effective_lr x lr_scale (data-parallel: the number of processes)."""
    groups = param_groups(model, config.weight_decay)
    lr = config.effective_lr * lr_scale
    # foreach: one multi-tensor kernel per update instead of a Python loop over the tensors
    # (torch enables it by default on CUDA only; on a CPU the loop is a visible share of a step)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr, foreach=True)
    return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, foreach=True)


class WarmupCosine:
    """lr multiplier at step s: linear warmup_factor -> 1 over warmup_steps, then cosine to 0 at
    total_steps. An object, not a closure: a job with a time budget moves `total_steps` when it
    re-plans its epochs, and LambdaLR's state_dict keeps the attributes of a callable object,
    so a resumed job goes on with the same schedule."""

    def __init__(self, warmup_steps: int, total_steps: int, warmup_factor: float):
        self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)
        self.warmup_factor = float(warmup_factor)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.warmup_factor + (1.0 - self.warmup_factor) * step / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass(frozen=True)
class Precision:
    """How steps run on a device: autocast dtype (None: fp32), GradScaler on, channels_last."""

    dtype: torch.dtype | None
    use_scaler: bool
    channels_last: bool

    @classmethod
    def for_device(cls, device: torch.device, amp: bool) -> Precision:
        """channels_last everywhere (oneDNN's NHWC depthwise/pointwise convolutions are faster
        on the CPU too); mixed precision on CUDA only."""
        if device.type != "cuda":
            return cls(None, False, True)
        if not amp:
            return cls(None, False, True)
        bf16 = torch.cuda.is_bf16_supported()
        return cls(torch.bfloat16 if bf16 else torch.float16, not bf16, True)

    def autocast(self, device: torch.device):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train_target(target: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """Boxes and labels for the loss, crowd boxes removed (they are for evaluation only)."""
    keep = ~target["iscrowd"] if "iscrowd" in target else slice(None)
    return {"boxes": target["boxes"][keep].to(device), "labels": target["labels"][keep].to(device)}


def summary(metrics: dict[str, Any] | None) -> dict[str, float]:
    """The headline numbers of an evaluation (COCO summary keys, and the chosen score threshold
    when one was chosen), as stored with a model and a job result."""
    if not metrics:
        return {}
    out = {k: float(metrics[k]) for k in SUMMARY_KEYS}
    if metrics.get("score_threshold") is not None:
        out["score_threshold"] = float(metrics["score_threshold"])
    return out


def write_json(path: Path, obj: Any) -> None:
    write_json_atomic(path, obj)


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
