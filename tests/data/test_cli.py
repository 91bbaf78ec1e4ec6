"""`python -m core data ...`: submit, list, show, export, delete (in-process)."""

from __future__ import annotations

import json

from core.cli import main
from tests.data.conftest import make_generated


def _cli(store, *args):
    return main(["--home", str(store.home), "data", *args])


def test_generate_submits_and_refuses_taken_name(store, capsys):
    assert (
        _cli(store, "generate", "--name", "g", "--images", "3", "--size", "48", "--no-worker") == 0
    )
    job_id = int(capsys.readouterr().out.strip().splitlines()[-1])
    assert store.get_job(job_id)["spec"]["size"] == [48, 48]
    make_generated(store, "taken")
    assert _cli(store, "generate", "--name", "taken", "--no-worker") == 2
    assert "already exists" in capsys.readouterr().err
    assert _cli(store, "generate", "--name", "x", "--images", "-1", "--no-worker") == 2


def test_list_show_json_and_text(store, capsys):
    make_generated(store, "tiny")
    assert _cli(store, "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "tiny" and rows[0]["classes"] == 6 and rows[0]["train_images"] == 4
    assert _cli(store, "show", "tiny", "--json") == 0
    row = json.loads(capsys.readouterr().out)
    assert row["counts"]["val_images"] == 2 and "per_class" in row["stats"]
    assert _cli(store, "show", "tiny") == 0
    text = capsys.readouterr().out
    assert "circle" in text and "validation report" in text and "objects per image" in text
    assert _cli(store, "show", "nope") == 2


def test_export_roundtrip_and_delete(store, tmp_path, capsys):
    from core.data.importers import import_dataset

    make_generated(store, "tiny")
    originals = {}
    for split in ("train", "val"):
        doc = json.loads((store.home / "datasets" / "tiny" / f"{split}.json").read_text())
        originals[split] = sorted((a["category_id"], *a["bbox"]) for a in doc["annotations"])
    for fmt in ("coco", "yolo"):
        out = tmp_path / f"out-{fmt}"
        assert _cli(store, "export", "tiny", str(out), "--format", fmt) == 0
        work = tmp_path / f"re-{fmt}"
        (work / "images").mkdir(parents=True)
        result = import_dataset(out, work, fmt=fmt)
        for split in ("train", "val"):
            doc = json.loads((work / f"{split}.json").read_text())
            boxes = sorted((a["category_id"], *a["bbox"]) for a in doc["annotations"])
            assert len(boxes) == len(originals[split])
            for got, want in zip(boxes, originals[split]):
                assert (
                    got[0] == want[0] and max(abs(g - w) for g, w in zip(got[1:], want[1:])) < 0.01
                )
        assert result.classes[0] == "circle"
    assert _cli(store, "export", "tiny", str(tmp_path / "out-coco")) == 2  # not empty
    capsys.readouterr()
    assert _cli(store, "delete", "tiny") == 0
    assert store.list_datasets() == [] and not (store.home / "datasets" / "tiny").exists()
