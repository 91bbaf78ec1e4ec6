"""The `train` job: one process training (core.train.trainer.Trainer), or a torchrun launch of
several (core.train.distributed.launch); on a CPU with the threads the other processes leave
free (core.torch_util.threads_fitted)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from core.torch_util import threads_fitted
from core.train.distributed.ddp import SINGLE, DistContext
from core.train.distributed.launch import run_distributed
from core.train.loop import write_json
from core.train.presets import build_config
from core.train.trainer import Trainer

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter


def train_job(spec: dict, reporter: Reporter, dist: DistContext = SINGLE) -> dict[str, Any]:
    """The `train` task: build, resume if a checkpoint exists, train, evaluate, register
    (one rank of a data-parallel job when `dist` says so: core.train.rank_entry)."""
    config = build_config(spec)
    if dist.is_main:
        write_json(Path(reporter.run_dir) / "config.json", config.to_spec())
    trainer = Trainer(config, reporter, dist)
    reporter.info(
        f"training {trainer.model.config.name} on {config.dataset} "
        f"({len(trainer.train_set)} train / {len(trainer.val_set)} val images, "
        f"{len(trainer.classes)} classes) at {trainer.image_size[1]}x"
        f"{trainer.image_size[0]}, {config.epochs} epochs"
        + (f" (those that fit {config.minutes:g} min)" if config.minutes else "")
        + (
            f" (those that fit until {time.strftime('%H:%M:%S', time.localtime(config.until))})"
            if config.until
            else ""
        )
        + f" x {trainer.steps_per_epoch} steps, lr "
        f"{config.effective_lr * dist.world_size:.3g}, device {trainer.device}"
    )
    return trainer.fit()


def run_train(spec: dict, reporter: Reporter) -> dict[str, Any]:
    """The `train` job: train_job in this process, or a torchrun launch of nproc x nnodes ranks
    that each run it (core.train.distributed.launch)."""
    config = build_config(spec)
    if config.nproc * config.nnodes > 1:
        return run_distributed(config, reporter)
    most = torch.get_num_threads()
    with threads_fitted(reporter.device) as threads:
        if threads < most:
            reporter.info(
                f"{threads} of {most} CPU threads: the other cores are busy with other work"
            )
        return train_job(spec, reporter)
