"""One bad entry is one reported problem: each malformed COCO / VOC / YOLO entry a tester fed
the importer is skipped (or its bad field ignored) and named with file, entry and reason; the
rest imports. An import fails only when nothing usable remains, with DatasetError."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from core.data.importers import import_dataset
from core.errors import DatasetError
from tests.data.sources import SCENE, coco_doc, write_images, write_voc, write_yolo

NAMES = list(SCENE)  # a.png (id 1), b_ä.png (2), c.png (3), d.png (4)


def _import(tmp_path, src, **kw):
    work = tmp_path / "work"
    (work / "images").mkdir(parents=True, exist_ok=True)
    return import_dataset(src, work, val_fraction=0.0, **kw), work


def _coco(tmp_path, mutate, raw: str | None = None) -> Path:
    """A one-file COCO source of the scene after `mutate(doc)` (json with NaN/Infinity)."""
    src = tmp_path / "src"
    write_images(src / "images", NAMES)
    doc = coco_doc(NAMES)
    mutate(doc)
    (src / "instances.json").write_text(raw if raw is not None else json.dumps(doc))
    return src


def _problems(result, code: str) -> list[tuple[str, str, str]]:
    return [
        (p["file"], p["entry"], p["problem"])
        for p in result.report["problems"]
        if p["code"] == code
    ]


def _sources(work: Path) -> dict[str, int]:
    """source file -> objects, over both splits of the internal form."""
    out = {}
    for split in ("train", "val"):
        doc = json.loads((work / f"{split}.json").read_text())
        for im in doc["images"]:
            out[im["source_file"]] = sum(a["image_id"] == im["id"] for a in doc["annotations"])
    return out


@pytest.mark.parametrize("value,text", [(math.nan, "nan (float)"), (math.inf, "inf (float)")])
def test_coco_image_height_nan_or_infinity(tmp_path, value, text):
    result, work = _import(tmp_path, _coco(tmp_path, lambda d: d["images"][0].update(height=value)))
    assert _problems(result, "bad_image_size") == [
        (
            "images/a.png",
            "images[0]",
            f"images[0]: recorded size 64 (int) x {text} is not a positive number",
        )
    ]
    assert result.report["problems"][0]["action"] == "size taken from the file"
    assert _sources(work)["images/a.png"] == 2  # kept, with its objects, at the file's size


def test_coco_image_without_id_or_with_list_id(tmp_path):
    def mutate(doc):
        del doc["images"][0]["id"]
        doc["images"][1]["id"] = [2]

    result, work = _import(tmp_path, _coco(tmp_path, mutate))
    assert _problems(result, "bad_image_entry") == [
        (
            "instances.json",
            "images[0]",
            "images[0]: id None (NoneType) is not an integer or a string",
        ),
        ("instances.json", "images[1]", "images[1]: id [2] (list) is not an integer or a string"),
    ]
    assert set(_sources(work)) == {"images/c.png", "images/d.png"}
    assert result.report["summary"]["unknown_image"] == 3  # the objects of images 1 and 2


def test_coco_strings_where_objects_belong(tmp_path):
    def mutate(doc):
        doc["images"].append("e.png")
        doc["annotations"][0] = "box"
        doc["categories"].append("bird")

    result, work = _import(tmp_path, _coco(tmp_path, mutate))
    assert _problems(result, "bad_image_entry") == [
        ("instances.json", "images[4]", "images[4]: 'e.png' (str), not an object")
    ]
    assert _problems(result, "bad_annotation") == [
        ("instances.json", "annotations[0]", "annotations[0]: 'box' (str), not an object")
    ]
    assert _problems(result, "bad_category") == [
        ("instances.json", "categories[2]", "categories[2]: 'bird' (str), not an object")
    ]
    assert result.classes == ["cat", "dog"] and _sources(work)["images/a.png"] == 1


def test_coco_annotations_as_an_object(tmp_path):
    """A train file whose annotations are an object: its images import without objects; the
    val file's objects remain, so the import succeeds."""
    src = tmp_path / "src"
    (src / "annotations").mkdir(parents=True)
    for split, names, start in (("train", NAMES[:3], 1), ("val", NAMES[3:], 50)):
        write_images(src / f"{split}2017", names)
        doc = coco_doc(names, start_id=start)
        if split == "train":
            doc["annotations"] = {"1": doc["annotations"][0]}
        (src / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(doc))
    result, work = _import(tmp_path, src)
    assert _problems(result, "bad_annotation_file") == [
        (
            "annotations/instances_train2017.json",
            "annotations",
            "'annotations' is {'1': ...} (dict), not a list; ignored",
        )
    ]
    assert result.counts == {
        "train_images": 3,
        "train_objects": 0,
        "val_images": 1,
        "val_objects": 1,
    }


def test_coco_category_id_x_beside_integer_ids(tmp_path):
    def mutate(doc):
        doc["categories"].append({"id": "x", "name": "bird"})
        doc["annotations"][0]["category_id"] = "x"

    result, work = _import(tmp_path, _coco(tmp_path, mutate))
    assert _problems(result, "bad_category") == [
        ("instances.json", "categories[2]", "categories[2]: id 'x' (str) is not an integer id")
    ]
    assert (
        "images/a.png",
        "annotations[0]",
        "annotations[0]: category_id 'x' (str) is not an integer id",
    ) in _problems(result, "unknown_category")
    assert result.classes == ["cat", "dog"] and _sources(work)["images/a.png"] == 1


