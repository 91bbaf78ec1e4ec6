"""No traceback from any CLI verb on bad input.

Each verb runs in-process (core.cli.main) with a bad argument: it must exit 2 with an `error`
line naming what was wrong and no traceback. Also: untrusted pickles refused unread as "not a
weights-only checkpoint", an unexpected error as one line (traceback in <home>/logs/cli.log, or
on stderr with NASDET_DEBUG=1), `jobs resume --wait`, progress lines without a terminal, and a
closed stdout (`jobs list | head`) ending quietly (the one subprocess here).
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from core.cli import main
from core.cli_util import wait_for_job
from core.engine.jobs import submit_job

REPO = Path(__file__).resolve().parents[2]
EFFDET = ["--name", "tf_efficientdet_d0", "--as", "m"]
# 3000 levels, deeper than Python's recursion limit (braces doubled: each argv is .format()ted)
DEEP_JSON = '{{"a": ' * 3000 + "1" + "}}" * 3000
DEEP_LIST = "[" * 3000 + "1" + "]" * 3000
# (argv, what the message must contain: any one of these); {name} = a file from bad_files
BAD = [
    (["jobs", "show", "abc"], ["'abc'"]),
    (["jobs", "show", "99999999999999999999999"], ["99999999999999999999999"]),
    (["jobs", "cancel", "-3"], ["-3"]),
    (["jobs", "resume", "42", "--no-worker"], ["no job 42"]),
    (["jobs", "logs", "42"], ["no job 42"]),
    (["jobs", "list", "--status", "bogus"], ["'bogus'"]),
    (["jobs", "list", "--kind", "bogus"], ["'bogus'"]),
    (["worker", "--max-jobs", "x"], ["'x'"]),
    (["worker", "--device", "tpu:9", "--max-jobs", "1"], ["tpu:9"]),
    (["data", "generate", "--name", "bad name!", "--no-worker"], ["bad name!"]),
    (["data", "generate", "--name", "g", "--images", "abc", "--no-worker"], ["abc"]),
    (["data", "generate", "--name", "g", "--val-fraction", "nan", "--no-worker"], ["nan"]),
    (["data", "import", "{missing}", "--name", "x", "--no-worker"], ["{missing}"]),
    (["data", "show", "nope"], ["'nope'"]),
    (["data", "export", "nope", "{out}"], ["'nope'"]),
    (["data", "export", "nope", "{out}", "--format", "voc"], ["'voc'"]),
    (["search", "--minutes", "abc"], ["'abc'"]),
    (["search", "--set", "bogus=1", "--no-worker"], ["bogus"]),
    (["search", "--strategy", "magic"], ["'magic'"]),
    (["train", "--dataset", "nope", "--no-worker"], ["'nope'"]),
    (["train", "--dataset", "nope", "--epochs", "abc"], ["'abc'"]),
    (["evaluate", "--model", "nope", "--dataset", "nope", "--no-worker"], ["'nope'"]),
    (["predict", "--model", "nope", "--out", "{out}", "{missing}"], ["'nope'", "{missing}"]),
    (["export", "--model", "m", "--image-size", "abc"], ["'abc'"]),
    (["models", "list", "--bogus"], ["--bogus"]),
    (["models", "import-effdet", "{missing}", *EFFDET], ["{missing}"]),
    (["models", "import-effdet", str(REPO), *EFFDET], [str(REPO)]),
    (["models", "import-effdet", "{garbage}", *EFFDET], ["not a PyTorch checkpoint"]),
    (["models", "import-effdet", "{a_list}", *EFFDET], ["does not hold a state dict"]),
    (["models", "import-effdet", "{tensors}", *EFFDET], ["not an effdet"]),
    (["models", "import-effdet", "{tensors}", "--name", "bogus", "--as", "m"], ["'bogus'"]),
    (["models", "import-effdet", "{tensors}", *EFFDET, "--classes", "{missing}"], ["{missing}"]),
    (["jobs", "show", str(10**30)], ["1..9223372036854775807"]),
    (["worker", "--max-jobs", "-1"], [">= 1"]),
    (["worker", "--idle-exit", "nan"], ["finite number"]),
    (["predict", "--model", "m", "--out", "{out}", "x.png", "--batch-size", "0"], ["1..1024"]),
    (["predict", "--model", "m", "--out", "x", "x.png", "--score-threshold", "inf"], ["finite"]),
    (["train", "--dataset", "d", "--model-overrides", DEEP_JSON, "--no-worker"], ["deeper than"]),
    (["train", "--dataset", "d", "--model-overrides", "[1, 2]", "--no-worker"], ["JSON object"]),
    (["search", "--samples", DEEP_LIST, "--no-worker"], ["whole number"]),
]


class _TouchOnLoad:
    """Unpickling this (with plain pickle) would run Path.touch(marker): code in a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def bad_files(tmp_path) -> dict[str, str]:
    files = {
        "missing": tmp_path / "no-such-file.pth",
        "out": tmp_path / "out",
        "garbage": tmp_path / "garbage.pth",
        "a_list": tmp_path / "list.pth",
        "tensors": tmp_path / "tensors.pth",
    }
    files["garbage"].write_text("hello, not a checkpoint")
    torch.save([1, 2], files["a_list"])
    torch.save({"w": torch.zeros(2)}, files["tensors"])
    return {k: str(v) for k, v in files.items()}


