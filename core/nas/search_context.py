"""What every search strategy gets: the config, the proxy tensors, a time budget, logging of
architectures and metrics through the job's reporter, and an atomic checkpoint.

A strategy is `search(ctx: SearchContext) -> SearchOutcome`. It resumes from `ctx.state` (its own
dict from the last checkpoint, or None), calls `ctx.check_stop()` between steps (raises
JobCancelled on cancel), stops gracefully when `ctx.budget.exhausted()`, and calls
`ctx.save(state)` after each epoch / generation. Checkpoints hold only tensors, numbers, strings,
lists and dicts, so they load with `torch.load(weights_only=True)`.

The search's budget can shrink while it runs: `ctx.progress` and the trainings' step checks time
the machine's pace (core.nas.pace) every PACE_EVERY_S and, when epochs cost more than the plan
said, re-plan (core.nas.planning.replan: the report is cut first, then the search's end moves
earlier), so strategies read `ctx.budget` afresh at every step.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from core.engine.eta import time_fraction
from core.errors import CheckpointError
from core.io import atomic_open
from core.nas.config import SearchConfig
from core.nas.execution.executor import Executor, LocalExecutor
from core.nas.genotypes import Genotype
from core.nas.latency import backbone_latency_ms, default_target_ms, mnas_reward
from core.nas.network import CifarNetwork
from core.nas.planning import REPORT_MARGIN, SEARCH_ONLY, fitting, replan
from core.nas.proxy_training import ProxyTensors, TrainSettings, measure
from core.nas.results import ROLE_OF_KIND
from core.nas.trials import Trial, TrialTimeout, on_cpu, run_trial
from core.torch_util import rng_state, set_rng_state  # noqa: F401 (re-exported for strategies)

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter
    from core.nas.pace import Pace

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
SAVE_S = 1.0  # writing the report, genotype and checkpoint after the last network
TICK_S = 1.0  # progress refresh while a start-up step blocks
RATE_TRUSTED_FRACTION = 0.2  # a search's own work rate predicts its end after this share
PACE_EVERY_S = 5.0  # the machine's pace is probed at most this often (at least PACE_SHARE)
PACE_SHARE = 0.05  # ... of the job's budget
PACE_TOLERANCE = 1.25  # a slowdown below this is timing noise (the report re-times anyway)


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
        """Share of the budget spent, in [0, 1] (0 without a limit, 1 for a budget of 0 s)."""
        if math.isinf(self.seconds):
            return 0.0
        return 1.0 if self.seconds <= 0 else min(1.0, max(0.0, self.elapsed / self.seconds))


def startup_progress(reporter: Reporter, job: Budget, message: str) -> None:
    """Progress before the plan exists (loading, timing): with a time budget the job is planned
    to end at it, so the fraction is the clock's share of it and the ETA its remainder."""
    if math.isfinite(job.seconds):
        reporter.progress(job.fraction(), message, remaining_s=max(0.0, job.remaining))
    else:
        reporter.progress(0.0, message)


