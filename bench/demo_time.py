"""How long the Guided demo takes, and how truthful its ETAs are, with a demo preset.

Queues the walk exactly as the GUI's "Run the whole demo" button does (core.app.demo.queue_demo: the
search, then the training on its cell waiting for it) after the first-start dataset, and runs
the chain with a worker on `--device`. Records each step's wall time, the searched-vs-random
margin, the detector's val AP50, and each job's worst ETA error once 20% of its real duration
had passed (the ETA shown against the time the job really had left). Each walk's samples,
{job id: [[time, ETA shown], ...]}, are kept in eta_samples.json beside its home (the path is
printed), to see where an ETA went wrong.

`--screenshots` instead launches the app (python app.py, its own worker), presses "Run the whole
demo" in headless Chromium and, along the walk, retakes the Guided-demo screenshots of README
and docs/screenshots/ (guided_*.png) at 1280x800 and 1920x1080: the search at work, the found
cell, the training gallery, the results. Timings then come from the app's own jobs.

    .venv/bin/python bench/demo_time.py [--preset default] [--threads 2] [--device cpu|cuda]
                                        [--runs N | --screenshots [--shots-dir DIR]] [--no-write]
                                        [--search-only] [--strategy S] [--set KEY=VALUE]

`--search-only --strategy S` runs the preset's search alone (with strategy S) in each walk and
writes its own section (demo_<preset>_<S>): the margin per seed, to compare strategies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import (
    Hogs,
    command_line,
    machine,
    parse_sets,
    presets,
    table,  # noqa: E402
    write_section,
)
from core.app.demo import STARTUP_S, fit_to_machine, promise_s, queue_demo  # noqa: E402
from core.app.demo_results import verdict  # noqa: E402
from core.engine.queries import effective  # noqa: E402
from core.engine.store import Store  # noqa: E402
from core.train.size_terciles import train_job_size_terciles  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "docs" / "screenshots"
POLL_S = 2.0
ETA_FROM = 0.2  # ETAs are judged once this share of a job's real duration has passed


def eta_error(
    samples: list[tuple[float, float | None]], started: float, finished: float
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
            t = time.time()
            for job in store.db.query("SELECT * FROM jobs WHERE status = 'running'"):
                shown = effective(job, t)  # what the screen shows (counted down)
                if shown["status"] == "running":
                    self.samples.setdefault(job["id"], []).append((t, shown["eta_s"]))


def run_chain(home: Path, preset: dict, device: str, search_only: bool = False) -> float | None:
    """The first-start dataset, then the demo chain (or only its search), run by a worker in
    this process; the walk's promised seconds (the budgets fitted to this machine's probe)."""
    from core.app.demo import demo_specs
    from core.engine.jobs import submit_job
    from core.engine.worker import run_worker

    store = Store(home)
    dataset = dict(
        preset.get("first_start_dataset") or presets()["first_start_dataset"],
        name=preset["dataset"],
    )
    submit_job(store, "dataset.generate", dataset)
    run_worker(home, "cpu", max_jobs=1)  # the dataset: before the clock of the walk starts
    if search_only:
        submit_job(store, "search", demo_specs(preset, preset["dataset"])["search"])
        run_worker(home, device, max_jobs=1)
        return None
    jobs = queue_demo(store, preset, preset["dataset"], start_worker=False)
    run_worker(home, device, max_jobs=3)
    return jobs.promised_s


def measure(store: Store, watch: EtaWatch) -> dict:
    """One walk's numbers: per-step wall time and worst ETA error, the whole walk, the margin,
    the detector's AP50, epochs and threshold."""
    parts = {"search": "search", "search.detector": "detector", "train": "train"}
    jobs = {parts[j["kind"]]: j for j in store.list_jobs() if j["kind"] in parts}
    out: dict = {}
    for kind in jobs:
        job = jobs[kind]
        if not job["started_at"]:  # cancelled before it ran (the job before it failed)
            out[f"{kind}_s"], out[f"{kind}_eta"] = None, None
            continue
        out[f"{kind}_s"] = job["finished_at"] - job["started_at"]
        out[f"{kind}_eta"] = eta_error(
            watch.samples.get(job["id"], []), job["started_at"], job["finished_at"]
        )
    search = jobs["search"]
    result, train = search["result"] or {}, (jobs.get("train") or {}).get("result") or {}
    out["walk_s"] = (
        jobs["train"]["finished_at"] if "train" in jobs else search["finished_at"]
    ) - search["created_at"]
    out.update(
        margin=result.get("margin"),
        searched=result.get("searched", {}).get("mean"),
        random=(result.get("random") or {}).get("mean"),
        AP50=train.get("AP50"),
        epochs=train.get("epochs"),
        threshold=train.get("score_threshold"),
        seed=(search["spec"] or {}).get("seed"),
        strategy=search["spec"]["strategy"],
        afforded=result.get("afforded"),
        sizes=size_cells(store, jobs.get("train")),
        verdict=(
            verdict(
                store, (jobs.get("detector") or {}).get("id"), (jobs.get("train") or {}).get("id")
            )
            or {}
        ),
    )
    return out


