"""Each strategy end to end through the real SEARCH task with a real Reporter; cancel; resume."""

from __future__ import annotations

import json

import pytest
import torch

import core.engine.reporter as reporter_module
from core.engine.reporter import Reporter
from core.errors import JobCancelled
from core.nas.genotypes import Genotype
from core.nas.search_context import RunState
from core.nas.tasks import SEARCH

BUDGETS = {
    "darts": {"epochs": 2},
    "enas": {"epochs": 1},
    "evolution": {"samples": 4},
    "random": {"samples": 3},
}


@pytest.mark.parametrize("strategy", sorted(BUDGETS))
def test_strategy_end_to_end(strategy, make_job, store, monkeypatch):
    job_id, reporter = make_job(strategy=strategy, **BUDGETS[strategy])
    result = SEARCH.run(reporter.spec, reporter)
    _check_logged(strategy, job_id, reporter, result, store)
    if strategy == "darts":
        _check_interrupted_run_resumes_exactly(make_job, store, monkeypatch, reporter, result)
    if strategy == "random":
        _check_resume_after_search_skips_to_report(job_id, reporter, result, store)


def _check_logged(strategy, job_id, reporter, result, store):

    rows = store.architectures(job_id)
    kinds = [r["extra"]["kind"] for r in rows]
    assert all(r["extra"]["strategy"] == strategy for r in rows)
    assert all(r["params"] > 0 and r["flops"] > 0 and r["latency_ms"] > 0 for r in rows)
    scored = [r for r in rows if not (strategy == "darts" and r["step"] == 0)]
    assert all(0.0 <= r["score"] <= 1.0 for r in scored)
    assert kinds.count("final") == 1 + 2  # searched (1 repeat) + K = 2 random
    if strategy == "darts":
        # default warm-up 0.5 of 2 epochs: epoch 0 trains weights only (no alpha-batch score)
        assert [r["score"] is None for r in rows if r["extra"]["kind"] == "derived"] == [
            True,
            False,
        ]
        alphas = json.loads((reporter.run_dir / "alphas.json").read_text())
        assert [a["epoch"] for a in alphas] == [0, 1]
        assert len(alphas[0]["normal"]) == len(alphas[0]["edges"]) == 5  # 2 nodes: 2 + 3 edges
        assert all(abs(sum(row) - 1) < 1e-5 for row in alphas[-1]["normal"])
        assert Genotype.from_dict(alphas[-1]["genotype"]) == Genotype.from_dict(result["genotype"])
        assert store.artifacts(job_id, "alphas")
    elif strategy == "enas":
        assert kinds.count("sampled") == 2 and kinds.count("derived") == 1
    else:
        assert kinds.count("sampled") == BUDGETS[strategy]["samples"]
    if strategy == "evolution":
        extras = [r["extra"] for r in rows if r["extra"]["kind"] == "sampled"]
        assert [e["origin"] for e in extras] == ["initial"] * 3 + ["mutation"]
        assert extras[3]["parent"] in (1, 2)  # S=2 sampled from the population [0, 1, 2]

    keys = {m["key"] for m in store.metrics(job_id) if m["step"] is None}
    assert {"search/train_acc", "search/val_acc", "search/best_score"} <= keys
    saved = Genotype.from_json((reporter.run_dir / "genotype.json").read_text())
    assert saved.to_dict() == result["genotype"]
    assert store.artifacts(job_id, "genotype") and store.artifacts(job_id, "report")
    report = json.loads((reporter.run_dir / "report.json").read_text())
    assert report["margin"] == pytest.approx(report["searched"]["mean"] - report["random"]["mean"])
    assert len(report["random"]["accs"]) == 2 and len(report["searched"]["accs"]) == 1
    assert (report["budget"]["optimizer"], report["budget"]["lr"]) == ("adam", 3e-3)
    assert saved.count("skip_connect") <= 2


def test_cancel_stops_within_a_step(make_job, store, monkeypatch):
    monkeypatch.setattr(reporter_module, "CANCEL_POLL_S", 0.0)
    job_id, reporter = make_job(strategy="random", samples=50)
    store.request_cancel(job_id)
    with pytest.raises(JobCancelled):
        SEARCH.run(reporter.spec, reporter)
    assert not store.architectures(job_id)


def _resumed_reporter(store, job_id, reporter):
    job = store.get_job(job_id)
    job["attempts"] = 2
    return Reporter(store, job, reporter.run_dir, "cpu")