@contextmanager
def ticking(reporter: Reporter, job: Budget, message: str, every_s: float = TICK_S):
    """startup_progress now and every `every_s` seconds (a daemon thread) while the block runs:
    loading the crops or the first training step (torch's first optimizer imports its compiler
    stack: seconds) must not freeze the progress bar."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every_s):
            startup_progress(reporter, job, message)

    startup_progress(reporter, job, message)
    thread = threading.Thread(target=tick, daemon=True, name="search-progress")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass
class SearchOutcome:
    """The strategy's answer: its best genotype and the score that made it best."""

    genotype: Genotype
    score: float
    note: str = ""

    def to_dict(self) -> dict:
        return {"genotype": self.genotype.to_dict(), "score": self.score, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> SearchOutcome:
        return cls(Genotype.from_dict(d["genotype"]), float(d["score"]), d.get("note", ""))


@dataclass
class RunState:
    """The job's checkpoint: strategy state, outcome once the search ended, report progress."""

    strategy: str
    elapsed_s: float = 0.0  # search phase, all attempts
    search: dict | None = None
    outcome: dict | None = None
    report: dict = field(default_factory=dict)
    job_elapsed_s: float = 0.0  # the whole job, all attempts (the budget is the job's)
    plan: dict | None = None  # core.nas.planning.plan, measured at the first start

    def save(self, path: Path) -> None:
        """Atomic (core.io): a temp file next to the checkpoint, fsynced, then os.replace."""
        with atomic_open(path) as f:
            torch.save(
                {
                    "version": CHECKPOINT_VERSION,
                    "strategy": self.strategy,
                    "elapsed_s": self.elapsed_s,
                    "search": self.search,
                    "outcome": self.outcome,
                    "report": self.report,
                    "job_elapsed_s": self.job_elapsed_s,
                    "plan": self.plan,
                },
                f,
            )

    @classmethod
    def load(cls, path: Path, strategy: str) -> RunState:
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # any unreadable file is a corrupt checkpoint
            raise CheckpointError(
                f"search checkpoint {path} is unreadable ({exc}); delete it to "
                "start the search over"
            ) from exc
        if d.get("version") != CHECKPOINT_VERSION or d.get("strategy") != strategy:
            raise CheckpointError(
                f"checkpoint {path} is from strategy {d.get('strategy')!r} "
                f"(version {d.get('version')}), not {strategy!r}; delete it "
                "to start over"
            )
        return cls(
            strategy,
            float(d["elapsed_s"]),
            d["search"],
            d["outcome"],
            d["report"] or {},
            float(d.get("job_elapsed_s", d["elapsed_s"])),
            d.get("plan"),
        )


class SearchContext:
    """Config, data, budget, reporter and checkpoint of one search job."""

    def __init__(
        self,
        cfg: SearchConfig,
        data: ProxyTensors,
        reporter: Reporter,
        run_state: RunState,
        job: Budget | None = None,
        executor: Executor | None = None,
    ):
        """`job`: the whole job's clock and budget (default: started now, cfg.budget_s); the
        search's own budget is the plan's search share (set_plan). `executor`: where the
        independent trainings run (core.nas.execution.executor; default: this process)."""
        self.cfg = cfg
        self.data = data
        self.reporter = reporter
        self.run_state = run_state
        self.job = job or Budget(cfg.budget_s, run_state.job_elapsed_s)
        self.budget = Budget(cfg.budget_s, run_state.elapsed_s)
        self.plan: dict | None = None  # the plan in force (run_state.plan: the first one)
        self.pace: Pace | None = None  # set with the plan (core.nas.report.measured_plan)
        self._paced_at = time.monotonic()
        self.device = torch.device(reporter.device or "cpu")
        self._measured: dict[str, dict] = {}
        self.executor = executor or LocalExecutor()
        self._shared: Any = None  # the proxy tensors as the executor's tasks read them

    def set_plan(self, plan: dict) -> None:
        """Adopt the job plan (kept in the checkpoint; re-plans start from it): the search phase
        gets its `search_s` (none: no time limit)."""
        self.plan = plan
        self.run_state.plan = plan
        search_s = plan["search_s"]
        self.budget = Budget(math.inf if search_s is None else search_s, self.run_state.elapsed_s)

    def keep_pace(self) -> None:
        """Every PACE_EVERY_S of the search (at least PACE_SHARE of the budget): probe the
        machine's pace and re-plan the rest from the first plan with epochs costing its
        epoch_s x the slowdown (core.nas.planning.replan); the search's budget follows. A
        changed plan is logged."""
        first = self.run_state.plan
        if self.pace is None or first is None or first["budget_s"] is None:
            return
        if self.run_state.outcome is not None:  # the search has ended
            return
        now = time.monotonic()
        if now - self._paced_at < max(PACE_EVERY_S, PACE_SHARE * first["budget_s"]):
            return
        self._paced_at = now
        slowdown = self.pace.slowdown()
        old = self.plan or first
        if slowdown < PACE_TOLERANCE:  # the first plan's pace (the report re-times anyway)
            new = first
            if old is not first:
                self.reporter.info(f"{first['text']}; back to the first plan")
        else:
            new = replan(
                first,
                self.cfg,
                epoch_s=first["epoch_s"] * slowdown,
                elapsed_s=self.job.elapsed,
                search_elapsed_s=self.budget.elapsed,
            )
            moved = abs(new["search_s"] - old["search_s"]) >= 1.0
            if moved or _shape(new) != _shape(old):
                self.reporter.info(new["text"])
        self.plan = new
        self.budget.seconds = new["search_s"]

    # -- state ---------------------------------------------------------------------------------
    @property
    def state(self) -> dict | None:
        """The strategy's state from the last checkpoint (None on a fresh start)."""
        return self.run_state.search

    def save(self, search_state: dict | None = None) -> None:
        if search_state is not None:
            self.run_state.search = search_state
        if self.run_state.outcome is None:  # the search clock stops when the search ends
            self.run_state.elapsed_s = self.budget.elapsed
        self.run_state.job_elapsed_s = self.job.elapsed
        self.run_state.save(self.reporter.checkpoint_path)

    def check_stop(self) -> None:
        self.reporter.check_stop()

    def progress(self, fraction: float, message: str, left_s: float | None = None) -> None:
        """Progress of the search phase (fraction of its work in [0, 1]) as whole-job progress.

        The job's remaining time is the search's (its time budget left, or sooner when its
        own count of epochs/samples says so, or the strategy's own estimate `left_s` of the
        seconds it still needs) plus the planned report and saving; the job's fraction is
        elapsed / (elapsed + remaining), so with a time budget it rises with the clock
        (core.engine.eta). Probes the machine's pace first (keep_pace)."""
        self.keep_pace()
        f = min(max(fraction, 0.0), 1.0)
        rate = self.budget.elapsed * (1.0 - f) / f if f > 0 else None
        left = self.budget.remaining if self.budget.seconds != math.inf else rate
        if left_s is not None:
            left = left_s if left is None else min(left, left_s)
        elif rate is not None and left is not None and f >= RATE_TRUSTED_FRACTION:
            left = min(left, rate)
        if left is None or self.plan is None:
            self.reporter.progress(0.0, message)
            return
        left = max(0.0, left)
        report = self.plan["report_s"]
        if self.plan["mode"] == SEARCH_ONLY:
            report = 0.0
        elif math.isfinite(self.job.seconds):  # the report fits what the time left allows
            room = REPORT_MARGIN * max(0.0, self.job.remaining - left - SAVE_S)
            report = fitting(room, self.plan["epoch_s"], self.cfg.report).seconds
        remaining = left + report + SAVE_S
        self.reporter.progress(
            time_fraction(self.job.elapsed, remaining),
            message,
            remaining_s=remaining,
            measured=self.plan["measured"],
        )

    # -- networks ------------------------------------------------------------------------------
    def network(self, genotype: Genotype) -> CifarNetwork:
        """The proxy network of a genotype (C, layers of the config; no auxiliary head), on the
        CPU: callers move it to `self.device` (cost() measures CPU latency)."""
        return CifarNetwork(
            self.cfg.network.C, self.data.num_classes, self.cfg.network.layers, False, genotype
        )

    def train_settings(self, epochs: int) -> TrainSettings:
        """How a discrete network (a child, a report cell) trains from scratch."""
        c = self.cfg
        return TrainSettings(
            epochs,
            c.child.batch_size,
            c.child.learning_rate,
            c.supernet.lr_min,
            c.supernet.momentum,
            c.supernet.weight_decay,
            c.supernet.grad_clip,
            c.child.optimizer,
        )

    def trial(
        self, genotype: Genotype, seed: int, epochs: int, split: str, deadline: float | None = None
    ) -> Trial:
        """One independent training (core.nas.trials): the proxy network of `genotype` trained
        `epochs` on `split` ("search" or "report"), seeded by `seed`; a remote one runs with
        this job's torch threads on its own GPU or the CPU (so that it gives the same numbers)."""
        remote = self.executor.remote
        device = (
            (self.device.type if self.device.type in ("cuda", "cpu") else "cpu")
            if remote
            else str(self.device)
        )
        return Trial(
            genotype.to_dict(),
            self.cfg.network.C,
            self.data.num_classes,
            self.cfg.network.layers,
            self.train_settings(epochs),
            seed,
            split,
            deadline,
            device,
            torch.get_num_threads() if remote else None,
        )

    def run_trials(
        self,
        trials: Iterable[Trial],
        on_epoch: Callable[[int, float], None] | None = None,
        until_job_s: float | None = None,
    ) -> Iterator[dict]:
        """Train and score trials on the job's executor; stats in the trials' order. A local
        executor makes and trains each trial when the previous result has been taken (and
        reports `on_epoch`); Ray trains them all at once. Cancel checks run while waiting, and
        so does the deadline: TrialTimeout once the search's budget is spent (its pace kept:
        keep_pace) or, with `until_job_s`, once the job has run that many seconds."""
        if self._shared is None:
            self._shared = self.executor.share(
                on_cpu(self.data) if self.executor.remote else self.data
            )

        def check() -> None:
            self.check_stop()
            if until_job_s is not None:
                over = self.job.elapsed >= until_job_s
            else:
                self.keep_pace()
                over = self.budget.exhausted()
            if over:
                raise TrialTimeout("the time budget ended during a training")

        return self.executor.map(run_trial, trials, self._shared, check=check, on_epoch=on_epoch)

    def cost(self, genotype: Genotype) -> dict:
        """{"params", "flops", "latency_ms"} of the genotype's proxy network (cached)."""
        key = genotype.to_json()
        if key not in self._measured:
            torch_state = torch.get_rng_state()  # building a network must not shift the seed
            self._measured[key] = measure(self.network(genotype), self.data.size)
            torch.set_rng_state(torch_state)
        return self._measured[key]

    def backbone_latency(self, genotype: Genotype) -> float:
        """ms of the genotype as a detector backbone at `objective.latency_size` px on the job's
        device."""
        key = "backbone:" + genotype.to_json()
        if key not in self._measured:
            self._measured[key] = {
                "ms": backbone_latency_ms(genotype, self.cfg.objective.latency_size, self.device)
            }
        return self._measured[key]["ms"]

    @property
    def target_ms(self) -> float:
        """The latency target: `objective.target_ms`, else the DARTS_V2 backbone on this device."""
        if self.cfg.objective.target_ms is not None:
            return self.cfg.objective.target_ms
        if "target" not in self._measured:
            ms = default_target_ms(self.cfg.objective.latency_size, self.device)
            self._measured["target"] = {"ms": ms}
            self.reporter.info(
                f"latency target {ms:.1f} ms: the DARTS_V2 backbone at "
                f"{self.cfg.objective.latency_size}px on {self.device}"
            )
        return self._measured["target"]["ms"]

    def objective(self, genotype: Genotype, accuracy: float) -> tuple[float, dict]:
        """(score, extra fields) of a trained or sampled cell: its accuracy, or with the
        accuracy-latency objective the MnasNet reward acc * (lat / target)^w."""
        if self.cfg.objective.kind == "accuracy":
            return accuracy, {}

        lat, target = self.backbone_latency(genotype), self.target_ms
        return (
            mnas_reward(accuracy, lat, target, self.cfg.objective.latency_weight),
            {
                "accuracy": accuracy,
                "backbone_latency_ms": lat,
                "target_ms": target,
                "objective": "acc * (lat / target)^w",
            },
        )

    # -- logging -------------------------------------------------------------------------------
    def log_architecture(
        self, genotype: Genotype, score: float | None, kind: str, step: int | None, **extra: Any
    ) -> int:
        """Log to the store's architectures table with params, FLOPs and latency; the extra
        fields carry the strategy, the kind and the row's role (ROLE_OF_KIND unless given)."""
        cost = self.cost(genotype)
        return self.reporter.architecture(
            genotype.to_dict(),
            score=score,
            params=cost["params"],
            flops=cost["flops"],
            latency_ms=cost["latency_ms"],
            step=step,
            extra={
                "strategy": self.cfg.strategy,
                "kind": kind,
                "role": ROLE_OF_KIND.get(kind),
                **extra,
            },
        )

    def epoch_metrics(self, epoch: int, **values: float) -> None:
        """Per-epoch search metrics: search/<name> for each keyword."""
        for key, value in values.items():
            if value is not None:
                self.reporter.metric(f"search/{key}", value, epoch=epoch)
        self.reporter.flush()


def _shape(plan: dict) -> tuple[int, int, int]:
    """(repeats, random, epochs) of a plan's report."""
    r = plan["report"]
    return r["repeats"], r["random"], r["epochs"]
