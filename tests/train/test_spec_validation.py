"""Validation at the door: each bad train/evaluate/export value is refused at submit with the
same message through core.engine.jobs.submit_job (the API and the GUI) and through the CLI
(exit 2, the message, no traceback); nothing is queued."""

from __future__ import annotations

import json

import pytest
import torch

from core.cli import main
from core.engine.jobs import submit_job
from core.errors import NotFoundError, SpecError
from core.train import resources
from tests.train.conftest import TINY_MODEL, make_dataset

GIB = 2**30
TINY = {**TINY_MODEL, "epochs": 1, "batch_size": 2}


@pytest.fixture
def shapes(store):
    make_dataset(store, "shapes", 4, size=64)
    return store


@pytest.fixture(autouse=True)
def sixteen_gib_of_ram(monkeypatch):
    """A machine with 16 GiB free (the estimate is then compared with a known amount)."""
    monkeypatch.setattr(resources, "_ram_available", lambda: 16 * GIB)


def _genotype(edges: int) -> dict:
    pairs = [["sep_conv_3x3", i % 2] for i in range(edges)]
    return {"normal": pairs, "normal_concat": [2], "reduce": pairs, "reduce_concat": [2]}


@pytest.fixture
def files(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps(_genotype(10_000)))
    garbage = tmp_path / "weights.pth"
    garbage.write_text("not a checkpoint")
    not_json = tmp_path / "cell.json"
    not_json.write_text("{normal: [")
    return {
        "big": str(big),
        "garbage": str(garbage),
        "not_json": str(not_json),
        "missing": str(tmp_path / "nope.pth"),
    }


# (spec fields, CLI arguments, what the message must contain)
BAD = [
    ({"epochs": 1e12}, ["--epochs", "1e12"], "train: epochs=1000000000000: must be <= 10000"),
    ({"lr": float("nan")}, ["--lr", "nan"], "must be a finite number"),
    ({"seed": 2**64}, ["--seed", str(2**64)], f"train: seed={2**64}: must be <= {2**63 - 1}"),
    ({"workers": 1000}, ["--workers", "1000"], "train: workers=1000: must be <="),
    ({"batch_size": 0}, ["--batch-size", "0"], "train: batch_size=0: must be >= 1"),
    ({"image_size": 4096}, ["--image-size", "4096"], "each side must be 8..2048 pixels"),
    (
        {"model": "tf_efficientdet_d7x", "image_size": 1536, "batch_size": 16},
        ["--model", "tf_efficientdet_d7x", "--image-size", "1536", "--batch-size", "16"],
        "train: needs about",
    ),
    (
        {"backbone": "nas-file:{big}"},
        ["--backbone", "nas-file:{big}"],
        "the normal cell has 10000 edges; the search space allows at most",
    ),
    ({"backbone": "nas-file:{missing}"}, ["--backbone", "nas-file:{missing}"], "does not exist"),
    (
        {"backbone": "nas-file:{not_json}"},
        ["--backbone", "nas-file:{not_json}"],
        "is not a genotype JSON file",
    ),
    ({"backbone": "nas:999"}, ["--backbone", "nas:999"], "backbone='nas:999'"),
    ({"backbone": "nas:NOT_A_CELL"}, ["--backbone", "nas:NOT_A_CELL"], "no published genotype"),
    ({"backbone": "nas-arch:999"}, ["--backbone", "nas-arch:999"], "backbone='nas-arch:999'"),
    (
        {"pretrained_backbone": "{missing}"},
        ["--pretrained-backbone", "{missing}"],
        "does not exist",
    ),
    (
        {"pretrained_backbone": "{garbage}"},
        ["--pretrained-backbone", "{garbage}"],
        "is not a torch checkpoint",
    ),
    ({"init": "no-such-model"}, ["--init", "no-such-model"], "train: init='no-such-model'"),
    ({"dataset": "nope"}, ["--dataset", "nope"], "train: dataset='nope'"),
]


@pytest.mark.parametrize("fields,argv,message", BAD, ids=[m[:40] for *_, m in BAD])
def test_bad_train_values_refused_at_submit(shapes, files, capsys, fields, argv, message):
    fields = {k: v.format(**files) if isinstance(v, str) else v for k, v in fields.items()}
    spec = {"dataset": "shapes", **TINY, **fields}
    with pytest.raises((SpecError, NotFoundError)) as info:
        submit_job(shapes, "train", spec, device="cpu")
    assert message.format(**files) in str(info.value)
    argv = [a.format(**files) for a in argv]
    code, err = _cli(
        shapes,
        [
            "train",
            "--dataset",
            "shapes",
            "--model",
            "efficientdet_tiny",
            "--image-size",
            "128",
            "--epochs",
            "1",
            *argv,
        ],
        capsys,
    )
    assert code == 2 and "Traceback" not in err, err
    assert message.format(**files) in err
    assert shapes.list_jobs() == []


def test_lr_nan_message_is_the_same_everywhere(shapes, capsys):
    with pytest.raises(SpecError) as info:
        submit_job(shapes, "train", {"dataset": "shapes", **TINY, "lr": "nan"})
    code, err = _cli(shapes, ["train", "--dataset", "shapes", "--lr", "nan"], capsys)
    assert str(info.value) == "train: lr='nan': must be a finite number"
    assert code == 2 and err.strip() == f"error: {info.value}"


