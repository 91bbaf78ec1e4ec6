"""The detector payoff of a search: AP50 at equal wall-clock training time, searched backbone vs
MobileNetV3-Small vs EfficientNet-B0 (search issue, item 6).

On shapes-demo (the first-start dataset, regenerated in a fresh home) a latency-aware zero-cost
search of `--search-minutes` (whole job) finds a cell; then efficientdet_tiny (quick-cpu preset)
is trained on three backbones for the same wall-clock budget `--train-minutes`: the searched
cell (nas:<search>), timm's mobilenetv3_small_100 and efficientnet_b0, all from scratch. The
cosine schedule must know its length, so each backbone first trains one probe epoch; its epoch
time (training plus the evaluation share) sets the epochs that fit the budget. Every job is the
real train task run by a worker in this process.

    .venv/bin/python bench/payoff.py [--search-minutes 4] [--train-minutes 5] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import machine, run_here as run, table, write_section  # noqa: E402
from core.engine.store import Store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PRESETS = REPO / "assets" / "presets.json"
DATASET = "shapes-demo"
PEERS = ("mobilenetv3_small_100", "efficientnet_b0")


def equal_time_training(store: Store, backbone: str, seconds: float, every: int) -> dict:
    """Probe one epoch, then train as many epochs as fit `seconds` (at least one)."""
    base = {"dataset": DATASET, "preset": "quick-cpu", "backbone": backbone}
    probe = run(store, "train", dict(base, epochs=1))
    epoch_s = probe["finished_at"] - probe["started_at"]  # start-up and evaluation included
    epochs = max(1, math.floor(seconds / epoch_s))
    job = run(store, "train", dict(base, epochs=epochs, eval_every=max(1, epochs // every)))
    result = job["result"] or {}
    return {"backbone": backbone, "epochs": epochs, "probe_s": epoch_s,
            "wall_s": job["finished_at"] - job["started_at"], "AP50": result.get("AP50"),
            "AP": result.get("AP")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-minutes", type=float, default=4.0)
    parser.add_argument("--train-minutes", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="payoff_")) / "home"
    store = Store(home)
    first = json.loads(PRESETS.read_text())["first_start_dataset"]
    run(store, "dataset.generate", dict(first, name=DATASET))
    search = run(store, "search", {"dataset": DATASET, "strategy": "zero-cost",
                                   "minutes": args.search_minutes, "fast": True,
                                   "objective": "accuracy-latency"})
    result = search["result"] or {}
    rows = []
    for backbone in (f"nas:{search['id']}", *PEERS):
        r = equal_time_training(store, backbone, 60 * args.train_minutes, every=5)
        print(json.dumps(r), flush=True)
        name = "searched cell (zero-cost, accuracy-latency)" if backbone.startswith("nas:") \
            else backbone
        rows.append([name, str(r["epochs"]), f"{r['probe_s']:.0f}", f"{r['wall_s']:.0f}",
                     f"{r['AP50']:.3f}", f"{r['AP']:.3f}"])
    best_peer = max(float(row[4]) for row in rows[1:])
    verdict = ("matches or beats" if float(rows[0][4]) >= best_peer else "is below") + \
        f" the better peer ({float(rows[0][4]) - best_peer:+.3f} AP50)"
    body = (f"## Detector payoff at equal training time (bench/payoff.py)\n\n"
            f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end.\n"
            f"Repeat: `.venv/bin/python bench/payoff.py --search-minutes {args.search_minutes:g} "
            f"--train-minutes {args.train_minutes:g}`. shapes-demo (400 images, 256 px, easy); "
            f"a {args.search_minutes:g}-minute zero-cost search (latency-aware objective, fast "
            f"crops; searched {_pct(result, 'searched')} vs random {_pct(result, 'random')} "
            f"proxy accuracy in its report), then efficientdet_tiny (quick-cpu preset, from "
            f"scratch) on each backbone for {args.train_minutes:g} minutes of wall time: one "
            f"probe epoch sets the epochs that fit. AP50 / AP: val split, pycocotools.\n\n"
            + table(["backbone", "epochs", "probe epoch s", "train wall s", "AP50", "AP"], rows)
            + f"\n\nThe searched backbone {verdict}.\n")
    print(body)
    if not args.no_write:
        write_section("payoff", body)


def _pct(result: dict, key: str) -> str:
    value = (result.get(key) or {}).get("mean")
    return "n/a" if value is None else f"{100 * value:.1f}%"


if __name__ == "__main__":
    main()
