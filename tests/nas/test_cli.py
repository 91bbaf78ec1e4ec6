"""`python -m core search`: spec building, validation at submit time, the plan, the queued job."""

from __future__ import annotations

import pytest

from core.cli import main
from core.errors import SpecError
from core.nas.config import SearchConfig
from core.nas.tasks import SEARCH


@pytest.fixture
def shapes(store, home):
    """A dataset row named 'shapes' (6 classes, 900 train objects); no files needed to submit."""
    store.add_dataset(
        "shapes",
        "shapes",
        home / "datasets" / "shapes",
        [f"c{i}" for i in range(6)],
        {"train_objects": 900, "val_objects": 300},
    )
    return "shapes"


def test_search_verb_prints_the_plan_and_queues_a_validated_job(home, store, shapes, capsys):
    code = main(
        [
            "--home",
            str(home),
            "search",
            "--dataset",
            shapes,
            "--strategy",
            "evolution",
            "--minutes",
            "2",
            "--samples",
            "7",
            "--seed",
            "3",
            "--fast",
            "--set",
            "population=4",
            "--sample-size",
            "2",
            "--set",
            "report.epochs=8",
            "--no-worker",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    job_id = int(lines[-1])
    assert lines[0].startswith("plan: search ") and "report" in lines[0] and "within 2m" in lines[0]
    spec = store.get_job(job_id)["spec"]
    assert (spec["strategy"], spec["minutes"], spec["samples"], spec["seed"]) == (
        "evolution",
        2.0,
        7,
        3,
    )
    assert spec["evolution"] == {"population": 4, "sample_size": 2, "parallel": 1}
    assert spec["fast"] and spec["report"]["epochs"] == 8 and spec["C"] == 8
    assert SearchConfig.from_spec(spec).size == 16


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "--set", "C=7", "--dataset", "shapes"], "C=7: must be even"),
        (["search"], "needs a dataset"),
        (["search", "--dataset", "shapes", "--set", "colour=1"], "KEY=VALUE"),
        (["search", "--dataset", "shapes", "--warmup", "1"], "darts.warmup=1.0: must be < 1.0"),
        (
            ["search", "--dataset", "shapes", "--population", "2", "--sample-size", "3"],
            "sample_size",
        ),
        (
            ["search", "--dataset", "shapes", "--partial-channels", "3"],
            "partial_channels=3: must divide C=8",
        ),
        (["search", "--dataset", "shapes", "--minutes", "nan"], "minutes='nan': must be a finite"),
        (["search", "--dataset", "shapes", "--minutes", "inf"], "minutes='inf': must be a finite"),
        (["search", "--dataset", "shapes", "--set", "lr=nan"], "lr='nan': must be a finite"),
        (["search", "--dataset", "shapez"], "no such dataset (did you mean 'shapes'?)"),
    ],
)
def test_bad_options_exit_2(home, shapes, argv, message, capsys):
    assert main(["--home", str(home), *argv, "--no-worker"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"dataset": "d", "strategy": "bayes"}, "strategy='bayes': must be one of"),
        ({"dataset": "d", "epochs": 1.5}, "epochs=1.5: must be a whole number"),
        ({"dataset": "d", "second_order": "maybe"}, "darts.second_order='maybe'"),
        ({"dataset": "d", "minutes": 0}, "minutes=0.0: must be > 0"),
        ({"dataset": "d", "lr_mn": 1}, "lr_mn=1: unknown field (did you mean 'lr_min'?)"),
        ({"dataset": "d", "report": {"epoch": 3}}, "report.epoch=3: unknown field"),
        ({"dataset": "d", "zero_cost.proxies": "synflow,snip"}, "zero_cost.proxies"),
    ],
)
def test_validate_rejects(spec, message):
    with pytest.raises(
        SpecError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("?", r"\?")
        .replace(".", r"\."),
    ):
        SEARCH.validate(spec)


def test_validate_fills_defaults_and_keeps_no_time_limit():
    spec = SEARCH.validate({"dataset": "d", "minutes": None})
    assert spec["minutes"] is None and spec["strategy"] == "zero-cost" and spec["image_size"] == 32
    assert spec["report"]["epochs"] == 24 and spec["zero_cost"]["proxies"] == [
        "synflow",
        "zico",
        "noskip",
    ]
    assert SearchConfig.from_spec(spec).budget_s == float("inf")


def test_flat_specs_of_older_jobs_still_load():
    """Jobs queued before the nesting stored flat keys; they load into the nested config."""
    old = {
        "dataset": "d",
        "strategy": "evolution",
        "population": 6,
        "sample_size": 2,
        "report_random": 1,
        "report_repeats": 1,
        "report_epochs": 5,
        "warmup": 0.25,
        "second_order": True,
        "controller_hidden": 32,
        "enas_derive_samples": 4,
    }
    cfg = SearchConfig.from_spec(old)
    assert (cfg.evolution.population, cfg.evolution.sample_size) == (6, 2)
    assert (cfg.report.random, cfg.report.repeats, cfg.report.epochs) == (1, 1, 5)
    assert cfg.darts.warmup == 0.25 and cfg.darts.second_order
    assert cfg.enas.controller_hidden == 32 and cfg.enas.derive_samples == 4
    assert SearchConfig.from_spec(cfg.to_spec()) == cfg  # dump -> load round trip


def test_partial_channels_flag_reaches_the_darts_spec(home, store, shapes, capsys):
    assert (
        main(
            [
                "--home",
                str(home),
                "search",
                "--dataset",
                shapes,
                "--partial-channels",
                "4",
                "--minutes",
                "1",
                "--no-worker",
            ]
        )
        == 0
    )
    job_id = int(capsys.readouterr().out.strip().splitlines()[-1])
    assert store.get_job(job_id)["spec"]["darts"]["partial_channels"] == 4


def test_discrete_networks_train_with_adamw_unless_the_spec_predates_it():
    cfg = SearchConfig.from_spec({"dataset": "d"})
    assert (cfg.net_optimizer, cfg.net_learning_rate) == ("adam", 3e-3)
    assert SearchConfig.from_spec({"dataset": "d", "net_lr": 0.01}).net_optimizer == "adam"
    old = SearchConfig.from_spec({"dataset": "d", "net_lr": 0.1})  # validated before AdamW
    assert (old.net_optimizer, old.net_learning_rate) == ("sgd", 0.1)
    sgd = SearchConfig.from_spec({"dataset": "d", "net_optimizer": "sgd"})
    assert sgd.net_learning_rate == 0.1 and SearchConfig.from_spec(sgd.to_spec()) == sgd
    with pytest.raises(SpecError, match="net_optimizer='lion'"):
        SearchConfig.from_spec({"dataset": "d", "net_optimizer": "lion"})