def test_memory_estimate_names_the_numbers_and_force_overrides(shapes):
    spec = {
        "dataset": "shapes",
        "model": "tf_efficientdet_d7x",
        "image_size": 1536,
        "batch_size": 16,
    }
    with pytest.raises(SpecError) as info:
        submit_job(shapes, "train", spec, device="cpu")
    message = str(info.value)
    # 16 x 1536^2 px x (12279 B backbone + 4 x 384 x sum_l 4^-l x 9.5 x 13 B) = 570.6 GiB
    assert "needs about 572.0 GiB" in message and "activations 570.6 GiB" in message
    assert "tf_efficientdet_d7x at 1536x1536, batch 16" in message
    assert "cpu RAM has 16.0 GiB" in message and "--force" in message
    job_id = submit_job(shapes, "train", {**spec, "force": True}, device="cpu")
    assert shapes.get_job(job_id)["spec"]["force"] is True
    small = submit_job(shapes, "train", {"dataset": "shapes", **TINY}, device="cpu")
    assert shapes.get_job(small)["status"] == "queued"


def test_searched_cell_references_resolve(shapes, tmp_path):
    train_job = submit_job(shapes, "train", {"dataset": "shapes", **TINY}, device="cpu")
    with pytest.raises(SpecError, match=f"job {train_job} is a train job, not a search"):
        submit_job(shapes, "train", {"dataset": "shapes", **TINY, "backbone": f"nas:{train_job}"})
    search = shapes.insert_job("search", {"dataset": "shapes"})
    with pytest.raises(NotFoundError, match=f"search job {search} has no genotype yet"):
        submit_job(shapes, "train", {"dataset": "shapes", **TINY, "backbone": f"nas:{search}"})
    good = tmp_path / "good.json"
    from core.nas.genotypes import PUBLISHED_GENOTYPES

    good.write_text(PUBLISHED_GENOTYPES["DARTS_V2"].to_json())
    shapes.add_artifact(search, "genotype", good)
    for backbone in (f"nas:{search}", "nas:DARTS_V2", f"nas-file:{good}"):
        submit_job(shapes, "train", {"dataset": "shapes", **TINY, "backbone": backbone})


def test_pretrained_backbone_with_a_torch_header_is_accepted(shapes, tmp_path):
    weights = tmp_path / "b.pth"
    torch.save({"w": torch.zeros(1)}, weights)
    submit_job(shapes, "train", {"dataset": "shapes", **TINY, "pretrained_backbone": str(weights)})
    zipped = tmp_path / "other.zip"
    import zipfile

    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(SpecError, match="a zip file but not a torch checkpoint"):
        submit_job(
            shapes, "train", {"dataset": "shapes", **TINY, "pretrained_backbone": str(zipped)}
        )


@pytest.mark.parametrize(
    "kind,spec,argv,message",
    [
        (
            "evaluate",
            {"model": "m", "dataset": "shapes", "batch_size": 0},
            ["evaluate", "--model", "m", "--dataset", "shapes", "--batch-size", "0"],
            "evaluate: batch_size=0: must be >= 1",
        ),
        (
            "evaluate",
            {"model": "m", "dataset": "shapes", "score_threshold": "inf"},
            ["evaluate", "--model", "m", "--dataset", "shapes", "--score-threshold", "inf"],
            "evaluate: score_threshold='inf': must be a finite number",
        ),
        (
            "evaluate",
            {"model": "no-model", "dataset": "shapes"},
            ["evaluate", "--model", "no-model", "--dataset", "shapes"],
            "evaluate: model='no-model'",
        ),
        (
            "export",
            {"model": "m", "opset": 99},
            ["export", "--model", "m", "--opset", "99"],
            "export: opset=99: must be <= 21",
        ),
        (
            "export",
            {"model": "m", "image_size": "300"},
            ["export", "--model", "m", "--image-size", "300"],
            "must be multiples of 128",
        ),
        (
            "export",
            {"model": "no-model"},
            ["export", "--model", "no-model"],
            "export: model='no-model'",
        ),
    ],
)
def test_bad_evaluate_and_export_values(shapes, capsys, kind, spec, argv, message):
    with pytest.raises((SpecError, NotFoundError)) as info:
        submit_job(shapes, kind, spec)
    assert message in str(info.value)
    code, err = _cli(shapes, argv, capsys)
    assert code == 2 and "Traceback" not in err and message in err, err
    assert shapes.list_jobs() == []


def _cli(store, argv: list[str], capsys) -> tuple[int, str]:
    """core.cli.main in-process (queue only); argparse's SystemExit counts as an exit code."""
    argv = argv if "--no-worker" in argv else [*argv, "--no-worker"]
    try:
        code = main(["--home", str(store.home), *argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_the_largest_seed_accepted_also_runs(shapes):
    """seed = 2**63 - 1 passes the door, so training with it must work (no overflow later)."""
    from tests.train.conftest import run_in_process

    job = run_in_process(
        shapes, "train", {"dataset": "shapes", **TINY, "seed": 2**63 - 1, "workers": 0}
    )
    assert job["status"] == "succeeded", job["error"]
