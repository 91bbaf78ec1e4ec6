"""Task definitions of the `train` and `evaluate` job kinds (see core.engine.jobs.TASKS).

Validation runs at submit time in the CLI/GUI process, so only core.train.presets (no torch) is
imported here; the trainer and the evaluator are imported when a worker runs the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.engine.jobs import TaskDef
from core.train.presets import validate_evaluate_spec, validate_train_spec
from core.train.resolve import resolve_evaluate_spec, resolve_train_spec

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter


def run_train(spec: dict, reporter: Reporter) -> dict:
    from core.train.presets import build_config

    config = build_config(spec)
    if (
        config.nproc * config.nnodes > 1
    ):  # a torchrun launch of N processes (core.train.distributed.launch)
        from core.train.distributed.launch import run_distributed

        return run_distributed(config, reporter)
    from core.train.trainer import train_job

    return train_job(spec, reporter)


def run_evaluate(spec: dict, reporter: Reporter) -> dict:
    from core.train.evaluate import evaluate_job

    return evaluate_job(spec, reporter)


TRAIN = TaskDef(run=run_train, validate=validate_train_spec, resolve=resolve_train_spec)
EVALUATE = TaskDef(run=run_evaluate, validate=validate_evaluate_spec, resolve=resolve_evaluate_spec)
