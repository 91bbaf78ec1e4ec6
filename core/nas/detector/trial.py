"""One trial of a detector search: an ordinary training (core.train.trainer.Trainer) of one
detector of the space, judged at its epoch rungs by the search's pruner, cut at the job's deadline.

* `JobClock`: the job's wall clock against its budget (time before a resume counted).
* `TrialReporter`: what the Trainer reports to, in place of a job's Reporter: files in the trial's
  own folder (runs/<job>/trials/<n>/), per-epoch metrics under `trial/<n>/`, events prefixed
  "trial n:", the job's progress on the job's clock; `check_stop` raises JobCancelled on a cancel
  and `OutOfTime` past the deadline (every training step and evaluation batch asks).
* `TrialTrainer`: the Trainer evaluating at the rungs only, without previews or registration.
* `run_trial`: builds it, measures its latency (core.det.latency, the one detector timer), trains
  it, reports reward(AP50, latency) at each rung to the Optuna trial and stops when the pruner
  says so, or when the time left cannot reach the next rung; returns a `TrialOutcome`.
* `probe`: the reference detector's latency and a few timed training steps (the search's target and
  its time plan).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import torch

from core.det.latency import detector_latency_ms
from core.errors import DatasetError, SpecError
from core.io import write_json_atomic
from core.nas.detector.pick import reward
from core.nas.detector.plan import TrialCost, seconds_to_next_rung
from core.nas.detector.space import DetectorChoice
from core.torch_util import count_parameters
from core.train.loop import NonFiniteLossError, summary
from core.train.presets import build_config
from core.train.trainer import Trainer

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

FINISH_RESERVE_S = 3.0  # choosing and registering the pick after the last trial
PROBE_STEPS = 3  # timed training steps after one warm-up step
EVAL_COST_FACTOR = 1.5  # an evaluation image costs about this many batch-1 detections
COCO_EVAL_S = 0.5  # pycocotools' own share of an evaluation
METRICS_FILE = "metrics.json"  # a trial's newest evaluation (all of Trainer.evaluate's keys)
WEIGHTS_FILE = "last.pt"  # a trial's model after its last epoch (EMA weights, model file)
STATES = ("complete", "pruned", "stopped", "failed")


class OutOfTime(Exception):  # noqa: N818 - a signal, not an error
    """The job's deadline has passed (or the time left cannot reach the next rung)."""


class JobClock:
    """Seconds of the whole job against its budget; trials must end `reserve_s` before it."""

    def __init__(self, budget_s: float, elapsed_s: float = 0.0, reserve_s: float = 0.0):
        self.budget_s, self.reserve_s = budget_s, reserve_s
        self._start = time.monotonic() - elapsed_s

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    @property
    def remaining(self) -> float:
        """Seconds left for trials (inf without a budget)."""
        return self.budget_s - self.reserve_s - self.elapsed

    def expired(self) -> bool:
        return self.remaining <= 0

    def fraction(self) -> float:
        return 0.0 if math.isinf(self.budget_s) else min(1.0, self.elapsed / self.budget_s)


