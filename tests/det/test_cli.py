"""`models import-effdet`, `models list`, and the export job on an imported model."""

from __future__ import annotations

import json

import pytest
import torch

from core.cli import main

effdet = pytest.importorskip("effdet")


class _Reporter:
    """The parts of core.engine.reporter.Reporter the export task uses."""

    def __init__(self, store, run_dir):
        self.store, self.run_dir, self.events, self.artifacts = store, run_dir, [], []

    def progress(self, fraction, message=None):
        self.events.append(message)

    def info(self, message):
        self.events.append(message)

    warning = info

    def artifact(self, kind, path):
        self.artifacts.append((kind, str(path)))

    def check_stop(self):
        pass


@pytest.fixture
def imported(home, store, tmp_path, capsys):
    torch.manual_seed(0)
    theirs = effdet.create_model(
        "efficientdet_d0", pretrained=False, pretrained_backbone=False, num_classes=3
    )
    ckpt = tmp_path / "effdet_d0.pth"
    torch.save(theirs.state_dict(), ckpt)
    classes = tmp_path / "classes.txt"
    classes.write_text("cat\ndog\nbird\n")
    code = main(
        [
            "--home",
            str(home),
            "models",
            "import-effdet",
            str(ckpt),
            "--name",
            "efficientdet_d0",
            "--classes",
            str(classes),
            "--as",
            "demo",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "demo"
    return theirs


def test_import_registers_a_loadable_model(imported, store, home, capsys):
    from core.train.predict import load_model

    loaded = load_model(store, "demo")
    assert loaded.classes == ["cat", "dog", "bird"]
    x = torch.rand(1, 3, 512, 512)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = imported.eval()((x - mean) / std)[0][0]
        ours = loaded.bench(x)[0][0]
    assert (ref - ours).abs().max().item() <= 1e-4
    assert main(["--home", str(home), "models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["demo"] and rows[0]["origin"] == "import"


def test_import_twice_needs_replace_and_wrong_classes_fail(imported, home, tmp_path):
    ckpt = tmp_path / "effdet_d0.pth"
    assert (
        main(
            [
                "--home",
                str(home),
                "models",
                "import-effdet",
                str(ckpt),
                "--name",
                "efficientdet_d0",
                "--classes",
                str(tmp_path / "classes.txt"),
                "--as",
                "demo",
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "--home",
                str(home),
                "models",
                "import-effdet",
                str(ckpt),
                "--name",
                "efficientdet_d0",
                "--classes",
                "coco",
                "--as",
                "other",
            ]
        )
        == 2
    )


def test_export_task_on_imported_model(imported, store, tmp_path):
    from core.det.export import run_export
    from core.det.tasks import validate_export

    # raw outputs: a randomly initialised effdet scores every box alike, so NMS order is a tie
    spec = validate_export(
        {"model": "demo", "format": "torchscript", "image_size": 128, "postprocess": False}
    )
    reporter = _Reporter(store, tmp_path)
    result = run_export(spec, reporter)
    assert result["max_abs_diff"] <= 1e-4
    assert result["path"].endswith("model.ts") and reporter.artifacts == [
        ("torchscript", result["path"])
    ]
