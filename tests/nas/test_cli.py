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
            "evolution.population=4",
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
    assert spec["crops"]["fast"] and spec["report"]["epochs"] == 8 and spec["network"]["C"] == 8
    assert SearchConfig.from_spec(spec).crops.size == 16


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "--set", "network.C=7", "--dataset", "shapes"], "network.C=7: must be even"),
        (["search", "--dataset", "shapes", "--C", "7"], "network.C=7: must be even"),
        (["search"], "needs a dataset"),
        (["search", "--dataset", "shapes", "--set", "colour=1"], "KEY=VALUE"),
        (
            ["search", "--dataset", "shapes", "--set", "report_epochs=3"],
            "(did you mean 'report.epochs'?)",
        ),
        (["search", "--dataset", "shapes", "--warmup", "1"], "darts.warmup=1.0: must be < 1.0"),
        (
            ["search", "--dataset", "shapes", "--population", "2", "--sample-size", "3"],
            "sample_size",
        ),
        (
            ["search", "--dataset", "shapes", "--partial-channels", "3"],
            "darts.partial_channels=3: must divide network.C=8",
        ),
        (["search", "--dataset", "shapes", "--minutes", "nan"], "minutes='nan': must be a finite"),
        (["search", "--dataset", "shapes", "--minutes", "inf"], "minutes='inf': must be a finite"),
        (
            ["search", "--dataset", "shapes", "--set", "supernet.lr=nan"],
            "supernet.lr='nan': must be a finite",
        ),
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
        ({"dataset": "d", "darts.second_order": "maybe"}, "darts.second_order='maybe'"),
        ({"dataset": "d", "minutes": 0}, "minutes=0.0: must be > 0"),
        (
            {"dataset": "d", "supernet": {"lr_mn": 1}},
            "supernet.lr_mn=1: unknown field (did you mean 'lr_min'?)",
        ),
        ({"dataset": "d", "objective": "accuracy-latency"}, "set one as objective.kind=VALUE"),
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
    assert spec["minutes"] is None and spec["strategy"] == "zero-cost"
    assert spec["crops"]["image_size"] == 32 and spec["child"]["optimizer"] == "adam"
    assert spec["report"]["epochs"] == 24 and spec["zero_cost"]["proxies"] == [
        "synflow",
        "zico",
        "noskip",
    ]
    assert SearchConfig.from_spec(spec).budget_s == float("inf")


@pytest.mark.parametrize(
    "flat, nested",
    [
        ("report_random", "report.random"),
        ("report_epochs", "report.epochs"),
        ("child_epochs", "child.epochs"),
        ("population", "evolution.population"),
        ("warmup", "darts.warmup"),
        ("max_per_class", "crops.max_per_class"),
    ],
)
def test_a_flat_key_is_refused_with_its_nested_place(flat, nested):
    with pytest.raises(SpecError) as info:
        SearchConfig.from_spec({"dataset": "d", flat: 1})
    assert str(info.value).startswith(f"search: {flat}=1: unknown field (did you mean '{nested}'?)")


def test_nested_objects_and_dotted_keys_load_alike_and_store_nested():
    nested = {
        "dataset": "d",
        "strategy": "evolution",
        "evolution": {"population": 6, "sample_size": 2},
        "report": {"random": 1, "repeats": 1},
        "crops": {"fast": True},
    }
    dotted = {
        "dataset": "d",
        "strategy": "evolution",
        "evolution.population": "6",
        "evolution.sample_size": 2,
        "report.random": 1,
        "report": {"repeats": 1},  # an object and dotted keys of the same group merge
        "crops.fast": "true",
    }
    cfg = SearchConfig.from_spec(nested)
    assert SearchConfig.from_spec(dotted) == cfg
    assert (cfg.evolution.population, cfg.report.random, cfg.crops.size) == (6, 1, 16)
    spec = SEARCH.validate(dotted)
    assert spec["evolution"]["population"] == 6 and "evolution.population" not in spec
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


def test_discrete_networks_train_with_adamw_by_default():
    cfg = SearchConfig.from_spec({"dataset": "d"})
    assert (cfg.child.optimizer, cfg.child.learning_rate) == ("adam", 3e-3)
    given = SearchConfig.from_spec({"dataset": "d", "child": {"lr": 0.1}})
    assert (given.child.optimizer, given.child.learning_rate) == ("adam", 0.1)
    sgd = SearchConfig.from_spec({"dataset": "d", "child.optimizer": "sgd"})
    assert sgd.child.learning_rate == 0.1 and SearchConfig.from_spec(sgd.to_spec()) == sgd
    with pytest.raises(SpecError, match="child.optimizer='lion'"):
        SearchConfig.from_spec({"dataset": "d", "child": {"optimizer": "lion"}})
