"""How long the Guided demo takes, and how truthful its ETAs are, with a demo preset.

Queues the walk exactly as the GUI's "Run the whole demo" button does (core.demo.queue_demo: the
search, then the training on its cell waiting for it) after the first-start dataset, and runs
the chain with a worker on `--device`. Records each step's wall time, the searched-vs-random
margin, the detector's val AP50, and each job's worst ETA error once 20% of its real duration
had passed (the ETA shown against the time the job really had left).

`--screenshots` instead launches the app (python app.py, its own worker), presses "Run the whole
demo" in headless Chromium and, along the walk, retakes the Guided-demo screenshots of README
and docs/screenshots/ (guided_*.png) at 1280x800 and 1920x1080: the search at work, the found
cell, the training gallery, the results. Timings then come from the app's own jobs.

    .venv/bin/python bench/demo_time.py [--preset default] [--threads 2] [--device cpu|cuda]
                                        [--screenshots [--shots-dir DIR]] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import machine, table, write_section  # noqa: E402
from core.demo import queue_demo  # noqa: E402
from core.engine.store import Store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PRESETS = REPO / "assets" / "presets.json"
SHOTS = REPO / "docs" / "screenshots"
POLL_S = 2.0
ETA_FROM = 0.2  # ETAs are judged once this share of a job's real duration has passed


def eta_error(samples: list[tuple[float, float | None]], started: float, finished: float
              ) -> float | None:
    """Worst |ETA - real time left| / real time left over (time, eta_s) samples taken after
    ETA_FROM of the job's duration and more than 10 s before its end; None without samples."""
    duration = finished - started
    worst = None
    for t, eta in samples:
        left = finished - t
        if eta is None or t - started < ETA_FROM * duration or left <= 10:
            continue
        err = abs(eta - left) / left
        worst = err if worst is None else max(worst, err)
    return worst


class EtaWatch(threading.Thread):
    """Samples every running job's ETA from the store every POLL_S seconds."""

    def __init__(self, home: Path):
        super().__init__(daemon=True)
        self.home, self.samples, self.stop = home, {}, threading.Event()

    def run(self) -> None:
        store = Store(self.home)
        while not self.stop.wait(POLL_S):
            for job_id, eta in store.db.execute(
                    "SELECT id, eta_s FROM jobs WHERE status = 'running'").fetchall():
                self.samples.setdefault(job_id, []).append((time.time(), eta))


def run_chain(home: Path, preset: dict, device: str) -> None:
    """The first-start dataset, then the demo chain, run by a worker in this process."""
    from core.engine.jobs import submit_job
    from core.engine.worker import run_worker

    store = Store(home)
    presets = json.loads(PRESETS.read_text())
    dataset = dict(preset.get("first_start_dataset") or presets["first_start_dataset"],
                   name=preset["dataset"])
    submit_job(store, "dataset.generate", dataset)
    run_worker(home, "cpu", max_jobs=1)  # the dataset: before the clock of the walk starts
    queue_demo(store, preset, preset["dataset"])
    run_worker(home, device, max_jobs=2)


def report(store: Store, watch: EtaWatch, preset_name: str, preset: dict, mode: str) -> str:
    """The markdown section: per-step wall time and ETA error, margin, AP50."""
    jobs = {j["kind"]: j for j in store.list_jobs() if j["kind"] in ("search", "train")}
    rows, total = [], 0.0
    for name, kind in (("search + final report", "search"), ("train on the found cell", "train")):
        job = jobs[kind]
        wall = job["finished_at"] - job["started_at"]
        total += wall
        err = eta_error(watch.samples.get(job["id"], []), job["started_at"], job["finished_at"])
        rows.append([name, f"{wall:.0f}", "n/a" if err is None else f"{100 * err:.0f}%"])
    walk = jobs["train"]["finished_at"] - jobs["search"]["created_at"]
    rows.append(["**whole walk** (click to detections)", f"**{walk:.0f}** ({walk / 60:.1f} min)",
                 ""])
    result, train = jobs["search"]["result"] or {}, jobs["train"]["result"] or {}
    margin = result.get("margin")
    return (f"## Guided demo duration (bench/demo_time.py)\n\n"
            f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end.\n"
            f"Repeat: `.venv/bin/python bench/demo_time.py --preset {preset_name}"
            f"{' --screenshots' if mode == 'app' else ''}`. The chain the Guided demo's \"Run the "
            f"whole demo\" queues with the `{preset_name}` preset ({preset.get('about', '')}), "
            f"{'in the launched app' if mode == 'app' else 'run by a worker in the bench'}. "
            f"ETA error: the worst |ETA - real time left| / real time left after the first "
            f"{ETA_FROM:.0%} of each job.\n\n"
            + table(["step", "wall s", "worst ETA error after 20%"], rows)
            + "\n\nSearched cell {} vs random {} proxy accuracy (margin {}); detector val AP50 "
              "{} after {} epochs (score threshold {}).\n".format(
                  _num(result.get("searched", {}).get("mean")),
                  _num((result.get("random") or {}).get("mean")),
                  "n/a" if margin is None else f"{margin:+.3f}", _num(train.get("AP50")),
                  train.get("epochs"), _num(train.get("score_threshold"))))


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="worker device: cpu, cuda, auto")
    parser.add_argument("--screenshots", action="store_true",
                        help="run the walk in the launched app and retake the Guided-demo "
                             "screenshots (docs/screenshots/guided_*.png)")
    parser.add_argument("--shots-dir", type=Path, default=SHOTS,
                        help="where --screenshots writes (default docs/screenshots; a smoke run "
                             "with the tiny preset should write elsewhere)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    preset = json.loads(PRESETS.read_text())["demo"][args.preset]
    home = Path(tempfile.mkdtemp(prefix="demo_time_")) / "home"
    watch = EtaWatch(home)
    if args.screenshots:
        from bench.demo_shots import walk_in_app

        walk_in_app(home, args.preset, args.threads, args.shots_dir, watch)
    else:
        Store(home)
        watch.start()
        run_chain(home, preset, args.device)
    watch.stop.set()
    body = report(Store(home), watch, args.preset, preset, "app" if args.screenshots else "bench")
    print(body)
    if not args.no_write:
        write_section(f"demo_{args.preset}" + ("_app" if args.screenshots else ""), body)


if __name__ == "__main__":
    main()
