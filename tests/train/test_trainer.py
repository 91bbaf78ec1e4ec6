"""The train job end to end on a tiny model: overfitting, prediction, evaluation, fine-tuning.

One module-scoped run trains efficientdet_tiny on 4 generated images (listed 8 times per epoch)
and the tests below reuse its model.
"""

from __future__ import annotations

import fcntl
import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from core.cli import main as cli_main
from core.data.dataset import open_dataset
from core.data.images import read_rgb, write_image
from core.engine.store import Store
from core.train.models import init_from_model
from core.train.predict import load_model, predict_images
from tests.train.conftest import TINY_MODEL, make_dataset, run_in_process

# 80 steps of batch 4. For so short a run BN statistics need a faster momentum than the paper's
# 0.01, and anchors half the usual size suit objects of 15-77 px in a 128 px input.
OVERFIT_SPEC = {
    "dataset": "four",
    **TINY_MODEL,
    "epochs": 10,
    "batch_size": 4,
    "workers": 0,
    "optimizer": "adamw",
    "lr": 0.01,
    "weight_decay": 0.0,
    "augment": False,
    "eval_every": 5,
    "model_overrides": {"bn_momentum": 0.1, "anchor_scale": 2.0},
}
REPEAT = 8  # each image 8 times per epoch: 8 steps per epoch


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(store, finished job row) of the overfitting run, in a home folder of this process.

    The run happens once per test session: under pytest-xdist the first worker trains under a
    file lock in the shared base temp folder and the others copy its finished home folder.
    """
    shared = tmp_path_factory.getbasetemp().parent
    source = shared / "train_overfit_home"
    with open(shared / "train_overfit.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (source / "job.json").is_file():
            shutil.rmtree(source, ignore_errors=True)
            store = Store(source)
            torch.manual_seed(0)
            make_dataset(store, "four", 4, val_is_train=True, repeat=REPEAT)
            job = run_in_process(store, "train", OVERFIT_SPEC)
            store.close()
            (source / "job.json").write_text(json.dumps(job))
    home = tmp_path_factory.mktemp("home") / "home"
    shutil.copytree(source, home)
    store = Store(home)
    yield store, json.loads((home / "job.json").read_text())
    store.close()


def _gt(store, name="four"):
    doc = json.loads(open_dataset(store, name).val_json.read_text())
    return doc, open_dataset(store, name).images_dir


def test_tiny_model_overfits_four_images(trained):
    store, job = trained
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert result["AP50"] >= 0.9, result
    assert result["model"] == f"job-{job['id']}" and result["steps"] == 10 * REPEAT
    run = store.home / "runs" / str(job["id"])
    for name in (
        "best.pt",
        "last.pt",
        "checkpoint.pt",
        "eval.json",
        "predictions.json",
        "config.json",
    ):
        assert (run / name).is_file(), name
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["AP50"] == pytest.approx(result["AP50"])
    assert set(evaluation["per_class_AP"]) == set(open_dataset(store, "four").classes)
    assert store.get_model(result["model"])["metrics"]["AP50"] == pytest.approx(result["AP50"])
    losses = store.metrics(job["id"], keys=["train/loss"])
    assert [m["step"] for m in losses] == list(range(1, 81))
    assert losses[-1]["value"] < losses[0]["value"] / 5
    lrs = [m["value"] for m in store.metrics(job["id"], keys=["train/lr"])]
    assert lrs[0] == pytest.approx(0.001) and max(lrs) == pytest.approx(0.01, rel=0.01)
    assert lrs[-1] < 0.001  # cosine decay towards 0
    assert [m["epoch"] for m in store.metrics(job["id"], keys=["val/AP50"])] == [5, 10]


def test_predict_returns_boxes_in_original_coordinates(trained):
    store, job = trained
    loaded = load_model(store, str(job["id"]))  # a bare job id also names the model
    doc, images_dir = _gt(store)
    image_info = doc["images"][0]
    image = read_rgb(images_dir / image_info["file_name"])
    # the same content at twice the size: the model sees the image it memorised, and the boxes
    # must come back in the big image's pixels
    sx = sy = 2.0
    resized = cv2.resize(image, None, fx=sx, fy=sy, interpolation=cv2.INTER_NEAREST)
    [result] = predict_images(loaded, [resized], score_threshold=0.3)
    gt = [a for a in doc["annotations"] if a["image_id"] == image_info["id"]]
    for ann in gt:
        x, y, w, h = ann["bbox"]
        expected = np.array([x * sx, y * sy, (x + w) * sx, (y + h) * sy])
        hits = [
            b
            for b, label in zip(result["boxes"], result["labels"])
            if label == ann["category_id"] - 1
            and np.abs(b - expected).max() < 0.1 * resized.shape[0]
        ]
        assert hits, (expected, result)
    assert result["class_names"][0] in loaded.classes
    assert list(result["scores"]) == sorted(result["scores"], reverse=True)


def test_predict_cli_writes_drawn_images_and_json(trained, tmp_path, capsys):
    store, job = trained
    doc, images_dir = _gt(store)
    src = tmp_path / "photo.png"
    write_image(src, read_rgb(images_dir / doc["images"][1]["file_name"]))
    out = tmp_path / "out"
    code = cli_main(
        [
            "--home",
            str(store.home),
            "predict",
            "--model",
            f"job-{job['id']}",
            "--out",
            str(out),
            str(src),
            str(src),
        ]
    )
    assert code == 0
    data = json.loads((out / "predictions.json").read_text())
    # no --score-threshold: the model's own F1-best threshold from its evaluation
    assert data["score_threshold"] == pytest.approx(job["result"]["score_threshold"])
    assert [r["output"] for r in data["images"]] == ["photo.jpg", "photo_2.jpg"]
    assert data["images"][0]["detections"] and (out / "photo_2.jpg").is_file()
    assert read_rgb(out / "photo.jpg").shape == read_rgb(src).shape
    assert "photo.png: " in capsys.readouterr().out


def test_evaluate_job_matches_training_eval(trained):
    store, job = trained
    evaluation = run_in_process(store, "evaluate", {"model": f"job-{job['id']}", "dataset": "four"})
    assert evaluation["status"] == "succeeded", evaluation["error"]
    assert evaluation["result"]["AP50"] == pytest.approx(job["result"]["AP50"], abs=1e-6)
    saved = json.loads((store.home / "runs" / str(evaluation["id"]) / "eval.json").read_text())
    assert np.asarray(saved["precision"]).shape[2] == len(saved["classes"])
    assert [m["key"] for m in store.metrics(evaluation["id"], keys=["val/AP50"])] == ["val/AP50"]


def test_init_keeps_weights_and_makes_a_new_head(trained):
    store, job = trained
    classes = open_dataset(store, "four").classes
    same, _ = init_from_model(store, f"job-{job['id']}", classes, None)
    other, _ = init_from_model(store, f"job-{job['id']}", ["a", "b"], (256, 256))
    loaded = load_model(store, f"job-{job['id']}").bench.model.state_dict()
    head = "class_net.predict.conv_pw.weight"
    assert torch.equal(same.state_dict()[head], loaded[head])
    assert other.state_dict()[head].shape[0] == 2 * other.config.num_anchors
    assert other.config.num_classes == 2 and other.config.image_size == (256, 256)
    for key in ("backbone.conv_stem.weight", "box_net.predict.conv_pw.weight"):
        assert torch.equal(other.state_dict()[key], loaded[key])


def test_cli_submits_validated_jobs_and_rejects_unknown_names(trained, capsys):
    store, job = trained
    home = str(store.home)
    assert (
        cli_main(
            [
                "--home",
                home,
                "train",
                "--dataset",
                "four",
                "--preset",
                "quick-cpu",
                "--epochs",
                "2",
                "--image-size",
                "384x256",
                "--no-worker",
            ]
        )
        == 0
    )
    queued = store.get_job(int(capsys.readouterr().out.split()[-1]))
    assert queued["kind"] == "train" and queued["status"] == "queued"
    assert queued["spec"]["epochs"] == 2 and queued["spec"]["image_size"] == [256, 384]
    assert queued["spec"]["optimizer"] == "adamw"  # from the preset
    store.request_cancel(queued["id"])
    assert cli_main(["--home", home, "train", "--dataset", "nope", "--no-worker"]) == 2
    assert "no dataset named 'nope'" in capsys.readouterr().err
    assert (
        cli_main(["--home", home, "train", "--dataset", "four", "--epochs", "0", "--no-worker"])
        == 2
    )
    assert (
        cli_main(
            ["--home", home, "evaluate", "--model", "job-999", "--dataset", "four", "--no-worker"]
        )
        == 2
    )
    assert "no model named 'job-999'" in capsys.readouterr().err
