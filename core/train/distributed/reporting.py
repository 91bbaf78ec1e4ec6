"""Reporters of the ranks of a data-parallel job: rank 0 reports for the job, the others are silent,
and no rank stops on its own - cancellation is the launcher's (core.train.distributed.launch sends
SIGTERM to every rank at once, so that no rank is left waiting in a collective)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.engine.reporter import Reporter

log = logging.getLogger(__name__)


class MainRankReporter(Reporter):
    """Rank 0: the job's own reporter (metrics, events, progress, artifacts, files)."""

    def should_stop(self, fresh: bool = False) -> bool:
        """Never: the launcher stops all ranks together when the job is cancelled."""
        return False


class SilentReporter(Reporter):
    """A rank > 0: reads like the job's reporter (spec, paths, the store for reading) and
    writes nothing; its events go to this process's log (torchrun's log of the job) only."""

    def progress(
        self,
        fraction: float,
        message: str | None = None,
        remaining_s: float | None = None,
        measured: bool = False,
    ) -> None:
        return None  # rank 0 reports progress

    def metric(
        self, key: str, value: float, step: int | None = None, epoch: int | None = None
    ) -> None:
        return None  # rank 0 logs the (all-reduced) metrics

    def flush(self) -> None:
        return None  # nothing is ever buffered

    def event(self, level: str, message: str) -> None:
        log.debug("job %s (rank > 0): %s", self.job_id, message)

    def artifact(self, kind: str, path: str | Path) -> None:
        return None  # rank 0 registers the files it wrote

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
        raise NotImplementedError("architectures are logged by search jobs, never by a rank")

    def result(self, result: dict) -> None:
        return None  # rank 0 stores the result

    def should_stop(self, fresh: bool = False) -> bool:
        """Never: the launcher stops all ranks together when the job is cancelled."""
        return False


def rank_reporter(is_main: bool, store, job: dict, run_dir: Path, device: str) -> Reporter:
    """Rank 0's reporter or a silent one."""
    cls = MainRankReporter if is_main else SilentReporter
    return cls(store, job, run_dir, device)
