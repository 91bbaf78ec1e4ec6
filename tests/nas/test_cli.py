"""`python -m core search`: spec building, validation at submit time, the queued job."""

from __future__ import annotations

import pytest

from core.cli import main
from core.errors import SpecError
from core.nas.config import SearchConfig
from core.nas.tasks import SEARCH


def test_search_verb_queues_a_validated_job(home, store, capsys):
    code = main(["--home", str(home), "search", "--dataset", "shapes", "--strategy", "evolution",
                 "--minutes", "2", "--samples", "7", "--seed", "3", "--fast",
                 "--set", "population=4", "--set", "sample_size=2", "--no-worker"])
    assert code == 0
    job_id = int(capsys.readouterr().out.strip().splitlines()[-1])
    spec = store.get_job(job_id)["spec"]
    assert (spec["strategy"], spec["minutes"], spec["samples"], spec["seed"]) == \
        ("evolution", 2.0, 7, 3)
    assert spec["fast"] and spec["population"] == 4 and spec["C"] == 8 and spec["skip_cap"] == 2
    assert SearchConfig.from_spec(spec).size == 16


@pytest.mark.parametrize("argv, message", [
    (["search", "--set", "C=7", "--dataset", "d"], "C must be even"),
    (["search"], "needs a dataset"),
    (["search", "--dataset", "d", "--set", "colour=1"], "KEY=VALUE"),
    (["search", "--dataset", "d", "--warmup", "1"], "warmup must be in [0, 1)"),
    (["search", "--dataset", "d", "--set", "population=2", "--set", "sample_size=3"],
     "sample_size"),
])
def test_bad_options_exit_2(home, argv, message, capsys):
    assert main(["--home", str(home), *argv, "--no-worker"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("spec, message", [
    ({"dataset": "d", "strategy": "bayes"}, "unknown strategy"),
    ({"dataset": "d", "epochs": 1.5}, "epochs must be int"),
    ({"dataset": "d", "second_order": "yes"}, "second_order must be bool"),
    ({"dataset": "d", "minutes": 0}, "minutes must be > 0"),
    ({"dataset": "d", "lr_typo": 1}, "unknown search option"),
])
def test_validate_rejects(spec, message):
    with pytest.raises(SpecError, match=message):
        SEARCH.validate(spec)


def test_validate_fills_defaults_and_keeps_no_time_limit():
    spec = SEARCH.validate({"dataset": "d", "minutes": None})
    assert spec["minutes"] is None and spec["strategy"] == "darts" and spec["image_size"] == 32
    assert SearchConfig.from_spec(spec).budget_s == float("inf")
