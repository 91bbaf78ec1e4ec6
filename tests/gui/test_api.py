"""gradio_client calls of each named endpoint against the launched app."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("gui")


def test_named_endpoints_are_published(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {
        "/start_search",
        "/start_train",
        "/job_status",
        "/predict",
        "/generate_dataset",
        "/cancel_job",
        "/resume_job",
        "/list_jobs",
    } <= names
    assert not any(n.startswith(("/refresh", "/lambda")) for n in names)  # internals private


def test_first_start_generates_shapes_demo_and_job_status_follows_it(client, gui_app):
    first = client.predict(1, api_name="/job_status")
    assert first["kind"] == "dataset.generate" and first["spec"]["name"] == "shapes-demo"
    gui_app.wait_for(
        lambda: client.predict(1, api_name="/job_status")["status"] == "succeeded",
        90,
        "shapes-demo",
    )
    names = [d["name"] for d in client.predict(api_name="/list_datasets")]
    assert "shapes-demo" in names


def test_job_status_of_unknown_job_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="no job 99999"):
        client.predict(99999, api_name="/job_status")


def test_generate_dataset_validates_and_queues(client, gui_app):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="kind.*must be one of"):
        client.predict("bad-kind", "triangles", 4, 64, "easy", 0, api_name="/generate_dataset")
    job = client.predict("api-glyphs", "glyphs", 4, 64, "easy", 0, api_name="/generate_dataset")
    assert client.predict(job, api_name="/job_status")["kind"] == "dataset.generate"
    gui_app.wait_for(
        lambda: client.predict(job, api_name="/job_status")["status"] in ("succeeded", "failed"),
        60,
        "api-glyphs",
    )
    assert client.predict(job, api_name="/job_status")["status"] == "succeeded"


def test_start_search_rejects_bad_spec_and_returns_a_job_id(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="strategy='magic'"):
        client.predict("shapes-demo", "magic", 1.0, {}, api_name="/start_search")
    with pytest.raises(AppError, match="bogus=1: unknown field"):
        client.predict("shapes-demo", "random", 1.0, {"bogus": 1}, api_name="/start_search")


def test_start_train_rejects_bad_spec(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="preset='nope'"):
        client.predict("shapes-demo", "nope", "", {}, api_name="/start_train")
    with pytest.raises(AppError, match="train: epochs=1000000000000: must be <= 10000"):
        client.predict("shapes-demo", "quick-cpu", "", {"epochs": 1e12}, api_name="/start_train")
    with pytest.raises(AppError, match="train: lr='nan': must be a finite number"):
        client.predict("shapes-demo", "quick-cpu", "", {"lr": "nan"}, api_name="/start_train")
    with pytest.raises(AppError, match="dataset"):
        client.predict("", "quick-cpu", "", {}, api_name="/start_train")


def test_cancel_and_resume_a_job(client, gui_app):
    from core.engine.jobs import submit_job

    store = gui_app.store()
    job = submit_job(store, "test.count", {"steps": 400, "sleep": 0.05})
    gui_app.wait_for(lambda: store.get_job(job)["status"] == "running", 60, "job running")
    client.predict(job, api_name="/cancel_job")
    gui_app.wait_for(lambda: store.get_job(job)["status"] == "cancelled", 15, "cancel")
    client.predict(job, api_name="/resume_job")
    assert store.get_job(job)["status"] in ("queued", "running")
    client.predict(job, api_name="/cancel_job")
    gui_app.wait_for(lambda: store.get_job(job)["status"] == "cancelled", 15, "cancel again")
    client.predict(job, api_name="/delete_job")
    assert not (gui_app.home / "runs" / str(job)).exists()
    assert job not in [j["id"] for j in client.predict(api_name="/list_jobs")]


def test_job_status_of_a_finished_search_carries_its_searched_genotype(client, gui_app):
    """The found cell is the searched one (genotype.json), not the report's last 'final' row
    (a random baseline here)."""
    import json

    store = gui_app.store()
    searched = {
        "normal": [
            ["sep_conv_3x3", 0],
            ["skip_connect", 1],
            ["sep_conv_5x5", 0],
            ["dil_conv_3x3", 2],
        ],
        "normal_concat": [2, 3],
        "reduce": [
            ["max_pool_3x3", 0],
            ["max_pool_3x3", 1],
            ["skip_connect", 2],
            ["avg_pool_3x3", 0],
        ],
        "reduce_concat": [2, 3],
    }
    randomly = dict(
        searched,
        normal=[["max_pool_3x3", 0], ["avg_pool_3x3", 1], ["max_pool_3x3", 0], ["avg_pool_3x3", 1]],
    )
    job = finished_job(store, "search", {"dataset": "shapes-demo", "strategy": "random"})
    assert client.predict(job, api_name="/job_status")["genotype"] is None  # not searched yet
    path = gui_app.home / "runs" / str(job) / "genotype.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(searched))
    store.add_artifact(job, "genotype", path)
    store.add_architecture(job, searched, score=0.6, extra={"kind": "final", "role": "searched"})
    store.add_architecture(job, randomly, score=0.7, extra={"kind": "final", "role": "random"})
    status = client.predict(job, api_name="/job_status")
    assert status["kind"] == "search" and status["genotype"] == searched
    train = finished_job(store, "train", {"dataset": "shapes-demo"})
    assert "genotype" not in client.predict(train, api_name="/job_status")


def finished_job(store, kind: str, spec: dict) -> int:
    """A job row that is already succeeded (in one transaction, so no worker claims it)."""
    with store.transaction():
        job = store.insert_job(kind, spec)
        store.finish_job(job, "succeeded")
    return job
