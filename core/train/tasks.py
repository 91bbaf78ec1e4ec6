"""Task definitions of the `train` and `evaluate` job kinds (see core.engine.jobs.TASKS).

Validation runs at submit time in the CLI/GUI process, so only the light checks are imported
here (core.train.presets, core.train.resolve: no torch); the runs are named, and imported when a
worker runs the job: core.train.job.run_train, core.train.evaluate.evaluate_job.
"""

from __future__ import annotations

from core.engine.jobs import TaskDef, run_by_name
from core.train.presets import validate_evaluate_spec, validate_train_spec
from core.train.resolve import resolve_evaluate_spec, resolve_train_spec

TRAIN = TaskDef(
    run=run_by_name("core.train.job:run_train"),
    validate=validate_train_spec,
    resolve=resolve_train_spec,
)
EVALUATE = TaskDef(
    run=run_by_name("core.train.evaluate:evaluate_job"),
    validate=validate_evaluate_spec,
    resolve=resolve_evaluate_spec,
)
