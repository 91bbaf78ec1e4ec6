"""Scale-out benchmark: data-parallel training (torchrun, DDP) and the Ray executor.

1. DDP: a train job (efficientdet_tiny, generated shapes) on 1 process and on N processes (the
   CPU: N = 2, gloo, one torch thread each vs one process with every thread; CUDA: 1 GPU vs all
   GPUs, NCCL). Throughput = images per second of training over the epochs after the first
   (train/seconds of rank 0; validation excluded), same per-process batch, so N processes take
   N x the global batch (the linear lr rule scales lr by N); with SyncBatchNorm and without
   (`sync_bn` off: each process normalises over its own batch).
2. Ray: the final report's trainings (the searched cell DARTS_V2 with its repeats beside random
   cells, core.nas.trials) one after the other in this process (LocalExecutor, every torch
   thread count; 1 thread too, which gives the same numbers as a 1-thread Ray task) vs as Ray
   tasks on a local Ray with 2 CPU slots of 1 thread each (CUDA: one GPU per task). Wall time
   of the phase, Ray's start-up apart; speed-up against the local run with every thread.

    .venv/bin/python bench/scale.py [--short] [--device cpu|cuda] [--no-write]

--short (under 3 minutes on 2 cores) prints the tables and never writes docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import machine, table, write_section  # noqa: E402
from bench.common import run_here as run
from core.engine.store import Store  # noqa: E402

SIZES = {  # short / full: dataset, train job, report trainings
    True: {
        "images": 32,
        "image_size": 128,
        "epochs": 3,
        "batch": 2,
        "networks": (1, 2),
        "report_epochs": 1,
        "C": 8,
        "layers": 5,
        "per_class": 30,
    },
    False: {
        "images": 128,
        "image_size": 256,
        "epochs": 4,
        "batch": 4,
        "networks": (2, 4),
        "report_epochs": 8,
        "C": 8,
        "layers": 5,
        "per_class": 100,
    },
}


def ddp_rate(store: Store, size: dict, nproc: int, device: str, sync_bn: bool = True) -> dict:
    """images/s of a train job on `nproc` processes, epochs after the first."""
    spec = {
        "dataset": "scale",
        "model": "efficientdet_tiny",
        "image_size": size["image_size"],
        "epochs": size["epochs"],
        "batch_size": size["batch"],
        "workers": 0,
        "optimizer": "adamw",
        "lr": 0.01,
        "eval_every": 1000,
        "nproc": nproc,
        "sync_bn": sync_bn,
    }
    started = time.monotonic()
    job = run(store, "train", spec, device)
    wall = time.monotonic() - started
    seconds = [m["value"] for m in store.metrics(job["id"], keys=["train/seconds"])]
    steps = job["result"]["steps"] // size["epochs"]
    images = steps * size["batch"] * nproc * (size["epochs"] - 1)
    norm = "-" if nproc == 1 else ("SyncBatchNorm" if sync_bn else "per process")
    return {
        "nproc": nproc,
        "norm": norm,
        "rate": images / (seconds[-1] - seconds[0]),
        "global_batch": size["batch"] * nproc,
        "steps": steps,
        "wall": wall,
    }


def report_trials(data, size: dict, device: str, threads: int) -> list:
    from core.nas.genotypes import PUBLISHED_GENOTYPES
    from core.nas.proxy_training import TrainSettings
    from core.nas.space import sample_genotype
    from core.nas.trials import Trial

    repeats, randoms = size["networks"]
    rng = random.Random(7919)
    genotypes = [PUBLISHED_GENOTYPES["DARTS_V2"]] * repeats
    genotypes += [sample_genotype(rng, 4, 2) for _ in range(randoms)]
    settings = TrainSettings(size["report_epochs"], 32, 0.1, 0.001, 0.9, 3e-4, 5.0)
    return [
        Trial(
            g.to_dict(),
            size["C"],
            data.num_classes,
            size["layers"],
            settings,
            seed=104729 + i,
            split="report",
            device=device,
            threads=threads,
        )
        for i, g in enumerate(genotypes)
    ]


def report_walls(store: Store, size: dict, device: str) -> list[list]:
    """Rows: executor, slots, threads per training, start-up s, report wall s, accuracies."""
    from core.nas.execution.executor import LocalExecutor, RayExecutor, default_slots
    from core.nas.proxy_training import load_raw, prepare
    from core.nas.trials import on_cpu, run_trial

    raw = load_raw(store, "scale", None, 32, 0.2, 0, size["per_class"])
    data = prepare(raw, 32, 0.5, 0, "cuda:0" if device == "cuda" else "cpu")
    rows = []
    where = "cuda:0" if device == "cuda" else "cpu"
    for threads in sorted({1, torch.get_num_threads()}):
        started = time.monotonic()
        accs = [
            s["val_acc"]
            for s in LocalExecutor().map(run_trial, report_trials(data, size, where, threads), data)
        ]
        rows.append(["local", 1, threads, 0.0, time.monotonic() - started, accs])
    slots, gpus = default_slots(device) if device == "cuda" else (2, 0.0)
    t0 = time.monotonic()
    with RayExecutor(slots=slots, gpus_per_task=gpus) as ray_executor:
        startup = time.monotonic() - t0
        started = time.monotonic()
        shared = ray_executor.share(on_cpu(data))
        trials = report_trials(data, size, where, 1)
        accs = [s["val_acc"] for s in ray_executor.map(run_trial, trials, shared)]
        rows.append(
            [
                "ray",
                ray_executor.slots,
                "1 GPU" if gpus else 1,
                startup,
                time.monotonic() - started,
                accs,
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="small sizes, under 3 minutes")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    size = SIZES[args.short]
    device = "cuda:0" if args.device == "cuda" else "cpu"
    store = Store(Path(tempfile.mkdtemp(prefix="bench_scale_")))
    run(
        store,
        "dataset.generate",
        {
            "name": "scale",
            "kind": "shapes",
            "images": size["images"],
            "size": size["image_size"],
            "difficulty": "easy",
            "seed": 0,
        },
        device,
    )
    many = torch.cuda.device_count() if args.device == "cuda" else 2
    ddp = [
        ddp_rate(store, size, 1, device),
        ddp_rate(store, size, many, device),
        ddp_rate(store, size, many, device, sync_bn=False),
    ]
    walls = report_walls(store, size, args.device)
    print_and_write(args, size, ddp, walls)


def print_and_write(args, size: dict, ddp: list[dict], walls: list[list]) -> None:
    ddp_md = table(
        [
            "processes",
            "BatchNorm",
            "global batch",
            "steps/epoch",
            "images/s",
            "speed-up",
            "job wall s (with start-up)",
        ],
        [
            [
                d["nproc"],
                d["norm"],
                d["global_batch"],
                d["steps"],
                d["rate"],
                d["rate"] / ddp[0]["rate"],
                d["wall"],
            ]
            for d in ddp
        ],
    )
    ray_md = table(
        [
            "executor",
            "slots",
            "threads per training",
            "start-up s",
            "report wall s",
            "speed-up",
            "val accuracies",
        ],
        [
            [r[0], r[1], r[2], r[3], r[4], walls[-2][4] / r[4], ", ".join(f"{a:.3f}" for a in r[5])]
            for r in walls
        ],
    )
    same = walls[0][5] == walls[-1][5]  # local and Ray at 1 thread per training
    print(ddp_md, "\n", ray_md, f"\naccuracies equal: {same}", sep="\n")
    if args.short or args.no_write:
        return
    repeats, randoms = size["networks"]
    write_section(
        "scale",
        (
            "## Scale-out (bench/scale.py)\n\n"
            f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end.\n"
            f"Repeat: `.venv/bin/python bench/scale.py --device {args.device}`.\n\n"
            f"DDP (torchrun, {'NCCL' if args.device == 'cuda' else 'gloo'}): efficientdet_tiny at "
            f"{size['image_size']} px on {size['images']} generated images, per-process batch "
            f"{size['batch']}, epochs 2-{size['epochs']} timed.\n\n{ddp_md}\n\n"
            f"Ray: the report phase, DARTS_V2 x {repeats} + {randoms} random cells, C={size['C']}, "
            f"{size['layers']} cells, {size['report_epochs']} epochs each on 32 px crops; "
            f"accuracies equal to the local executor's: {same}.\n\n{ray_md}"
        ),
    )


if __name__ == "__main__":
    main()
