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
(EMA weights, see core.det.model_file). A non-finite loss stops the job with the step and a hint,
leaving the last good checkpoint untouched.

Progress and time left cover the whole job, evaluations included (core.train.progress). Each
evaluation also chooses the model's default score threshold, the F1-best one on the val split
(core.train.threshold), stored in eval.json and with the model's metrics. After every epoch
runs/<id>/preview.json holds the current model's boxes on a few val images (core.train.preview).
The recipe's pieces (EMA, schedule, precision...) live in core.train.loop.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from core.checkpoint import load_checkpoint, load_weights, rng_state, save_checkpoint, set_rng_state
from core.data.dataset import DetectionDataset, collate, open_dataset
from core.det.bench import DetectionBench
from core.det.latency import detector_latency_ms
from core.det.model_file import save_model_checkpoint
from core.errors import CheckpointError, DatasetError, SpecError
from core.train.budget import FINISH_RESERVE_S, REGISTER_S, plan_steps
from core.train.distributed.ddp import SINGLE, DistContext
from core.train.evaluate import evaluate_coco, predict_dataset
from core.train.loop import (
    EPOCH_SEED_STRIDE,
    ModelEma,
    NonFiniteLossError,  # noqa: F401
    Precision,
    WarmupCosine,
    make_optimizer,
    read_json,
    seed_everything,
    summary,
    train_target,
    write_json,
)
from core.train.models import create_for_training, init_from_model
from core.train.presets import DEFAULT_MODEL, TrainConfig
from core.train.preview import PREVIEW_IMAGES, preview_doc, write_preview
from core.train.progress import TrainProgress, eval_epochs
from core.train.threshold import choose_threshold

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0
AfterEpoch = Callable[[int, "dict[str, Any] | None"], None]


