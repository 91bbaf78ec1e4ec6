"""Rounds of candidates (core.nas.strategies.sampling with evolution.parallel > 1) on the local
executor: a job cancelled in the middle of a round resumes with the round's remaining candidate
and ends exactly as the uninterrupted job."""

from __future__ import annotations

import json

import pytest

import core.engine.reporter as reporter_module
from core.errors import JobCancelled
from core.nas.search_context import RunState
from core.nas.tasks import SEARCH
from tests.nas.test_search import _resumed_reporter

SPEC = {
    "strategy": "evolution",
    "samples": 6,
    "evolution.parallel": 2,
    "minutes": None,
    "report.random": 0,
}


def _sampled(store, job_id: int) -> list[tuple]:
    return [
        (r["step"], r["score"], r["extra"]["origin"], json.dumps(r["genotype"]))
        for r in store.architectures(job_id)
        if r["extra"]["kind"] == "sampled"
    ]


def test_a_round_cancelled_in_the_middle_resumes_exactly(make_job, store, monkeypatch):
    ref_id, ref_reporter = make_job(**SPEC)
    expected = SEARCH.run(ref_reporter.spec, ref_reporter)
    job_id, reporter = make_job(**SPEC)
    monkeypatch.setattr(reporter_module, "CANCEL_POLL_S", 0.0)
    original_save = RunState.save

    def save_then_cancel(self, path):  # cancelled after candidate 3, the first of a round of 2
        original_save(self, path)
        if self.search and len(self.search["history"]) == 4:
            store.db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", [job_id])

    monkeypatch.setattr(RunState, "save", save_then_cancel)
    with pytest.raises(JobCancelled):
        SEARCH.run(reporter.spec, reporter)
    monkeypatch.setattr(RunState, "save", original_save)
    state = RunState.load(reporter.checkpoint_path, "evolution")
    assert len(state.search["history"]) == 4 and len(state.search["pending"]) == 1
    store.db.execute("UPDATE jobs SET cancel_requested = 0 WHERE id = ?", [job_id])
    result = SEARCH.run(reporter.spec, _resumed_reporter(store, job_id, reporter))
    assert _sampled(store, job_id) == _sampled(store, ref_id)
    assert [o for _, _, o, _ in _sampled(store, job_id)] == ["initial"] * 3 + ["mutation"] * 3
    assert result["genotype"] == expected["genotype"]
    assert result["searched"]["accs"] == expected["searched"]["accs"]


def test_executor_options_of_a_search_are_validated(home, store, proxy_file, capsys):
    from core.cli import main
    from core.errors import SpecError
    from core.nas.config import SearchConfig

    base = {"proxy_path": str(proxy_file)}
    with pytest.raises(SpecError, match="needs execution.executor=ray"):
        SearchConfig.from_spec({**base, "execution": {"ray_address": "auto"}})
    with pytest.raises(SpecError, match="execution.executor='dask'"):
        SearchConfig.from_spec({**base, "execution.executor": "dask"})
    code = main(
        [
            "--home",
            str(home),
            "search",
            "--set",
            f"proxy_path={proxy_file}",
            "--strategy",
            "evolution",
            "--executor",
            "ray",
            "--ray-address",
            "head:6379",
            "--parallel",
            "3",
            "--no-worker",
        ]
    )
    assert code == 0
    spec = store.get_job(int(capsys.readouterr().out.strip().splitlines()[-1]))["spec"]
    ex = spec["execution"]
    assert (ex["executor"], ex["ray_address"], spec["evolution"]["parallel"]) == (
        "ray",
        "head:6379",
        3,
    )
