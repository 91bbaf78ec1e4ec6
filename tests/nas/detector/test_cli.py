"""`python -m core search --level detector`: the spec from the flags, the plan line, the queued
search.detector job; cell-search options refused; --level cell is still the default."""

from __future__ import annotations

import pytest

from core.cli import main


@pytest.fixture
def shapes(store, home):
    """A dataset row named 'shapes'; no files needed to submit."""
    store.add_dataset("shapes", "shapes", home / "datasets" / "shapes", ["a", "b"], {})
    return "shapes"


def test_level_detector_prints_the_plan_and_queues_the_job(home, store, shapes, capsys):
    args = ["--home", str(home), "search", "--level", "detector", "--dataset", shapes]
    args += [
        "--minutes",
        "3",
        "--target-ms",
        "20",
        "--seed",
        "2",
        "--epochs",
        "9",
        "--threads",
        "1",
    ]
    args += ["--backbones", "mobilenetv3_small_100,nas:DARTS_V2", "--image-sizes", "128,256"]
    args += ["--fpn-channels", "16 32", "--trials", "12", "--no-worker"]
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("plan: 72 detectors (")  # 2 backbones x 2 x 2 x 3 x 3
    assert "128/256 px" in out[0] and "target 20 ms" in out[0] and "at most 12 trials" in out[0]
    job = store.get_job(int(out[-1]))
    assert job["kind"] == "search.detector" and job["status"] == "queued"
    spec = job["spec"]
    assert spec["backbones"] == ["mobilenetv3_small_100", "nas:DARTS_V2"]
    assert spec["image_sizes"] == [128, 256] and spec["fpn_channels"] == [16, 32]
    assert (spec["minutes"], spec["target_ms"], spec["seed"], spec["epochs"]) == (3.0, 20.0, 2, 9)
    assert spec["trials"] == 12 and spec["fpn_cell_repeats"] == [1, 2, 3] and spec["threads"] == 1


def test_default_backbones_are_resolved_into_the_spec(home, store, shapes, capsys):
    args = ["--home", str(home), "search", "--level", "detector", "--dataset", shapes]
    assert main([*args, "--no-worker"]) == 0
    job = store.get_job(int(capsys.readouterr().out.strip().splitlines()[-1]))
    assert job["spec"]["backbones"] == ["nas:DARTS_V2", "mobilenetv3_small_100", "efficientnet_b0"]
    assert job["spec"]["minutes"] == 10.0 and job["spec"]["target_ms"] is None


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--strategy", "darts"], "--strategy is an option of the cell search"),
        (["--set", "report.epochs=3"], "--set is an option of the cell search"),
        (["--population", "4"], "--population is an option of the cell search"),
        (["--image-sizes", "200"], "multiples of 128"),
        (["--no-time-limit"], "give minutes or trials"),
    ],
)
def test_refusals_exit_2_with_the_reason(home, store, shapes, capsys, extra, message):
    args = ["--home", str(home), "search", "--level", "detector", "--dataset", shapes, *extra]
    assert main([*args, "--no-worker"]) == 2
    assert message in capsys.readouterr().err
    assert store.list_jobs() == []
