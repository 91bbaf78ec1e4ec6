"""Safe .zip extraction: escaping entries, links and size bombs are refused; nothing leaks out."""

from __future__ import annotations

import json
import stat
import zipfile

import pytest

from core.data.archive import extract_zip
from core.data.importers import import_dataset
from core.errors import DatasetError
from tests.data.sources import write_coco


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt", "..\\evil.txt"]
)
def test_escaping_entry_is_refused_and_nothing_written(tmp_path, evil):
    archive = _zip(tmp_path / "x.zip", [("ok.txt", "fine"), (evil, "gotcha")])
    dest = tmp_path / "box" / "dest"
    with pytest.raises(DatasetError, match="outside the target"):
        extract_zip(archive, dest)
    assert not (tmp_path / "box" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not dest.exists() or not any(dest.iterdir())  # checked before anything is written


def test_symlink_entry_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DatasetError, match="symbolic link"):
        extract_zip(archive, tmp_path / "dest")


def test_size_limit(tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * 200_000)
    with pytest.raises(DatasetError, match="over the limit"):
        extract_zip(archive, tmp_path / "dest", max_bytes=100_000)


def test_not_a_zip(tmp_path):
    (tmp_path / "fake.zip").write_text("nope")
    with pytest.raises(DatasetError, match="not a readable .zip"):
        extract_zip(tmp_path / "fake.zip", tmp_path / "dest")


def test_import_from_zip_with_top_folder(tmp_path):
    src = write_coco(tmp_path / "mycoco")
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"mycoco/{p.relative_to(src).as_posix()}")
    work = tmp_path / "work"
    (work / "images").mkdir(parents=True)
    result = import_dataset(archive, work)
    assert result.format == "coco" and result.counts["train_images"] == 3
    assert not (work / ".source").exists()  # the unpacked copy is removed
    assert len(json.loads((work / "val.json").read_text())["images"]) == 1


def test_zip_import_moves_images_and_still_finds_duplicates(tmp_path):
    """From an archive the images are moved out of the unpacked copy; a file listed twice is
    still reported as listed twice (not as missing after the first move)."""
    from tests.data.sources import SCENE, coco_doc, write_images

    src = tmp_path / "src"
    write_images(src / "images", list(SCENE))
    doc = coco_doc(list(SCENE))
    doc["images"].append({"id": 9, "file_name": "./c.png", "height": 48, "width": 64})
    (src / "instances.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    archive = tmp_path / "up.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(src.rglob("*")):
            zf.write(p, p.relative_to(src).as_posix())
    work = tmp_path / "work"
    (work / "images").mkdir(parents=True)
    result = import_dataset(archive, work)
    problems = [
        (p["code"], p["file"]) for p in result.report["problems"] if p["severity"] != "info"
    ]
    assert problems == [("duplicate_file_name", "images/c.png")]
    assert result.counts["train_images"] + result.counts["val_images"] == 4
