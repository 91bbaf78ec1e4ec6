"""The EfficientDet training loop (job kind `train`).

Recipe of the paper (Tan, Pang, Le, CVPR 2020, sec. 5.1) and the official automl code: SGD with
momentum 0.9, learning rate 0.08 per 64 images, linear warm-up then cosine decay (per step),
weight decay on conv/linear weights only, gradient-norm clip 10, and an exponential moving
average of the weights (decay 0.9998, with TF's `num_updates` warm-up
min(decay, (1 + n) / (10 + n)) so that short runs still average over a sensible horizon);
the EMA weights are the ones evaluated and saved. Mixed precision (bf16, else fp16 with a
GradScaler) is used on CUDA only; channels_last memory layout on every device.

Checkpoints: runs/<id>/checkpoint.pt after every epoch (model, EMA, optimiser, scheduler, scaler,
counters, all RNG states) gives an exact resume: each epoch draws its sample order from a
generator seeded by (seed, epoch) and the global RNGs are restored, so an interrupted and resumed
run ends with the same weights as an uninterrupted one. best.pt / last.pt are model checkpoints
(EMA weights, see core.train.models). A non-finite loss stops the job with the step and a hint,
leaving the last good checkpoint untouched.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from core.errors import CheckpointError, DatasetError, NasdetError, SpecError
from core.train.checkpoint import (load_checkpoint, load_weights, rng_state, save_checkpoint,
                                   set_rng_state)
from core.train.evaluate import SUMMARY_KEYS, evaluate_coco, predict_dataset
from core.train.models import create_for_training, init_from_model, save_model_checkpoint
from core.train.presets import DEFAULT_MODEL, TrainConfig, build_config

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0
EPOCH_SEED_STRIDE = 1_000_003  # the sample order of epoch e comes from seed * stride + e


class NonFiniteLossError(NasdetError):
    """The training loss became NaN or infinite."""


# -- pieces of the recipe ------------------------------------------------------------------------
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
        for e, m in zip(self.module.state_dict().values(), model.state_dict().values()):
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


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv/linear weights (ndim >= 2) only; none on BN, biases, fusion weights."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.effective_lr)
    return torch.optim.SGD(groups, lr=config.effective_lr, momentum=config.momentum)


def warmup_cosine(warmup_steps: int, total_steps: int, warmup_factor: float):
    """lr multiplier at step s: linear warmup_factor -> 1 over warmup_steps, then cosine to 0."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return warmup_factor + (1.0 - warmup_factor) * step / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return factor


@dataclass(frozen=True)
class Precision:
    """How steps run on a device: autocast dtype (None: fp32), GradScaler on, channels_last."""

    dtype: torch.dtype | None
    use_scaler: bool
    channels_last: bool

    @classmethod
    def for_device(cls, device: torch.device, amp: bool) -> "Precision":
        """channels_last everywhere (oneDNN's NHWC depthwise/pointwise convs: quick-cpu steps
        ~20% faster on the CPU); mixed precision on CUDA only."""
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