class TrialReporter:
    """A job Reporter's stand-in for one trial's Trainer (see the module docstring)."""

    def __init__(self, job: Reporter, tag: int | str, run_dir: Path, clock: JobClock, progress):
        self.job, self.tag, self.clock = job, tag, clock
        self.store, self.device, self.job_id, self.home = (
            job.store,
            job.device,
            job.job_id,
            job.home,
        )
        self.spec = job.spec
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._progress = progress  # (message, remaining_s) -> None: the job's progress line
        self.overtime = False  # True: the job's clock no longer stops it (see evaluate_cut)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def progress(self, fraction, message=None, remaining_s=None, measured=False) -> None:
        self._progress(f"trial {self.tag}: {message or ''}".strip())

    def metric(self, key: str, value: float, step=None, epoch=None) -> None:
        if step is None:  # per-step values of every trial would bury the job's own
            self.job.metric(f"trial/{self.tag}/{key}", value, epoch=epoch)

    def flush(self) -> None:
        self.job.flush()

    def info(self, message: str) -> None:
        self.job.info(f"trial {self.tag}: {message}")

    def warning(self, message: str) -> None:
        self.job.warning(f"trial {self.tag}: {message}")

    def artifact(self, kind: str, path) -> None:
        """A trial's files stay in its folder; the search registers the pick's."""

    def should_stop(self, fresh: bool = False) -> bool:
        return self.job.should_stop(fresh) or (self.clock.expired() and not self.overtime)

    def check_stop(self, fresh: bool = False) -> None:
        self.job.check_stop(fresh)
        if self.clock.expired() and not self.overtime:
            raise OutOfTime(f"the job's {self.clock.budget_s:.0f} s are spent")


class TrialTrainer(Trainer):
    """A Trainer evaluating only after the epochs of `schedule` (the rungs and the last one),
    writing no preview and registering no model (the search registers its pick)."""

    def __init__(self, config, reporter, schedule: list[int]):
        super().__init__(config, reporter)
        if self.eval_plan:  # empty when the dataset has no val split
            self.eval_plan = sorted({e for e in schedule if e <= config.epochs} | {config.epochs})

    def _write_preview(self) -> None:
        """No preview: nobody watches a trial's pictures."""

    def _finish(self) -> dict[str, Any]:
        return {"epochs": self.epoch, "train_seconds": self.train_seconds}


