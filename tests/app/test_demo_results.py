"""core.app.demo_results on a hand-made store: the trials as chart points, the baselines, and the
verdict's sentence, whose numbers are the stored ones."""

from __future__ import annotations

import pytest

from core.app import demo_results
from core.engine.store import Store
from core.viz.models import detector_search_figure
from tests.train.conftest import make_dataset

CELL = {
    "backbone": "nas:1",
    "image_size": 128,
    "fpn_channels": 24,
    "fpn_cell_repeats": 1,
    "box_class_repeats": 2,
}
HAND = dict(CELL, backbone="mobilenetv3_small_100", image_size=256)


def _trial(store, job, n, choice, ap50, ms, epochs=3, state="complete"):
    store.add_architecture(
        job,
        choice,
        score=ap50,
        latency_ms=ms,
        step=n,
        extra={"role": "trial", "trial": n, "state": state, "epochs": epochs, "AP50": ap50},
    )


def _model(store, name, job, backbone, ap50, ms, origin=None):
    record = {"kind": "nas", "spec": backbone} if backbone.startswith("nas:") else {}
    config = {
        "det_config": {"name": "efficientdet_tiny", "image_size": [128, 128]},
        "backbone": record,
        "train": {"dataset": "shapes-demo", "backbone": backbone, "epochs": 60},
        "latency": {"ms": ms, "device": "cpu", "batch": 1},
    }
    if origin:
        config["origin"] = origin
    path = store.home / f"{name}.pt"
    path.write_bytes(b"x")
    store.add_model(name, "trained", path, ["a"], {"AP50": ap50, "AP": ap50 / 2}, config, job)


@pytest.fixture()
def walk(tmp_path):
    store = Store(tmp_path / "home")
    make_dataset(store, "shapes-demo", 4)
    detector = store.insert_job("search.detector", {"dataset": "shapes-demo"}, origin="demo")
    _trial(store, detector, 0, HAND, 0.40, 20.0)
    _trial(store, detector, 1, CELL, 0.45, 8.0)
    _trial(store, detector, 2, dict(CELL, fpn_channels=48), 0.20, 9.0, epochs=1, state="pruned")
    store.finish_job(detector, "succeeded", result={"level": "detector", "pick": {"trial": 1}})
    train = store.insert_job("train", {"dataset": "shapes-demo"}, origin="demo")
    _model(store, f"job-{train}", train, "nas:1", 0.91, 8.4)
    store.finish_job(train, "succeeded", result={"model": f"job-{train}", "epochs": 14})
    return store, detector, train


def test_trials_become_points_with_their_kind_and_fidelity(walk):
    store, detector, _ = walk
    points = demo_results.trial_points(store, detector)
    assert [(t["trial"], t["on_cell"], t["complete"]) for t in points] == [
        (0, False, True),
        (1, True, True),
        (2, True, False),
    ]
    fig = detector_search_figure(points, [], demo_results.pick_row(store, walk[2]))
    names = [trace.name for trace in fig.data]
    assert names == [
        "tried: on the found cell",
        "tried: hand-made backbone",
        "the pick, trained on",
    ]


def test_without_a_baseline_the_verdict_compares_trials_of_the_same_epochs(walk):
    store, detector, train = walk
    verdict = demo_results.verdict(store, detector, train)
    assert verdict["win"]
    text = verdict["text"]
    assert "finds AP50 0.91 at 8 ms" in text and "14 epochs" in text  # trained, not the spec's
    assert "after 3 epochs each" in text and "more accurate and faster than" in text
    assert "AP50 0.40 at 20 ms, against 0.45 at 8 ms" in text  # the stored trial numbers


def test_a_baseline_trained_here_is_what_the_pick_is_compared_with(walk):
    store, detector, train = walk
    other = store.insert_job("train", {"dataset": "shapes-demo"})
    _model(store, f"job-{other}", other, "mobilenetv3_small_100", 0.93, 20.0)
    store.finish_job(other, "succeeded", result={"model": f"job-{other}", "epochs": 24})
    assert [r["name"] for r in demo_results.baselines(store, "shapes-demo")] == [f"job-{other}"]
    verdict = demo_results.verdict(store, detector, train)
    assert not verdict["win"]
    assert "faster but less accurate than" in verdict["text"]
    assert "(AP50 0.93 at 20 ms)" in verdict["text"]


def test_no_verdict_before_the_pick_is_trained(walk):
    store, detector, _ = walk
    assert demo_results.verdict(store, detector, None) is None
