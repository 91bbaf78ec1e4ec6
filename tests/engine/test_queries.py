"""core.engine.queries: the GUI's read API answers from the store and never writes to it."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import pytest

from core.app import demo
from core.engine import queries as q
from core.engine.store import LOST_JOB_ERROR, now
from core.errors import NotFoundError
from core.nas import results
from core.train import evaluations

CELL_A = {
    "normal": [["sep_conv_3x3", 0], ["skip_connect", 1], ["max_pool_3x3", 0], ["sep_conv_3x3", 2]],
    "normal_concat": [2, 3],
    "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["avg_pool_3x3", 0]],
    "reduce_concat": [2, 3],
}
CELL_B = dict(
    CELL_A, normal=[["dil_conv_5x5", 0], ["dil_conv_5x5", 1], ["none", 0], ["avg_pool_3x3", 2]]
)
CELL_RANDOM = dict(
    CELL_A,
    normal=[["max_pool_3x3", 0], ["max_pool_3x3", 1], ["max_pool_3x3", 0], ["max_pool_3x3", 1]],
)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def running_job(store, kind: str = "train", pid: int | None = None) -> int:
    """A job claimed by `pid` (default: this live process, fresh heartbeat)."""
    job = store.insert_job(kind, {"dataset": "shapes-demo"})
    claimed = store.claim_job("cpu", pid or os.getpid())
    assert claimed["id"] == job
    return job


def changes(store) -> int:
    return store.db.conn.total_changes


def test_a_dead_workers_job_reads_interrupted_without_any_write(store):
    lost = running_job(store, pid=dead_pid())
    alive = store.insert_job("search", {"dataset": "d"}, origin=demo.ORIGIN)
    before = changes(store)
    job = q.get_job(store, lost)
    assert job["status"] == "interrupted" and job["error"] == LOST_JOB_ERROR
    assert job["eta_s"] is None
    assert [j["id"] for j in q.list_jobs(store, status="interrupted")] == [lost]
    assert [j["id"] for j in q.list_jobs(store, status="running")] == []
    assert q.job_fingerprint(store, lost)[1] == "interrupted"
    assert q.jobs_fingerprint(store)[1][:2] == (lost, "interrupted")  # newest first: alive, lost
    assert q.jobs_fingerprint(store)[0][:2] == (alive, "queued")
    assert demo.guided_walk(store).search_status == "queued"
    assert changes(store) == before  # nothing was written
    assert (
        store.db.execute("SELECT status FROM jobs WHERE id = ?", [lost]).fetchone()[0] == "running"
    )


def test_a_live_workers_job_reads_running_and_a_stale_heartbeat_reads_interrupted(store):
    job = running_job(store)
    assert q.get_job(store, job)["status"] == "running"
    store.db.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", [now() - 31, job])
    assert q.get_job(store, job)["status"] == "interrupted"


def test_get_job_of_a_missing_job_is_not_found_and_find_job_is_none(store):
    with pytest.raises(NotFoundError, match="no job 42"):
        q.get_job(store, 42)
    assert q.find_job(store, 42) is None and q.find_job(store, None) is None


def test_list_jobs_filters_kinds_and_status_newest_first(store):
    a = store.insert_job("search", {"dataset": "d"})
    b = store.insert_job("train", {"dataset": "d"})
    c = store.insert_job("evaluate", {"model": "m", "dataset": "d"})
    store.finish_job(b, "succeeded")
    assert [j["id"] for j in q.list_jobs(store)] == [c, b, a]
    assert [j["id"] for j in q.list_jobs(store, kinds=("search", "evaluate"))] == [c, a]
    assert [j["id"] for j in q.list_jobs(store, status="succeeded")] == [b]
    assert [j["id"] for j in q.list_jobs(store, limit=2)] == [c, b]
    assert q.list_jobs(store)[0]["spec"] == {"model": "m", "dataset": "d"}  # JSON decoded


def test_latest_job_id_by_kind_and_after(store):
    assert q.latest_job_id(store, "search") is None
    s1 = store.insert_job("search", {})
    t1 = store.insert_job("train", {})
    s2 = store.insert_job("search", {})
    assert q.latest_job_id(store, "search") == s2
    assert q.latest_job_id(store, "train", "evaluate") == t1
    assert q.latest_job_id(store) == s2
    assert q.latest_job_id(store, "train", after=t1) is None
    assert q.latest_job_id(store, "search", after=s1) == s2


def test_job_fingerprint_changes_only_when_the_job_changes(store):
    job = store.insert_job("train", {"dataset": "x"})
    first = q.job_fingerprint(store, job)
    assert first == (job, "queued", 0.0, None, None, None, None, None)
    assert q.job_fingerprint(store, job) == first
    store.add_metrics([(job, 1, None, "train/loss", 0.5, now())])
    second = q.job_fingerprint(store, job)
    assert second != first
    store.add_event(job, "info", "hello")
    third = q.job_fingerprint(store, job)
    assert third != second
    store.add_architecture(job, CELL_A, score=0.5)
    fourth = q.job_fingerprint(store, job)
    assert fourth != third
    store.set_progress(job, 0.25, "a quarter")
    assert q.job_fingerprint(store, job)[1:4] == ("queued", 0.25, "a quarter")
    other = store.insert_job("train", {"dataset": "x"})
    store.add_metrics([(other, 1, None, "train/loss", 0.5, now())])
    assert q.job_fingerprint(store, job)[1:4] == ("queued", 0.25, "a quarter")
    assert q.job_fingerprint(store, None) == ()
    assert q.job_fingerprint(store, 999) == ("missing", 999)


def test_jobs_fingerprint_changes_on_progress_add_and_delete(store):
    job = store.insert_job("train", {})
    before = q.jobs_fingerprint(store)
    assert before == ((job, "queued", 0.0, None, None),)
    store.set_progress(job, 0.5, "half")
    assert q.jobs_fingerprint(store) == ((job, "queued", 0.5, "half", None),)
    store.finish_job(job, "failed", error="boom")
    store.delete_job(job)
    assert q.jobs_fingerprint(store) == ()


def test_table_fingerprint_counts_and_newest_id(store, tmp_path):
    assert q.table_fingerprint(store, "models") == (0, None)
    store.add_model("m1", "trained", tmp_path / "m1.pt", ["a"])
    store.add_model("m2", "trained", tmp_path / "m2.pt", ["a"])
    assert q.table_fingerprint(store, "models") == (2, 2)
    store.add_dataset("d", "shapes", tmp_path, ["a"], {})
    assert q.table_fingerprint(store, "datasets") == (1, 1)
    with pytest.raises(ValueError, match="unknown table"):
        q.table_fingerprint(store, "jobs; DROP TABLE jobs")


def test_tick_reads_stay_under_50_ms_with_100k_metric_rows(store):
    job = store.insert_job("train", {"dataset": "x"})
    t = now()
    store.add_metrics([(job, s, None, "train/loss", 1.0 / (s + 1), t) for s in range(100_000)])
    other = store.insert_job("train", {"dataset": "x"})
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        q.job_fingerprint(store, job)
        q.job_fingerprint(store, other)
        q.jobs_fingerprint(store)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 0.050, times


def test_job_labels_are_short_and_choices_newest_first(store):
    a = store.insert_job("search", {"dataset": "shapes-demo", "strategy": "darts"})
    b = store.insert_job(
        "train",
        {
            "dataset": "a-very-long-dataset-name-for-a-label",
            "model": "efficientdet_d0",
            "backbone": "nas:1",
        },
    )
    store.finish_job(a, "succeeded")
    choices = q.job_choices(store, ("search", "train"))
    assert [c[1] for c in choices] == [b, a]
    assert choices[1][0] == f"#{a} shapes-demo, darts · done"
    assert choices[0][0].startswith(f"#{b} a-very-long") and choices[0][0].endswith("… · queued")
    assert len(choices[0][0]) <= q.LABEL_MAX_CHARS
    assert q.job_choices(store, ("search",), status="succeeded") == [choices[1]]


def test_model_dataset_and_names(store, tmp_path):
    train = store.insert_job("train", {"dataset": "from-spec"})
    store.add_model("old", "trained", tmp_path / "a.pt", ["a"], job_id=train)
    store.add_model(
        "new", "trained", tmp_path / "b.pt", ["a"], config={"train": {"dataset": "from-config"}}
    )
    store.add_model("imported", "effdet", tmp_path / "c.pt", ["a"])
    assert q.model_names(store) == ["imported", "new", "old"]
    assert evaluations.model_dataset(store, "old") == "from-spec"
    assert evaluations.model_dataset(store, "new") == "from-config"
    assert evaluations.model_dataset(store, "imported") is None
    store.add_dataset("zeta", "shapes", tmp_path, ["a"], {})
    store.add_dataset("alpha", "shapes", tmp_path, ["a"], {})
    assert q.dataset_names(store) == ["alpha", "zeta"]


def test_latest_evaluation_prefers_the_newest_evaluate_job_then_the_train_eval(store, home):
    train = store.insert_job("train", {"dataset": "d"})
    eval_file = home / "runs" / str(train) / "eval.json"
    eval_file.parent.mkdir(parents=True)
    eval_file.write_text(json.dumps({"AP": 0.4, "precision": [[0.1]]}))
    store.add_artifact(train, "evaluation", eval_file)
    store.add_model("m", "trained", home / "m.pt", ["a"], metrics={"AP": 0.39}, job_id=train)
    assert evaluations.latest_evaluation(store, "m") == {"AP": 0.4, "precision": [[0.1]]}
    for ap in (0.5, 0.6):
        job = store.insert_job("evaluate", {"model": "m", "dataset": "d"})
        store.finish_job(job, "succeeded", result={"AP": ap})
    other = store.insert_job("evaluate", {"model": "other", "dataset": "d"})
    store.finish_job(other, "succeeded", result={"AP": 0.9})
    assert evaluations.latest_evaluation(store, "m") == {"AP": 0.6}
    store.add_model("bare", "effdet", home / "b.pt", ["a"], metrics={"AP": 0.1})
    assert evaluations.latest_evaluation(store, "bare") == {"AP": 0.1}
    with pytest.raises(NotFoundError):
        evaluations.latest_evaluation(store, "nope")


def test_model_threshold_is_the_newest_evaluations_choice(store, home):
    store.add_model("old", "effdet", home / "o.pt", ["a"], metrics={"AP": 0.1})
    assert (
        evaluations.model_threshold(store, "old") is None
    )  # evaluated before thresholds were kept
    assert evaluations.model_threshold(store, "nope") is None
    store.add_model(
        "m", "effdet", home / "m.pt", ["a"], metrics={"AP": 0.3, "score_threshold": 0.42}
    )
    assert evaluations.model_threshold(store, "m") == 0.42
    job = store.insert_job("evaluate", {"model": "m", "dataset": "d"})
    store.finish_job(job, "succeeded", result={"AP": 0.5, "score_threshold": 0.27})
    assert evaluations.model_threshold(store, "m") == 0.27


def _search_with_report(store, home, with_file: bool = True, origin: str | None = None) -> int:
    """A finished search: derived cells, then the report's searched row followed by random rows
    (the last 'final' row is a random baseline)."""
    job = store.insert_job("search", {"dataset": "d", "strategy": "darts"}, origin=origin)
    for epoch, (cell, score) in enumerate([(CELL_B, 0.3), (CELL_A, 0.4)]):
        store.add_architecture(
            job, cell, score=score, step=epoch, extra={"kind": "derived", "epoch": epoch}
        )
    if with_file:
        path = home / "runs" / str(job) / "genotype.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(CELL_A))
        store.add_artifact(job, "genotype", path)
    store.add_architecture(job, CELL_A, score=0.61, extra={"kind": "final", "role": "searched"})
    for k in range(2):
        store.add_architecture(
            job,
            CELL_RANDOM,
            score=0.7 + k / 10,
            extra={"kind": "final", "role": "random", "repeat": k},
        )
    store.finish_job(job, "succeeded")
    return job


def test_searched_genotype_is_the_searched_cell_not_the_last_final_row(store, home):
    job = _search_with_report(store, home)
    assert store.architectures(job)[-1]["extra"]["role"] == "random"  # the trap
    assert results.searched_genotype(store, job) == CELL_A
    best = results.search_best(store, job)
    assert best["final"] and best["genotype"] == CELL_A and best["role"] == "searched"
    assert best["score"] == 0.61 and best["arch_id"] == 3
    no_file = _search_with_report(store, home / "other", with_file=False)
    assert results.searched_genotype(store, no_file) == CELL_A  # from the 'searched' row


def test_searched_genotype_reads_the_file_first_and_its_wrapper(store, home):
    job = store.insert_job("search", {"dataset": "d"})
    path = home / "g.json"
    path.write_text(json.dumps({"genotype": CELL_B}))
    store.add_artifact(job, "genotype", path)
    store.add_architecture(job, CELL_A, score=0.5, extra={"kind": "final", "role": "searched"})
    assert results.searched_genotype(store, job) == CELL_B  # what nas:<job> trains
    path.write_text("{not json")
    assert results.searched_genotype(store, job) == CELL_A  # unreadable file: the searched row


def test_a_running_search_shows_its_newest_derived_or_best_candidate(store):
    assert results.searched_genotype(store, 1) is None and results.search_best(store, 1) is None
    darts = store.insert_job("search", {"dataset": "d", "strategy": "darts"})
    store.add_architecture(darts, CELL_A, score=0.9, step=0, extra={"kind": "derived"})
    store.add_architecture(darts, CELL_B, score=0.2, step=1, extra={"kind": "derived"})
    best = results.search_best(store, darts)
    assert best == {
        "genotype": CELL_B,
        "final": False,
        "arch_id": 2,
        "score": 0.2,
        "accuracy": 0.2,
        "role": "derived",
    }
    evo = store.insert_job("search", {"dataset": "d", "strategy": "evolution"})
    for cell, score in ((CELL_A, 0.3), (CELL_B, 0.8), (CELL_RANDOM, 0.5)):
        store.add_architecture(evo, cell, score=score, extra={"kind": "sampled"})
    assert results.search_best(store, evo)["genotype"] == CELL_B
    assert results.searched_genotype(store, evo) is None


def test_search_best_under_a_latency_objective_gives_the_best_rewards_proxy_accuracy(store):
    job = store.insert_job("search", {"dataset": "d", "objective": {"kind": "accuracy-latency"}})
    store.add_architecture(job, CELL_A, score=0.42, extra={"kind": "sampled", "accuracy": 0.40})
    store.add_architecture(job, CELL_B, score=0.39, extra={"kind": "sampled", "accuracy": 0.41})
    best = results.search_best(store, job)  # chosen by reward (the faster cell), not by accuracy
    assert (best["genotype"], best["score"], best["accuracy"]) == (CELL_A, 0.42, 0.40)
    assert results.proxy_accuracy({"score": 0.5, "extra": {}}) == 0.5


def test_arch_roles(store):
    job = store.insert_job("search", {})
    for extra in (
        {"kind": "derived"},
        {"kind": "sampled"},
        {"kind": "final", "role": "searched"},
        {"kind": "final", "role": "random"},
        {},
        {"role": "candidate"},
    ):
        store.add_architecture(job, CELL_A, extra=extra)
    assert [a["role"] for a in results.architectures(store, job)] == [
        "derived",
        "candidate",
        "searched",
        "random",
        "candidate",
        "candidate",
    ]


def test_search_cells_lists_searches_with_something_to_draw(store, home):
    empty = store.insert_job("search", {"dataset": "d"})
    done = _search_with_report(store, home)
    running = store.insert_job("search", {"dataset": "d"})
    store.add_architecture(running, CELL_B, extra={"kind": "derived"})
    assert results.search_cells(store) == [
        {"job_id": running, "status": "queued", "final": False},
        {"job_id": done, "status": "succeeded", "final": True},
    ]
    assert empty not in [c["job_id"] for c in results.search_cells(store)]


def test_a_running_jobs_eta_counts_down_between_reports(store):
    """The ETA a reader sees is the worker's last estimate less the time since it was written
    (a job between two progress reports is not frozen at the old value); never below 0."""
    job = running_job(store)
    store.set_progress(job, 0.5, "halfway", eta_s=20.0)
    written = store.get_job(job)["eta_at"]
    assert q.effective(store.get_job(job), written + 15.0)["eta_s"] == pytest.approx(5.0)
    assert q.effective(store.get_job(job), written + 25.0)["eta_s"] == 0.0
    assert q.find_job(store, job)["eta_s"] == pytest.approx(20.0, abs=1.0)
