"""The reporter: how a running task talks to the store (progress, metrics, events, artifacts).

Tasks receive one as their second argument. Metric rows are buffered and written in batches
(a training loop may log thousands); everything else is written at once. The cancel flag is read
from the store at most every CANCEL_POLL_S seconds.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from core.engine.eta import EtaEstimator
from core.engine.store import Store
from core.errors import JobCancelled

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
FLUSH_EVERY_ROWS = 2_000
CANCEL_POLL_S = 0.25


class Reporter:
    """Per-job handle given to `task(spec, reporter)`.

    Attributes: job_id, spec, store, home, run_dir (runs/<job_id>/, exists), device (torch device
    string chosen by the worker), resumed (True when this run continues an earlier attempt).
    """

    def __init__(self, store: Store, job: dict, run_dir: Path, device: str):
        self.store = store
        self.job_id: int = job["id"]
        self.spec: dict = job["spec"]
        self.home: Path = store.home
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = device
        self.resumed: bool = (job.get("attempts") or 1) > 1
        self._buffer: list[tuple] = []
        self._last_flush = time.monotonic()
        self._last_cancel_check = 0.0
        self._cancelled = False
        self._eta = EtaEstimator()

    # -- paths ---------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        """Where a task keeps its resumable state (runs/<job_id>/checkpoint.pt)."""
        return self.run_dir / "checkpoint.pt"

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    # -- reporting -----------------------------------------------------------------------------
    def progress(
        self,
        fraction: float,
        message: str | None = None,
        remaining_s: float | None = None,
        measured: bool = False,
    ) -> None:
        """Overall progress in [0, 1] with a short message. The ETA is the task's own
        `remaining_s` when given, else derived from the rate; none until it means something
        (core.engine.eta.EtaEstimator: 5 % done or a `measured` first unit of work)."""
        estimate = self._eta.update(fraction, remaining_s, measured)
        self.flush()
        self.store.set_progress(self.job_id, estimate.fraction, message, estimate.eta_s)

    def metric(
        self, key: str, value: float, step: int | None = None, epoch: int | None = None
    ) -> None:
        """Log a scalar. Per-step values give `step`; per-epoch values give `epoch` only.
        Re-logging the same (key, step, epoch) replaces the value (no duplicates on resume)."""
        self._buffer.append((self.job_id, step, epoch, key, float(value), time.time()))
        if (
            len(self._buffer) >= FLUSH_EVERY_ROWS
            or time.monotonic() - self._last_flush > FLUSH_EVERY_S
        ):
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            rows, self._buffer = self._buffer, []
            self.store.add_metrics(rows)
        self._last_flush = time.monotonic()

    def event(self, level: str, message: str) -> None:
        """A log line for the job (store events, runs/<id>/log.txt through logging)."""
        level = level.lower()
        log.log(
            logging.getLevelName(level.upper()) if level != "warn" else logging.WARNING,
            "job %s: %s",
            self.job_id,
            message,
        )
        self.store.add_event(self.job_id, level, message)

    def info(self, message: str) -> None:
        self.event("info", message)

    def warning(self, message: str) -> None:
        self.event("warning", message)

    def artifact(self, kind: str, path: str | Path) -> None:
        """Register a file the job produced (checkpoint, genotype, predictions, plot...)."""
        self.store.add_artifact(self.job_id, kind, path)

    def architecture(
        self,
        genotype: dict,
        score: float | None = None,
        params: int | None = None,
        flops: int | None = None,
        latency_ms: float | None = None,
        step: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Log an evaluated or derived architecture (genotype as JSON-able dict); returns its id."""
        return self.store.add_architecture(
            self.job_id, genotype, score, params, flops, latency_ms, step, extra
        )

    def result(self, result: dict) -> None:
        """Store a summary dict on the job row (also done with a task's return value)."""
        self.store.set_result(self.job_id, result)

    # -- cancellation --------------------------------------------------------------------------
    def should_stop(self, fresh: bool = False) -> bool:
        """True once the user asked to cancel; tasks check it between steps and return.
        `fresh`: read the flag now, not up to CANCEL_POLL_S old (before a step that registers
        what cannot be taken back, such as a dataset or a model)."""
        since = time.monotonic() - self._last_cancel_check
        if not self._cancelled and (fresh or since > CANCEL_POLL_S):
            self._last_cancel_check = time.monotonic()
            self._cancelled = self.store.cancel_requested(self.job_id)
        return self._cancelled

    def check_stop(self, fresh: bool = False) -> None:
        """Raise JobCancelled if the user asked to cancel (the worker marks the job cancelled);
        `fresh` as in should_stop."""
        if self.should_stop(fresh):
            raise JobCancelled(f"job {self.job_id} cancelled by the user")
