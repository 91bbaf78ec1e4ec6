"""Store benchmark: metric write throughput and the GUI's per-tick read with 100,000 metric rows.

Run: `.venv/bin/python bench/store.py` (writes its section of docs/BENCHMARKS.md).
Target: median tick read <= 20 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, table, write_section  # noqa: E402
from core.engine.reporter import Reporter  # noqa: E402
from core.engine.store import Store  # noqa: E402

ROWS = 100_000
TICKS = 200


def write_rate(store: Store, job: dict, rows: int) -> float:
    """Rows per second through Reporter.metric (buffered, batched transactions)."""
    rep = Reporter(store, job, store.home / "runs" / str(job["id"]), "cpu")
    t0 = time.perf_counter()
    for step in range(rows):
        rep.metric("train/loss", 1.0 / (step + 1), step=step)
    rep.flush()
    return rows / (time.perf_counter() - t0)


def unbuffered_rate(store: Store, job_id: int, rows: int) -> float:
    """Rows per second with one transaction per row (what the buffer avoids)."""
    t0 = time.perf_counter()
    for step in range(rows):
        store.add_metrics([(job_id, step, None, "train/lr", 0.01, time.time())])
    return rows / (time.perf_counter() - t0)


def tick_latency_ms(store: Store, job_id: int) -> list[float]:
    """The GUI tick: the job row (with reconcile) and its newest 1,000 metric points."""
    times = []
    for _ in range(TICKS):
        t0 = time.perf_counter()
        store.get_job(job_id)
        points = store.metrics(job_id, last=1000)
        times.append((time.perf_counter() - t0) * 1000)
        assert len(points) == 1000
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        for kind in ("a", "b"):  # other jobs' rows in the table too
            store.insert_job("train", {"k": kind})
        job_id = store.insert_job("train", {})
        job = store.claim_job("cpu", os.getpid())
        job = store.get_job(job_id) if job["id"] != job_id else job
        buffered = write_rate(store, job, ROWS)
        single = unbuffered_rate(store, job_id, 2_000)
        ticks = tick_latency_ms(store, job_id)
    med, p95 = statistics.median(ticks), sorted(ticks)[int(0.95 * len(ticks))]
    rows = [
        ["metric rows/s, Reporter (batched)", f"{buffered:,.0f}", ""],
        [
            "metric rows/s, one transaction per row",
            f"{single:,.0f}",
            f"batched is {buffered / single:.1f}x",
        ],
        [
            f"GUI tick read, median of {TICKS} (job + last 1,000 of {ROWS:,} points)",
            f"{med:.2f} ms",
            "target <= 20 ms: " + ("met" if med <= 20 else "MISSED"),
        ],
        ["GUI tick read, p95", f"{p95:.2f} ms", ""],
    ]
    out = table(["measure", "value", "note"], rows)
    print(out)
    write_section(
        "store",
        f"## Store (bench/store.py)\n\nMachine: {machine()}.\n"
        f"Repeat: `.venv/bin/python bench/store.py`.\n\n{out}",
    )


if __name__ == "__main__":
    main()