# -- the run -------------------------------------------------------------------------------------
class Trainer:
    """One train job: data, model, optimiser, schedule, EMA; `fit()` runs it to the end."""

    def __init__(self, config: TrainConfig, reporter: "Reporter"):
        from core.data.dataset import DetectionDataset, open_dataset
        from core.det.bench import DetectionBench

        self.config, self.reporter, self.store = config, reporter, reporter.store
        self.device = torch.device(reporter.device)
        self.precision = Precision.for_device(self.device, config.amp)
        self.run_dir = Path(reporter.run_dir)
        info = open_dataset(self.store, config.dataset)
        self.classes, self.val_json = list(info.classes), info.val_json
        if not self.classes:
            raise DatasetError(f"dataset {config.dataset!r} has no classes")
        seed_everything(config.seed)
        model, self.backbone_record = self._build_model()
        self.image_size = tuple(model.config.image_size)
        multiple = model.config.stride_multiple
        self.train_set = DetectionDataset(self.store, config.dataset, "train", self.image_size,
                                          augment=config.augment, scale_range=config.scale_range,
                                          size_multiple=multiple)
        self.val_set = DetectionDataset(self.store, config.dataset, "val", self.image_size,
                                        size_multiple=multiple)
        if len(self.train_set) == 0:
            raise DatasetError(f"dataset {config.dataset!r} has no training images")
        if self.precision.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.bench = DetectionBench(model.to(self.device))
        self.model = model
        self.ema = ModelEma(model, config.ema_decay) if config.ema_decay > 0 else None
        self.eval_bench = DetectionBench(self.ema.module) if self.ema else self.bench
        self.optimizer = make_optimizer(model, config)
        self.steps_per_epoch = len(self._train_loader(0))
        self.total_steps = self.steps_per_epoch * config.epochs
        warmup = min(round(config.warmup_epochs * self.steps_per_epoch), self.total_steps - 1)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(max(warmup, 0), self.total_steps, config.warmup_factor))
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.use_scaler)
        self.epoch, self.global_step = 0, 0  # epochs completed, optimiser steps taken
        self.best: dict[str, Any] = {"AP": -1.0, "epoch": None}
        self.train_seconds = 0.0

    def _build_model(self) -> tuple[nn.Module, dict]:
        config = self.config
        if config.init:
            model, record = init_from_model(self.store, config.init, self.classes,
                                            config.image_size)
            if config.model and config.model != model.config.name:
                raise SpecError(
                    f"--model {config.model} differs from the --init model's architecture "
                    f"{model.config.name}; leave --model out when fine-tuning")
            return model, record
        return create_for_training(self.store, config.model or DEFAULT_MODEL, len(self.classes),
                                   config.image_size, config.backbone, config.pretrained_backbone,
                                   config.model_overrides)

    def _train_loader(self, epoch: int) -> DataLoader:
        """A fresh loader per epoch, its order from a generator seeded by (seed, epoch)."""
        from core.data.dataset import collate

        generator = torch.Generator().manual_seed(self.config.seed * EPOCH_SEED_STRIDE + epoch)
        batch = min(self.config.batch_size, len(self.train_set))
        return DataLoader(self.train_set, batch_size=batch, shuffle=True, drop_last=True,
                          num_workers=self.config.workers, collate_fn=collate,
                          generator=generator, pin_memory=self.device.type == "cuda")

    def _val_loader(self) -> DataLoader:
        from core.data.dataset import collate

        return DataLoader(self.val_set, batch_size=self.config.batch_size, shuffle=False,
                          num_workers=self.config.workers, collate_fn=collate)

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(),
                "ema": self.ema.state_dict() if self.ema else None,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "epoch": self.epoch,
                "global_step": self.global_step, "best": dict(self.best),
                "train_seconds": self.train_seconds, "rng": rng_state(),
                "spec": self.config.to_spec()}

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        if state.get("spec") != self.config.to_spec():
            raise CheckpointError(f"{source} was written by a different training configuration; "
                                  "delete it to start this job over")
        load_weights(self.model, state["model"], source)
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"], source)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{source}: optimiser/scheduler state does not fit ({exc}); "
                                  "delete it to start this job over") from exc
        self.epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.best = dict(state["best"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        set_rng_state(state["rng"])

    def resume_if_possible(self) -> None:
        if self.reporter.has_checkpoint():
            path = self.reporter.checkpoint_path
            self.load_state_dict(load_checkpoint(path, kind="train"), str(path))
            self.reporter.info(f"resumed from {path.name} after epoch {self.epoch} "
                               f"(step {self.global_step})")

    def _save_epoch(self, metrics: dict[str, Any] | None, predictions: list[dict] | None) -> None:
        """last.pt, best.pt (+ eval.json, predictions.json) if improved, then checkpoint.pt."""
        eval_model = self.ema.module if self.ema else self.model
        extra = {"epoch": self.epoch, "metrics": _summary(metrics)}
        save_model_checkpoint(self.run_dir / "last.pt", eval_model, self.classes,
                              self.backbone_record, extra)
        improved = metrics is not None and metrics["AP"] > self.best["AP"]
        if improved or (metrics is None and self.best["epoch"] is None):
            self.best = {"AP": metrics["AP"] if metrics else -1.0, "epoch": self.epoch}
            save_model_checkpoint(self.run_dir / "best.pt", eval_model, self.classes,
                                  self.backbone_record, extra)
            if metrics is not None:
                _write_json(self.run_dir / "eval.json", metrics)
                _write_json(self.run_dir / "predictions.json", predictions)
        save_checkpoint(self.reporter.checkpoint_path, self.state_dict(), kind="train")

    # -- steps -------------------------------------------------------------------------------
    def train_step(self, images: torch.Tensor, targets: list[dict]) -> dict[str, float]:
        """One optimiser step; returns the loss parts and the lr used. Raises on NaN/inf."""
        images = images.to(self.device, non_blocking=True)
        if self.precision.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = [_train_target(t, self.device) for t in targets]
        lr = self.optimizer.param_groups[0]["lr"]
        with self.precision.autocast(self.device):
            losses = self.bench.loss(images, targets)
        values = torch.stack([losses[k].detach().float() for k in ("loss", "class_loss",
                                                                    "box_loss")])
        loss, class_loss, box_loss = values.tolist()  # one device sync per step
        if not math.isfinite(loss):
            self._diverged(loss, lr)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses["loss"]).backward()
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.global_step += 1
        return {"loss": loss, "class_loss": class_loss, "box_loss": box_loss, "lr": lr}

    def _diverged(self, loss: float, lr: float) -> None:
        self.reporter.flush()
        kept = (f"the last good checkpoint (end of epoch {self.epoch}) is kept, and "
                f"`python -m core jobs resume {self.reporter.job_id}` continues from it"
                if self.reporter.has_checkpoint() else "no epoch had finished, so there is no "
                "checkpoint to resume from")
        raise NonFiniteLossError(
            f"training diverged: the loss is {loss} at step {self.global_step + 1} (epoch "
            f"{self.epoch + 1}); {kept}. Try a lower learning rate (--lr, now {lr:.3g}), a "
            "longer warm-up, a larger batch" + (", or AMP off" if self.precision.dtype else ""))

    def train_epoch(self) -> float:
        """One pass over the training set; returns the mean loss. Checks cancel every step."""
        started, total, count = time.monotonic(), 0.0, 0
        last_progress = 0.0
        for index, (images, targets) in enumerate(self._train_loader(self.epoch)):
            self.reporter.check_stop()
            out = self.train_step(images, targets)
            for key in ("loss", "class_loss", "box_loss", "lr"):
                self.reporter.metric(f"train/{key}", out[key], step=self.global_step)
            total, count = total + out["loss"], count + 1
            if time.monotonic() - last_progress > PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                self._progress(index + 1, out["loss"])
        self.train_seconds += time.monotonic() - started
        return total / max(count, 1)

    def _progress(self, step_in_epoch: int, loss: float) -> None:
        message = (f"epoch {self.epoch + 1}/{self.config.epochs} step {step_in_epoch}/"
                   f"{self.steps_per_epoch} loss {loss:.4f}")
        self.reporter.progress(self.global_step / self.total_steps, message)

    def evaluate(self) -> tuple[dict[str, Any], list[dict]]:
        """COCO metrics of the EMA (or plain) model on the val split, and its predictions."""
        self.eval_bench.eval()
        with self.precision.autocast(self.device):
            predictions = predict_dataset(self.eval_bench, self._val_loader(), self.device,
                                          should_stop=self.reporter.should_stop)
        self.reporter.check_stop()
        self.bench.train()
        return evaluate_coco(self.val_json, predictions), predictions

    # -- the whole run -----------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        self.resume_if_possible()
        self.bench.train()
        while self.epoch < self.config.epochs:
            mean_loss = self.train_epoch()
            self.reporter.metric("train/epoch_loss", mean_loss, epoch=self.epoch + 1)
            self.reporter.metric("train/seconds", self.train_seconds, epoch=self.epoch + 1)
            metrics, predictions = self._maybe_evaluate()
            self.epoch += 1
            self._log_epoch(metrics, mean_loss)
            self._save_epoch(metrics, predictions)
        return self._finish()

    def _maybe_evaluate(self) -> tuple[dict[str, Any] | None, list[dict] | None]:
        last = self.epoch + 1 == self.config.epochs
        if len(self.val_set) == 0 or not (last or (self.epoch + 1) % self.config.eval_every == 0):
            return None, None
        self.reporter.progress(self.global_step / self.total_steps,
                               f"epoch {self.epoch + 1}/{self.config.epochs}: evaluating")
        return self.evaluate()

    def _log_epoch(self, metrics: dict[str, Any] | None, mean_loss: float) -> None:
        text = f"epoch {self.epoch}/{self.config.epochs}: loss {mean_loss:.4f}"
        if metrics is not None:
            for key, value in _summary(metrics).items():
                if value >= 0:  # -1: no object of that size in the split
                    self.reporter.metric(f"val/{key}", value, epoch=self.epoch)
            text += f", val AP {metrics['AP']:.4f} AP50 {metrics['AP50']:.4f}"
        self.reporter.info(text)
        self.reporter.progress(self.global_step / self.total_steps, text)

    def _finish(self) -> dict[str, Any]:
        """Register best.pt as model `job-<id>` and return the job's result."""
        name = f"job-{self.reporter.job_id}"
        best_path = self.run_dir / "best.pt"
        metrics = _read_json(self.run_dir / "eval.json")
        summary = _summary(metrics)
        self.store.add_model(name, "trained", best_path, self.classes, metrics=summary,
                             config={"det_config": self.model.config.to_dict(),
                                     "backbone": self.backbone_record,
                                     "train": self.config.to_spec()},
                             job_id=self.reporter.job_id, replace=True)
        for kind, file in (("checkpoint", "best.pt"), ("checkpoint", "last.pt"),
                           ("evaluation", "eval.json"), ("predictions", "predictions.json"),
                           ("config", "config.json")):
            if (self.run_dir / file).is_file():
                self.reporter.artifact(kind, self.run_dir / file)
        self.reporter.info(f"registered model {name} (best epoch {self.best['epoch']}, "
                           f"AP {self.best['AP']:.4f})")
        return {"model": name, "best_epoch": self.best["epoch"], "epochs": self.epoch,
                "steps": self.global_step, "train_seconds": round(self.train_seconds, 1),
                **summary}


def _train_target(target: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """Boxes and labels for the loss, crowd boxes removed (they are for evaluation only)."""
    keep = ~target["iscrowd"] if "iscrowd" in target else slice(None)
    return {"boxes": target["boxes"][keep].to(device), "labels": target["labels"][keep].to(device)}


def _summary(metrics: dict[str, Any] | None) -> dict[str, float]:
    return {k: float(metrics[k]) for k in SUMMARY_KEYS} if metrics else {}


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def train_job(spec: dict, reporter: "Reporter") -> dict[str, Any]:
    """The `train` task: build, resume if a checkpoint exists, train, evaluate, register."""
    config = build_config(spec)
    _write_json(Path(reporter.run_dir) / "config.json", config.to_spec())
    trainer = Trainer(config, reporter)
    reporter.info(f"training {trainer.model.config.name} on {config.dataset} "
                  f"({len(trainer.train_set)} train / {len(trainer.val_set)} val images, "
                  f"{len(trainer.classes)} classes) at {trainer.image_size[1]}x"
                  f"{trainer.image_size[0]}, {config.epochs} epochs x {trainer.steps_per_epoch} "
                  f"steps, lr {config.effective_lr:.3g}, device {trainer.device}")
    return trainer.fit()
