"""The Guided demo's plain-words pieces and drawing helpers, without a browser."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.app.demo import CELL_DWELL_S, Walk
from nasdet_gui.guided import canvas, ending, live, texts
from nasdet_gui.guided.layout import CELL, CHOOSE, RESULT, SEARCH, TRAIN
from nasdet_gui.guided.views import step_of


def test_verdict_says_whether_the_found_cell_beats_the_random_ones():
    win = texts.verdict_html({"searched": {"mean": 0.62}, "random": {"mean": 0.50}})
    assert "beats the random cells" in win and "62%" in win and "12 points better" in win
    loss = texts.verdict_html({"searched": {"mean": 0.40}, "random": {"mean": 0.50}})
    assert "does not beat" in loss and "10 points worse" in loss
    tie = texts.verdict_html({"searched": {"mean": 0.522}, "random": {"mean": 0.522}})
    assert "ties with the random cells" in tie and "worse" not in tie
    close = texts.verdict_html({"searched": {"mean": 0.524}, "random": {"mean": 0.522}})
    assert "beats" in close and "0.2 points better" in close
    assert texts.verdict_html(None) == "" and texts.verdict_html({"searched": None}) == ""


def test_score_in_plain_words_uses_the_chosen_threshold():
    html = texts.score_html(
        {"AP50": 0.913, "threshold": {"threshold": 0.41, "recall": 0.92, "precision": 0.88}}
    )
    assert "AP50 0.91" in html and "92% of the shapes" in html and "88% of its boxes" in html
    assert "0.41 sure" in html
    assert texts.score_html({}) == ""


def test_status_line_words():
    assert "waiting for job 4" in texts.status_line({"status": "queued", "after_id": 4}, "Train")
    running = {
        "status": "running",
        "progress": 0.43,
        "message": "epoch 3/12",
        "eta_s": 130,
        "started_at": None,
    }
    assert (
        texts.status_line(running, "Training")
        == "**Training: 43%** - epoch 3/12 · about 2m 10s left"
    )
    assert "no ETA" not in texts.status_line(dict(running, eta_s=None), "Training")


def test_step_of_follows_the_jobs():
    assert step_of(Walk()) == CHOOSE
    chained = dict(detector_id=3, detector_status="queued", train_id=4, train_status="queued")
    assert step_of(Walk(search_id=2, search_status="running", **chained)) == SEARCH
    assert step_of(Walk(search_id=2, search_status="succeeded")) == CELL
    running = Walk(
        search_id=2,
        search_status="succeeded",
        detector_id=3,
        detector_status="running",
        train_id=4,
        train_status="queued",
        search_finished_at=1000.0,
    )
    assert step_of(running, at=1005.0) == CELL  # step 3 is shown before the walk moves on
    assert step_of(running, at=1000.0 + CELL_DWELL_S + 1) == TRAIN  # the detector search
    done = Walk(
        search_id=2,
        search_status="succeeded",
        detector_id=3,
        detector_status="succeeded",
        train_id=4,
        train_status="succeeded",
    )
    assert step_of(done) == RESULT


def test_no_claim_when_the_search_trained_no_cell():
    report = {"searched": {"mean": 0.62}, "random": {"mean": 0.50}}
    html = texts.verdict_html(report, trained=0)
    assert "beats" not in html and "without training" in html and "nothing is claimed" in html
    assert "beats the random cells" in texts.verdict_html(report, trained=7)


def test_caption_counts_found_shapes_and_false_alarms():
    item = {
        "gt_boxes": [[0, 0, 10, 10], [20, 20, 30, 30]],
        "gt_labels": [0, 1],
        "detections": [
            {"box": [0, 0, 10, 10], "score": 0.9, "label": 0},
            {"box": [20, 20, 30, 30], "score": 0.8, "label": 0},  # wrong class
            {"box": [50, 50, 60, 60], "score": 0.1, "label": 1},
        ],
    }  # below
    assert live.caption(item, 0.5) == "found 1 of 2, 1 false alarm"
    assert live.caption(item, 0.95) == "found 0 of 2, no false alarm"


def test_own_picture_flattens_transparency_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # one opaque red pixel, the rest transparent
    rgb = ending.own_picture(rgba)
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 0, 0] and rgb[1, 1].tolist() == [255, 255, 255]


def _png_url(image: np.ndarray) -> str:
    import base64

    import cv2

    ok, png = cv2.imencode(".png", image[:, :, ::-1])
    assert ok
    return canvas.PNG_PREFIX + base64.b64encode(png.tobytes()).decode()


def test_drawing_decodes_to_the_rgb_picture_drawn():
    image = np.full((256, 256, 3), 255, np.uint8)
    image[40:90, 100:200] = [220, 38, 38]  # a red bar
    rgb = canvas.decode_drawing(_png_url(image), 256)
    assert rgb.dtype == np.uint8 and np.array_equal(rgb, image)


@pytest.mark.parametrize(
    "sent, says",
    [
        (None, "did not arrive as a PNG"),
        ("data:image/jpeg;base64,AAAA", "did not arrive as a PNG"),
        (canvas.PNG_PREFIX + "not base64!", "not valid base64"),
        (canvas.PNG_PREFIX + "AAAA", "not a 256x256 PNG"),
        (canvas.PNG_PREFIX + "A" * (canvas.MAX_PNG_BYTES * 2), "larger than 2 MB"),
    ],
)
def test_a_bad_drawing_is_refused_with_what_to_do(sent, says):
    with pytest.raises(ValueError, match=says) as err:
        canvas.decode_drawing(sent, 256)
    assert "draw again" in str(err.value)


def test_a_drawing_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="not a 256x256"):
        canvas.decode_drawing(_png_url(np.zeros((64, 64, 3), np.uint8)), 256)


def test_own_picture_sentence_counts_each_kind():
    assert (
        ending.found_sentence(["circle", "cross", "circle"])
        == "Found 3 shapes: 2 circles, 1 cross."
    )
    assert ending.found_sentence(["cross", "cross"]) == "Found 2 shapes: 2 crosses."
    assert ending.found_sentence([]).startswith("Found 0 shapes. Try")


def test_default_threshold_is_the_models_own():
    assert ending.default_threshold({"score_threshold": 0.4176}) == 0.41
    assert ending.default_threshold(None) == ending.FALLBACK_THRESHOLD


def test_draw_detections_is_large_and_keeps_the_picture():
    image = np.full((128, 128, 3), 200, np.uint8)
    item = {"image": image, "detections": [{"box": [10, 10, 60, 60], "score": 0.9, "label": 0}]}
    drawn = live.draw_detections(item, ["circle"], 0.5, side=384)
    assert drawn.shape == (384, 384, 3) and (image == 200).all()
    assert not (drawn == 200).all()  # a box was drawn


def test_a_running_trainings_charts_and_gallery_are_not_redrawn_on_every_tick(store, monkeypatch):
    """The status line and bar follow each progress report; the curves wait CHART_EVERY_S;
    the gallery waits for a new preview file (each redraw costs the worker CPU on 2 cores)."""
    import json
    import os
    from types import SimpleNamespace

    from nasdet_gui.guided import views

    search = store.insert_job("search", {"dataset": "shapes-demo"}, origin="demo")
    store.finish_job(search, "succeeded", result={})
    detector = store.insert_job("search.detector", {"dataset": "shapes-demo"}, origin="demo")
    store.finish_job(detector, "succeeded", result={})
    train = store.insert_job("train", {"dataset": "shapes-demo"}, origin="demo")
    store.db.execute(
        "UPDATE jobs SET status = 'running', pid = ?, heartbeat_at = ? WHERE id = ?",
        [os.getpid(), time.time(), train],
    )
    ctx = SimpleNamespace(store=store)
    p = {
        k: k
        for k in (
            "walk",
            "s_status",
            "s_bar",
            "scatter",
            "best",
            "phase",
            "phase_note",
            "c_normal",
            "c_reduce",
            "verdict_cell",
            "run_all",
            "start_search",
            "train_cell",
            "d_status",
            "d_bar",
            "d_box",
            "d_chart",
            "t_status",
            "t_bar",
            "t_gallery",
            "t_loss",
            "t_ap",
            "fp",
            "score",
        )
    }
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    first = views.refresh(ctx, p, None, 0, None)
    assert {"t_status", "t_bar", "t_gallery", "t_loss", "t_ap"} <= set(first)
    assert first["d_box"].visible is False  # the pick trains: its pictures take the trials' place
    store.set_progress(train, 0.2, "epoch 2/16 step 3/80")
    store.add_metrics([(train, 3, None, "train/loss", 0.9, time.time())])
    clock[0] += 2.0  # the next tick
    second = views.refresh(ctx, p, None, 0, first["fp"])
    assert {"t_status", "t_bar"} <= set(second)
    assert not {"t_gallery", "t_loss", "t_ap", "scatter", "c_normal", "d_chart"} & set(second)
    clock[0] += views.CHART_EVERY_S["tc"]
    run_dir = store.home / "runs" / str(train)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "preview.json").write_text(json.dumps({"epoch": 2, "epochs": 16, "images": []}))
    third = views.refresh(ctx, p, None, 0, second["fp"])
    assert {"t_gallery", "t_loss", "t_ap"} <= set(third)  # the metric row waited, now drawn


def test_the_search_scatter_moves_from_the_first_cell_ranked_without_training():
    ranked = [
        {
            "role": "candidate",
            "score": None,
            "params": 40_000 + 100 * i,
            "extra": {"synflow": 1.0 + i},
            "id": i,
        }
        for i in range(5)
    ]
    trained = [
        {
            "role": "candidate",
            "score": 0.3 + 0.01 * i,
            "params": 50_000 + 1000 * i,
            "extra": {},
            "id": 10 + i,
        }
        for i in range(3)
    ]
    early = live.search_scatter(ranked)
    strip = [t for t in early.data if t.name == "ranked"]
    assert len(strip) == 1 and list(strip[0].x) == [a["params"] for a in ranked]
    assert any("5 cells ranked without training" in a.text for a in early.layout.annotations)
    later = live.search_scatter(ranked + trained)
    names = [t.name for t in later.data]
    assert "ranked" in names and len(names) == 3  # the trained points, their Pareto line, the strip
    assert any(a.text == "5 ranked without training" for a in later.layout.annotations)
    assert [t.name for t in live.search_scatter(trained).data] == names[:2]  # nothing ranked


def test_the_search_scatter_plots_proxy_accuracy_not_the_latency_reward():
    rewarded = [
        {
            "role": "candidate",
            "score": 0.45 + 0.01 * i,
            "params": 50_000 + 1000 * i,
            "extra": {"accuracy": 0.30 + 0.02 * i},
            "id": i,
        }
        for i in range(3)
    ]
    fig = live.search_scatter(rewarded)
    assert sorted(fig.data[0].y) == pytest.approx([0.30, 0.32, 0.34])
    assert fig.layout.yaxis.title.text == "proxy accuracy"


def test_the_best_cell_title_gives_its_proxy_accuracy_under_a_latency_objective(store):
    from tests.engine.test_queries import CELL_A, CELL_B

    job = store.insert_job("search", {"dataset": "d", "objective": {"kind": "accuracy-latency"}})
    store.add_architecture(job, CELL_A, score=0.42, extra={"kind": "sampled", "accuracy": 0.36})
    store.add_architecture(job, CELL_B, score=0.39, extra={"kind": "sampled", "accuracy": 0.41})
    title = live.best_cell(store, job).layout.title.text
    assert title == "Best cell so far (36% proxy accuracy)"  # CELL_A's accuracy, not 42 %
