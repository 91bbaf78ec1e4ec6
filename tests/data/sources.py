"""Writers of small COCO / VOC / YOLO source folders holding the same scene (for import tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

CLASSES = ["cat", "dog"]
# file name -> (H, W, boxes (x1, y1, x2, y2) integer pixels, labels 0-based)
SCENE = {
    "a.png": (48, 64, [(4, 6, 20, 30), (30, 10, 60, 40)], [0, 1]),
    "b_ä.png": (40, 40, [(0, 0, 12, 12)], [1]),  # non-ASCII file name
    "c.png": (48, 64, [(10, 10, 30, 20), (35, 5, 50, 45), (1, 30, 20, 47)], [0, 0, 1]),
    "d.png": (32, 32, [(5, 5, 25, 25)], [0]),
}
SPLIT = {"a.png": "train", "b_ä.png": "train", "c.png": "train", "d.png": "val"}


def draw(h: int, w: int, boxes, labels) -> np.ndarray:
    image = np.full((h, w, 3), 40, np.uint8)
    for (x1, y1, x2, y2), label in zip(boxes, labels):
        image[y1:y2, x1:x2] = (220, 60, 60) if label == 0 else (60, 220, 60)
    return image


def write_images(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        h, w, boxes, labels = SCENE[name]
        Image.fromarray(draw(h, w, boxes, labels)).save(folder / name)


def coco_doc(names, start_id: int = 1) -> dict:
    images, anns = [], []
    for i, name in enumerate(names, start=start_id):
        h, w, boxes, labels = SCENE[name]
        images.append({"id": i, "file_name": name, "height": h, "width": w})
        for (x1, y1, x2, y2), label in zip(boxes, labels):
            anns.append(
                {
                    "id": len(anns) + 100 * i,
                    "image_id": i,
                    "category_id": 10 + label,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    return {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 10 + i, "name": c} for i, c in enumerate(CLASSES)],
    }


def write_coco(root: Path) -> Path:
    """Standard layout: annotations/instances_{train,val}2017.json + train2017/ + val2017/."""
    (root / "annotations").mkdir(parents=True)
    for split in ("train", "val"):
        names = [n for n in SCENE if SPLIT[n] == split]
        write_images(root / f"{split}2017", names)
        doc = coco_doc(names, start_id=1 if split == "train" else 50)
        (root / "annotations" / f"instances_{split}2017.json").write_text(
            json.dumps(doc, ensure_ascii=False), encoding="utf-8"
        )
    return root


def write_voc(root: Path) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    write_images(root / "JPEGImages", SCENE)
    for split in ("train", "val"):
        ids = [Path(n).stem for n in SCENE if SPLIT[n] == split]
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text(
            "\n".join(ids) + "\n", encoding="utf-8"
        )
    for name, (h, w, boxes, labels) in SCENE.items():
        objects = "".join(
            f"<object><name>{CLASSES[label]}</name><difficult>{int(k == 0 and name == 'c.png')}"
            f"</difficult><bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin><xmax>{x2}</xmax>"
            f"<ymax>{y2}</ymax></bndbox></object>"
            for k, ((x1, y1, x2, y2), label) in enumerate(zip(boxes, labels))
        )
        xml = (
            f"<annotation><filename>{name}</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{objects}</annotation>"
        )
        (root / "Annotations" / f"{Path(name).stem}.xml").write_text(xml, encoding="utf-8")
    return root


def write_yolo(root: Path) -> Path:
    for split in ("train", "val"):
        names = [n for n in SCENE if SPLIT[n] == split]
        write_images(root / "images" / split, names)
        (root / "labels" / split).mkdir(parents=True)
        for name in names:
            h, w, boxes, labels = SCENE[name]
            lines = [
                f"{label} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
                for (x1, y1, x2, y2), label in zip(boxes, labels)
            ]
            (root / "labels" / split / f"{Path(name).stem}.txt").write_text("\n".join(lines))
    (root / "data.yaml").write_text(
        yaml.safe_dump(
            {"path": ".", "train": "images/train", "val": "images/val", "names": CLASSES}
        )
    )
    return root
