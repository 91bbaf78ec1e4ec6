"""The detector payoff of a search: AP50 at equal wall-clock training time, searched backbone vs
MobileNetV3-Small vs EfficientNet-B0.

On shapes-demo (the first-start dataset, regenerated in a fresh home) a latency-aware search of
`--search-minutes` (whole job; the Guided demo's search settings, its strategy unless
`--strategy`) finds a cell; then efficientdet_tiny (quick-cpu preset) is trained on three
backbones for the same wall-clock budget `--train-minutes`: the searched cell (nas:<search>),
timm's mobilenetv3_small_100 and efficientnet_b0, all from scratch. The cosine schedule must
know its length, so each backbone first trains one probe epoch; its training and evaluation
seconds (and its start-up, paid once) set the epochs that fit the budget with 5 evaluations.
Every job is the real train task run by a worker in this process.

    .venv/bin/python bench/payoff.py [--search-minutes 4] [--train-minutes 5] [--strategy S]
                                     [--no-write]
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

from bench.common import DEMO_DATASET as DATASET  # noqa: E402
from bench.common import ensure_demo_dataset, machine, presets, table, write_section  # noqa: E402
from bench.common import run_here as run
from core.engine.store import Store  # noqa: E402

PEERS = ("mobilenetv3_small_100", "efficientnet_b0")


def equal_time_training(
    store: Store,
    backbone: str,
    seconds: float,
    evals: int,
    spec: dict | None = None,
    device: str = "cpu",
) -> dict:
    """Probe one epoch, then train as many epochs as fit `seconds` (at least one) with `evals`
    evaluations: the probe's start-up and saving are paid once, its epoch's training time per
    epoch and its evaluation's time per evaluation. `spec`: more train options (dataset, image
    size, model overrides...) over the quick-cpu preset on shapes-demo."""
    base = {"dataset": DATASET, "preset": "quick-cpu", "backbone": backbone, **(spec or {})}
    probe = run(store, "train", dict(base, epochs=1), device=device)
    wall = probe["finished_at"] - probe["started_at"]
    train_s, eval_s = probe["result"]["train_seconds"], probe["result"]["eval_seconds"]
    fixed = wall - train_s - eval_s
    epochs = max(1, math.floor((seconds - fixed - evals * eval_s) / train_s))
    job = run(
        store, "train", dict(base, epochs=epochs, eval_every=max(1, epochs // evals)), device=device
    )
    result = job["result"] or {}
    return {
        "backbone": backbone,
        "model": result.get("model"),
        "epochs": epochs,
        "probe_s": wall,
        "epoch_s": train_s,
        "eval_s": eval_s,
        "wall_s": job["finished_at"] - job["started_at"],
        "AP50": result.get("AP50"),
        "AP": result.get("AP"),
    }


def main() -> None:
    demo = presets()["demo"]["default"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-minutes", type=float, default=4.0)
    parser.add_argument("--train-minutes", type=float, default=5.0)
    parser.add_argument(
        "--strategy",
        default=demo["search"]["strategy"],
        help="search strategy (default: the Guided demo's)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="payoff_")) / "home"
    store = Store(home)
    ensure_demo_dataset(store)
    # the Guided demo's search settings, with this strategy and budget
    spec = dict(
        demo["search"],
        dataset=DATASET,
        strategy=args.strategy,
        minutes=args.search_minutes,
        objective="accuracy-latency",
    )
    search = run(store, "search", spec)
    result = search["result"] or {}
    rows = []
    for backbone in (f"nas:{search['id']}", *PEERS):
        r = equal_time_training(store, backbone, 60 * args.train_minutes, evals=5)
        print(json.dumps(r), flush=True)
        name = (
            f"searched cell ({args.strategy}, accuracy-latency)"
            if backbone.startswith("nas:")
            else backbone
        )
        rows.append(
            [
                name,
                str(r["epochs"]),
                f"{r['epoch_s']:.1f}",
                f"{r['eval_s']:.1f}",
                f"{r['wall_s']:.0f}",
                f"{r['AP50']:.3f}",
                f"{r['AP']:.3f}",
            ]
        )
    best_peer = max(float(row[5]) for row in rows[1:])
    verdict = (
        "matches or beats" if float(rows[0][5]) >= best_peer else "is below"
    ) + f" the better peer ({float(rows[0][5]) - best_peer:+.3f} AP50)"
    body = (
        f"## Detector payoff at equal training time (bench/payoff.py)\n\n"
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end.\n"
        f"Repeat: `.venv/bin/python bench/payoff.py --search-minutes {args.search_minutes:g} "
        f"--train-minutes {args.train_minutes:g} --strategy {args.strategy}`. shapes-demo "
        f"(400 images, 256 px, easy); a {args.search_minutes:g}-minute {args.strategy} "
        f"search with the Guided demo's settings (latency-aware objective, fast crops; "
        f"searched {_pct(result, 'searched')} vs random {_pct(result, 'random')} proxy "
        f"accuracy in its report), then efficientdet_tiny (quick-cpu preset, from scratch) "
        f"on each backbone for {args.train_minutes:g} minutes of wall time: one probe epoch "
        f"(its training and evaluation seconds) sets the epochs that fit with 5 "
        f"evaluations. AP50 / AP: val split, pycocotools.\n\n"
        + table(["backbone", "epochs", "epoch s", "eval s", "train wall s", "AP50", "AP"], rows)
        + f"\n\nThe searched backbone {verdict}.\n"
    )
    print(body)
    if not args.no_write:
        write_section("payoff", body)


def _pct(result: dict, key: str) -> str:
    value = (result.get(key) or {}).get("mean")
    return "n/a" if value is None else f"{100 * value:.1f}%"


if __name__ == "__main__":
    main()