@dataclass
class TrialOutcome:
    """How a trial ended and what it measured (the row the search logs for it)."""

    state: str  # one of STATES
    epochs: int = 0  # epochs trained
    metrics: dict[str, float] = field(default_factory=dict)  # summary of its last evaluation
    latency_ms: float | None = None
    params: int | None = None
    seconds: float = 0.0  # wall time of the trial
    first_rung_s: float | None = None  # wall time from its start to its first evaluation
    epoch_s: float | None = None  # mean training seconds per epoch
    eval_s: float | None = None  # mean seconds per evaluation
    error: str | None = None
    det_config: dict[str, Any] | None = None
    backbone: dict[str, Any] | None = None  # the model file's backbone record
    # while it runs (for the search's time left): monotonic times of its start and last epoch,
    # and its Trainer (whose TrainProgress times its steps)
    started_at: float | None = None
    epoch_at: float | None = None
    trainer: Any = field(default=None, repr=False)

    def seconds_to_judgement(self, schedule: list[int], cost: TrialCost) -> float:
        """Seconds from now to this running trial's next evaluation (where it is pruned,
        stopped or goes on): from its own step speed once its Trainer has timed some steps,
        else from the probe's `cost` (its start-up, epoch and evaluation)."""
        now = time.monotonic()
        eval_s = self.eval_s or cost.eval_s
        rung = next((r for r in schedule if r > self.epochs), max(schedule, default=1))
        timing = getattr(self.trainer, "timing", None)
        epoch_s = timing.epoch_costs()[0] if timing is not None else 0.0
        if timing is not None and epoch_s > 0:
            steps_left = rung * timing.steps_per_epoch - timing.steps_done
            return max(0.0, steps_left * epoch_s / timing.steps_per_epoch + eval_s)
        epoch_s = self.epoch_s or cost.epoch_s
        if self.epoch_at is None:  # start-up and first epoch not over yet
            spent = now - (self.started_at or now)
            return max(0.0, cost.startup_s + epoch_s * rung + eval_s - spent)
        return max(0.0, (rung - self.epochs) * epoch_s + eval_s - (now - self.epoch_at))

    @property
    def ap50(self) -> float | None:
        return self.metrics.get("AP50")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a search shares."""

    dataset: str
    seed: int
    max_epochs: int
    schedule: list[int]  # the rungs (core.nas.detector.plan.rungs)
    target_ms: float
    clock: JobClock
    progress: Any  # (message) -> None
    nothing_judged: Any = lambda: False  # () -> True while no trial of the search is evaluated


def trial_config(setup: TrialSetup, choice: DetectorChoice, epochs: int | None = None):
    """The TrainConfig of a trial of `choice`."""
    return build_config(choice.train_spec(setup.dataset, epochs or setup.max_epochs, setup.seed))


def run_trial(
    job: Reporter,
    setup: TrialSetup,
    trial: Any,
    choice: DetectorChoice,
    outcome: TrialOutcome | None = None,
) -> TrialOutcome:
    """Train `choice` as Optuna trial `trial` (resuming from its folder's checkpoint), reporting
    reward(AP50, latency) at each rung; JobCancelled propagates (the trial resumes with the job).
    `outcome` (state "failed" until it ends) is filled in as the trial goes, for a watcher."""
    folder = trial_folder(job.run_dir, trial.number)
    reporter = TrialReporter(job, trial.number, folder, setup.clock, setup.progress)
    started = time.monotonic()
    outcome = outcome or TrialOutcome("failed")
    outcome.started_at = started
    trainer = None
    try:
        trainer = outcome.trainer = TrialTrainer(
            trial_config(setup, choice), reporter, setup.schedule
        )
        _measure(trainer, trial, outcome, job.device)
        reporter.info(
            f"{choice.label()}: {outcome.latency_ms:.1f} ms, {outcome.params / 1e6:.2f} M "
            f"params{' (resumed)' if reporter.has_checkpoint() else ''}"
        )
        trainer.fit(_judge(trainer, trial, setup, outcome, started, folder))
        outcome.state = "complete"
    except optuna.TrialPruned:
        outcome.state = "pruned"
    except OutOfTime:
        outcome.state = "stopped"
        if setup.nothing_judged() and trainer is not None and trainer.global_step > 0:
            evaluate_cut(trainer, reporter, outcome, folder)
    except (NonFiniteLossError, SpecError, torch.OutOfMemoryError) as exc:
        outcome.state, outcome.error = "failed", str(exc).splitlines()[0]
        reporter.warning(f"failed: {outcome.error}")
    outcome.seconds, outcome.trainer = time.monotonic() - started, None
    return outcome


def evaluate_cut(
    trainer: TrialTrainer, reporter: TrialReporter, outcome: TrialOutcome, folder: Path
) -> None:
    """A trial cut by the job's clock before the search has judged any: evaluated where it
    stands (its epochs so far, the last one partly trained), so the search still has a pick on a
    machine slower than its probe measured; the evaluation runs past the clock (seconds)."""
    reporter.overtime = True
    try:
        metrics, predictions = trainer.evaluate()
        trainer._save_epoch(metrics, predictions)  # last.pt: the weights the pick would use
    finally:
        reporter.overtime = False
    write_json_atomic(folder / METRICS_FILE, metrics)
    outcome.metrics = summary(metrics)
    outcome.epochs = trainer.epoch
    reporter.info(
        f"cut by the clock after {trainer.global_step} steps, before any trial was judged: "
        f"evaluated where it stands (AP50 {metrics['AP50']:.3f})"
    )


def _measure(trainer: TrialTrainer, trial: Any, outcome: TrialOutcome, device: str) -> None:
    """Latency (measured once per trial, kept in the trial for a resume) and parameters."""
    model = trainer.model
    latency = trial.user_attrs.get("latency_ms")
    if latency is None:
        latency = detector_latency_ms(model, device)
        trial.set_user_attr("latency_ms", latency)
    outcome.latency_ms, outcome.params = float(latency), count_parameters(model)
    outcome.det_config, outcome.backbone = model.config.to_dict(), trainer.backbone_record


def _judge(trainer, trial, setup: TrialSetup, outcome: TrialOutcome, started: float, folder):
    """The Trainer's after-epoch hook: report the rung's reward, prune, or stop for time."""
    evaluations = [0]  # in this attempt (the Trainer times this attempt's evaluations)

    def after_epoch(epoch: int, metrics: dict | None) -> None:
        outcome.epochs, outcome.epoch_s = epoch, trainer.train_seconds / epoch
        outcome.epoch_at = time.monotonic()
        if metrics is None:
            return
        evaluations[0] += 1
        outcome.eval_s = trainer.timing.eval_seconds / evaluations[0]
        write_json_atomic(folder / METRICS_FILE, metrics)
        outcome.metrics = summary(metrics)
        if outcome.first_rung_s is None:
            outcome.first_rung_s = time.monotonic() - started
        trial.report(reward(metrics["AP50"], outcome.latency_ms, setup.target_ms), epoch)
        if epoch >= setup.max_epochs:
            return
        if trial.should_prune():
            raise optuna.TrialPruned()
        needed = seconds_to_next_rung(epoch, outcome.epoch_s, outcome.eval_s, setup.schedule)
        if setup.clock.remaining < needed:
            raise OutOfTime(f"{needed:.0f} s to the next rung, {setup.clock.remaining:.0f} s left")

    return after_epoch


def trial_folder(run_dir: Path, number: int) -> Path:
    return Path(run_dir) / "trials" / str(number)


def clean_trial_folder(folder: Path, keep_weights: bool) -> None:
    """Drop a finished trial's checkpoints and predictions; its weights only when asked."""
    for name in ("checkpoint.pt", "best.pt", "predictions.json", "eval.json"):
        (folder / name).unlink(missing_ok=True)
    if not keep_weights:
        (folder / WEIGHTS_FILE).unlink(missing_ok=True)


def probe(job: Reporter, setup: TrialSetup, choice: DetectorChoice) -> tuple[TrialCost, float]:
    """(cost of a trial of `choice`, its latency in ms): its start-up (model, data, latency) and
    PROBE_STEPS timed training steps measured, its evaluation estimated from its latency."""
    folder = Path(job.run_dir) / "probe"
    reporter = TrialReporter(job, "probe", folder, setup.clock, setup.progress)
    try:
        started = time.monotonic()
        trainer = TrialTrainer(trial_config(setup, choice, epochs=1), reporter, [1])
        if not trainer.eval_plan:
            raise DatasetError(
                f"dataset {setup.dataset!r} has no val images: a detector search scores its "
                "trials by val AP50"
            )
        reporter.check_stop()
        latency = detector_latency_ms(trainer.model, job.device)
        reporter.check_stop()
        startup_s = time.monotonic() - started
        step_s = _step_seconds(trainer, reporter)
        eval_s = COCO_EVAL_S + len(trainer.val_set) * EVAL_COST_FACTOR * latency / 1000.0
        cost = TrialCost(startup_s, step_s * trainer.steps_per_epoch, eval_s)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return cost, latency


def _step_seconds(trainer: TrialTrainer, reporter: TrialReporter) -> float:
    """Mean seconds of a training step, its batch loading included, after one warm-up step
    (the warm-up step itself when the epoch has a single batch)."""
    batches = iter(trainer._train_loader(0))
    started = time.monotonic()
    trainer.train_step(*next(batches))
    warm_up_s, timed, started = time.monotonic() - started, 0, time.monotonic()
    for images, targets in batches:
        reporter.check_stop()
        trainer.train_step(images, targets)
        timed += 1
        if timed == PROBE_STEPS:
            break
    return (time.monotonic() - started) / timed if timed else warm_up_s


__all__ = [
    "FINISH_RESERVE_S",
    "JobClock",
    "OutOfTime",
    "TrialOutcome",
    "TrialReporter",
    "TrialSetup",
    "TrialTrainer",
    "clean_trial_folder",
    "probe",
    "run_trial",
    "trial_folder",
]
