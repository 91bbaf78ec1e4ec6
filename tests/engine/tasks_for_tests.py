"""A test-only task kind: counts steps with a checkpoint, so tests can kill, cancel and resume it."""

from __future__ import annotations

import json
import os
import time

from core.engine.jobs import TaskDef
from core.errors import SpecError


def validate(spec: dict) -> dict:
    steps = spec.get("steps", 5)
    if not isinstance(steps, int) or steps < 1:
        raise SpecError(f"steps must be a positive integer, got {steps!r}")
    return {"steps": steps, "sleep": float(spec.get("sleep", 0.0)),
            "fail_at": spec.get("fail_at"), "log_file": spec.get("log_file")}


def run(spec: dict, reporter) -> dict:
    start = 0
    if reporter.has_checkpoint():
        start = json.loads(reporter.checkpoint_path.read_text())["next_step"]
    for step in range(start, spec["steps"]):
        if reporter.should_stop():
            return {"stopped_at": step}
        if spec["fail_at"] == step:
            raise RuntimeError(f"planned failure at step {step}")
        if spec["log_file"]:  # every executed step, for exactly-once checks
            with open(spec["log_file"], "a") as f:
                f.write(f"{reporter.job_id} {step}\n")
        time.sleep(spec["sleep"])
        reporter.metric("count", step, epoch=step)
        reporter.progress((step + 1) / spec["steps"], f"step {step + 1}/{spec['steps']}")
        tmp = reporter.checkpoint_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"next_step": step + 1}))
        os.replace(tmp, reporter.checkpoint_path)
    return {"resumed_from": start}


COUNT = TaskDef(run=run, validate=validate)
