"""The launcher's pieces without launching: spec checks of nproc/nnodes/rdzv_endpoint, the
torchrun command, and the job error read from torchrun's summary and a rank's error file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import SpecError
from core.train.distributed.launch import (
    check_processes,
    failure_message,
    rank_env,
    torchrun_command,
)
from core.train.presets import build_config

BASE = {"dataset": "d", "model": "efficientdet_tiny", "image_size": 128}

# torchrun's failure summary (torch.distributed.elastic), as it prints it
SUMMARY = """\
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
core.train.rank_entry FAILED
------------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-01_21:16:24
  host      : localhost
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 20155)
  error_file: <N/A>
  traceback : Signal 15 (SIGTERM) received by PID 20155
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-01_21:16:24
  host      : localhost
  rank      : 3 (local_rank: 1)
  exitcode  : 1 (pid: 20156)
  error_file: /x/attempt_0/1/error.json
  traceback : Traceback ...
============================================================
"""


def test_process_fields_are_checked_at_submit():
    assert build_config({**BASE, "nproc": 2}).nproc == 2
    with pytest.raises(SpecError, match="nproc"):
        build_config({**BASE, "nproc": 0})
    with pytest.raises(SpecError, match="nproc"):
        build_config({**BASE, "nproc": (os.cpu_count() or 1) + 1})
    with pytest.raises(SpecError, match="rdzv-endpoint HOST:PORT"):
        build_config({**BASE, "nnodes": 2})
    with pytest.raises(SpecError, match="rdzv-endpoint HOST:PORT"):
        build_config({**BASE, "nnodes": 2, "rdzv_endpoint": "head:99999"})
    with pytest.raises(SpecError, match="--nnodes"):
        build_config({**BASE, "rdzv_endpoint": "head:29500"})
    assert build_config({**BASE, "nnodes": 2, "rdzv_endpoint": "head:29500"}).nnodes == 2


def test_processes_must_fit_the_device():
    assert check_processes(1, "cpu") == "cpu"
    with pytest.raises(SpecError, match="CPU core"):
        check_processes((os.cpu_count() or 1) + 1, "cpu")
    with pytest.raises(SpecError, match=r"CUDA \(NCCL\) or the CPU"):
        check_processes(2, "mps")
    import torch

    if torch.cuda.device_count() < 8:
        with pytest.raises(SpecError, match="one process per GPU"):
            check_processes(8, "cuda:0")


def test_torchrun_command_single_and_multi_node(tmp_path):
    one = torchrun_command(7, tmp_path, build_config({**BASE, "nproc": 2}), "cpu", tmp_path)
    assert one[1:6] == ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone"]
    assert one[-6:] == ["core.train.rank_entry", "7", "--home", str(tmp_path), "--device", "cpu"]
    config = build_config({**BASE, "nproc": 1, "nnodes": 3, "rdzv_endpoint": "head:29500"})
    many = " ".join(torchrun_command(7, tmp_path, config, "cuda", tmp_path))
    assert (
        ("--nnodes 3 --rdzv-backend c10d --rdzv-endpoint head:29500 --rdzv-id nasdet-job-7" in many)
        and "--standalone" not in many
        and "--max-restarts 0" in many
    )
    env = rank_env(2, "cpu", tmp_path)
    assert env["NASDET_HOME"] == str(tmp_path)
    assert str(Path(__file__).resolve().parents[3]) in env["PYTHONPATH"].split(os.pathsep)


def test_failure_message_names_the_root_cause_rank_and_its_error(tmp_path):
    log = tmp_path / "torchrun.log"
    log.write_text("lots of output\n" + SUMMARY)
    error = tmp_path / "launch" / "nasdet_abc" / "attempt_0" / "1" / "error.json"
    error.parent.mkdir(parents=True)
    error.write_text(
        json.dumps(
            {"message": {"message": "NonFiniteLossError: training diverged", "extraInfo": {}}}
        )
    )
    text = failure_message(1, log, tmp_path / "launch")
    assert text.startswith("rank 3 exited with code 1: NonFiniteLossError: training diverged;")
    log.write_text(SUMMARY.replace("exitcode  : 1 (pid", "exitcode  : -9 (pid"))
    error.unlink()
    assert failure_message(1, log, tmp_path / "launch").startswith(
        "rank 3 exited with code -9 (SIGKILL); the other ranks were stopped"
    )
    log.write_text("ImportError: no module named core\n")
    assert failure_message(2, log, tmp_path / "launch").startswith("torchrun exited with code 2")
