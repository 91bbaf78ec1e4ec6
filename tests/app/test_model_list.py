"""core.app.model_list on a hand-made store: the columns, the order, the Pareto front, models
without a latency or an AP, and the origin of each."""

from __future__ import annotations

import json

import pytest

from core.app.model_list import COLUMNS, model_table, pareto_names
from core.cli import main

DET = {"name": "efficientdet_tiny", "image_size": [256, 256], "fpn_channels": 32,
       "fpn_cell_repeats": 2, "box_class_repeats": 2, "backbone_name": "tinynet_e"}  # fmt: skip


def _model(store, name, ap50, ms, dataset="shapes-demo", origin=None, job_origin=None, **cfg):
    job = store.insert_job("train", {"dataset": dataset}, origin=job_origin)
    store.finish_job(job, "succeeded", result={"train_seconds": 60.0})
    config = {
        "det_config": DET,
        "train": {"dataset": dataset, "epochs": 15, "backbone": "mobilenetv3_small_100"},
        "params": 1000,
        **cfg,
    }
    if ms is not None:
        config["latency"] = {"ms": ms, "device": "cpu", "batch": 1}
    if origin:
        config["origin"] = origin
    metrics = {} if ap50 is None else {"AP50": ap50, "AP": ap50 / 2}
    store.add_model(name, "trained", f"models/{name}.pt", ["a"], metrics, config, job_id=job)


@pytest.fixture
def models(store):
    _model(store, "fast", 0.80, 10.0)
    _model(store, "slow-better", 0.90, 30.0, job_origin="demo")
    _model(store, "dominated", 0.70, 20.0)  # fast is better and faster
    _model(store, "pick", 0.90, 25.0, origin="search.detector")  # as good as slow, faster
    _model(store, "no-latency", 0.95, None)
    _model(store, "no-ap", None, 5.0)
    _model(store, "other-data", 0.99, 1.0, dataset="glyphs")
    return store


def test_rows_are_ordered_by_ap50_then_latency_and_filtered_by_dataset(models):
    rows = model_table(models, "shapes-demo")
    assert [r["name"] for r in rows] == [
        "no-latency", "pick", "slow-better", "fast", "dominated", "no-ap",
    ]  # fmt: skip
    assert all(set(r) == set(COLUMNS) for r in rows)
    assert len(model_table(models)) == 7


def test_the_pareto_front_skips_models_without_both_figures(models):
    rows = model_table(models, "shapes-demo")
    assert pareto_names(rows) == ["fast", "pick"]
    assert pareto_names(model_table(models)) == ["other-data"]  # all datasets: one dominates


def test_origin_title_and_architecture_columns(models):
    rows = {r["name"]: r for r in model_table(models)}
    assert rows["slow-better"]["origin"] == "demo" and rows["fast"]["origin"] == "train"
    assert rows["pick"]["origin"] == "search.detector"
    fast = rows["fast"]
    assert fast["title"] == "EfficientDet-tiny on mobilenetv3_small_100, shapes-demo, 15 epochs"
    assert (fast["image_size"], fast["fpn_channels"], fast["fpn_cell_repeats"]) == ("256", 32, 2)
    assert (fast["latency_ms"], fast["latency_device"], fast["train_seconds"]) == (10, "cpu", 60)
    assert rows["no-latency"]["latency_ms"] is None and rows["no-ap"]["AP50"] is None


def test_a_searched_cell_backbone_is_named(store):
    record = {"kind": "nas", "spec": "nas:7", "genotype": {}, "C": 8, "layers": 3}
    _model(store, "cell", 0.5, 3.0, backbone=record)
    assert model_table(store)[0]["backbone"] == "searched cell of search 7"


def test_models_list_json_has_the_same_columns(models, home, capsys):
    assert main(["--home", str(home), "models", "list", "--json", "--dataset", "glyphs"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["other-data"] and list(rows[0]) == list(COLUMNS)
    assert main(["--home", str(home), "models", "list"]) == 0
    assert "no-latency" in capsys.readouterr().out
