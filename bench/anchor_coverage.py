"""How well the anchors cover the Guided demo's objects, by size: for every ground-truth box of
the demo's dataset (the first-start shapes set, 256 px), its best anchor IoU, how many anchors
reach the match threshold (IoU 0.5, the positives it trains), and which pyramid level holds its
best anchor, per tercile of box area. No training: it answers whether the largest objects are
missed because no anchor fits them (they would have few or no positives) or for another reason.

    .venv/bin/python bench/anchor_coverage.py [--images 400] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import command_line, machine, presets, run_here, table, write_section  # noqa: E402
from core.data.dataset import load_records, open_dataset  # noqa: E402
from core.det.anchors import MATCH_THRESHOLD, batched_iou, feature_sizes, generate_anchors  # noqa: E402
from core.det.config import get_config  # noqa: E402
from core.engine.store import Store  # noqa: E402

SIDE = 256  # the demo's input size (quick-cpu)


def box_rows(records, config) -> np.ndarray:
    """[area, best IoU, positives, best level] per ground-truth box."""
    size = (SIDE, SIDE)
    anchors = generate_anchors(
        size,
        config.min_level,
        config.max_level,
        config.num_scales,
        config.aspect_ratios,
        config.anchor_scale,
    )
    grid = feature_sizes(size, config.max_level)
    per_level = [
        grid[lv][0] * grid[lv][1] * config.num_anchors
        for lv in range(config.min_level, config.max_level + 1)
    ]
    level_of = np.repeat(np.arange(config.min_level, config.max_level + 1), per_level)
    rows = []
    for record in records:
        boxes = torch.as_tensor(np.asarray(record.boxes, np.float32).reshape(-1, 4))
        if not len(boxes):
            continue
        iou = batched_iou(boxes[None], anchors)[0]
        for m in range(len(boxes)):
            area = float((boxes[m, 2] - boxes[m, 0]) * (boxes[m, 3] - boxes[m, 1]))
            rows.append(
                (
                    area,
                    float(iou[m].max()),
                    int((iou[m] >= MATCH_THRESHOLD).sum()),
                    int(level_of[int(iou[m].argmax())]),
                )
            )
    return np.array(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    config = get_config("efficientdet_tiny", image_size=SIDE)
    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        spec = dict(presets()["first_start_dataset"], name="shapes-demo", images=args.images)
        run_here(store, "dataset.generate", spec)
        rows = box_rows(load_records(open_dataset(store, "shapes-demo"), "train"), config)
    low, high = np.quantile(rows[:, 0], [1 / 3, 2 / 3])
    out = []
    for name, mask in (
        ("small", rows[:, 0] < low),
        ("medium", (rows[:, 0] >= low) & (rows[:, 0] < high)),
        ("large", rows[:, 0] >= high),
    ):
        part = rows[mask]
        sides = np.sqrt(part[:, 0])
        levels = np.bincount(part[:, 3].astype(int), minlength=config.max_level + 1)
        out.append(
            [
                name,
                len(part),
                f"{sides.min():.0f}-{sides.max():.0f}",
                float(np.median(part[:, 1])),
                f"{np.mean(part[:, 2] == 0):.0%}",
                int(np.median(part[:, 2])),
                " / ".join(f"P{lv}: {n}" for lv, n in enumerate(levels) if n),
            ]
        )
    text = table(
        [
            "area tercile",
            "boxes",
            "side (px)",
            "best anchor IoU (median)",
            "no anchor >= 0.5",
            "positive anchors (median)",
            "best anchor's level",
        ],
        out,
    )
    print(text)
    if not args.no_write:
        write_section(
            "anchor_coverage",
            "\n".join(
                [
                    "## Anchor coverage of the demo's objects by size (bench/anchor_coverage.py)",
                    "",
                    f"Machine: {machine()}. Repeat: `{command_line('bench/anchor_coverage.py')}`. "
                    "The demo's dataset (shapes, "
                    f"{args.images} images, {SIDE} px) against efficientdet_tiny's anchors "
                    f"at {SIDE} px "
                    "(levels 3-7, 3 scales, 3 ratios, anchor scale 4).",
                    "",
                    text,
                    "",
                ]
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