def _check_interrupted_run_resumes_exactly(make_job, store, monkeypatch, ref, expected):
    """Same search, cancelled after its first epoch, resumed: identical to the uninterrupted run."""
    # report.random only changes the final report: the search itself is the same as ref's
    job_id, reporter = make_job(strategy="darts", report={"random": 0}, **BUDGETS["darts"])
    monkeypatch.setattr(reporter_module, "CANCEL_POLL_S", 0.0)
    original_save = RunState.save

    def save_then_cancel(self, path):  # the user cancels right after the first epoch
        original_save(self, path)
        if self.search and self.search["epoch"] == 1:
            store.db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", [job_id])

    monkeypatch.setattr(RunState, "save", save_then_cancel)
    with pytest.raises(JobCancelled):
        SEARCH.run(reporter.spec, reporter)
    monkeypatch.setattr(RunState, "save", original_save)
    state = RunState.load(reporter.checkpoint_path, "darts")
    assert state.search["epoch"] == 1 and state.outcome is None

    store.db.execute("UPDATE jobs SET cancel_requested = 0 WHERE id = ?", [job_id])
    result = SEARCH.run(reporter.spec, _resumed_reporter(store, job_id, reporter))
    assert any("resumed at epoch 1" in e["message"] for e in store.events(job_id))
    assert [r["step"] for r in store.architectures(job_id) if r["extra"]["kind"] == "derived"] == [
        0,
        1,
    ]
    alphas = json.loads((reporter.run_dir / "alphas.json").read_text())
    ref_alphas = json.loads((ref.run_dir / "alphas.json").read_text())
    assert torch.allclose(
        torch.tensor(alphas[-1]["normal"]), torch.tensor(ref_alphas[-1]["normal"])
    )
    assert result["genotype"] == expected["genotype"]
    assert result["searched"]["accs"] == expected["searched"]["accs"]
    assert result["random"]["accs"] == [] and result["margin"] is None


def _check_resume_after_search_skips_to_report(job_id, reporter, first, store):
    n_rows = len(store.architectures(job_id))
    again = SEARCH.run(reporter.spec, _resumed_reporter(store, job_id, reporter))
    assert again["genotype"] == first["genotype"] and again["margin"] == first["margin"]
    assert len(store.architectures(job_id)) == n_rows  # nothing retrained, nothing re-logged


def test_darts_warmup_trains_weights_only(make_job, store):
    """Within the warm-up share no alpha moves: the snapshot keeps the initial alphas."""
    from core.nas.supernet import SuperNet

    job_id, reporter = make_job(
        strategy="darts", epochs=1, darts={"warmup": 0.99}, report={"random": 0}
    )
    SEARCH.run(reporter.spec, reporter)
    alphas = json.loads((reporter.run_dir / "alphas.json").read_text())
    torch.manual_seed(0)  # the search's seed: the same initial alphas
    initial = SuperNet(4, 2, 3, nodes=2)
    for kind in ("normal", "reduce"):
        expected = torch.softmax(getattr(initial, f"alphas_{kind}").detach(), -1)
        assert torch.allclose(torch.tensor(alphas[0][kind]), expected, atol=1e-7)
    assert [r["score"] for r in store.architectures(job_id) if r["extra"]["kind"] == "derived"] == [
        None
    ]


def test_pc_darts_searches_with_partial_channels(make_job, store):
    """`--partial-channels 2`: the job runs, moves its betas (snapshots are softmax(alpha) x
    normalised beta, so a node's rows no longer each sum to 1) and derives a cell."""
    job_id, reporter = make_job(
        strategy="darts",
        epochs=2,
        darts={"warmup": 0.0, "partial_channels": 2},
        report={"random": 0},
    )
    result = SEARCH.run(reporter.spec, reporter)
    assert Genotype.from_dict(result["genotype"])
    from core.nas.supernet import SuperNet

    last = json.loads((reporter.run_dir / "alphas.json").read_text())[-1]
    sums = torch.tensor([sum(row) for row in last["normal"]])
    assert float(sums[:2].sum()) == pytest.approx(1.0, abs=1e-5)  # node 0's two inputs
    torch.manual_seed(0)  # the search's seed: the initial betas
    initial = SuperNet(4, 2, 3, nodes=2, partial_channels=2).edge_weights("normal").detach()
    assert (sums - initial).abs().max() > 1e-4  # the betas moved
    with pytest.raises(Exception, match="must divide"):
        make_job(strategy="darts", darts={"partial_channels": 3})
