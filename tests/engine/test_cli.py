"""`python -m core jobs ...` and `worker`: output contracts and exit codes (run in-process)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from core.cli import build_parser, main
from core.engine.jobs import submit_job


def test_jobs_list_and_show_json(store, capsys):
    job_id = submit_job(store, "test.count", {"steps": 2})
    assert main(["--home", str(store.home), "jobs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["id"] == job_id and rows[0]["status"] == "queued"
    assert set(rows[0]) == {
        "id",
        "kind",
        "status",
        "progress",
        "device",
        "created_at",
        "started_at",
        "finished_at",
        "error",
    }
    assert main(["--home", str(store.home), "jobs", "show", str(job_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["spec"]["steps"] == 2 and shown["kind"] == "test.count"


def test_unknown_job_id_exits_2_with_message(store, capsys):
    for verb in ("show", "cancel", "resume", "logs", "delete"):
        assert main(["--home", str(store.home), "jobs", verb, "42"]) == 2
        assert "no job 42" in capsys.readouterr().err


def test_cancel_queued_then_resume_then_logs(store, capsys):
    job_id = submit_job(store, "test.count", {"steps": 2})
    assert main(["--home", str(store.home), "jobs", "cancel", str(job_id)]) == 0
    assert store.get_job(job_id)["status"] == "cancelled"
    assert main(["--home", str(store.home), "jobs", "cancel", str(job_id)]) == 2  # bad input
    assert "only queued or running" in capsys.readouterr().err
    assert main(["--home", str(store.home), "jobs", "resume", str(job_id), "--no-worker"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(job_id)
    assert store.get_job(job_id)["status"] == "queued"
    store.add_event(job_id, "info", "hello log")
    assert main(["--home", str(store.home), "jobs", "logs", str(job_id)]) == 0
    assert "hello log" in capsys.readouterr().out


def test_worker_runs_a_job_and_exits_when_asked(store):
    job_id = submit_job(store, "test.count", {"steps": 2})
    code = main(["--home", str(store.home), "worker", "--device", "cpu", "--max-jobs", "1"])
    assert code == 0 and store.get_job(job_id)["status"] == "succeeded"


def _subparsers(parser):
    for action in parser._actions:  # argparse keeps subcommands here
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def test_every_verb_and_action_has_help(capsys):
    parser = build_parser()
    verbs = _subparsers(parser)
    assert {"worker", "jobs"} <= set(verbs)
    paths = [[v] for v in verbs] + [[v, a] for v, p in verbs.items() for a in _subparsers(p)]
    for path in paths:
        with pytest.raises(SystemExit) as exit_:
            main([*path, "--help"])
        assert exit_.value.code == 0, path
        assert "usage" in capsys.readouterr().out, path


def test_module_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "core", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "jobs" in res.stdout
