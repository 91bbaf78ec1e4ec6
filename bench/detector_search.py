"""The payoff of the detector search: its pick against the hand-made detectors, at equal training
time and at equal total time, on the demo's dataset and on a harder one, over several seeds.

For each dataset (shapes-demo, the first-start set; shapes-hard, the same generator at its
hardest level) and seed, in a fresh home: a `search.detector` job of `--search-minutes` (the
whole job; default space: nas:DARTS_V2, MobileNetV3-Small, EfficientNet-B0 at 128/256/384 px,
BiFPN width and depth, head depth; with `--cell-minutes` a cell search runs first and its cell
joins the space, its time counted as search time). Then each final model is trained from
scratch with the quick-cpu preset for the same wall time `--train-minutes` (bench/payoff.py's
equal_time_training: a probe epoch sets the epochs that fit): the pick's detector at its own size,
MobileNetV3-Small and EfficientNet-B0 detectors (efficientdet_tiny's BiFPN and head) at the
default size. Latency: batch 1 on the bench's device with the one detector timer
(core.det.latency). The pick "dominates" when its AP50 is at least the better peer's at no more
than its latency. At equal total time the peers also train for search + training minutes.
Every job is the real task run by a worker in this process.

    .venv/bin/python bench/detector_search.py [--seeds 0 1 2] [--datasets demo hard]
        [--search-minutes 10] [--train-minutes 5] [--cell-minutes 0] [--device cpu]
        [--no-equal-total] [--threads 2] [--smoke] [--no-write]

`--smoke`: a tiny setting that only shows the script works (24 images at 128 px, a 0.75-minute
search of a small space, 0.15-minute trainings, seed 0); it writes nothing unless --write.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import command_line, machine, presets, table, write_section  # noqa: E402
from bench.common import run_here as run  # noqa: E402
from bench.payoff import equal_time_training  # noqa: E402
from core.det.latency import detector_latency_ms  # noqa: E402
from core.engine.store import Store  # noqa: E402
from core.nas.detector.space import DetectorChoice  # noqa: E402
from core.train.predict import load_model  # noqa: E402

DATASETS = {
    "demo": ("shapes-demo", presets()["first_start_dataset"]),
    "hard": (
        "shapes-hard",
        {"kind": "shapes", "images": 400, "size": 256, "difficulty": "hard", "seed": 0},
    ),
}
PEERS = {"MobileNetV3-Small": "mobilenetv3_small_100", "EfficientNet-B0": "efficientnet_b0"}
EVALS = 5  # evaluations of a final training
SMOKE = {
    "dataset": {"images": 24, "size": 128},
    "search": {
        "backbones": ["mobilenetv3_small_100", "nas:DARTS_V2"],
        "image_sizes": [128],
        "fpn_channels": [16, 32],
        "fpn_cell_repeats": [1],
        "box_class_repeats": [1, 2],
        "epochs": 3,
    },
    "peer": {"image_size": [128, 128]},  # the peers at the smoke's size
    "search_minutes": 0.75,
    "train_minutes": 0.15,
}


def final(store: Store, dataset: str, backbone: str, seconds: float, spec: dict, args) -> dict:
    """A final model trained for `seconds` of wall time, with its latency on the device."""
    out = equal_time_training(
        store, backbone, seconds, EVALS, dict(spec, dataset=dataset), device=args.device
    )
    loaded = load_model(store, out["model"], device=args.device, optimize=False)
    out["latency_ms"] = detector_latency_ms(loaded.bench.model, args.device)
    return out


def search(store: Store, dataset: str, seed: int, args) -> dict:
    """The detector search (after a cell search when --cell-minutes): its pick and seconds."""
    seconds = 0.0
    if args.cell_minutes:
        demo = presets()["demo"]["default"]["search"]
        cell = run(
            store,
            "search",
            dict(demo, dataset=dataset, seed=seed, minutes=args.cell_minutes),
            device=args.device,
        )
        seconds += cell["finished_at"] - cell["started_at"]
    spec = dict(args.space, dataset=dataset, seed=seed, minutes=args.search_minutes)
    job = run(store, "search.detector", spec, device=args.device)
    seconds += job["finished_at"] - job["started_at"]
    return {"seconds": seconds, "result": job["result"], "job": job["id"]}


def pick_spec(config: dict, dataset: str, seed: int) -> tuple[str, dict]:
    """(backbone, train options) of the pick's detector for a final training."""
    choice = DetectorChoice.from_dict(config)
    spec = choice.train_spec(dataset, epochs=1, seed=seed)
    return choice.backbone, {k: spec[k] for k in ("image_size", "model_overrides", "seed")}


