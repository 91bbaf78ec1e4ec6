"""dataset.generate / dataset.import jobs end to end (worker in-process) and their validation."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.data.spec import validate_generate, validate_import
from core.engine.jobs import submit_job
from core.errors import SpecError
from tests.data.sources import write_yolo


def _run_worker(store):
    assert main(["--home", str(store.home), "worker", "--device", "cpu", "--max-jobs", "1"]) == 0


def _leftovers(store):
    return [p.name for p in (store.home / "datasets").iterdir() if p.name.startswith(".")]


def test_generate_job_registers_dataset(store):
    job_id = submit_job(
        store,
        "dataset.generate",
        {
            "name": "gen",
            "images": 5,
            "size": "64x48",
            "objects": "1-3",
            "difficulty": "easy",
            "seed": 1,
        },
    )
    _run_worker(store)
    job = store.get_job(job_id)
    assert job["status"] == "succeeded", job["error"]
    row = store.get_dataset("gen")
    assert row["kind"] == "shapes" and row["job_id"] == job_id and len(row["classes"]) == 6
    assert row["counts"]["train_images"] + row["counts"]["val_images"] == 5
    assert job["result"]["counts"] == row["counts"]
    assert sum(v["train"] + v["val"] for v in row["stats"]["per_class"].values()) == (
        row["counts"]["train_objects"] + row["counts"]["val_objects"]
    )
    doc = json.loads((store.home / "datasets" / "gen" / "train.json").read_text())
    assert doc["images"][0]["width"] == 64 and doc["images"][0]["height"] == 48
    assert _leftovers(store) == []


def test_import_job_and_name_taken_at_run_time(store, tmp_path):
    src = write_yolo(tmp_path / "src")
    first = submit_job(store, "dataset.import", {"name": "y", "path": str(src)})
    second = submit_job(store, "dataset.import", {"name": "y", "path": str(src)})
    _run_worker(store)
    _run_worker(store)
    assert store.get_job(first)["status"] == "succeeded"
    failed = store.get_job(second)
    assert failed["status"] == "failed" and "already exists" in failed["error"]
    assert store.get_dataset("y")["report"]["format"] == "yolo"
    assert _leftovers(store) == []


def test_failed_import_is_atomic(store, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "instances.json").write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "gone.jpg", "height": 4, "width": 4}],
                "annotations": [],
                "categories": [{"id": 1, "name": "a"}],
            }
        )
    )
    job_id = submit_job(store, "dataset.import", {"name": "bad", "path": str(src)})
    _run_worker(store)
    job = store.get_job(job_id)
    assert job["status"] == "failed" and "nothing usable" in job["error"]
    assert store.list_datasets() == []
    assert not (store.home / "datasets" / "bad").exists() and _leftovers(store) == []


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"name": "../x"}, "not allowed"),
        ({"name": ".hidden"}, "not allowed"),
        ({"name": "ok", "images": 0}, "images=0: must be >= 1"),
        ({"name": "ok", "size": "10x10"}, "each side must be 32..2048"),
        ({"name": "ok", "size": "big"}, "use S or WxH"),
        ({"name": "ok", "objects": "5-2"}, "MIN <= MAX"),
        ({"name": "ok", "difficulty": "insane"}, "difficulty='insane': must be one of"),
        ({"name": "ok", "val_fraction": 1.5}, "val_fraction=1.5: must be <= 0.9"),
        ({"name": "ok", "kind": "faces"}, "kind='faces': must be one of"),
        ({"name": "ok", "colour": "red"}, "dataset.generate: colour='red': unknown field"),
    ],
)
def test_generate_validation(spec, message):
    with pytest.raises(SpecError, match=message):
        validate_generate(spec)


def test_generate_defaults_and_parsing():
    spec = validate_generate({"name": "shapes-demo", "size": "320x240", "objects": "2-5"})
    assert spec["size"] == [240, 320] and spec["objects"] == [2, 5]
    assert spec["images"] == 600 and spec["kind"] == "shapes" and spec["difficulty"] == "medium"


def test_import_validation(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        validate_import({"name": "x", "path": str(tmp_path / "nope")})
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(SpecError, match="folder or a .zip"):
        validate_import({"name": "x", "path": str(tmp_path / "f.txt")})
    with pytest.raises(SpecError, match="format='pascal': must be one of"):
        validate_import({"name": "x", "path": str(tmp_path), "format": "pascal"})
    spec = validate_import({"name": "x", "path": str(tmp_path)})
    assert spec["format"] == "auto" and spec["path"] == str(tmp_path.resolve())
