"""Shared by the benchmark scripts: markdown tables, their own section of docs/BENCHMARKS.md,
running one job in the bench's process, --set options, and the Guided demo's presets and
dataset."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = REPO / "docs" / "BENCHMARKS.md"
PRESETS = REPO / "assets" / "presets.json"
DEMO_DATASET = "shapes-demo"
HEADER = "# Benchmarks\n\nEach section is written by the script named in it; rerun it to refresh.\n"


def machine() -> str:
    """One line naming where the numbers were measured."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch "
        f"threads, {gpu}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}"
    )


def table(headers: list[str], rows: list[list]) -> str:
    """A markdown table; floats get 4 significant digits."""
    fmt = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in fmt])


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between <!-- bench:NAME --> markers in BENCHMARKS.md."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else (text.rstrip() + "\n\n" + block + "\n")
    )
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS_MD.write_text(text)


def run_here(store, kind: str, spec: dict, device: str = "cpu") -> dict:
    """Submit a job and run it in this process (as the worker does); the finished row. Exits
    with the job's error when it did not succeed."""
    import os

    from core.engine.jobs import submit_job
    from core.engine.worker import run_job

    job_id = submit_job(store, kind, spec, device=device)
    job = store.claim_job(device, os.getpid())
    assert job is not None and job["id"] == job_id, "another job was queued in this home"
    run_job(store, job, device)
    job = store.get_job(job_id, reconcile=False)
    if job["status"] != "succeeded":
        raise SystemExit(f"{kind} job {job_id} {job['status']}: {job['error']}")
    return job


def command_line(script: str) -> str:
    """This run's command line, as a Repeat line quotes it: `script` is e.g. "bench/proxies.py"."""
    return f".venv/bin/python {script} " + shlex.join(sys.argv[1:])


def parse_sets(items: list[str]) -> dict:
    """--set KEY=VALUE options as {KEY: JSON value}: ["crops.fast=true"] -> {"crops.fast":
    True}; a value that is not JSON is a string (["warm_start=zero-cost"] -> {"warm_start":
    "zero-cost"})."""

    def value_of(text: str):
        try:
            return json.loads(text)
        except ValueError:
            return text

    return {key: value_of(value) for key, _, value in (item.partition("=") for item in items)}


def presets() -> dict:
    """assets/presets.json: the first-start dataset and the Guided demo presets."""
    return json.loads(PRESETS.read_text())


def ensure_demo_dataset(store) -> None:
    """The Guided demo's first-start dataset (shapes-demo), generated here if missing."""
    from core.errors import NotFoundError

    try:
        store.get_dataset(DEMO_DATASET)
    except NotFoundError:
        run_here(
            store, "dataset.generate", dict(presets()["first_start_dataset"], name=DEMO_DATASET)
        )


def hog(stop, parent: int) -> None:
    """Spin a pure Python loop (one core busy) until `stop` is set or the bench is gone."""
    x = 0
    while not stop.is_set() and os.getppid() == parent:
        for i in range(200_000):
            x += i * i


class Hogs:
    """`n` CPU-bound processes, started on enter and stopped on exit (errors and Ctrl-C too)."""

    def __init__(self, n: int):
        self.n = n
        self.stop = multiprocessing.Event()
        self.procs: list[multiprocessing.Process] = []

    def __enter__(self) -> Hogs:
        for _ in range(self.n):
            p = multiprocessing.Process(target=hog, args=(self.stop, os.getpid()), daemon=True)
            p.start()
            self.procs.append(p)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
                p.join(5)
