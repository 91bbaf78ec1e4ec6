"""Bounded, link-safe imports: YAML aliases, size and depth caps, objects per image, zip ratio
and free disk, XXE / billion laughs, links anywhere in the folder, FIFOs, and the peak memory
of a large import measured in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest
import yaml

from core.data import archive
from core.data.formats import safe
from core.data.importers import import_dataset
from core.errors import DatasetError
from tests.data.sources import SCENE, coco_doc, write_coco, write_images, write_voc, write_yolo

SECRET = "root:x:0:0:secret-line:/root:/bin/bash"


def _import(tmp_path, src, **kw):
    work = tmp_path / "work"
    (work / "images").mkdir(parents=True, exist_ok=True)
    return import_dataset(src, work, **kw), work


def _secret(tmp_path) -> Path:
    """A file outside every source folder (stands for /etc/passwd)."""
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text("\n".join([SECRET] * 3) + "\n")
    return path


def _everything(work: Path, result) -> str:
    """All text the import produced: classes, report and the written json."""
    parts = [json.dumps(result.classes), json.dumps(result.report)]
    parts += [(work / f"{s}.json").read_text() for s in ("train", "val")]
    return "\n".join(parts)


# --- YAML ---------------------------------------------------------------------------------

ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    + "names: *i\n"
)


@pytest.mark.parametrize("libyaml", [True, False])
def test_yaml_alias_bomb_refused_quickly(tmp_path, monkeypatch, libyaml):
    if not libyaml:
        monkeypatch.setattr(safe, "_C_LOADER", None)  # the pure-Python loader's own refusal
    src = write_yolo(tmp_path / "src")
    (src / "data.yaml").write_text(ALIAS_BOMB)  # 10**9 names once expanded
    with pytest.raises(
        DatasetError,
        match=r"data.yaml: .*alias \*a found; YAML aliases are "
        "refused",
    ):
        _import(tmp_path, src)


def test_yaml_size_cap(tmp_path):
    src = write_yolo(tmp_path / "src")
    names = "".join(f"- class_{i:07d}\n" for i in range(80_000))  # ~1.3 MB of YAML
    (src / "data.yaml").write_text(f"train: images/train\nnames:\n{names}")
    assert (src / "data.yaml").stat().st_size > safe.MAX_YAML_BYTES
    with pytest.raises(DatasetError, match="over the limit of 1,048,576"):
        _import(tmp_path, src, fmt="yolo")


def test_yaml_too_many_classes(tmp_path):
    src = write_yolo(tmp_path / "src")
    (src / "data.yaml").write_text("names: [" + ", ".join(map(str, range(10_001))) + "]")
    with pytest.raises(DatasetError, match="10,001 class names, over the limit of 10,000"):
        _import(tmp_path, src, fmt="yolo")


# --- JSON ---------------------------------------------------------------------------------


def test_json_200000_deep_is_dataset_error(tmp_path):
    src = tmp_path / "src"
    write_images(src / "images", list(SCENE))
    doc = json.dumps(coco_doc(list(SCENE)))
    deep = doc[:-1] + ', "extra": ' + "[" * 200_000 + "]" * 200_000 + "}"
    (src / "instances.json").write_text(deep)
    with pytest.raises(DatasetError, match="instances.json: JSON nested too deeply"):
        _import(tmp_path, src)


def test_json_size_checked_before_reading(tmp_path, monkeypatch):
    src = write_coco(tmp_path / "src")
    monkeypatch.setattr("core.data.formats.coco.MAX_JSON_BYTES", 300)
    with pytest.raises(
        DatasetError,
        match=r"instances_train2017.json: the annotation file has "
        r"[\d,]+ bytes, over the limit of 300",
    ):
        _import(tmp_path, src)


def test_json_is_streamed_in_chunks(tmp_path, monkeypatch):
    """A 2 kB chunk size: every entry still arrives whole (elements cut at chunk ends)."""
    monkeypatch.setattr("core.data.formats.jsonstream.CHUNK_BYTES", 7)
    result, _ = _import(tmp_path, write_coco(tmp_path / "src"))
    assert result.counts == {
        "train_images": 3,
        "train_objects": 6,
        "val_images": 1,
        "val_objects": 1,
    }


# --- objects, images ----------------------------------------------------------------------


def test_objects_per_image_cap(tmp_path):
    src = tmp_path / "src"
    write_images(src / "images", ["a.png", "d.png"])
    doc = coco_doc(["a.png", "d.png"])
    doc["annotations"] = [
        {"id": i, "image_id": 1, "category_id": 10, "bbox": [1, 1, 5, 5]}
        for i in range(safe.MAX_OBJECTS_PER_IMAGE + 5)
    ]
    doc["annotations"].append({"id": 9999, "image_id": 2, "category_id": 11, "bbox": [1, 1, 5, 5]})
    (src / "instances.json").write_text(json.dumps(doc))
    result, work = _import(tmp_path, src, val_fraction=0.0)
    problems = [p for p in result.report["problems"] if p["code"] == "too_many_objects"]
    assert [(p["file"], p["problem"]) for p in problems] == [
        ("images/a.png", "2,005 objects; only the first 2,000 are kept (the per-image limit)")
    ]
    assert result.counts["train_objects"] + result.counts["val_objects"] == 2_001


def test_image_count_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("core.data.formats.MAX_IMAGES", 3)
    with pytest.raises(DatasetError, match="more than 3 images .*split it"):
        _import(tmp_path, write_voc(tmp_path / "src"))


def test_object_count_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("core.data.formats.MAX_OBJECTS", 5)
    with pytest.raises(DatasetError, match="more than 5 objects"):
        _import(tmp_path, write_yolo(tmp_path / "src"))


# --- zip ----------------------------------------------------------------------------------


def test_zip_entry_over_compression_ratio_refused(tmp_path):
    archive_path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.txt", "x" * 1000)  # small entries are not ratio-checked
        zf.writestr("zeros.bin", b"\0" * (4 * 1024**2))  # ~4 kB compressed: ratio ~1000
    dest = tmp_path / "dest"
    with pytest.raises(DatasetError, match="'zeros.bin' unpacks to more than 200 times"):
        archive.extract_zip(archive_path, dest)  # under the 20 GiB total limit
    assert not dest.exists() or not any(dest.rglob("*.bin"))


def test_zip_ratio_rule():
    info = zipfile.ZipInfo("x")
    info.compress_size = 10_000
    assert archive.entry_limit(info) == 2_000_000  # 200 x compressed
    info.compress_size = 100
    assert archive.entry_limit(info) == 1024**2  # the floor: 1 MiB is always allowed


def test_zip_total_tied_to_free_disk(tmp_path, monkeypatch):
    archive_path = tmp_path / "a.zip"
    with zipfile.ZipFile(archive_path, "w") as zf:
        zf.writestr("a.bin", os.urandom(50_000))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(
        archive.shutil, "disk_usage", lambda p: usage(10**12, 0, archive.DISK_MARGIN + 20_000)
    )
    with pytest.raises(
        DatasetError,
        match=r"would unpack to 50,000 bytes, over the free space "
        r"on the disk of .* \(1,073,761,824 bytes, less a "
        r"margin of 1,073,741,824\)",
    ):
        archive.extract_zip(archive_path, tmp_path / "dest")
    limit, text = archive.disk_limit(tmp_path / "dest" / "deeper", 10_000)
    assert (limit, text) == (10_000, "the limit of 10,000 bytes")


# --- XML ----------------------------------------------------------------------------------


def test_voc_xxe_and_billion_laughs_refused(tmp_path):
    secret = _secret(tmp_path)
    src = write_voc(tmp_path / "src")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<annotation><filename>a.png</filename><object><name>&x;</name><bndbox><xmin>1"
        "</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )
    (src / "Annotations" / "a.xml").write_text(xxe)
    lol = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "lol">'
        + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
        + "]><annotation><object><name>&l9;</name></object></annotation>"
    )
    (src / "Annotations" / "c.xml").write_text(lol)
    result, work = _import(tmp_path, src)
    bad = {
        p["file"]: p["problem"]
        for p in result.report["problems"]
        if p["code"] == "bad_annotation_file"
    }
    assert "undefined entity" in bad["Annotations/a.xml"]
    assert "amplification" in bad["Annotations/c.xml"]
    assert "secret-line" not in _everything(work, result)
    assert result.classes == ["cat", "dog"] and result.counts["train_images"] == 1  # b.png


def test_image_bomb_refused_by_header_in_import(tmp_path):
    from tests.data.test_images import _png_header_only

    src = write_yolo(tmp_path / "src")
    _png_header_only(src / "images" / "train" / "a.png", 30_000, 30_000)
    result, _ = _import(tmp_path, src)
    bombs = [p for p in result.report["problems"] if p["code"] == "image_too_large"]
    assert [p["file"] for p in bombs] == ["images/train/a.png"]
    assert "decompression-bomb guard" in bombs[0]["problem"]


# --- links and special files --------------------------------------------------------------


def _link_codes(result) -> dict[str, str]:
    links = [(p["file"], p["action"]) for p in result.report["problems"] if p["code"] == "symlink"]
    assert len(links) == len(dict(links)), links  # each link named once
    return dict(links)


def test_yolo_linked_labels_and_classes_never_followed(tmp_path):
    secret = _secret(tmp_path)
    src = write_yolo(tmp_path / "src")
    config = yaml.safe_load((src / "data.yaml").read_text())
    del config["names"]
    (src / "data.yaml").write_text(yaml.safe_dump(config))
    (src / "classes.txt").symlink_to(secret)
    label = src / "labels" / "train" / "a.txt"
    label.unlink()
    label.symlink_to(secret)
    result, work = _import(tmp_path, src)
    assert "secret-line" not in _everything(work, result)
    links = _link_codes(result)
    assert set(links) == {"classes.txt", "labels/train/a.txt"}
    assert links["classes.txt"] == "refused (links are never followed)"
    assert result.classes == ["0", "1"]  # numbered from the labels, not read from the link
    empty = [p["problem"] for p in result.report["problems"] if p["code"] == "empty_image"]
    assert "no objects (its label file is a symbolic link (refused))" in empty


def test_linked_images_and_folders_refused(tmp_path):
    src = write_coco(tmp_path / "src")
    outside = tmp_path / "elsewhere"
    write_images(outside, ["a.png"])
    (src / "train2017" / "a.png").unlink()
    (src / "train2017" / "a.png").symlink_to(outside / "a.png")
    (src / "extra").symlink_to(outside, target_is_directory=True)
    result, _ = _import(tmp_path, src)
    assert set(_link_codes(result)) == {"extra", "train2017/a.png"}  # each named once
    assert result.counts["train_images"] == 2  # a.png skipped


@pytest.mark.parametrize(
    "fmt,annotation", [("yolo", "data.yaml"), ("coco", "annotations/instances_train2017.json")]
)
def test_linked_annotation_file_fails_the_import(tmp_path, fmt, annotation):
    writer = write_yolo if fmt == "yolo" else write_coco
    src = writer(tmp_path / "src")
    real = tmp_path / "real"
    (src / annotation).rename(real)
    (src / annotation).symlink_to(real)
    with pytest.raises(
        DatasetError, match=f"{annotation} is a symbolic link; links are not followed"
    ):
        _import(tmp_path, src, fmt=fmt)


def test_voc_linked_xml_is_one_reported_problem(tmp_path):
    secret = _secret(tmp_path)
    src = write_voc(tmp_path / "src")
    (src / "Annotations" / "a.xml").unlink()
    (src / "Annotations" / "a.xml").symlink_to(secret)
    result, work = _import(tmp_path, src)
    assert set(_link_codes(result)) == {"Annotations/a.xml"}
    assert result.counts["train_images"] == 2 and "secret-line" not in _everything(work, result)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_label_file_does_not_block(tmp_path):
    src = write_yolo(tmp_path / "src")
    label = src / "labels" / "train" / "a.txt"
    label.unlink()
    os.mkfifo(label)
    result, _ = _import(tmp_path, src)  # would hang for ever if opened as a file
    bad = [p for p in result.report["problems"] if p["code"] == "bad_annotation_file"]
    assert [(p["file"], p["problem"]) for p in bad] == [
        ("labels/train/a.txt", "not a regular file; the label file is refused")
    ]


def test_safe_reader_refuses_links_above_the_file(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.txt").write_text("hi")
    root = tmp_path / "root"
    root.mkdir()
    (root / "dir").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(safe.LinkRefused, match="^dir is a symbolic link"):
        safe.read_text(root, root / "dir" / "f.txt")
    with pytest.raises(DatasetError, match="outside the dataset folder"):
        safe.read_text(root, root / ".." / "real" / "f.txt")
    assert safe.scan_links(root) == ["dir"]


# --- memory -------------------------------------------------------------------------------

PEAK_SCRIPT = r"""
import json, sys
from pathlib import Path


