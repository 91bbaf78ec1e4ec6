"""Fuzz the importers: seeded mutations of small valid COCO / VOC / YOLO sources (types
swapped, NaN/inf, missing keys, deep nesting, huge numbers, strings for objects, lists for
ints, negative sizes, empty strings, cut files). Each import must either succeed with a
well-formed report and a valid internal form, or raise core.errors.DatasetError; any other
exception fails the test, which names the seed and the mutations to replay it."""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from core.data.formats.safe import MAX_CLASSES
from core.data.importers import import_dataset
from core.errors import DatasetError
from tests.data.sources import write_coco, write_voc, write_yolo

CASES = 100  # per format
DEEP = "\x00deep\x00"  # a placeholder replaced by 3,000 nested brackets in the written text
VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    10**30,
    -(10**30),
    10**400,
    0,
    -1,
    -5.5,
    0.5,
    "",
    " ",
    "x",
    "1",
    "a" * 3000,
    [],
    {},
    [1, 2],
    [[1]],
    [1, 2, 3, 4, 5],
    {"a": 1},
    None,
    True,
    False,
    DEEP,
]


# --- mutations of a JSON-like tree --------------------------------------------------------


def _pick(rng: random.Random, doc) -> tuple[list, object]:
    """A random (path, node) reached from the root, stopping early at random."""
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and (not path or rng.random() > 0.3):
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    return path, node


def _set(doc, path: list, value) -> object:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _swap(node):
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return {str(i): v for i, v in enumerate(node)}
    return [node] if not isinstance(node, str) else {"value": node}


def mutate_tree(rng: random.Random, doc) -> tuple[object, list[str]]:
    """1-3 random operations on a copy of `doc`; returns (doc, descriptions)."""
    doc, done = copy.deepcopy(doc), []
    for _ in range(rng.randint(1, 3)):
        path, node = _pick(rng, doc)
        op = rng.choice(["set", "set", "delete", "swap", "duplicate"])
        if op == "delete" and path:
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
        elif op == "swap":
            doc = _set(doc, path, _swap(node))
        elif op == "duplicate" and isinstance(node, list) and node:
            node.append(copy.deepcopy(rng.choice(node)))
        else:
            op, value = "set", rng.choice(VALUES)
            doc = _set(doc, path, value)
            done.append(f"set {path} = {value!r:.40}")
            continue
        done.append(f"{op} {path}")
    return doc, done


def _text_damage(rng: random.Random, text: str) -> tuple[str, str]:
    """Cut the text or overwrite one character (applied to 1 case in 8)."""
    at = rng.randrange(max(1, len(text)))
    if rng.random() < 0.5:
        return text[:at], f"cut at {at}"
    char = rng.choice('{}[],:"<>/x0- \n\x00')
    return text[:at] + char + text[at + 1 :], f"char {at} -> {char!r}"


def _deep(text: str, quoted: str) -> str:
    return text.replace(quoted, "[" * 3000 + "]" * 3000)


# --- per-format cases ---------------------------------------------------------------------


def _coco_case(rng: random.Random, src: Path) -> list[str]:
    done = []
    for path in sorted((src / "annotations").glob("*.json")):
        if rng.random() < 0.3 and done:
            continue
        doc, ops = mutate_tree(rng, json.loads(path.read_text(encoding="utf-8")))
        text = _deep(json.dumps(doc, ensure_ascii=False), json.dumps(DEEP))
        if rng.random() < 0.125:
            text, damage = _text_damage(rng, text)
            ops.append(damage)
        path.write_text(text, encoding="utf-8")
        done += [f"{path.name}: {op}" for op in ops]
    return done


def _voc_element(rng: random.Random, tree: ET.Element) -> str:
    nodes = list(tree.iter())
    node = rng.choice(nodes)
    op = rng.choice(["text", "text", "text", "remove", "duplicate", "filename"])
    if op == "remove" and node is not tree:
        parent = next(p for p in nodes if node in list(p))
        parent.remove(node)
    elif op == "duplicate" and node is not tree:
        parent = next(p for p in nodes if node in list(p))
        parent.append(copy.deepcopy(node))
    elif op == "filename":
        name = tree.find("filename")
        if name is not None:
            name.text = rng.choice(["../../x.png", "/etc/passwd", "", "a" * 300, "c.png"])
    else:
        value = rng.choice(VALUES)
        node.text = "" if value is DEEP else str(value)[:400]
        return f"<{node.tag}> text = {node.text!r:.40}"
    return f"{op} <{node.tag}>"


def _voc_case(rng: random.Random, src: Path) -> list[str]:
    files = sorted((src / "Annotations").glob("*.xml"))
    done = []
    for path in rng.sample(files, rng.randint(1, len(files))):
        tree = ET.fromstring(path.read_text(encoding="utf-8"))
        ops = [_voc_element(rng, tree) for _ in range(rng.randint(1, 3))]
        text = ET.tostring(tree, encoding="unicode")
        roll = rng.random()
        if roll < 0.1:
            text, damage = _text_damage(rng, text)
            ops.append(damage)
        elif roll < 0.15:
            text = text.replace("</annotation>", "<a>" * 3000 + "</a>" * 3000 + "</annotation>")
            ops.append("3,000 nested elements")
        elif roll < 0.2:
            text = '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + text.replace(
                "<name>cat</name>", "<name>&e;</name>"
            )
            ops.append("external entity")
        path.write_text(text, encoding="utf-8")
        done += [f"{path.name}: {op}" for op in ops]
    return done


