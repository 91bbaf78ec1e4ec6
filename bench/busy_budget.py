"""Search time budgets under load: does `search --minutes M` end within M + 10 % + 10 s while two
CPU-bound processes run beside it?

Run: `.venv/bin/python bench/busy_budget.py [--minutes 1,2] [--strategies darts,evolution,
random,zero-cost,detector] [--hogs 2] [--images 200] [--home DIR] [--no-write]`.
In a temporary home (or --home) it generates a small shapes dataset, starts one worker
(`python -m core worker --device cpu`) and `--hogs` processes that spin pure Python loops, then
submits each strategy x minutes through the CLI (`search ... --wait`), one after the other; the
strategy `detector` is the detector search (`search --level detector`, its default space; `--set`
options go to the cell searches only). The
wall time of a run is its job row's finished_at - started_at (claim to finish) and, beside it,
the CLI's own wall time (submit to exit). The hogs and the worker are stopped at the end, on
Ctrl-C too. The table is printed and appended to the section "Search time budgets under load"
of docs/BENCHMARKS.md with the date, the machine, the load seen before and after, and the command.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    REPO,
    Hogs,
    command_line,
    machine,
    run_here,
    table,
    write_section,
)
from core.engine.store import Store  # noqa: E402
from core.nas.detector.results import trials  # noqa: E402

DATASET = "shapes-busy"
SECTION = "busy_budget"
TITLE = "## Search time budgets under load"
OVER_SHARE, OVER_S = 0.10, 10.0  # the bound: M minutes + 10 % + 10 s
DETECTOR = "detector"  # the --strategies entry that runs `search --level detector`
WORKER_START_S = 300.0  # the worker registers itself within this (imports on a busy machine)
HEADERS = [
    "level",
    "strategy",
    "M",
    "bound s",
    "job s",
    "CLI s",
    "over/under s (job / CLI)",
    "status",
    "phases planned",
    "cells trained",
]


class Worker:
    """`python -m core worker --device cpu` on the home, stopped (SIGTERM) on exit."""

    def __init__(self, home: Path):
        self.home = home
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Worker:
        log = open(self.home / "bench-worker.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core", "--home", str(self.home), "worker", "--device", "cpu"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        store, deadline = Store(self.home), time.monotonic() + WORKER_START_S
        while not any(w["pid"] == self.proc.pid for w in store.live_workers()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start; see {self.home}/bench-worker.log")
            time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load_line() -> str:
    """The load average and the busiest processes that are not this bench's: who else ran."""
    one, five, fifteen = os.getloadavg()
    mine = {os.getpid(), *(c.pid for c in multiprocessing.active_children())}
    out = subprocess.run(
        ["ps", "-eo", "pid,ppid,pcpu,args", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    others = []
    for line in out:
        pid, ppid, pcpu, args = line.split(None, 3)
        if int(pid) in mine or int(ppid) in mine or float(pcpu) < 10 or args.startswith("ps "):
            continue
        others.append(f"{args[:60]} ({pcpu} % CPU)")
    text = f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"
    return text + ("; others busy: " + "; ".join(others[:4]) if others else "; nothing else busy")


def level_of(strategy: str) -> str:
    return DETECTOR if strategy == DETECTOR else "cell"


def search_cli(
    home: Path, strategy: str, minutes: float, extra: list[str]
) -> tuple[int | None, float, str]:
    """Submit one search through the CLI and follow it; (job id, CLI wall s, CLI output tail)."""
    cmd = [sys.executable, "-m", "core", "--home", str(home), "search", "--dataset", DATASET]
    cmd += ["--minutes", f"{minutes:g}", "--device", "cpu"]
    if strategy == DETECTOR:
        cmd += ["--level", DETECTOR]
    else:
        cmd += ["--strategy", strategy, *extra]
    cmd += ["--wait", "--no-worker"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    ids = [int(x) for x in proc.stdout.split() if x.isdigit()]
    return (ids[-1] if ids else None), wall, "\n".join(lines[-3:])


def planned_phases(store: Store, job_id: int) -> str:
    """The plan the job logged after measuring ('search 36s, report 14s (...)', or why it was
    too short) and how many times it re-planned."""
    messages = [e["message"] for e in store.events(job_id)]
    texts = [m for m in messages if m.startswith(("plan:", "too short:"))]
    if not texts:
        return "-"
    text = re.sub(r", within [^;]*", "", texts[0].removeprefix("plan: "))
    replans = sum(m.startswith("plan:") and "re-planned" in m for m in messages)
    return text + (f"; re-planned {replans}x" if replans else "")


def cells_trained(store: Store, job_id: int) -> str:
    """Networks trained in the search (candidates, top cells) + in the report; darts/enas:
    supernet epochs; zero-cost: cells scored too; the detector search: its trials by state."""
    if store.get_job(job_id)["kind"] == "search.detector":
        states = [row["state"] for row in trials(store, job_id)]
        counts = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
        return f"{len(states)} trials" + (f" ({counts})" if counts else "")
    rows = store.architectures(job_id)
    kinds = [r["extra"].get("kind") for r in rows]
    report = kinds.count("final")
    trained = kinds.count("sampled") + kinds.count("trained")
    parts = [f"{trained} + {report} in the report"]
    if "derived" in kinds:
        parts = [f"{kinds.count('derived')} epochs; {report} in the report"]
    if "candidate" in kinds:
        parts.append(f"{kinds.count('candidate')} scored")
    return ", ".join(parts)


def run_one(home: Path, strategy: str, minutes: float, extra: list[str]) -> list:
    bound = 60 * minutes * (1 + OVER_SHARE) + OVER_S
    level = level_of(strategy)
    job_id, cli_s, tail = search_cli(home, strategy, minutes, extra)
    if job_id is None:
        print(f"{strategy} {minutes:g} min: no job ({tail})", flush=True)
        shown = strategy if level == "cell" else "-"
        return [level, shown, minutes, bound, "-", cli_s, "-", "refused", tail[-80:], "-"]
    store = Store(home)
    job = store.get_job(job_id)
    job_s = (job["finished_at"] or time.time()) - job["started_at"]
    status = job["status"] if job["status"] != "failed" else f"failed: {job['error'][:90]}"
    row = [
        level,
        strategy if level == "cell" else "-",
        minutes,
        bound,
        job_s,
        cli_s,
        f"{job_s - bound:+.1f} / {cli_s - bound:+.1f}",
        status,
        planned_phases(store, job_id),
        cells_trained(store, job_id),
    ]
    print(" | ".join(str(v) if not isinstance(v, float) else f"{v:.1f}" for v in row), flush=True)
    return row


def publish(rows: list[list], args, before: str, during: list[str], after: str) -> None:
    """Append this run (date, machine, load, command, table) to the section after its earlier
    runs (each starts with '### ')."""
    from bench.common import BENCHMARKS_MD

    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else ""
    found = re.search(rf"<!-- bench:{SECTION} -->\n(.*?)\n<!-- /bench:{SECTION} -->", text, re.S)
    old = found.group(1).strip() if found else ""
    intro = (
        f"{TITLE}\n\nWritten by bench/busy_budget.py: each search through the CLI (`search "
        "--minutes M --wait`, one worker) while two CPU-bound processes spin beside it; the "
        "bound is M + 10 % + 10 s, job s is the job row's finished_at - started_at (claim to "
        "finish), CLI s the submitting command's wall time (its own start-up and the claim "
        "besides); over/under is each minus the bound. Phases planned: the plan the job logged "
        "after timing its cells (the detector search: its probe); cells trained: candidates or "
        "top cells trained in the search (darts: supernet epochs begun) + networks trained in "
        "the final report; the detector search (level detector): its trials by state."
    )
    run = "\n\n".join(
        [
            f"### {time.strftime('%Y-%m-%d %H:%M')}: {args.hogs} hogs, {args.images} images",
            f"Machine: {os.cpu_count()}-core, {machine()} (torch threads of the searches: 1, "
            "the CPU default).  \n"
            f"Load before: {before}.  \n"
            f"Load after: {after}.  \nCommand: `{command_line('bench/busy_budget.py')}`",
            "Load during (this bench's hogs, worker and job excluded from 'others'):\n"
            + "\n".join(f"* {line}" for line in during),
            table(HEADERS, rows),
        ]
    )
    earlier = old[old.index("### ") :] if "### " in old else ""
    write_section(SECTION, "\n\n".join(x for x in (intro, earlier.strip(), run) if x))


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", default="1,2", help="comma-separated budgets (minutes)")
    p.add_argument(
        "--strategies",
        default="darts,evolution,random,zero-cost,detector",
        help="cell-search strategies, and `detector` for the detector search",
    )
    p.add_argument("--hogs", type=int, default=2, help="CPU-bound processes beside the search")
    p.add_argument("--images", type=int, default=200, help="images of the shapes dataset")
    p.add_argument("--home", help="bench home (default: a temporary folder, removed at the end)")
    p.add_argument("--set", action="append", default=[], help="extra cell-search option K=V")
    p.add_argument("--no-write", action="store_true", help="do not touch docs/BENCHMARKS.md")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # a killed bench stops its hogs and worker too
    minutes = [float(m) for m in args.minutes.split(",")]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    extra = [x for item in args.set for x in ("--set", item)]
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="nasdet-busy-"))
    home.mkdir(parents=True, exist_ok=True)
    store = Store(home)
    try:
        if DATASET not in [d["name"] for d in store.list_datasets()]:
            spec = {"name": DATASET, "kind": "shapes", "images": args.images, "size": 256}
            run_here(store, "dataset.generate", spec)
        before = load_line()
        print(f"home {home}\n{before}\n" + " | ".join(HEADERS), flush=True)
        rows, during = [], []
        with Worker(home), Hogs(args.hogs):
            time.sleep(2.0)  # the hogs spin before the first submit
            for m in minutes:
                for s in strategies:
                    rows.append(run_one(home, s, m, extra))
                    during.append(f"after {s} {m:g} min: {load_line()}")
                    print(during[-1], flush=True)
        after = load_line()
        print(table(HEADERS, rows) + f"\n{after}")
        if not args.no_write:
            publish(rows, args, before, during, after)
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
