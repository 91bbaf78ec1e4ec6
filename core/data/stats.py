"""Dataset statistics stored in the `datasets.stats` column (shown by `data show` and the GUI).

Relative box size is sqrt(box area / image area), so 0.1 means a box about a tenth of the image
side; its histogram uses fixed edges so that two datasets can be compared.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

SIZE_EDGES = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]
SPLITS = ("train", "val")


def compute_stats(classes: list[str], docs: dict[str, dict]) -> dict:
    """Statistics of COCO documents per split ({"train": doc, "val": doc}).

    Returns {"per_class": {class: {"train": n, "val": n}}, "box_size": {"edges", "counts"},
    "objects_per_image": {"histogram": {n: images}, "mean", "max"}, "crowd": n,
    "empty_images": n, "image_size": {"min": [h, w], "max": [h, w]}}.
    """
    per_class = {c: {s: 0 for s in SPLITS} for c in classes}
    rel_sizes: list[float] = []
    per_image: Counter = Counter()
    crowd = 0
    heights, widths, image_ids = [], [], []
    for split in SPLITS:
        doc = docs.get(split) or {"images": [], "annotations": []}
        size_of = {im["id"]: (im["height"], im["width"]) for im in doc["images"]}
        for im in doc["images"]:
            heights.append(im["height"])
            widths.append(im["width"])
            image_ids.append((split, im["id"]))
        for ann in doc["annotations"]:
            if ann.get("iscrowd"):
                crowd += 1
                continue
            cat = ann["category_id"] - 1
            if 0 <= cat < len(classes):
                per_class[classes[cat]][split] += 1
            per_image[(split, ann["image_id"])] += 1
            h, w = size_of.get(ann["image_id"], (0, 0))
            if h and w:
                bw, bh = ann["bbox"][2], ann["bbox"][3]
                rel_sizes.append(math.sqrt(max(bw * bh, 0.0) / (h * w)))
    counts = [per_image.get(key, 0) for key in image_ids]
    hist = Counter(counts)
    size_counts, _ = np.histogram(np.clip(rel_sizes, 0.0, 1.0), bins=SIZE_EDGES)
    return {
        "per_class": per_class,
        "box_size": {"edges": SIZE_EDGES, "counts": size_counts.tolist()},
        "objects_per_image": {
            "histogram": {str(k): hist[k] for k in sorted(hist)},
            "mean": float(np.mean(counts)) if counts else 0.0,
            "max": int(max(counts)) if counts else 0,
        },
        "crowd": crowd,
        "empty_images": hist.get(0, 0),
        "image_size": {
            "min": [min(heights, default=0), min(widths, default=0)],
            "max": [max(heights, default=0), max(widths, default=0)],
        },
    }
