"""Which object sizes the Guided demo's detector finds: AP50 and recall per box-area tercile of
the demo dataset's val split (core.train.size_terciles), for the demo preset's training with one
setting changed at a time. Each run: the first-start dataset in a fresh home, one train job with
the demo preset's train settings (the backbone a stand-in for the search's cell), then the
terciles of its kept val predictions (every class's own boxes, as the evaluation scores them),
and again with one label per object (the cross-class step of post-processing, as pictures
are drawn: it deletes the right class's box wherever the wrong class scored higher).

    .venv/bin/python bench/size_terciles.py [--backbone nas:DARTS_V2] [--epochs N]
        [--set KEY=VALUE ...] [--label TEXT] [--threads 1] [--write NAME] [--home DIR]

`--set` overrides a train spec field (JSON values: scale_range=[0.6,1.4],
model_overrides={"max_level":6}); `--write NAME` replaces section size_NAME of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import (  # noqa: E402
    command_line,
    ensure_demo_dataset,
    machine,
    parse_sets,
    presets,
    run_here,
    table,
    write_section,
)
from core.app.demo import demo_specs  # noqa: E402
from core.engine.store import Store  # noqa: E402
from core.train.size_terciles import size_terciles, train_job_size_terciles  # noqa: E402


def predictions_one_label(store: Store, job: dict) -> list[dict]:
    """The job's model on its val split with one label per object (as pictures are drawn)."""
    from torch.utils.data import DataLoader

    from core.data.dataset import DetectionDataset, collate
    from core.train.evaluate import predict_dataset
    from core.train.predict import load_model

    loaded = load_model(store, job["id"], optimize=False)
    data = DetectionDataset(
        store,
        job["spec"]["dataset"],
        "val",
        loaded.image_size,
        size_multiple=loaded.config.stride_multiple,
    )
    loader = DataLoader(data, batch_size=8, collate_fn=collate)
    return predict_dataset(loaded.bench, loader, "cpu", one_label=True)


def row(label: str, terciles, extra: list) -> list:
    cells = [label]
    for t in terciles:
        cells.append(
            f"{t.ap50:.3f} / {t.recall:.2f} / "
            + ("n/a" if t.recall_at_threshold is None else f"{t.recall_at_threshold:.2f}")
        )
    return cells + extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="nas:DARTS_V2")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--label", help="the row's name (default: the changed settings)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", metavar="NAME")
    parser.add_argument("--home", type=Path, help="keep the home (dataset, model) here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train = dict(demo_specs(presets()["demo"]["default"], "shapes-demo")[1])
    train.update(backbone=args.backbone, **parse_sets(args.set))
    if args.epochs:
        train["epochs"] = args.epochs
    with tempfile.TemporaryDirectory(prefix="size_terciles_") as temp:
        store = Store(args.home or temp)
        ensure_demo_dataset(store)
        started = time.time()
        job = run_here(store, "train", train)
        seconds = time.time() - started
        terciles = train_job_size_terciles(store, job["id"])
        threshold = job["result"].get("score_threshold")
        drawn = size_terciles(_val_json(store), predictions_one_label(store, job), threshold)
    label = args.label or f"{args.backbone}, " + ", ".join(args.set or ["demo preset"])
    bounds = ", ".join(f"{t.name} {t.area_min**0.5:.0f}-{t.area_max**0.5:.0f} px" for t in terciles)
    extra = [f"{job['result'].get('AP50', float('nan')):.3f}", f"{threshold}", f"{seconds:.0f}"]
    rows = [row(label, terciles, extra), row(label + "; one label per object", drawn, extra)]
    text = table(
        [
            "run",
            "small AP50 / recall / at thr",
            "mid",
            "large",
            "AP50",
            "threshold",
            "train s",
        ],
        rows,
    )
    body = (
        f"Machine: {machine()}. Repeat: `{command_line('bench/size_terciles.py')}`. "
        f"Train spec: `{json.dumps(train)}`. Terciles (box side): {bounds}.\n\n{text}\n"
    )
    print(body, flush=True)
    if args.write:
        write_section(f"size_{args.write}", body)
    return 0


def _val_json(store: Store) -> Path:
    from core.data.dataset import open_dataset

    return open_dataset(store, "shapes-demo").split_json("val")


if __name__ == "__main__":
    sys.exit(main())
