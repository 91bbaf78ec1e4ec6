"""Exports that other tools read as they are.

YOLO: data.yaml resolved with Ultralytics' own rule (re-implemented below, as
ultralytics.data.utils.check_det_dataset does it) finds every image and label from an unrelated
working directory. COCO: the export loads in pycocotools' COCO and torchvision's CocoDetection.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from core.data.export import export_dataset
from tests.data.conftest import make_generated


def ultralytics_split_dirs(yaml_path: Path, datasets_dir: Path) -> list[dict[str, Path]]:
    """{split: image folder} as Ultralytics would resolve data.yaml, for both of its rules.

    root = `path`, else the yaml's folder; a relative root is taken under DATASETS_DIR (older
    releases: always; newer: when it does not exist seen from the cwd, where `.` always does,
    so it stays relative to the cwd). train/val are joined to the root.
    """
    config = yaml.safe_load(yaml_path.read_text())
    root = Path(config.get("path") or yaml_path.parent)
    bases = [root] if root.is_absolute() else [datasets_dir / root, Path.cwd() / root]
    return [{s: (base / config[s]).resolve() for s in ("train", "val")} for base in bases]


def ultralytics_label(image: Path) -> Path:
    """img2label_paths: the last /images/ becomes /labels/, the suffix .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sb.join(str(image).rsplit(sa, 1))).with_suffix(".txt")


def split_counts(store, name: str) -> dict[str, int]:
    folder = store.home / "datasets" / name
    return {
        s: len(json.loads((folder / f"{s}.json").read_text())["images"]) for s in ("train", "val")
    }


def test_yolo_export_resolves_with_ultralytics_rule_from_elsewhere(store, tmp_path, monkeypatch):
    make_generated(store, "tiny")
    out = export_dataset(store, "tiny", tmp_path / "export", "yolo")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = yaml.safe_load((out / "data.yaml").read_text())
    assert config["path"] == str(out) and config["nc"] == 6 and config["names"][0] == "circle"
    want = split_counts(store, "tiny")
    for dirs in ultralytics_split_dirs(out / "data.yaml", tmp_path / "ultralytics-datasets"):
        for split, folder in dirs.items():
            images = sorted(folder.glob("*.png")) + sorted(folder.glob("*.jpg"))
            assert len(images) == want[split], (split, folder)
            assert all(ultralytics_label(im).is_file() for im in images)


def test_the_rule_refuses_a_relative_dot_path(tmp_path, monkeypatch):
    """The check above fails on the old `path: .` (so it tests what Ultralytics does)."""
    export = tmp_path / "export"
    (export / "images" / "train").mkdir(parents=True)
    (export / "images" / "val").mkdir()
    (export / "images" / "train" / "a.png").write_bytes(b"x")
    (export / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\n")
    monkeypatch.chdir(tmp_path)
    for dirs in ultralytics_split_dirs(export / "data.yaml", tmp_path / "datasets"):
        assert not dirs["train"].is_dir()


def test_coco_export_loads_in_pycocotools_and_torchvision(store, tmp_path):
    from pycocotools.coco import COCO
    from torchvision.datasets import CocoDetection

    make_generated(store, "tiny")
    out = export_dataset(store, "tiny", tmp_path / "export", "coco")
    ann_file = out / "annotations" / "instances_val.json"
    internal = json.loads((store.home / "datasets" / "tiny" / "val.json").read_text())
    coco = COCO(str(ann_file))
    assert len(coco.getImgIds()) == len(internal["images"]) == 2
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())][0] == "circle"
    assert len(coco.getAnnIds()) == len(internal["annotations"])
    dataset = CocoDetection(str(out / "val"), str(ann_file))
    image, targets = dataset[0]
    first = coco.loadImgs(dataset.ids[0])[0]
    assert image.size == (first["width"], first["height"]) == (96, 96)
    assert len(targets) == len(coco.getAnnIds(imgIds=[first["id"]])) > 0
    x, y, w, h = targets[0]["bbox"]
    assert w > 0 and h > 0 and x + w <= 96 and y + h <= 96


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_export_into_a_non_empty_folder_is_refused_untouched(store, tmp_path, fmt):
    from core.errors import SpecError

    make_generated(store, "tiny")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(SpecError, match="not an empty folder"):
        export_dataset(store, "tiny", target, fmt)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".busy-")]