# -- the run -------------------------------------------------------------------------------------
class Trainer:
    """One train job: data, model, optimiser, schedule, EMA; `fit()` runs it to the end."""

    def __init__(self, config: TrainConfig, reporter: Reporter, dist: DistContext = SINGLE):
        self.config, self.reporter, self.store = config, reporter, reporter.store
        self.started = time.monotonic()  # a time budget (`minutes`) counts from here
        self.elapsed_before = 0.0  # seconds of earlier attempts (a resumed job)
        self.dist = (
            dist  # data-parallel hooks (core.train.distributed.ddp); identities for one process
        )
        self.device = torch.device(reporter.device)
        self.precision = Precision.for_device(self.device, config.amp)
        self.run_dir = Path(reporter.run_dir)
        info = open_dataset(self.store, config.dataset)
        self.classes, self.val_json = list(info.classes), info.val_json
        if not self.classes:
            raise DatasetError(f"dataset {config.dataset!r} has no classes")
        seed_everything(config.seed)
        reporter.check_stop()  # the start-up's steps take seconds each on a busy machine
        model, self.backbone_record = self._build_model()
        reporter.check_stop()
        model = dist.prepare_model(model, config.sync_bn)  # SyncBatchNorm when N > 1
        if dist.distributed:
            seed_everything(dist.rank_seed(config.seed))  # the same model, rank's own draws
        self.image_size = tuple(model.config.image_size)
        multiple = model.config.stride_multiple
        self.train_set = DetectionDataset(
            self.store,
            config.dataset,
            "train",
            self.image_size,
            augment=config.augment,
            scale_range=config.scale_range,
            size_multiple=multiple,
        )
        self.val_set = DetectionDataset(
            self.store, config.dataset, "val", self.image_size, size_multiple=multiple
        )
        if len(self.train_set) == 0:
            raise DatasetError(f"dataset {config.dataset!r} has no training images")
        reporter.check_stop()
        if self.precision.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.bench = DetectionBench(model.to(self.device))
        self.loss_fn = dist.wrap_loss(self.bench)
        self.model = model
        self.ema = ModelEma(model, config.ema_decay) if config.ema_decay > 0 else None
        self.eval_bench = DetectionBench(self.ema.module) if self.ema else self.bench
        self.optimizer = make_optimizer(model, config, lr_scale=dist.world_size)
        self.steps_per_epoch = len(self._train_loader(0))
        self.epochs = config.epochs  # planned epochs: fewer when `minutes` ends the job first
        self.total_steps = self.steps_per_epoch * config.epochs
        warmup = min(round(config.warmup_epochs * self.steps_per_epoch), self.total_steps - 1)
        self.schedule = WarmupCosine(max(warmup, 0), self.total_steps, config.warmup_factor)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.schedule)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.use_scaler)
        self.epoch, self.global_step = 0, 0  # epochs completed, optimiser steps taken
        self.best: dict[str, Any] = {"AP": -1.0, "epoch": None}
        self.train_seconds = 0.0
        self.eval_plan = eval_epochs(config.epochs, config.eval_every, len(self.val_set) > 0)
        self.val_gt = read_json(Path(self.val_json)) if len(self.val_set) else None
        self.score_threshold: float | None = None  # the newest evaluation's F1-best threshold
        self.timing: TrainProgress | None = None  # set when fit() knows where it starts

    def _build_model(self) -> tuple[nn.Module, dict]:
        config = self.config
        if config.init:
            model, record = init_from_model(
                self.store, config.init, self.classes, config.image_size
            )
            if config.model and config.model != model.config.name:
                raise SpecError(
                    f"--model {config.model} differs from the --init model's architecture "
                    f"{model.config.name}; leave --model out when fine-tuning"
                )
            return model, record
        return create_for_training(
            self.store,
            config.model or DEFAULT_MODEL,
            len(self.classes),
            config.image_size,
            config.backbone,
            config.pretrained_backbone,
            config.model_overrides,
        )

    def _train_loader(self, epoch: int) -> DataLoader:
        """A fresh loader per epoch, its order from a generator seeded by (seed, epoch)."""
        seed = self.dist.rank_seed(self.config.seed)
        generator = torch.Generator().manual_seed((seed * EPOCH_SEED_STRIDE + epoch) % 2**64)
        sampler = self.dist.sampler(self.train_set, self.config.seed, epoch)  # this rank's shard
        batch = min(self.config.batch_size, len(sampler or self.train_set))
        return DataLoader(
            self.train_set,
            batch_size=batch,
            shuffle=sampler is None,
            sampler=sampler,
            drop_last=True,
            num_workers=self.config.workers,
            collate_fn=collate,
            generator=generator,
            pin_memory=self.device.type == "cuda",
        )

    def _val_loader(self) -> DataLoader:
        return DataLoader(
            self.val_set,
            batch_size=self.config.batch_size,
            shuffle=False,
            num_workers=self.config.workers,
            collate_fn=collate,
        )

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "best": dict(self.best),
            "train_seconds": self.train_seconds,
            "epochs": self.epochs,
            "total_steps": self.total_steps,
            "elapsed_s": self.elapsed_before + time.monotonic() - self.started,
            "rng": rng_state(),
            "spec": self.config.to_spec(),
        }

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        if state.get("spec") != self.config.to_spec():
            raise CheckpointError(
                f"{source} was written by a different training configuration; "
                "delete it to start this job over"
            )
        load_weights(self.model, state["model"], source)
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"], source)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(
                f"{source}: optimiser/scheduler state does not fit ({exc}); "
                "delete it to start this job over"
            ) from exc
        self.epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.best = dict(state["best"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        epochs = int(state.get("epochs", self.config.epochs))
        self._set_steps(int(state.get("total_steps", epochs * self.steps_per_epoch)))
        set_rng_state(state["rng"])

    def resume_if_possible(self) -> None:
        if self.reporter.has_checkpoint():
            path = self.reporter.checkpoint_path
            self.load_state_dict(load_checkpoint(path, kind="train"), str(path))
            self.score_threshold = self.best.get("score_threshold")
            self.reporter.info(
                f"resumed from {path.name} after epoch {self.epoch} (step {self.global_step})"
            )

    def _save_epoch(self, metrics: dict[str, Any] | None, predictions: list[dict] | None) -> None:
        """last.pt, best.pt (+ eval.json, predictions.json) if improved, then checkpoint.pt."""
        eval_model = self.ema.module if self.ema else self.model
        extra = {"epoch": self.epoch, "metrics": summary(metrics)}
        save_model_checkpoint(
            self.run_dir / "last.pt", eval_model, self.classes, self.backbone_record, extra
        )
        improved = metrics is not None and metrics["AP"] > self.best["AP"]
        if improved or (metrics is None and self.best["epoch"] is None):
            self.best = {
                "AP": metrics["AP"] if metrics else -1.0,
                "epoch": self.epoch,
                "score_threshold": (metrics or {}).get("score_threshold"),
            }
            save_model_checkpoint(
                self.run_dir / "best.pt", eval_model, self.classes, self.backbone_record, extra
            )
            if metrics is not None:
                write_json(self.run_dir / "eval.json", metrics)
                write_json(self.run_dir / "predictions.json", predictions)
        save_checkpoint(self.reporter.checkpoint_path, self.state_dict(), kind="train")

    # -- steps -------------------------------------------------------------------------------
    def train_step(self, images: torch.Tensor, targets: list[dict]) -> dict[str, float]:
        """One optimiser step; returns the loss parts and the lr used. Raises on NaN/inf."""
        images = images.to(self.device, non_blocking=True)
        if self.precision.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = [train_target(t, self.device) for t in targets]
        lr = self.optimizer.param_groups[0]["lr"]
        with self.precision.autocast(self.device):
            losses = self.loss_fn(images, targets)
        values = self.dist.mean(
            torch.stack([losses[k].detach().float() for k in ("loss", "class_loss", "box_loss")])
        )
        loss, class_loss, box_loss = values.tolist()  # one device sync per step
        if not math.isfinite(loss):
            self._diverged(loss, lr)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses["loss"]).backward()
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm, foreach=True)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.global_step += 1
        return {"loss": loss, "class_loss": class_loss, "box_loss": box_loss, "lr": lr}

    def _diverged(self, loss: float, lr: float) -> None:
        self.reporter.flush()
        kept = (
            f"the last good checkpoint (end of epoch {self.epoch}) is kept, and "
            f"`python -m core jobs resume {self.reporter.job_id}` continues from it"
            if self.reporter.has_checkpoint()
            else "no epoch had finished, so there is no checkpoint to resume from"
        )
        raise NonFiniteLossError(
            f"training diverged: the loss is {loss} at step {self.global_step + 1} (epoch "
            f"{self.epoch + 1}); {kept}. Try a lower learning rate (--lr, now {lr:.3g}), a "
            "longer warm-up, a larger batch" + (", or AMP off" if self.precision.dtype else "")
        )

    def train_epoch(self) -> float:
        """One pass over the training set; returns the mean loss. Checks cancel every step."""
        started, total, count = time.monotonic(), 0.0, 0
        last_progress = 0.0
        for index, (images, targets) in enumerate(self._train_loader(self.epoch)):
            if self.global_step >= self.total_steps or (index and self._out_of_time()):
                break  # a last epoch cut to the time budget
            self.reporter.check_stop()
            out = self.train_step(images, targets)
            self.timing.step()
            for key in ("loss", "class_loss", "box_loss", "lr"):
                self.reporter.metric(f"train/{key}", out[key], step=self.global_step)
            total, count = total + out["loss"], count + 1
            if time.monotonic() - last_progress > PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                self._progress(index + 1, out["loss"])
        self.train_seconds += time.monotonic() - started
        return total / max(count, 1)

    def _progress(self, step_in_epoch: int, loss: float) -> None:
        self._report(
            f"epoch {self.epoch + 1}/{self.epochs} step {step_in_epoch}/"
            f"{min(self.steps_per_epoch, self.total_steps - self.epoch * self.steps_per_epoch)}"
            f" loss {loss:.4f}"
        )

    def _out_of_time(self) -> bool:
        """With a time budget: True when what is left of it holds only the last evaluation and
        the finish, the job's steps then end here (a machine that got slower since the plan)."""
        left = self._budget_left()
        if left is None or left > self.timing.epoch_costs()[1] + FINISH_RESERVE_S:
            return False
        self._set_steps(self.global_step)
        return True

    def _report(self, message: str) -> None:
        """Progress of the whole job and its measured time left; a plan the time budget cut
        ends on the budget (less the reserve the finish leaves unused): the measured costs
        miss the per-epoch writes that a cut last epoch still pays."""
        left = self.timing.seconds_left()
        budget = self._budget_left()
        if left is not None and budget is not None:
            ends_on_budget = self.total_steps < self.config.epochs * self.steps_per_epoch
            on_budget = max(0.0, budget - FINISH_RESERVE_S + REGISTER_S)
            left = on_budget if ends_on_budget else min(left, on_budget)
        self.reporter.progress(
            self.timing.fraction(), message, remaining_s=left, measured=left is not None
        )

    def evaluate(self) -> tuple[dict[str, Any], list[dict]]:
        """COCO metrics of the EMA (or plain) model on the val split (with the F1-best score
        threshold as `score_threshold` and its precision/recall as `threshold`), and its
        predictions."""
        message = f"epoch {self.epoch + 1}/{self.epochs}: evaluating"
        self.timing.eval_started()
        last = [0.0]

        def on_batch(done: int, total: int) -> None:
            self.timing.eval_partial(done, total)
            if time.monotonic() - last[0] > PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                self._report(f"{message} ({done}/{total} batches)")

        self._report(message)
        predictions = self._predict(self._val_loader(), on_batch)
        metrics = evaluate_coco(self.val_json, predictions)
        choice = choose_threshold(self.val_gt, predictions)
        metrics.update(score_threshold=choice.threshold, threshold=choice.to_dict())
        self.score_threshold = choice.threshold
        self.timing.eval_done()
        return metrics, predictions

    def _predict(self, loader: DataLoader, on_batch=None, one_label: bool = False) -> list[dict]:
        """COCO-results predictions of the EMA (or plain) model (every class's own boxes, or
        one label per object as pictures show them); back to training mode after."""
        self.eval_bench.eval()
        with self.precision.autocast(self.device):
            predictions = predict_dataset(
                self.eval_bench,
                loader,
                self.device,
                should_stop=self.reporter.should_stop,
                progress=on_batch,
                one_label=one_label,
            )
        self.reporter.check_stop()
        self.bench.train()
        return predictions

    def _write_preview(self) -> None:
        """runs/<id>/preview.json: this epoch's boxes on the first val images, one label per
        object as every picture draws them (the evaluation's predictions keep every class's
        boxes, so they are not reused)."""
        records = self.val_set.records[:PREVIEW_IMAGES]
        if not records:
            return
        subset = Subset(self.val_set, range(len(records)))
        predictions = self._predict(
            DataLoader(subset, batch_size=len(records), collate_fn=collate), one_label=True
        )
        doc = preview_doc(records, predictions, self.epoch, self.epochs, self.score_threshold)
        self.reporter.artifact("preview", write_preview(self.run_dir, doc))

    # -- the whole run -----------------------------------------------------------------------
    def fit(self, after_epoch: AfterEpoch | None = None) -> dict[str, Any]:
        """Train to the last epoch (from the checkpoint when there is one); the job's result.
        `after_epoch(epoch, metrics)` runs on the main process after each saved epoch (metrics:
        that epoch's evaluation, or None); it may raise to end the run there (a detector
        search's pruner does), the epoch's checkpoint kept."""
        self.resume_if_possible()
        self.timing = TrainProgress(
            self.total_steps,
            self.steps_per_epoch,
            self.eval_plan,
            len(self.val_set),
            self.config.batch_size,
            self.global_step,
        )
        self.bench.train()
        while self.epoch < self.epochs:
            mean_loss = self.last_loss = self.train_epoch()
            self.reporter.metric("train/epoch_loss", mean_loss, epoch=self.epoch + 1)
            self.reporter.metric("train/seconds", self.train_seconds, epoch=self.epoch + 1)
            metrics, predictions = self._maybe_evaluate()
            self.epoch += 1
            if self.dist.is_main:  # rank 0 alone evaluates and writes; the others wait
                self._write_preview()
                self._log_epoch(metrics, mean_loss)
                self._save_epoch(metrics, predictions)
            self.dist.wait_for_main()
            if after_epoch is not None and self.dist.is_main:
                after_epoch(self.epoch, metrics)
            if self._budget_left() is not None:
                self._fit_budget(evaluated=metrics is not None)
        return self._finish() if self.dist.is_main else {}

    def _set_steps(self, steps: int) -> None:
        """Plan `steps` in all (a last epoch cut): the schedule's end, evaluations, ETA."""
        self.total_steps = self.schedule.total_steps = steps
        self.epochs = -(-steps // self.steps_per_epoch)
        self.eval_plan = eval_epochs(self.epochs, self.config.eval_every, len(self.val_set) > 0)
        if self.timing is not None:
            self.timing.replan(self.total_steps, self.eval_plan)

    def _budget_left(self) -> float | None:
        """Seconds left of the job's time budget: to `until` (wall clock), or of its `minutes`
        (this attempt's and the earlier ones'); None without a budget."""
        if self.config.until is not None:
            return self.config.until - time.time()
        if self.config.minutes is not None:
            elapsed = self.elapsed_before + time.monotonic() - self.started
            return 60.0 * self.config.minutes - elapsed
        return None

    def _fit_budget(self, evaluated: bool) -> None:
        """With a time budget: re-plan the steps that still fit (core.train.budget: whole epochs
        and a last one cut to the budget's end); when the job ends here and this epoch was not
        evaluated, evaluate it now (a model is registered from its best evaluated epoch)."""
        if self.global_step % self.steps_per_epoch:
            return  # a cut epoch was the last
        epoch_s, eval_s = self.timing.epoch_costs()
        planned = plan_steps(
            self.epoch,
            self.config.epochs,
            self.config.eval_every,
            self._budget_left(),
            epoch_s,
            eval_s,
            self.steps_per_epoch,
        )
        if planned == self.total_steps:
            return
        self._set_steps(planned)
        if planned == self.global_step and not evaluated and self.eval_plan and self.dist.is_main:
            metrics, predictions = self.evaluate()
            self._log_epoch(metrics, self.last_loss)
            self._save_epoch(metrics, predictions)

    def _maybe_evaluate(self) -> tuple[dict[str, Any] | None, list[dict] | None]:
        if self.epoch + 1 not in self.eval_plan or not self.dist.is_main:
            return None, None
        return self.evaluate()

    def _log_epoch(self, metrics: dict[str, Any] | None, mean_loss: float) -> None:
        text = f"epoch {self.epoch}/{self.epochs}: loss {mean_loss:.4f}"
        if metrics is not None:
            for key, value in summary(metrics).items():
                if value >= 0:  # -1: no object of that size in the split
                    self.reporter.metric(f"val/{key}", value, epoch=self.epoch)
            text += f", val AP {metrics['AP']:.4f} AP50 {metrics['AP50']:.4f}"
        self.reporter.info(text)
        self._report(text)

    def _finish(self) -> dict[str, Any]:
        """Register best.pt as model `job-<id>` (with its parameters and its latency at batch 1
        on this job's device, measured once here: core.det.latency) and return the job's
        result."""
        name = f"job-{self.reporter.job_id}"
        best_path = self.run_dir / "best.pt"
        best = summary(read_json(self.run_dir / "eval.json"))
        latency_ms = round(detector_latency_ms(self.model, self.device), 2)
        self.reporter.check_stop(fresh=True)  # the last moment a cancel registers no model
        self.store.add_model(
            name,
            "trained",
            best_path,
            self.classes,
            metrics=best,
            config={
                "det_config": self.model.config.to_dict(),
                "backbone": self.backbone_record,
                "train": self.config.to_spec(),
                "params": sum(p.numel() for p in self.model.parameters()),
                "latency": {
                    "ms": latency_ms,
                    "device": str(self.device),
                    "batch": 1,
                },
            },
            job_id=self.reporter.job_id,
            replace=True,
        )
        for kind, file in (
            ("checkpoint", "best.pt"),
            ("checkpoint", "last.pt"),
            ("evaluation", "eval.json"),
            ("predictions", "predictions.json"),
            ("config", "config.json"),
        ):
            if (self.run_dir / file).is_file():
                self.reporter.artifact(kind, self.run_dir / file)
        self.reporter.info(
            f"registered model {name} (best epoch {self.best['epoch']}, AP {self.best['AP']:.4f})"
        )
        return {
            "model": name,
            "best_epoch": self.best["epoch"],
            "epochs": self.epoch,
            "steps": self.global_step,
            "train_seconds": round(self.train_seconds, 1),
            "eval_seconds": round(self.timing.eval_seconds, 1),
            "world_size": self.dist.world_size,
            **best,
        }
