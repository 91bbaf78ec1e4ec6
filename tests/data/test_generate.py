"""Built-in generators: determinism, tight visible boxes, occlusion limits, COCO output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data.generate import (
    DIFFICULTIES,
    GLYPH_CLASSES,
    SHAPE_CLASSES,
    generate_dataset,
    render_scene,
    split_indices,
)
from core.errors import SpecError


@pytest.mark.parametrize("kind", ["shapes", "glyphs"])
@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_boxes_are_tight_around_visible_pixels(kind, difficulty):
    classes = SHAPE_CLASSES if kind == "shapes" else GLYPH_CLASSES
    level = DIFFICULTIES[difficulty]
    n_objects = 0
    for i in range(6):
        scene = render_scene(kind, np.random.default_rng([7, i]), (128, 160), (3, 6), difficulty)
        assert scene.image.shape == (128, 160, 3) and scene.image.dtype == np.uint8
        for obj, obj_id in zip(scene.objects, scene.ids):
            ys, xs = np.nonzero(scene.id_map == obj_id)
            x1, y1, x2, y2 = obj.box
            # exact extent of the visible mask (x2, y2 exclusive)
            assert (x1, y1, x2, y2) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert obj.area == len(xs) <= obj.full_area
            assert obj.area >= 0.5 * level.min_visible * obj.full_area
            assert 0 <= obj.label < len(classes)
            n_objects += 1
        # every annotated id is on the map; no unannotated object id larger than the count
        assert scene.id_map.max() >= max(scene.ids, default=0)
    assert n_objects >= 12


def test_occluded_objects_keep_min_visible_fraction():
    level = DIFFICULTIES["hard"]
    fractions = []
    for i in range(10):
        scene = render_scene("shapes", np.random.default_rng([1, i]), (96, 96), (6, 8), "hard")
        fractions += [o.area / o.full_area for o in scene.objects]
    assert min(fractions) >= level.min_visible - 1e-9
    assert min(fractions) < 0.999  # some occlusion really happens at this density


def test_deterministic_for_a_seed():
    a = render_scene("glyphs", np.random.default_rng([3, 5]), (64, 64), (1, 4), "medium")
    b = render_scene("glyphs", np.random.default_rng([3, 5]), (64, 64), (1, 4), "medium")
    c = render_scene("glyphs", np.random.default_rng([4, 5]), (64, 64), (1, 4), "medium")
    assert np.array_equal(a.image, b.image) and [o.box for o in a.objects] == [
        o.box for o in b.objects
    ]
    assert not np.array_equal(a.image, c.image)


def test_object_sizes_follow_difficulty():
    sides = []
    for i in range(20):
        scene = render_scene("shapes", np.random.default_rng([9, i]), (200, 200), (1, 3), "easy")
        sides += [max(o.box[2] - o.box[0], o.box[3] - o.box[1]) / 200 for o in scene.objects]
    lo, hi = DIFFICULTIES["easy"].min_size, DIFFICULTIES["easy"].max_size
    assert min(sides) >= lo * 0.5 and max(sides) <= hi * 1.5


def test_generate_dataset_writes_internal_coco(tmp_path):
    out = generate_dataset(
        tmp_path / "d",
        "shapes",
        images=5,
        size=(48, 64),
        objects=(1, 3),
        difficulty="easy",
        val_fraction=0.4,
        seed=2,
    )
    assert out["classes"] == list(SHAPE_CLASSES)
    train = json.loads((tmp_path / "d" / "train.json").read_text())
    val = json.loads((tmp_path / "d" / "val.json").read_text())
    assert len(train["images"]) == 3 and len(val["images"]) == 2
    assert [c["id"] for c in train["categories"]] == list(range(1, 7))
    ids = [im["id"] for im in train["images"] + val["images"]]
    assert sorted(ids) == [1, 2, 3, 4, 5]
    for doc in (train, val):
        for im in doc["images"]:
            assert (im["height"], im["width"]) == (48, 64)
            assert (tmp_path / "d" / "images" / im["file_name"]).is_file()
        for ann in doc["annotations"]:
            x, y, w, h = ann["bbox"]
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 64 and y + h <= 48
            assert ann["iscrowd"] == 0 and 0 < ann["area"] <= w * h
    assert out["counts"]["train_objects"] == len(train["annotations"])


def test_split_indices_keeps_both_splits():
    assert split_indices(2, 0.1, 0).sum() == 1
    assert split_indices(10, 0.0, 0).sum() == 0
    assert split_indices(100, 0.2, 0).sum() == 20
    assert np.array_equal(split_indices(50, 0.2, 3), split_indices(50, 0.2, 3))


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(SpecError, match="unknown generator kind"):
        generate_dataset(tmp_path, "faces", images=1)