def size_cells(store: Store, train: dict | None) -> list[str]:
    """The detector's val AP50 / recall per box-area tercile (small, mid, large), as cells."""
    terciles = train_job_size_terciles(store, train["id"]) if train else None
    if not terciles:
        return ["n/a"] * 3
    return [f"{t.ap50:.3f} / {t.recall:.2f}" for t in terciles]


def search_report(runs: list[dict], preset_name: str, strategy: str) -> str:
    """The markdown section of `--search-only`: the demo's search alone, one row per seed."""
    rows = [
        [
            f"{i + 1} (seed {r['seed']})",
            f"{r['search_s']:.0f}",
            "n/a" if r["search_eta"] is None else f"{100 * r['search_eta']:.0f}%",
            _num(r["searched"]),
            _num(r["random"]),
            "n/a" if r["margin"] is None else f"{r['margin']:+.3f}",
            r["afforded"] or "-",
        ]
        for i, r in enumerate(runs)
    ]
    margins = [r["margin"] for r in runs if r["margin"] is not None]
    ahead = sum(m > 0 for m in margins)
    mean = statistics.fmean(margins) if margins else float("nan")
    return (
        f"## Guided demo search alone, strategy {strategy} (bench/demo_time.py)\n\n"
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end.\n"
        f"Repeat: `{command_line('bench/demo_time.py')}`. The `{preset_name}` preset's search "
        f"job alone (strategy `{strategy}`), run by a worker in the bench, each in a fresh "
        f"home with seed i. Margin: the searched cell's proxy accuracy minus the random "
        f"cells' mean in its own report.\n\n"
        + table(
            ["run", "search s", "ETA err", "searched", "random mean", "margin", "report afforded"],
            rows,
        )
        + f"\n\nSearched ahead in {ahead}/{len(runs)}, mean margin {mean:+.3f}.\n"
    )


def report(runs: list[dict], preset_name: str, preset: dict, mode: str) -> str:
    """The markdown section: one row per walk, then the median."""

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.0f}%"

    rows = [
        [
            f"{i + 1} (seed {r['seed']})",
            _secs(r["search_s"]),
            pct(r["search_eta"]),
            _secs(r.get("detector_s")),
            pct(r.get("detector_eta")),
            _secs(r["train_s"]),
            pct(r["train_eta"]),
            f"**{r['walk_s']:.0f}** ({r['walk_s'] / 60:.1f} min)",
            f"{_secs(r.get('promised_s'))} (x{r.get('slowdown', 1.0):.2f})",
            _num(r["AP50"]),
            *r.get("sizes", ["n/a"] * 3),
            _num(r["threshold"]),
        ]
        for i, r in enumerate(runs)
    ]
    if len(runs) > 1:
        med = {
            k: statistics.median(r[k] for r in runs if r[k] is not None)
            for k in ("search_s", "detector_s", "train_s", "walk_s", "AP50")
            if any(r[k] is not None for r in runs)
        }
        worst = {
            k: max((r[k] for r in runs if r[k] is not None), default=None)
            for k in ("search_eta", "detector_eta", "train_eta")
        }
        rows.append(
            [
                "**median**",
                _secs(med.get("search_s")),
                f"worst {pct(worst['search_eta'])}",
                _secs(med.get("detector_s")),
                f"worst {pct(worst['detector_eta'])}",
                _secs(med.get("train_s")),
                f"worst {pct(worst['train_eta'])}",
                f"**{med['walk_s']:.0f}** ({med['walk_s'] / 60:.1f} min)",
                "",
                _num(med.get("AP50")),
                "",
                "",
                "",
                "",
            ]
        )
    repeat = f"`{command_line('bench/demo_time.py')}`"
    screen = ""
    if mode == "app":  # the watching page and the own pictures (bench/demo_shots.py)
        srows = [
            [f"{i + 1} (seed {r['seed']})"]
            + [
                f"{r['still'][k]:.1f}" if k in r.get("still", {}) else "n/a"
                for k in ("search_any", "search_pictures", "train_any", "train_pictures")
            ]
            + [own_cell(r.get("own_s"))]
            for i, r in enumerate(runs)
        ]
        screen = (
            "\nThe screen a room watches (a 1280x800 page nobody clicks, read about once a "
            "second): the longest stretch without a visible change while each job runs, "
            "for any change (text included) and for pictures and charts in the viewport "
            "alone; target <= 10 s. Own picture: seconds to the detections drawn, for "
            "three val pictures uploaded one after the other (from the file chosen) and "
            "three shapes drawn with the mouse (from the pen lifted); target <= 1 s.\n\n"
            + table(
                [
                    "walk",
                    "search: any s",
                    "search: pictures s",
                    "train: any s",
                    "train: pictures s",
                    "own picture s",
                ],
                srows,
            )
            + "\n"
        )
    return (
        f"## Guided demo duration and quality (bench/demo_time.py)\n\n"
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end"
        + (
            f"; {runs[0]['hogs']} CPU-bound processes (pure Python loops) spinning beside "
            "every walk"
            if runs and runs[0].get("hogs")
            else ""
        )
        + ".\n"
        f'Repeat: {repeat}. The chain the Guided demo\'s "Run the whole demo" queues with '
        f"the `{preset_name}` preset ({preset.get('about', '')}), "
        f"{'in the launched app' if mode == 'app' else 'run by a worker in the bench'}, each "
        f"walk in a fresh home{'' if mode == 'app' else ', walk i with search seed i'}. "
        f"Walk: from the click (the search queued) to the detector registered. "
        f"ETA error: the worst |ETA - real time left| / real time left after the "
        f"first {ETA_FROM:.0%} of each job (and more than 10 s before its end). Promised: the "
        f"walk's length as the page states it (core.app.demo.promise_s of the budgets fitted "
        f"to the machine by its probe, core.app.demo.fit_to_machine; x: how many times slower "
        f"than the machine the budgets were set on). AP50: the pick "
        f"trained on, val split (pycocotools); small, "
        f"mid, large: its AP50 / recall (IoU 0.5) per tercile of the val boxes' area "
        f"(core.train.size_terciles). Verdict: the ending's sentence (core.app.demo_results)."
        f"\n\n"
        + table(
            [
                "walk",
                "cell search s",
                "ETA err",
                "detector search s",
                "ETA err",
                "train s",
                "ETA err",
                "click to detections",
                "promised s",
                "AP50",
                "small",
                "mid",
                "large",
                "threshold",
            ],
            rows,
        )
        + "\n\n"
        + "".join(
            f"Walk {i + 1}: {r['verdict'].get('text', 'no verdict')}\n\n"
            for i, r in enumerate(runs)
        )
        + screen
    )


