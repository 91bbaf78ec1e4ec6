"""The "quick-cpu" preset: train EfficientDet from scratch on a generated shapes dataset on a CPU.

Target: COCO AP50 >= 0.85 on the val split within 10 minutes of training on a 2-core
machine. The dataset is the GUI's first-start one (assets/presets.json:
shapes, 400 images of 256 px, easy, seed 0; 320 train / 80 val). Both steps run as real jobs
(dataset.generate, then train with `--preset quick-cpu`) in this process; the curve is read
back from the store: training seconds (validation excluded) against val AP50/AP per epoch.

    .venv/bin/python bench/train_quick.py [--threads 2] [--epochs N] [--home DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import machine, table, write_section  # noqa: E402
from core.engine.jobs import submit_job  # noqa: E402
from core.engine.store import Store  # noqa: E402
from core.engine.worker import run_job  # noqa: E402
from core.errors import NotFoundError  # noqa: E402

TARGET_AP50 = 0.85
BUDGET_S = 600.0
DATASET = {
    "name": "shapes-bench",
    "kind": "shapes",
    "images": 400,
    "size": 256,
    "difficulty": "easy",
    "seed": 0,
}


def run(store: Store, kind: str, spec: dict) -> dict:
    """Submit a job and run it in this process on the CPU; returns the finished row."""
    job_id = submit_job(store, kind, spec, device="cpu")
    job = store.claim_job("cpu", os.getpid())
    assert job is not None and job["id"] == job_id, "another job was queued in this home"
    run_job(store, job, "cpu")
    job = store.get_job(job_id, reconcile=False)
    if job["status"] != "succeeded":
        raise SystemExit(f"{kind} job {job_id} {job['status']}: {job['error']}")
    return job


def curve(store: Store, job_id: int) -> list[dict]:
    """Per-epoch rows: epoch, cumulative training seconds, val AP50 and AP (when evaluated)."""
    by_epoch: dict[int, dict] = {}
    for m in store.metrics(
        job_id, keys=["train/seconds", "val/AP50", "val/AP", "train/epoch_loss"]
    ):
        by_epoch.setdefault(m["epoch"], {"epoch": m["epoch"]})[m["key"]] = m["value"]
    return [by_epoch[e] for e in sorted(by_epoch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (use 1 on a busy machine: 2 oversubscribe)",
    )
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a train spec field, e.g. --set lr=0.004 (for tuning)",
    )
    parser.add_argument("--home", help="home folder to use (default: a temporary one)")
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="do not update BENCHMARKS.md (never updated with --set or --epochs)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    home = Path(args.home or tempfile.mkdtemp(prefix="train_quick_"))
    store = Store(home)
    try:
        store.get_dataset(DATASET["name"])
    except NotFoundError:
        run(store, "dataset.generate", DATASET)
    spec = {"dataset": DATASET["name"], "preset": "quick-cpu"}
    if args.epochs:
        spec["epochs"] = args.epochs
    for item in args.set:
        key, _, value = item.partition("=")
        spec[key] = json.loads(value)
    started = time.monotonic()
    job = run(store, "train", spec)
    wall = time.monotonic() - started
    rows = curve(store, job["id"])
    report(job, rows, wall, args)


def report(job: dict, rows: list[dict], wall: float, args) -> None:
    hit = next((r for r in rows if r.get("val/AP50", 0) >= TARGET_AP50), None)
    within = [r for r in rows if r["train/seconds"] <= BUDGET_S and "val/AP50" in r]
    best_within = max((r["val/AP50"] for r in within), default=0.0)
    lines = [
        [
            r["epoch"],
            f"{r['train/seconds']:.0f}",
            f"{r['train/epoch_loss']:.3f}",
            f"{r['val/AP50']:.3f}" if "val/AP50" in r else "-",
            f"{r['val/AP']:.3f}" if "val/AP" in r else "-",
        ]
        for r in rows
    ]
    curve_md = table(["epoch", "training s", "train loss", "val AP50", "val AP"], lines)
    spec = job["spec"]
    verdict = (
        f"AP50 {hit['val/AP50']:.3f} >= {TARGET_AP50} after {hit['train/seconds']:.0f} s "
        f"of training (epoch {hit['epoch']}): "
        + ("**met**" if hit["train/seconds"] <= BUDGET_S else "**missed** (over 10 min)")
        if hit
        else f"**missed**: best AP50 {max(r.get('val/AP50', 0) for r in rows):.3f}"
    )
    summary = table(
        ["measure", "value"],
        [
            ["target", f"val AP50 >= {TARGET_AP50} within {BUDGET_S / 60:.0f} min of training"],
            ["result", verdict],
            ["best val AP50 within 10 min of training", f"{best_within:.3f}"],
            ["final val AP50 / AP", f"{job['result']['AP50']:.3f} / {job['result']['AP']:.3f}"],
            [
                "training time (all epochs, validation excluded)",
                f"{job['result']['train_seconds']:.0f} s",
            ],
            ["wall time of the train job (with per-epoch validation)", f"{wall:.0f} s"],
            [
                "model / input / batch / epochs",
                f"{spec['model']} + {spec['backbone'] or 'default'} "
                f"backbone {spec['model_overrides'] or ''} / "
                f"{spec['image_size'][1]}x{spec['image_size'][0]} / "
                f"{spec['batch_size']} / {spec['epochs']}",
            ],
            [
                "optimiser",
                f"{spec['optimizer']} lr {spec['lr']} wd {spec['weight_decay']}, "
                f"warm-up {spec['warmup_epochs']} epoch + cosine, EMA {spec['ema_decay']}",
            ],
        ],
    )
    print(f"spec overrides: {args.set or 'none'}")
    print(summary)
    print(curve_md)
    if not args.no_write and not args.set and not args.epochs:
        load = os.getloadavg()[0]
        write_section(
            "train_quick",
            (
                "## Quick CPU training (bench/train_quick.py)\n\n"
                f"Machine: {machine()}; load average {load:.1f} at the end of the run"
                + (
                    " (shared with other work: times are pessimistic)"
                    if load > args.threads + 0.5
                    else ""
                )
                + ".\n"
                "Dataset: generated shapes, 400 images of 256x256 (320 train / 80 val), easy, "
                "seed 0 (the GUI's first-start dataset). From scratch (no pretrained weights).\n"
                f"Repeat: `.venv/bin/python bench/train_quick.py --threads {args.threads}`.\n\n"
                f"{summary}\n\nCurve (validation with the EMA weights):\n\n{curve_md}"
            ),
        )


if __name__ == "__main__":
    main()