def run_cli(home: Path, argv: list[str], capsys) -> tuple[int, str, str]:
    """main() in-process; argparse's SystemExit counts as an exit code."""
    try:
        code = main(["--home", str(home), *argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,wanted", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_input_exits_2_with_a_message_and_no_traceback(argv, wanted, store, bad_files, capsys):
    argv = [a.format(**bad_files) for a in argv]
    code, _, err = run_cli(store.home, argv, capsys)
    assert code == 2, (code, err)
    assert "Traceback" not in err and "error" in err
    assert any(w.format(**bad_files) in err for w in wanted), err


def test_untrusted_pickle_is_refused_unread(store, tmp_path, capsys):
    marker = tmp_path / "code-ran"
    for name, save in (("plain.pkl", pickle.dump), ("zipped.pth", torch.save)):
        path = tmp_path / name
        with open(path, "wb") as f:
            save({"model": _TouchOnLoad(marker)}, f)
        code, _, err = run_cli(store.home, ["models", "import-effdet", str(path), *EFFDET], capsys)
        assert code == 2 and "not a weights-only checkpoint" in err and str(path) in err
        assert "Traceback" not in err and not marker.exists()
    assert store.list_models() == []


def test_unexpected_error_is_one_line_with_the_traceback_in_the_log(store, capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("core.cli.cmd_jobs_list", broken)
    code, _, err = run_cli(store.home, ["jobs", "list"], capsys)
    log = store.home / "logs" / "cli.log"
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected RuntimeError: boom" in err and str(log) in err
    text = log.read_text()
    assert "Traceback" in text and "in broken" in text and "jobs list" in text
    monkeypatch.setenv("NASDET_DEBUG", "1")
    code, _, err = run_cli(store.home, ["jobs", "list"], capsys)
    assert code == 1 and "Traceback" in err and "in broken" in err


class _Sequence:
    """A stand-in store whose job moves through fixed (progress, status, message) states."""

    def __init__(self, states):
        self.states = list(states)

    def get_job(self, job_id):
        progress, status, message = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {
            "id": job_id,
            "progress": progress,
            "status": status,
            "message": message,
            "error": None,
        }


STATES = [
    (0.0, "queued", ""),
    (0.05, "running", "epoch 1/20"),
    (0.12, "running", "epoch 3/20"),
    (0.15, "running", "epoch 3/20"),
    (0.19, "running", "epoch 4/20"),
    (0.31, "running", "epoch 7/20"),
    (1.0, "succeeded", "done"),
]


def test_progress_without_a_terminal_is_whole_lines():
    out = io.StringIO()
    assert wait_for_job(_Sequence(STATES), 7, poll_s=0, out=out) == 0
    assert "\r" not in out.getvalue()
    assert out.getvalue().splitlines() == [  # a line per status change and per 10 % step
        "job 7:   0% queued",
        "job 7:   5% running epoch 1/20",
        "job 7:  12% running epoch 3/20",
        "job 7:  31% running epoch 7/20",
        "job 7: 100% succeeded done",
    ]


def test_progress_on_a_terminal_is_a_tqdm_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    assert wait_for_job(_Sequence(STATES), 7, poll_s=0, out=out) == 0
    assert "\r" in out.getvalue() and "100%|" in out.getvalue()


def test_jobs_resume_wait_follows_the_job(store, capsys):
    from core.engine.worker import run_worker

    job_id = submit_job(store, "test.count", {"steps": 2})
    store.request_cancel(job_id)
    result = {}
    follower = threading.Thread(
        target=lambda: result.update(
            code=main(
                ["--home", str(store.home), "jobs", "resume", str(job_id), "--no-worker", "--wait"]
            )
        )
    )
    follower.start()
    deadline = 200
    while store.get_job(job_id)["status"] != "queued" and deadline:
        threading.Event().wait(0.05)
        deadline -= 1
    assert run_worker(store.home, "cpu", max_jobs=1) == 0  # signals need the main thread
    follower.join(30)
    out, err = capsys.readouterr()
    assert result["code"] == 0 and out.strip().splitlines()[-1] == str(job_id)
    assert f"job {job_id}: 100% succeeded" in err and "\r" not in err


def test_closed_stdout_ends_jobs_list_quietly(store):
    for _ in range(3):
        submit_job(store, "test.count", {"steps": 1})
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "--home", str(store.home), "jobs", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # the reader is gone before the first line is written (`| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0, err
    assert err == "", err