def test_coco_json_nested_200000_deep_in_one_annotation(tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    raw = json.dumps(coco_doc(NAMES)).replace(
        '"bbox": [4, 6, 16, 24]', f'"bbox": [4, 6, 16, 24], "x": {deep}'
    )
    assert len(raw) > 400_000
    with pytest.raises(
        DatasetError,
        match=r"instances.json: JSON nested too deeply \(more "
        r"than about 1,000 levels\) at character",
    ):
        _import(tmp_path, _coco(tmp_path, lambda d: None, raw=raw))


def test_coco_huge_numbers_in_boxes(tmp_path):
    def mutate(doc):
        doc["annotations"][0]["bbox"] = [1e308, 0, 1e308, 5]  # x + w overflows to inf
        doc["annotations"][1]["bbox"] = [10**30, 0, 5, 5]  # 1e30 + 5 == 1e30: no width
        doc["annotations"][2]["bbox"] = [10**400, 0, 5, 5]  # beyond the float range

    result, work = _import(tmp_path, _coco(tmp_path, mutate))
    problems = _problems(result, "bad_box")
    assert (
        "images/b_ä.png",
        "annotations[2]",
        "annotations[2]: bbox [an integer of 1329 "
        "bits, 0, 5, 5] (list) is not [x, y, width, height] numbers",
    ) in problems
    texts = [p for _, _, p in problems]
    assert any("has NaN/infinite values" in t for t in texts)  # 1e308 + 1e308
    assert "box [1e+30, 0.0, 1e+30, 5.0] has zero or negative area" in texts  # 10**30
    assert _sources(work) == {
        "images/a.png": 0,
        "images/b_ä.png": 0,
        "images/c.png": 3,
        "images/d.png": 1,
    }


def test_nothing_usable_is_one_dataset_error(tmp_path):
    def mutate(doc):
        doc["annotations"] = ["x"] * len(doc["annotations"])

    with pytest.raises(
        DatasetError,
        match=r"nothing usable to import \(no object in any "
        r"readable image\); first problems: instances.json: "
        r"annotations\[0\]: 'x' \(str\), not an object",
    ):
        _import(tmp_path, _coco(tmp_path, mutate))


def test_coco_without_usable_categories_fails_clearly(tmp_path):
    with pytest.raises(DatasetError, match="no usable category in the COCO json of src"):
        _import(tmp_path, _coco(tmp_path, lambda d: d.update(categories=[{"id": [1]}])))


def test_voc_width_inf_and_bad_coordinates(tmp_path):
    src = write_voc(tmp_path / "src")
    xml = src / "Annotations" / "a.xml"
    text = xml.read_text().replace("<width>64</width>", "<width>inf</width>")
    xml.write_text(text.replace("<xmin>5</xmin>", "<xmin>1e999</xmin>", 1))
    result, work = _import(tmp_path, src)
    assert _problems(result, "bad_image_size") == [
        ("Annotations/a.xml", "size", "<size> 'inf' x '48' is not a positive number")
    ]
    assert any("NaN/infinite" in p for _, _, p in _problems(result, "bad_box"))
    assert _sources(work)["JPEGImages/a.png"] == 1  # the other object of a.png


def test_yolo_class_inf_and_other_bad_lines(tmp_path):
    src = write_yolo(tmp_path / "src")
    label = src / "labels" / "train" / "a.txt"
    label.write_text(
        label.read_text() + "\ninf 0.5 0.5 0.1 0.1\n1e30 0.5 0.5 0.1 0.1\n"
        "0 nan 0.5 0.1 0.1\n-1 0.5 0.5 0.1 0.1\n"
    )
    result, work = _import(tmp_path, src)
    assert _problems(result, "bad_label_line") == [
        ("labels/train/a.txt", "line 3", "line 3: cannot parse 'inf 0.5 0.5 0.1 0.1'"),
        ("labels/train/a.txt", "line 6", "line 6: cannot parse '-1 0.5 0.5 0.1 0.1'"),
    ]
    assert _problems(result, "unknown_category") == [
        (
            "labels/train/a.txt",
            "line 4",
            "line 4: class 1000000000000000019884624838656 not in 0..1",
        )
    ]
    assert any("NaN/infinite" in p for _, _, p in _problems(result, "bad_box"))
    assert _sources(work)["images/train/a.png"] == 2


def test_yolo_bad_names_entries_named_by_index(tmp_path):
    src = write_yolo(tmp_path / "src")
    config = yaml.safe_load((src / "data.yaml").read_text())
    config["names"] = {0: "cat", 1: ["not", "a", "name"], "x": "bird"}
    (src / "data.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result, _ = _import(tmp_path, src)
    assert result.classes == ["cat", "1"]
    assert [e for _, e, _ in _problems(result, "bad_category")] == ["names['x']", "names[1]"]


def test_yolo_names_not_a_list_falls_back_to_label_numbers(tmp_path):
    src = write_yolo(tmp_path / "src")
    config = yaml.safe_load((src / "data.yaml").read_text())
    config["names"] = "cat dog"
    (src / "data.yaml").write_text(yaml.safe_dump(config))
    result, _ = _import(tmp_path, src)
    assert result.classes == ["0", "1"]
    assert _problems(result, "bad_category") == [
        ("data.yaml", "names", "names: 'cat dog' (str) is not a list or a mapping; ignored")
    ]


def test_overlong_class_names_are_not_stored(tmp_path):
    def mutate(doc):
        doc["categories"][1]["name"] = "d" * 1000

    result, _ = _import(tmp_path, _coco(tmp_path, mutate))
    assert result.classes == ["cat", "11"]  # named by its id
    assert _problems(result, "bad_category") == [
        (
            "instances.json",
            "categories[1]",
            "categories[1]: name 'dddddddddddddddddddddddddddd"
            "dddddddd... (str) is not a name; the category is "
            "named 11",
        )
    ]
