"""Test-only task kinds: `test.count` counts steps with a checkpoint, so tests can kill, cancel and
resume it; `test.fill` writes a real checkpoint each step and, at step `fill_at`, one of `fill_mb`
MiB, so a small disk fills up (disk-full tests)."""

from __future__ import annotations

import errno
import json
import time

from core.engine.jobs import TaskDef
from core.errors import SpecError
from core.io import write_json_atomic


def validate(spec: dict) -> dict:
    steps = spec.get("steps", 5)
    if not isinstance(steps, int) or steps < 1:
        raise SpecError(f"steps must be a positive integer, got {steps!r}")
    return {
        "steps": steps,
        "sleep": float(spec.get("sleep", 0.0)),
        "fail_at": spec.get("fail_at"),
        "log_file": spec.get("log_file"),
    }


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
        write_json_atomic(reporter.checkpoint_path, {"next_step": step + 1})
    return {"resumed_from": start}


def validate_fill(spec: dict) -> dict:
    return {
        "steps": int(spec.get("steps", 3)),
        "fill_at": int(spec.get("fill_at", 1)),
        "fill_mb": float(spec.get("fill_mb", 16.0)),
        "junk": bool(spec.get("junk", False)),
    }


def _junk_until_full(path) -> None:
    """Fill the disk with a plain (non-atomic) file that stays behind, as another program would."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:  # what fits stays written
            if exc.errno != errno.ENOSPC:
                raise


def run_fill(spec: dict, reporter) -> dict:
    import torch

    from core.checkpoint import load_checkpoint, save_checkpoint

    start = 0
    if reporter.has_checkpoint():
        start = load_checkpoint(reporter.checkpoint_path, "test")["next_step"]
    for step in range(start, spec["steps"]):
        reporter.metric("filled", step, epoch=step)
        reporter.progress((step + 1) / spec["steps"], f"step {step + 1}/{spec['steps']}")
        payload = {"next_step": step + 1}
        if step == spec["fill_at"] and spec["junk"]:
            _junk_until_full(reporter.home / "junk.bin")
            continue  # the next step's store writes meet the full disk
        if step == spec["fill_at"]:
            payload["blob"] = torch.ones(int(spec["fill_mb"] * 2**20 / 4))
        save_checkpoint(reporter.checkpoint_path, payload, "test")
    return {"resumed_from": start}


COUNT = TaskDef(run=run, validate=validate)
FILL = TaskDef(run=run_fill, validate=validate_fill)
