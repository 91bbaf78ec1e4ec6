"""Importers: the same scene in COCO, VOC and YOLO gives the same boxes; each validation
problem gives its report line; failures are atomic; the source is never modified."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from core.data.formats.report import format_report
from core.data.importers import import_dataset
from core.data.internal import new_workdir
from core.errors import DatasetError
from tests.data.sources import (
    CLASSES,
    SCENE,
    coco_doc,
    write_coco,
    write_images,
    write_voc,
    write_yolo,
)


def _import(tmp_path, src, **kw):
    work = tmp_path / "work"
    (work / "images").mkdir(parents=True)
    return import_dataset(src, work, **kw), work


def _boxes(work: Path) -> dict:
    """{(split, source file name): sorted [(class, x1, y1, x2, y2)]} from the internal form."""
    out = {}
    for split in ("train", "val"):
        doc = json.loads((work / f"{split}.json").read_text())
        names = {c["id"]: c["name"] for c in doc["categories"]}
        for im in doc["images"]:
            out[(split, Path(im["source_file"]).name)] = sorted(
                (
                    names[a["category_id"]],
                    *(
                        round(v, 3)
                        for v in (
                            a["bbox"][0],
                            a["bbox"][1],
                            a["bbox"][0] + a["bbox"][2],
                            a["bbox"][1] + a["bbox"][3],
                        )
                    ),
                )
                for a in doc["annotations"]
                if a["image_id"] == im["id"]
            )
            assert (work / "images" / im["file_name"]).is_file()
            assert im["file_name"].isascii()
    return out


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


EXPECTED = {
    (split, name): sorted((CLASSES[l], *map(float, b)) for b, l in zip(boxes, labels))
    for name, (h, w, boxes, labels) in SCENE.items()
    for split in [("val" if name == "d.png" else "train")]
}


@pytest.mark.parametrize(
    "fmt,writer", [("coco", write_coco), ("voc", write_voc), ("yolo", write_yolo)]
)
def test_same_scene_same_boxes(tmp_path, fmt, writer):
    src = writer(tmp_path / "src")
    before = _digest(src)
    result, work = _import(tmp_path, src)
    assert result.format == fmt and result.classes == CLASSES
    assert _boxes(work) == EXPECTED
    assert _digest(src) == before  # the source is never modified
    assert result.counts == {
        "train_images": 3,
        "train_objects": 6,
        "val_images": 1,
        "val_objects": 1,
    }


def test_voc_difficult_flag_kept(tmp_path):
    _, work = _import(tmp_path, write_voc(tmp_path / "src"), fmt="voc")
    anns = json.loads((work / "train.json").read_text())["annotations"]
    assert sum(a.get("difficult", 0) for a in anns) == 1


def test_explicit_wrong_format_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="not recognised as a VOC.*looks like coco"):
        _import(tmp_path, write_coco(tmp_path / "src"), fmt="voc")


def test_unrecognised_folder_fails(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="no COCO, VOC or YOLO dataset"):
        _import(tmp_path, tmp_path / "src")


def _broken_coco(root: Path) -> Path:
    """One COCO file with every problem the report knows, next to usable data."""
    write_images(root / "images", list(SCENE))
    (root / "images" / "garbage.jpg").write_bytes(b"this is not a jpeg")
    doc = coco_doc(list(SCENE))
    doc["images"][0]["width"] = 99  # a.png: recorded size differs from the file
    doc["images"] += [
        {"id": 20, "file_name": "missing.png", "height": 10, "width": 10},
        {"id": 21, "file_name": "garbage.jpg", "height": 10, "width": 10},
        {"id": 22, "file_name": "dup1.png", "height": 10, "width": 10},
        {"id": 22, "file_name": "dup2.png", "height": 10, "width": 10},
        {"id": 23, "file_name": "c.png", "height": 48, "width": 64},  # same file again
        {"id": 24, "file_name": "d.png", "height": 32, "width": 32},
        {"id": 25, "file_name": "../../outside.png", "height": 48, "width": 64},
    ]
    write_images(root.parent, ["a.png"])
    (root.parent / "a.png").rename(root.parent / "outside.png")  # a real file, outside
    doc["images"] = [im for im in doc["images"] if im["id"] != 4]  # d.png listed only as id 24
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != 4]  # -> d.png empty
    doc["annotations"] += [
        {"id": 900, "image_id": 2, "category_id": 10, "bbox": [30, 30, 20, 20]},  # partly outside
        {"id": 901, "image_id": 2, "category_id": 10, "bbox": [5, 5, 0, 10]},  # zero area
        {"id": 902, "image_id": 2, "category_id": 10, "bbox": [math.nan, 1, 2, 2]},  # NaN
        {"id": 903, "image_id": 2, "category_id": 99, "bbox": [1, 1, 5, 5]},  # unknown category
        {"id": 904, "image_id": 3, "category_id": 11, "bbox": [0, 0, 64, 48], "iscrowd": 1},
    ]
    (root / "instances.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return root


def test_each_problem_has_its_report_line(tmp_path):
    result, work = _import(tmp_path, _broken_coco(tmp_path / "src"))
    problems = {(p["code"], p["file"]) for p in result.report["problems"]}
    expected = {
        ("size_mismatch", "images/a.png"),
        ("missing_image", "images/missing.png"),
        ("unreadable_image", "images/garbage.jpg"),
        ("duplicate_image_id", "instances.json"),
        ("duplicate_file_name", "images/c.png"),
        ("box_clipped", "images/b_ä.png"),
        ("bad_box", "images/b_ä.png"),
        ("unknown_category", "images/b_ä.png"),
        ("crowd", "images/c.png"),
        ("empty_image", "images/d.png"),
        ("split_missing", "src"),
        ("unsafe_path", "images/../../outside.png"),
    }
    assert expected <= problems, expected - problems
    assert result.report["summary"]["bad_box"] == 2  # zero area and NaN
    by_code = {p["code"]: p for p in result.report["problems"]}
    assert by_code["duplicate_image_id"]["severity"] == "error"
    assert by_code["size_mismatch"]["action"] == "size taken from the file"
    docs = [json.loads((work / f"{s}.json").read_text()) for s in ("train", "val")]
    images = {im["source_file"]: im for d in docs for im in d["images"]}
    assert set(images) == {"images/a.png", "images/b_ä.png", "images/c.png", "images/d.png"}
    assert images["images/a.png"]["width"] == 64  # taken from the file
    anns = [a for d in docs for a in d["annotations"]]
    clipped = [
        a for a in anns if a["image_id"] == images["images/b_ä.png"]["id"] and a["bbox"][0] == 30
    ]
    assert clipped and clipped[0]["bbox"] == [30.0, 30.0, 10.0, 10.0]
    assert sum(a["iscrowd"] for a in anns) == 1
    text = format_report(result.report).splitlines()
    first = next(line for line in text if line.startswith("["))
    assert first.startswith("[error]") and "-> " in first  # errors listed first, with action
    unreadable = by_code["unreadable_image"]["problem"]
    assert str(tmp_path) not in unreadable  # no temporary paths leak into the report


def test_nothing_usable_fails_with_first_problems(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    doc = {
        "images": [{"id": 1, "file_name": "gone.png", "height": 5, "width": 5}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
        "categories": [{"id": 1, "name": "x"}],
    }
    (src / "instances.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="nothing usable.*gone.png: image file not found"):
        _import(tmp_path, src)


def test_too_many_pixels_is_skipped(tmp_path):
    result, _ = _import(tmp_path, write_yolo(tmp_path / "src"), max_pixels=40 * 40)
    assert result.report["summary"]["image_too_large"] == 2  # the two 64 x 48 images


def test_yolo_polygons_bad_lines_and_missing_labels(tmp_path):
    src = write_yolo(tmp_path / "src")
    label = src / "labels" / "train" / "a.txt"
    label.write_text(
        label.read_text() + "\n1 0.1 0.1 0.5 0.1 0.5 0.5\nnot a line\n7 0.5 0.5 0.1 0.1\n"
    )
    (src / "labels" / "train" / "c.txt").unlink()
    result, work = _import(tmp_path, src)
    summary = result.report["summary"]
    assert summary["bad_label_line"] == 1 and summary["unknown_category"] == 1
    assert summary["empty_image"] == 1
    doc = json.loads((work / "train.json").read_text())
    a_id = next(im["id"] for im in doc["images"] if im["source_file"].endswith("a.png"))
    boxes = [a["bbox"] for a in doc["annotations"] if a["image_id"] == a_id]
    assert [6.4, 4.8, 25.6, 19.2] in [[round(v, 3) for v in b] for b in boxes]  # polygon bbox


def test_workdir_naming(store):
    work = new_workdir(store.home, "x", job_id=7)
    assert work.name.startswith(".tmp-x-job7-") and (work / "images").is_dir()
    again = new_workdir(store.home, "x", job_id=7)  # a retry removes the earlier leftovers
    assert not work.exists() and again.exists()


def test_coco_split_folders_layout(tmp_path):
    """Roboflow-style: train/ valid/ test/ each with _annotations.coco.json and the images."""
    root = tmp_path / "src"
    for folder, names in (
        ("train", ["a.png", "b_ä.png", "c.png"]),
        ("valid", ["d.png"]),
        ("test", ["d.png"]),
    ):
        write_images(root / folder, names)
        (root / folder / "_annotations.coco.json").write_text(
            json.dumps(coco_doc(names), ensure_ascii=False), encoding="utf-8"
        )
    result, work = _import(tmp_path, root)
    assert result.format == "coco" and result.counts["train_images"] == 3
    assert result.counts["val_images"] == 1
    assert result.report["summary"] == {"test_split_skipped": 1}
    assert _boxes(work) == EXPECTED


@pytest.mark.parametrize("writer", [write_coco, write_voc, write_yolo])
def test_stats_and_counts_match_the_written_files(tmp_path, writer):
    """The importer's stats/counts (from its compact form) equal those of the json it wrote,
    and commit_dataset's streamed read of those files gives the same."""
    from core.data.internal import _StreamedDoc, split_counts
    from core.data.stats import compute_stats

    result, work = _import(tmp_path, writer(tmp_path / "src"))
    docs = {s: json.loads((work / f"{s}.json").read_text()) for s in ("train", "val")}
    assert result.stats == compute_stats(result.classes, docs)
    assert result.counts == split_counts(docs)
    streamed = {s: _StreamedDoc(work / f"{s}.json") for s in ("train", "val")}
    assert compute_stats(result.classes, streamed) == result.stats
    assert split_counts(streamed) == result.counts
