"""What every search strategy gets: the config, the proxy tensors, a time budget, logging of
architectures and metrics through the job's reporter, and an atomic checkpoint.

A strategy is `search(ctx: SearchContext) -> SearchOutcome`. It resumes from `ctx.state` (its own
dict from the last checkpoint, or None), calls `ctx.check_stop()` between steps (raises
JobCancelled on cancel), stops gracefully when `ctx.budget.exhausted()`, and calls
`ctx.save(state)` after each epoch / generation. Checkpoints hold only tensors, numbers, strings,
lists and dicts, so they load with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from core.errors import CheckpointError
from core.io import atomic_open
from core.nas.config import SearchConfig
from core.nas.genotypes import Genotype
from core.nas.network import CifarNetwork
from core.nas.proxy import ProxyTensors, TrainSettings, measure
from core.torch_util import rng_state, set_rng_state  # noqa: F401 (re-exported for strategies)

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

SEARCH_PROGRESS_SHARE = 0.8  # progress 0..0.8 is the search, 0.8..1 the final report
CHECKPOINT_VERSION = 1


class Budget:
    """Wall-clock budget of the search phase, counting time spent before a resume."""

    def __init__(self, seconds: float, elapsed: float = 0.0):
        self.seconds = seconds
        self._start = time.monotonic() - elapsed

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    @property
    def remaining(self) -> float:
        return self.seconds - self.elapsed

    def exhausted(self) -> bool:
        return self.elapsed >= self.seconds

    def fraction(self) -> float:
        return 0.0 if self.seconds == float("inf") else min(1.0, self.elapsed / self.seconds)


@dataclass
class SearchOutcome:
    """The strategy's answer: its best genotype and the score that made it best."""

    genotype: Genotype
    score: float
    note: str = ""

    def to_dict(self) -> dict:
        return {"genotype": self.genotype.to_dict(), "score": self.score, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> "SearchOutcome":
        return cls(Genotype.from_dict(d["genotype"]), float(d["score"]), d.get("note", ""))


@dataclass
class RunState:
    """The job's checkpoint: strategy state, outcome once the search ended, report progress."""

    strategy: str
    elapsed_s: float = 0.0
    search: dict | None = None
    outcome: dict | None = None
    report: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """Atomic (core.io): a temp file next to the checkpoint, fsynced, then os.replace."""
        with atomic_open(path) as f:
            torch.save({"version": CHECKPOINT_VERSION, "strategy": self.strategy,
                        "elapsed_s": self.elapsed_s, "search": self.search,
                        "outcome": self.outcome, "report": self.report}, f)

    @classmethod
    def load(cls, path: Path, strategy: str) -> "RunState":
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # any unreadable file is a corrupt checkpoint
            raise CheckpointError(f"search checkpoint {path} is unreadable ({exc}); delete it to "
                                  "start the search over") from exc
        if d.get("version") != CHECKPOINT_VERSION or d.get("strategy") != strategy:
            raise CheckpointError(f"checkpoint {path} is from strategy {d.get('strategy')!r} "
                                  f"(version {d.get('version')}), not {strategy!r}; delete it "
                                  "to start over")
        return cls(strategy, float(d["elapsed_s"]), d["search"], d["outcome"], d["report"] or {})


class SearchContext:
    """Config, data, budget, reporter and checkpoint of one search job."""

    def __init__(self, cfg: SearchConfig, data: ProxyTensors, reporter: "Reporter",
                 run_state: RunState):
        self.cfg = cfg
        self.data = data
        self.reporter = reporter
        self.run_state = run_state
        self.budget = Budget(cfg.budget_s, run_state.elapsed_s)
        self.device = torch.device(reporter.device or "cpu")
        self._measured: dict[str, dict] = {}

    # -- state ---------------------------------------------------------------------------------
    @property
    def state(self) -> dict | None:
        """The strategy's state from the last checkpoint (None on a fresh start)."""
        return self.run_state.search

    def save(self, search_state: dict | None = None) -> None:
        if search_state is not None:
            self.run_state.search = search_state
        self.run_state.elapsed_s = self.budget.elapsed
        self.run_state.save(self.reporter.checkpoint_path)

    def check_stop(self) -> None:
        self.reporter.check_stop()

    def progress(self, fraction: float, message: str) -> None:
        """Progress of the search phase, fraction in [0, 1]."""
        self.reporter.progress(SEARCH_PROGRESS_SHARE * min(max(fraction, 0.0), 1.0), message)

    # -- networks ------------------------------------------------------------------------------
    def network(self, genotype: Genotype) -> CifarNetwork:
        """The proxy network of a genotype (C, layers of the config; no auxiliary head), on the
        CPU: callers move it to `self.device` (cost() measures CPU latency)."""
        return CifarNetwork(self.cfg.C, self.data.num_classes, self.cfg.layers, False, genotype)

    def train_settings(self, epochs: int) -> TrainSettings:
        """How a discrete network (a child, a report cell) trains from scratch."""
        c = self.cfg
        return TrainSettings(epochs, c.net_batch_size, c.net_lr, c.lr_min, c.momentum,
                             c.weight_decay, c.grad_clip)

    def cost(self, genotype: Genotype) -> dict:
        """{"params", "flops", "latency_ms"} of the genotype's proxy network (cached)."""
        key = genotype.to_json()
        if key not in self._measured:
            torch_state = torch.get_rng_state()  # building a network must not shift the seed
            self._measured[key] = measure(self.network(genotype), self.data.size)
            torch.set_rng_state(torch_state)
        return self._measured[key]

    # -- logging -------------------------------------------------------------------------------
    def log_architecture(self, genotype: Genotype, score: float | None, kind: str,
                         step: int | None, **extra: Any) -> int:
        """Log to the store's architectures table with params, FLOPs and latency."""
        cost = self.cost(genotype)
        return self.reporter.architecture(
            genotype.to_dict(), score=score, params=cost["params"], flops=cost["flops"],
            latency_ms=cost["latency_ms"], step=step,
            extra={"strategy": self.cfg.strategy, "kind": kind, **extra})

    def epoch_metrics(self, epoch: int, **values: float) -> None:
        """Per-epoch search metrics: search/<name> for each keyword."""
        for key, value in values.items():
            if value is not None:
                self.reporter.metric(f"search/{key}", value, epoch=epoch)
        self.reporter.flush()