def one_run(key: str, seed: int, args) -> dict:
    """Search, then the final trainings, in a fresh home; one table row's numbers."""
    name, dataset_spec = DATASETS[key]
    home = Path(tempfile.mkdtemp(prefix=f"detsearch_{key}_{seed}_")) / "home"
    store = Store(home)
    run(store, "dataset.generate", dict(dataset_spec, **args.dataset_overrides, name=name))
    found = search(store, name, seed, args)
    train_s = 60 * args.train_minutes
    backbone, spec = pick_spec(found["result"]["pick"]["config"], name, seed)
    row = {"dataset": name, "seed": seed, "search_s": found["seconds"], "search": found}
    row["pick"] = final(store, name, backbone, train_s, spec, args)
    peer_spec = dict(args.peer, seed=seed)
    row["peers"] = {p: final(store, name, b, train_s, peer_spec, args) for p, b in PEERS.items()}
    if args.equal_total:
        total_s = train_s + found["seconds"]
        row["peers_total"] = {
            p: final(store, name, b, total_s, peer_spec, args) for p, b in PEERS.items()
        }
    store.close()
    return row


def dominates(pick: dict, peers: dict) -> tuple[bool, str]:
    """(the pick's AP50 >= the better peer's at <= its latency, that peer's name)."""
    best = max(peers, key=lambda p: peers[p]["AP50"])
    peer = peers[best]
    return pick["AP50"] >= peer["AP50"] and pick["latency_ms"] <= peer["latency_ms"], best


def table_rows(rows: list[dict]) -> list[list]:
    out = []
    for r in rows:
        pick, peers = r["pick"], r["peers"]
        config = DetectorChoice.from_dict(r["search"]["result"]["pick"]["config"])
        won, best = dominates(pick, peers)
        cells = [
            r["dataset"],
            r["seed"],
            f"{r['search_s']:.0f}",
            config.label(),
            f"{pick['AP50']:.3f} / {pick['latency_ms']:.1f}",
            *(f"{peers[p]['AP50']:.3f} / {peers[p]['latency_ms']:.1f}" for p in PEERS),
            f"{'yes' if won else 'no'} (vs {best})",
        ]
        if "peers_total" in r:
            won_total, best_total = dominates(pick, r["peers_total"])
            cells += [
                *(f"{r['peers_total'][p]['AP50']:.3f}" for p in PEERS),
                f"{'yes' if won_total else 'no'} (vs {best_total})",
            ]
        out.append(cells)
    return out


def headers(equal_total: bool) -> list[str]:
    peers = [f"{p} AP50 / ms" for p in PEERS]
    out = ["dataset", "seed", "search s", "pick", "pick AP50 / ms", *peers, "pick dominates"]
    if equal_total:
        out += [f"{p} AP50, equal total" for p in PEERS] + ["dominates at equal total"]
    return out


def summary(rows: list[dict]) -> str:
    """Per dataset: in how many seeds the pick dominates the better peer."""
    lines = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        wins = sum(dominates(r["pick"], r["peers"])[0] for r in mine)
        text = f"{name}: the pick dominates the better peer in {wins}/{len(mine)} seeds"
        if all("peers_total" in r for r in mine):
            total = sum(dominates(r["pick"], r["peers_total"])[0] for r in mine)
            text += f" at equal training time, {total}/{len(mine)} at equal total time"
        lines.append(text + " (goal: 2 of 3 at equal training time).")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--search-minutes", type=float, default=10.0)
    parser.add_argument("--train-minutes", type=float, default=5.0)
    parser.add_argument("--cell-minutes", type=float, default=0.0, help="a cell search first")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-equal-total", dest="equal_total", action="store_false")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does it work")
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md after --smoke")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.space, args.peer, args.dataset_overrides = {}, {}, {}
    if args.smoke:
        args.space, args.peer = SMOKE["search"], SMOKE["peer"]
        args.dataset_overrides = SMOKE["dataset"]
        args.search_minutes, args.train_minutes = SMOKE["search_minutes"], SMOKE["train_minutes"]
        args.seeds = args.seeds[:1]
        args.no_write = args.no_write or not args.write
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for key in args.datasets:
        for seed in args.seeds:
            row = one_run(key, seed, args)
            print(json.dumps(row, default=str)[:2000], flush=True)
            rows.append(row)
    text = table(headers(args.equal_total), table_rows(rows))
    body = (
        "## Detector search payoff (bench/detector_search.py)\n\n"
        f"Machine: {machine()}; device {args.device}; load average {os.getloadavg()[0]:.1f} at "
        f"the end.\nRepeat: `{command_line('bench/detector_search.py')}`. A "
        f"{args.search_minutes:g}-minute detector search"
        + (f" after a {args.cell_minutes:g}-minute cell search" if args.cell_minutes else "")
        + f", then each final model trained from scratch with quick-cpu for "
        f"{args.train_minutes:g} minutes of wall time (the pick at its own size, the peers at "
        "the default size; 'equal total': the peers also trained for search + training "
        "minutes). AP50 on the val split (pycocotools), latency at batch 1 on the device "
        "(core.det.latency).\n\n" + text + "\n\n" + summary(rows) + "\n"
    )
    print(body)
    if not args.no_write:
        write_section("detector-search", body)


if __name__ == "__main__":
    main()
