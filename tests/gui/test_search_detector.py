"""The Search tab's detector level: /start_detector_search queues a search.detector job (and
refuses a bad spec with the engine's message); the answer reads in plain words."""

from __future__ import annotations

import pytest

from nasdet_gui.search_tab import detector_markdown

RESULT = {
    "level": "detector",
    "final": True,
    "trials": 5,
    "states": {"complete": 2, "pruned": 3},
    "max_epochs": 3,
    "target_ms": 20.0,
    "front": [
        {"trial": 0, "AP50": 0.5, "latency_ms": 10.0},
        {"trial": 3, "AP50": 0.7, "latency_ms": 25.0},
    ],
    "pick": {
        "trial": 0,
        "AP50": 0.5,
        "latency_ms": 10.0,
        "within_target": True,
        "config": {
            "backbone": "mobilenetv3_small_100",
            "image_size": 128,
            "fpn_channels": 16,
            "fpn_cell_repeats": 1,
            "box_class_repeats": 2,
        },
    },
    "model": "job-7",
}


def test_the_answer_in_words():
    text = detector_markdown(RESULT)
    assert "**5 trials** (2 trained to 3 epochs, 3 stopped early" in text
    assert "0.500 at 10.0 ms (trial 0), 0.700 at 25.0 ms (trial 3)" in text
    assert "trial 0, mobilenetv3_small_100 128px, BiFPN 16x1, head 2: AP50 0.500" in text
    assert "(within the target)" in text and "model **job-7**" in text
    assert "The trials appear below" in detector_markdown(None)


@pytest.mark.xdist_group("gui")
def test_start_detector_search_queues_the_job_and_refuses_a_bad_spec(client, gui_app):
    from gradio_client.exceptions import AppError

    gui_app.wait_for(
        lambda: client.predict(1, api_name="/job_status")["status"] == "succeeded",
        90,
        "the first-start dataset",
    )
    options = {"backbones": ["mobilenetv3_small_100"], "image_sizes": [128], "trials": 1}
    job_id = client.predict("shapes-demo", 0.5, options, api_name="/start_detector_search")
    client.predict(job_id, api_name="/cancel_job")
    job = client.predict(job_id, api_name="/job_status")
    assert job["kind"] == "search.detector"
    assert job["spec"]["backbones"] == ["mobilenetv3_small_100"] and job["spec"]["minutes"] == 0.5
    with pytest.raises(AppError, match="image_sizes=200: sides must be multiples of 128"):
        client.predict(
            "shapes-demo", 1.0, {"image_sizes": [200]}, api_name="/start_detector_search"
        )
