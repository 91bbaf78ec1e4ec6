"""How the worker runs a train job on N processes: a torchrun launch it watches.

The worker process (the job's reporter holder) spawns, in a session of its own,

    python -m torch.distributed.run --nproc-per-node N --standalone | --nnodes M \\
        --rdzv-backend c10d --rdzv-endpoint HOST:PORT --rdzv-id nasdet-job-ID \\
        --max-restarts 0 --log-dir runs/ID/torchrun/launch-... \\
        -m core.train.rank_entry ID --home HOME --device cpu|cuda

and polls it. A cancel request becomes SIGTERM to the whole process group (torchrun, every
rank and their data loader workers; SIGKILL after STOP_GRACE_S), so all ranks stop within
seconds. A rank that dies or raises makes torchrun stop the others and exit non-zero; its
"Root Cause" summary and the rank's error file (torch elastic's @record) become the job's error:
"rank 1 exited with code -9 (SIGKILL); ...". On success rank 0 has stored the result; the
launcher returns it with `world_size` recorded. Other nodes of a multi-node job run the same
torchrun command with the same --rdzv-endpoint and a home folder on a shared filesystem
(docs/ARCHITECTURE.md, "Scale-out").
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.errors import JobCancelled, NasdetError, SpecError

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
POLL_S = 0.2
STOP_GRACE_S = 10.0  # after SIGTERM, the ranks get this long before SIGKILL
LOG_FILE = "torchrun.log"
ROOT_CAUSE = re.compile(
    r"Root Cause.*?rank\s*:\s*(\d+)\s*\(local_rank:\s*(\d+)\).*?"
    r"exitcode\s*:\s*(-?\d+)",
    re.S,
)


class LaunchConfig(Protocol):
    """What a launch reads of a train job's config (core.train.presets.TrainConfig has it)."""

    nproc: int  # ranks on this node
    nnodes: int
    rdzv_endpoint: str | None  # HOST:PORT of the rendezvous when nnodes > 1


class DistributedJobError(NasdetError):
    """A rank of a data-parallel job failed (or torchrun could not start them)."""


def check_processes(nproc: int, device: str) -> str:
    """The device type of the ranks ('cuda' or 'cpu'); SpecError if N processes do not fit."""
    if device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count()
        if nproc > count:
            raise SpecError(
                f"nproc={nproc} but this machine has {count} CUDA device(s): one "
                f"process per GPU, so use --nproc {count} or fewer"
            )
        return "cuda"
    if device != "cpu":
        raise SpecError(
            f"data-parallel training runs on CUDA (NCCL) or the CPU (gloo), not "
            f"{device}; submit with --device cpu or use --nproc 1"
        )
    cores = os.cpu_count() or 1
    if nproc > cores:
        raise SpecError(
            f"nproc={nproc} but this machine has {cores} CPU core(s); use --nproc {cores} or fewer"
        )
    return "cpu"


def torchrun_command(
    job_id: int, home: Path, config: LaunchConfig, device_type: str, log_dir: Path
) -> list[str]:
    """The launcher's argv (the other nodes of a multi-node job run the same one)."""
    if config.nnodes > 1:
        rendezvous = [
            "--nnodes",
            str(config.nnodes),
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            str(config.rdzv_endpoint),
            "--rdzv-id",
            f"nasdet-job-{job_id}",
        ]
    else:
        rendezvous = ["--standalone"]  # a free local port: jobs side by side do not collide
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        str(config.nproc),
        *rendezvous,
        "--max-restarts",
        "0",
        "--log-dir",
        str(log_dir),
        "-m",
        "core.train.rank_entry",
        str(job_id),
        "--home",
        str(home),
        "--device",
        device_type,
    ]


def rank_env(nproc: int, device_type: str, home: Path) -> dict[str, str]:
    """The ranks' environment: the repository importable, the home, CPU threads shared out."""
    env = dict(
        os.environ,
        NASDET_HOME=str(home),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    if device_type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    return env


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # the whole group has already exited


def stop_group(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the launcher's process group (torchrun, the ranks, their loader workers), then
    SIGKILL whatever is left once torchrun exited or `grace_s` passed."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        log.warning("torchrun (pid %s) ignored SIGTERM for %.0f s; killing it", proc.pid, grace_s)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _die_with_parent() -> None:
    """In the launcher's child: SIGTERM it when the worker dies (Linux), so no rank outlives
    the process that reports for the job."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: a killed worker leaves the launch to finish on its own


def watch(proc: subprocess.Popen, reporter: Reporter) -> int:
    """Wait for the launcher; on a cancel request stop every rank and raise JobCancelled."""
    while proc.poll() is None:
        if reporter.should_stop():
            started = time.monotonic()
            stop_group(proc)
            reporter.info(f"cancelled: every rank stopped in {time.monotonic() - started:.1f} s")
            raise JobCancelled(f"job {reporter.job_id} cancelled by the user")
        time.sleep(POLL_S)
    return proc.returncode


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"{code} ({signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    return str(code)


def failure_message(code: int, log_path: Path, log_dir: Path) -> str:
    """'rank R exited with code C (SIG); <its error>; ...' from torchrun's summary and the
    ranks' error files, or torchrun's own exit code when no rank was named."""
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""
    errors = {}
    for path in sorted(log_dir.glob("**/attempt_*/*/error.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            errors[int(path.parent.name)] = str(doc["message"]["message"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable rank error file %s: %s", path, exc)
    where = f"torchrun's log: {log_path}"
    found = ROOT_CAUSE.search(text)
    if found is None:
        first = next(iter(errors.values()), None)
        detail = f": {first}" if first else ""
        return f"torchrun exited with code {_exit_text(code)}{detail}; {where}"
    rank, local_rank, rank_code = (int(g) for g in found.groups())
    error = errors.get(local_rank)
    detail = f": {error}" if error else ""
    return (
        f"rank {rank} exited with code {_exit_text(rank_code)}{detail}; the other ranks "
        f"were stopped; {where}"
    )


def run_distributed(config: LaunchConfig, reporter: Reporter) -> dict:
    """Run the train job on config.nproc processes (x config.nnodes nodes); returns the result
    rank 0 stored, with `world_size`. Raises DistributedJobError, JobCancelled, SpecError."""
    device_type = check_processes(config.nproc, reporter.device)
    home, job_id = Path(reporter.home), reporter.job_id
    folder = Path(reporter.run_dir) / "torchrun"
    folder.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="launch-", dir=folder))
    command = torchrun_command(job_id, home, config, device_type, log_dir)
    world = config.nproc * config.nnodes
    reporter.info(
        f"starting {world} ranks with torchrun ({config.nproc} on this node): "
        + " ".join(command[1:])
    )
    log_path = Path(reporter.run_dir) / LOG_FILE
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=rank_env(config.nproc, device_type, home),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    try:
        code = watch(proc, reporter)
    finally:
        if proc.poll() is None:  # cancelled, worker stopped, or any error here: no orphans
            stop_group(proc)
    if code != 0:
        raise DistributedJobError(failure_message(code, log_path, log_dir))
    result = reporter.store.get_job(job_id, reconcile=False).get("result")
    if not isinstance(result, dict):
        raise DistributedJobError(f"torchrun ended without a result from rank 0; {log_path}")
    return {**result, "world_size": world}
