"""Dataset previews: seeded choice, boxes drawn in the class colour."""

from __future__ import annotations

import numpy as np

from core.data.dataset import load_records, open_dataset
from core.viz.detections import class_color
from core.viz.previews import preview_images
from tests.data.conftest import make_generated


def test_preview_images_draw_class_coloured_boxes(store):
    make_generated(store)  # 'tiny': 6 shapes images of 96 x 96, 4 of them in train
    images = preview_images(open_dataset(store, "tiny"), split="train", n=4, seed=1)
    assert len(images) == 4 and all(im.shape == (96, 96, 3) for im in images)
    again = preview_images(open_dataset(store, "tiny"), split="train", n=4, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(images, again))
    records = load_records(open_dataset(store, "tiny"), "train")  # n = all 4, in order
    checked, hits = 0, 0
    for im, rec in zip(images, records):
        for box, label in zip(rec.boxes, rec.labels):
            x1 = min(int(round(box[0])), 95)
            y_mid = int(round((box[1] + box[3]) / 2))
            color = np.array(class_color(int(label)))
            checked += 1
            hits += int(np.abs(im[y_mid, x1].astype(int) - color).max() <= 40)
    assert checked >= 4 and hits >= 0.7 * checked  # left edges drawn in the class colour


def test_preview_falls_back_to_other_split(store):
    make_generated(store, "noval", images=3, val_fraction=0.0)
    assert len(preview_images(open_dataset(store, "noval"), split="val", n=10)) == 3