def own_cell(own: dict | None) -> str:
    """The own-picture seconds, uploads then drawings."""
    if not own:
        return "n/a"
    return "; ".join(
        f"{kind} " + ", ".join(f"{s:.2f}" for s in own[kind])
        for kind in ("upload", "draw")
        if own.get(kind)
    )


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def walk(args: argparse.Namespace, preset: dict, i: int) -> dict:
    """Walk `i` in a fresh home (seed i for its searches: the walks sample different cells)."""
    home = Path(tempfile.mkdtemp(prefix="demo_time_")) / "home"
    watch, screen = EtaWatch(home), {}
    fitted, slowdown = fit_to_machine(preset)  # the probe queue_demo reuses (PACE_MAX_AGE_S)
    promised = promise_s(fitted, STARTUP_S)
    if args.screenshots:
        from bench.demo_shots import walk_in_app

        screen = walk_in_app(home, args.preset, args.threads, args.shots_dir, watch)
    else:
        Store(home)
        watch.start()
        promised = run_chain(
            home,
            dict(preset, search=dict(preset["search"], seed=i)),
            args.device,
            args.search_only,
        )
    watch.stop.set()
    run = dict(
        measure(Store(home), watch),
        hogs=args.hogs,
        promised_s=promised,
        slowdown=round(slowdown, 2),
        **screen,
    )
    (home.parent / "eta_samples.json").write_text(json.dumps(watch.samples))
    print(f"walk {i + 1} ({home}): {json.dumps(run)}", flush=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="worker device: cpu, cuda, auto")
    parser.add_argument(
        "--screenshots",
        action="store_true",
        help="run the walk in the launched app and retake the Guided-demo "
        "screenshots (docs/screenshots/guided_*.png)",
    )
    parser.add_argument(
        "--shots-dir",
        type=Path,
        default=SHOTS,
        help="where --screenshots writes (default docs/screenshots; a smoke run "
        "with the tiny preset should write elsewhere)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="walks, each in a fresh home "
        "(the table gives each and the median); not with --screenshots",
    )
    parser.add_argument(
        "--search-only",
        action="store_true",
        help="run only the preset's search in each walk (to compare strategies)",
    )
    parser.add_argument("--strategy", help="the search strategy instead of the preset's")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="search option over the preset's (e.g. child.epochs=6)",
    )
    parser.add_argument(
        "--hogs", type=int, default=0, help="CPU-bound processes spinning beside every walk"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    preset = presets()["demo"][args.preset]
    if args.strategy:
        preset = dict(preset, search=dict(preset["search"], strategy=args.strategy))
    if args.set:
        preset = dict(preset, search={**preset["search"], **parse_sets(args.set)})
    runs = []
    with Hogs(args.hogs):
        for i in range(1 if args.screenshots else max(1, args.runs)):
            runs.append(walk(args, preset, i))
    strategy = preset["search"]["strategy"]
    if args.search_only:
        body, name = search_report(runs, args.preset, strategy), f"demo_{args.preset}_{strategy}"
    else:
        mode = "app" if args.screenshots else "bench"
        body = report(runs, args.preset, preset, mode)
        name = f"demo_{args.preset}" + ("_app" if args.screenshots else "")
    print(body)
    if not args.no_write:
        write_section(name, body)


if __name__ == "__main__":
    main()
