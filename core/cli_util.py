"""Helpers shared by the CLI's verbs: submitting jobs, following them, printing tables.

Each package registers its own verbs (core/data/cli.py, core/nas/cli.py, core/train/cli.py,
core/det/cli.py) with a `register(subparsers)` function and uses `submit(args, kind, spec)`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Iterable

from core.engine.jobs import submit_job
from core.engine.store import FINISHED, Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_submit_options(parser: argparse.ArgumentParser) -> None:
    """--wait, --no-worker and --device, for every job-submitting verb."""
    parser.add_argument("--wait", action="store_true",
                        help="follow the job with a progress bar; exit 0 only if it succeeded")
    parser.add_argument("--no-worker", action="store_true",
                        help="only queue the job; do not start a background worker")
    parser.add_argument("--device", default="auto",
                        help="auto (cuda, then mps, then cpu), cpu, cuda:N or mps")


def store_from(args: argparse.Namespace) -> Store:
    return Store(getattr(args, "home", None))


def submit(args: argparse.Namespace, kind: str, spec: dict) -> int:
    """Validate and queue a job (SpecError propagates -> exit 2), start a worker, maybe wait."""
    store = store_from(args)
    job_id = submit_job(store, kind, spec, device=args.device)
    if not args.no_worker:
        from core.engine.worker import ensure_worker
        ensure_worker(store.home, args.device)
    if args.wait:
        code = wait_for_job(store, job_id)
        print(job_id)
        return code
    print(job_id)
    return EXIT_OK


def wait_for_job(store: Store, job_id: int, poll_s: float = 0.5, timeout_s: float | None = None,
                 out=sys.stderr) -> int:
    """Follow a job with a tqdm bar; 0 if it succeeded, else 1 with its error printed."""
    from tqdm import tqdm

    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with tqdm(total=100, desc=f"job {job_id}", unit="%", file=out,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as bar:
        while True:
            job = store.get_job(job_id)
            bar.n = round(100 * (job["progress"] or 0.0))
            bar.set_postfix_str(f"{job['status']} {job['message'] or ''}"[:80], refresh=True)
            if job["status"] in FINISHED + ("interrupted",):
                break
            if deadline is not None and time.monotonic() > deadline:
                print(f"job {job_id}: gave up waiting (still {job['status']})", file=out)
                return EXIT_FAILED
            time.sleep(poll_s)
    if job["status"] == "succeeded":
        return EXIT_OK
    print(f"job {job_id} {job['status']}: {job['error'] or 'no error recorded'}", file=out)
    return EXIT_FAILED


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def print_table(rows: Iterable[dict], columns: list[str]) -> None:
    """A plain aligned text table (no extra dependency)."""
    rows = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value > 1e9:  # a timestamp
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
        return f"{value:.3g}"
    return str(value)