def _yolo_label(rng: random.Random, path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines() or [""]
    n = rng.randrange(len(lines))
    tokens = lines[n].split() or ["0"]
    op = rng.choice(["token", "token", "drop", "extra", "garbage"])
    if op == "token":
        k = rng.randrange(len(tokens))
        value = rng.choice(VALUES)
        tokens[k] = "[" * 50 if value is DEEP else str(value)[:400]
    elif op == "drop":
        tokens = tokens[: rng.randrange(len(tokens))]
    elif op == "extra":
        tokens += [str(rng.choice(VALUES))[:20] for _ in range(rng.randint(1, 4))]
    else:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(64)))
        return f"{path.name}: random bytes"
    lines[n] = " ".join(tokens)
    path.write_text("\n".join(lines))
    return f"{path.name} line {n + 1}: {op} -> {lines[n][:40]!r}"


def _yolo_case(rng: random.Random, src: Path) -> list[str]:
    done = []
    if rng.random() < 0.5:
        labels = sorted((src / "labels").rglob("*.txt"))
        done += [_yolo_label(rng, rng.choice(labels)) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.6 or not done:
        config, ops = mutate_tree(rng, yaml.safe_load((src / "data.yaml").read_text()))
        text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        text = text.replace(yaml.safe_dump(DEEP).split("\n")[0], "[" * 3000 + "]" * 3000)
        if rng.random() < 0.15:
            text, damage = _text_damage(rng, text)
            ops.append(damage)
        (src / "data.yaml").write_text(text)
        done += [f"data.yaml: {op}" for op in ops]
    return done


# --- invariants ---------------------------------------------------------------------------


def check_result(result, work: Path) -> None:
    """What every successful import guarantees, whatever its input."""
    classes = result.classes
    assert classes and len(classes) <= MAX_CLASSES
    assert all(isinstance(c, str) and c for c in classes)
    report = result.report
    assert set(report) >= {"source", "format", "problems", "summary", "truncated"}
    for p in report["problems"]:
        assert set(p) == {"code", "file", "entry", "problem", "action", "severity"}
        assert all(isinstance(v, str) for v in p.values())
    assert sum(report["summary"].values()) == len(report["problems"]) + report["truncated"]
    objects = 0
    for split in ("train", "val"):
        doc = json.loads((work / f"{split}.json").read_text())
        sizes = {im["id"]: (im["height"], im["width"]) for im in doc["images"]}
        for im in doc["images"]:
            assert isinstance(im["id"], int) and im["height"] >= 1 and im["width"] >= 1
            assert (work / "images" / im["file_name"]).is_file()
        for a in doc["annotations"]:
            h, w = sizes[a["image_id"]]
            x, y, bw, bh = a["bbox"]
            assert all(math.isfinite(v) for v in a["bbox"]) and bw > 0 and bh > 0
            assert x >= 0 and y >= 0 and x + bw <= w + 1e-6 and y + bh <= h + 1e-6
            assert 1 <= a["category_id"] <= len(classes) and a["iscrowd"] in (0, 1)
            objects += not a["iscrowd"]
    assert objects >= 1
    assert objects == result.counts["train_objects"] + result.counts["val_objects"]


WRITERS = {
    "coco": (write_coco, _coco_case),
    "voc": (write_voc, _voc_case),
    "yolo": (write_yolo, _yolo_case),
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_mutated_sources_import_or_fail_cleanly(tmp_path, fmt):
    writer, mutate = WRITERS[fmt]
    template = writer(tmp_path / "template")
    failures, outcomes = [], {"ok": 0, "DatasetError": 0}
    for seed in range(CASES):
        rng = random.Random(f"{fmt}-{seed}")
        src, work = tmp_path / f"src{seed}", tmp_path / f"work{seed}"
        shutil.copytree(template, src)
        (work / "images").mkdir(parents=True)
        ops = mutate(rng, src)
        try:
            result = import_dataset(src, work, fmt=rng.choice(["auto", fmt]))
            check_result(result, work)
            outcomes["ok"] += 1
        except DatasetError:
            outcomes["DatasetError"] += 1
        except Exception:  # noqa: BLE001 - the point of the test: anything else is a bug
            trace = traceback.format_exc(limit=-4)
            failures.append(f"seed {seed}: {str(ops)[:600]}\n{trace[-1500:]}")
        shutil.rmtree(src)
        shutil.rmtree(work)
    assert not failures, f"{len(failures)} of {CASES} cases failed:\n" + "\n".join(failures[:5])
    print(fmt, outcomes)
    assert outcomes["ok"] >= CASES // 4, outcomes  # most mutations leave something usable