def peak_kb():
    # VmHWM: this process image's peak resident set (ru_maxrss would keep the forked parent's)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


from PIL import Image
from core.data.importers import import_dataset

src, work, images, per_image = Path(sys.argv[1]), Path(sys.argv[2]), *map(int, sys.argv[3:5])
(src / "images").mkdir(parents=True)
Image.new("RGB", (64, 48), (90, 20, 20)).save(src / "images" / "0.png")
for i in range(1, images):
    (src / "images" / f"{i}.png").write_bytes((src / "images" / "0.png").read_bytes())
with open(src / "instances.json", "w") as f:
    f.write('{"images":[' + ",".join(
        json.dumps({"id": i, "file_name": f"{i}.png", "height": 48, "width": 64})
        for i in range(images)) + '],"annotations":[')
    for i in range(images):
        f.write(("," if i else "") + ",".join(
            '{"id":%d,"image_id":%d,"category_id":%d,"bbox":[%d.5,%d.25,10.0,12.0],'
            '"area":120.0,"iscrowd":0,"segmentation":[[1.0,2.0,3.0,4.0,5.0,6.0]]}'
            % (i * per_image + k, i, k % 3, k % 50, k % 30) for k in range(per_image)))
    f.write('],"categories":[{"id":0,"name":"a"},{"id":1,"name":"b"},{"id":2,"name":"c"}]}')
size = (src / "instances.json").stat().st_size
base = peak_kb()
(work / "images").mkdir(parents=True)
result = import_dataset(src, work)
peak = peak_kb()
print(json.dumps({"json_bytes": size, "base_kb": base, "peak_kb": peak,
                  "objects": result.counts["train_objects"] + result.counts["val_objects"]}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads VmHWM (Linux)")
def test_peak_memory_of_a_large_import(tmp_path):
    """A 50 MB COCO json (175 images x 2,000 objects, the per-image limit): the import's peak
    resident memory, Python and its libraries included, stays under 300 MB, a bound that
    json.load of the whole file alone would cross."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            PEAK_SCRIPT,
            str(tmp_path / "src"),
            str(tmp_path / "work"),
            "175",
            "2000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    assert measured["json_bytes"] > 49e6 and measured["objects"] == 350_000
    assert measured["peak_kb"] < 300 * 1024, measured
