"""The detector search itself: an Optuna study of trainings, multi-fidelity and latency-aware.

Optuna (Akiba et al., KDD 2019) samples each trial's detector with TPE (Bergstra et al., NeurIPS
2011; multivariate, seeded, the preset's own detector enqueued first) and prunes over epochs with
its asynchronous successive halving (core.nas.detector.plan). The study lives in the run folder,
runs/<id>/study.db (RDB storage, SQLite), with the job's plan in its user attributes, so a
resumed job goes on with the same study: the trial that was running continues from its
checkpoint, finished ones are not run again.

One attempt: the plan (a probe of the reference detector: its latency is the default target, its
step time sizes the top rung), then trials until the minutes, `trials` or the time for another
first rung run out; each finished trial is told to the study, then logged as a row
(core.nas.detector.results), and the job's result is refreshed with the front so far. At the end
the pick (core.nas.detector.pick) is registered as model `job-<id>` from its trial's weights,
with runs/<id>/detector.json (its detector, det_config, backbone and train spec) and
runs/<id>/eval.json (its evaluation).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from core.engine.eta import time_fraction
from core.errors import SearchError
from core.io import atomic_path, write_json_atomic
from core.nas.detector.config import KIND, DetectorSearchConfig
from core.nas.detector.pick import pareto_front, pick, reward
from core.nas.detector.plan import (
    TrialCost,
    first_rung_s,
    job_seconds_left,
    plan_max_epochs,
    rungs,
    sure_rungs_s,
    too_short,
)
from core.nas.detector.results import ROLE, brief, points, trials
from core.nas.detector.space import DetectorChoice, reference_choice, suggest
from core.nas.detector.trial import (
    FINISH_RESERVE_S,
    METRICS_FILE,
    WEIGHTS_FILE,
    JobClock,
    OutOfTime,
    TrialOutcome,
    TrialSetup,
    clean_trial_folder,
    probe,
    run_trial,
    trial_config,
    trial_folder,
)
from core.torch_util import threads_fitted
from core.train.loop import read_json

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

STUDY_FILE = "study.db"
STUDY_NAME = "detector"
CONFIG_FILE = "config.json"
PICK_FILE = "detector.json"
MODEL_FILE = "model.pt"
EVAL_FILE = "eval.json"
UNBOUNDED_EPOCHS = 9  # a complete trial's epochs when no minutes size them
MAX_REPEATS = 50
REPEATABLE = ("complete", "pruned", "failed")  # a stopped trial was cut by time, not judged
_STATE = optuna.trial.TrialState
FINISHED = (_STATE.COMPLETE, _STATE.PRUNED, _STATE.FAIL)


def open_study(path: Path, cfg: DetectorSearchConfig) -> optuna.Study:
    """The job's study at `path` (created, or loaded on a resume). The sampler's seed moves on
    with the trials already finished, so a resumed study does not repeat its first draws."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=f"sqlite:///{path}",
        study_name=STUDY_NAME,
        direction="maximize",
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=cfg.min_epochs, reduction_factor=cfg.reduction_factor
        ),
        load_if_exists=True,
    )
    finished = len(study.get_trials(deepcopy=False, states=FINISHED))
    with warnings.catch_warnings():  # multivariate TPE is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.sampler = optuna.samplers.TPESampler(
            seed=cfg.seed + finished, n_startup_trials=cfg.startup_trials, multivariate=True
        )
    return study


def run_detector_search(spec: dict, reporter: Reporter) -> dict[str, Any]:
    """The `search.detector` task: one attempt of the search; `threads` applies to this job
    (empty: those the other processes leave free, core.torch_util.threads_for_load)."""
    cfg = DetectorSearchConfig.from_spec(spec)
    with threads_fitted(reporter.device, cfg.threads):
        return DetectorSearch(cfg, reporter).run()


class DetectorSearch:
    """One attempt of a `search.detector` job (see the module docstring)."""

    def __init__(self, cfg: DetectorSearchConfig, reporter: Reporter):
        self.cfg, self.reporter = cfg, reporter
        self.run_dir = Path(reporter.run_dir)
        self.space = cfg.space()
        self.study = open_study(self.run_dir / STUDY_FILE, cfg)
        # the job's clock runs from this attempt's start in the worker (imports and the
        # study's creation count), after the time earlier attempts spent
        started = reporter.store.get_job(reporter.job_id, reconcile=False)["started_at"]
        spent = self.study.user_attrs.get("elapsed_s", 0.0) + max(0.0, time.time() - started)
        self.clock = JobClock(cfg.budget_s, spent, FINISH_RESERVE_S)
        self._running: TrialOutcome | None = None  # the trial in progress, filled in as it goes
        self._schedule: list[int] = []

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        write_json_atomic(self.run_dir / CONFIG_FILE, self.cfg.to_spec(), indent=2)
        setup = self._setup()
        self._reconcile(setup)
        repeats = 0  # samples in a row of detectors already judged
        while (trial := self._next_trial(setup)) is not None:
            self.reporter.check_stop()  # also between the sampler's proposals of judged detectors
            choice = suggest(trial, self.space)
            if self._repeat(trial):
                repeats += 1
                if repeats >= MAX_REPEATS:
                    self.reporter.info(
                        f"the sampler proposed {repeats} judged detectors in a row: the space "
                        "is covered"
                    )
                    break
                continue
            repeats = 0
            self._running = TrialOutcome("failed")
            outcome = run_trial(self.reporter, setup, trial, choice, self._running)
            self._running = None
            self._record(setup, trial, choice, outcome)
        return self._finish(setup)

    def _setup(self) -> TrialSetup:
        """The plan: kept in the study (a resume reuses it), else measured by a probe."""
        plan = self.study.user_attrs.get("plan")
        setup = self._trial_setup(plan or {"target_ms": 1.0, "max_epochs": 1})
        if plan is None:
            plan = self._measure_plan(setup)
            self.study.set_user_attr("plan", plan)
            # the reference first, then the same detector on each other backbone: every
            # backbone is tried once before TPE samples (a categorical of few values that
            # random start-up trials could leave untried in a short search)
            reference = reference_choice(self.space)
            for backbone in dict.fromkeys((reference.backbone, *self.space.backbones)):
                self.study.enqueue_trial(
                    dataclasses.replace(reference, backbone=backbone).to_dict()
                )
            self.reporter.info(plan["text"])
            setup = self._trial_setup(plan)
        return setup

    def _trial_setup(self, plan: dict) -> TrialSetup:
        cfg = self.cfg
        schedule = rungs(cfg.min_epochs, cfg.reduction_factor, plan["max_epochs"])
        self._schedule = schedule
        return TrialSetup(
            cfg.dataset,
            cfg.seed,
            plan["max_epochs"],
            schedule,
            plan["target_ms"],
            self.clock,
            self._progress,
            self._nothing_judged,
        )

    def _measure_plan(self, setup: TrialSetup) -> dict:
        """Probe the reference detector; the target, the top rung and the plan's sentence."""
        cfg, default = self.cfg, reference_choice(self.space)
        self._progress(f"timing the reference detector ({default.label()})")
        try:
            cost, latency = probe(self.reporter, setup, default)
        except OutOfTime:
            raise SearchError(
                f"{KIND}: the {cfg.minutes:g} minutes ran out while timing the reference detector "
                f"({default.label()}) on this machine: give more minutes"
            ) from None
        target = cfg.target_ms or latency
        self._refuse_if_too_short(cost)
        if cfg.epochs is not None:
            max_epochs = cfg.epochs
        elif math.isinf(cfg.budget_s):
            max_epochs = max(cfg.min_epochs, UNBOUNDED_EPOCHS)
        else:
            budget = max(0.0, self.clock.remaining)
            max_epochs = plan_max_epochs(cost, budget, cfg.min_epochs, cfg.reduction_factor)
        schedule = rungs(cfg.min_epochs, cfg.reduction_factor, max_epochs)
        source = (
            "given"
            if cfg.target_ms
            else f"the {default.label()} detector on {self.reporter.device}"
        )
        text = (
            f"plan: {self.space.size()} detectors; trials of up to {max_epochs} epochs judged "
            f"after {', '.join(map(str, schedule))} (successive halving, about 1 in "
            f"{cfg.reduction_factor} goes on); target {target:.1f} ms ({source}); a complete "
            "trial of the reference detector about "
            f"{cost.seconds(max_epochs, len(schedule)):.0f} s, "
            f"its first rung {first_rung_s(cost, cfg.min_epochs):.0f} s"
        )
        return {
            "target_ms": target,
            "target_source": source,
            "default_latency_ms": latency,
            "max_epochs": max_epochs,
            "schedule": schedule,
            "cost": cost.to_dict(),
            "first_rung_s": first_rung_s(cost, cfg.min_epochs),
            "text": text,
        }

    def _refuse_if_too_short(self, cost: TrialCost) -> None:
        """A budget whose time left after the probe cannot hold a first rung fails now."""
        if math.isfinite(self.cfg.budget_s):
            error = too_short(cost, self.cfg.min_epochs, self.clock, self.cfg.minutes)
            if error:
                raise SearchError(f"{KIND}: {error}")

    def _progress(self, message: str) -> None:
        done = self._done()
        if math.isinf(self.cfg.budget_s):
            fraction = min(1.0, done / self.cfg.trials) if self.cfg.trials else 0.0
            self.reporter.progress(fraction, f"{message} ({done} trials done)")
            return
        left = self._seconds_left()
        self.reporter.progress(
            time_fraction(self.clock.elapsed, left),
            f"{message} ({done} trials done)",
            remaining_s=left,
            measured=True,
        )

    def _seconds_left(self) -> float:
        """When the job will end (core.nas.detector.plan.job_seconds_left)."""
        plan = self.study.user_attrs.get("plan")
        if plan is None:  # still timing the reference: the budget is the plan
            return max(0.0, self.cfg.budget_s - self.clock.elapsed)
        mean = self._trial_s()
        judged, goes_on = None, 0.0
        if (run := self._running) is not None:  # the probe's costs, as the trials took them
            cost = TrialCost.from_dict(plan["cost"]).like(mean, self.cfg.min_epochs)
            judged = run.seconds_to_judgement(self._schedule, cost)
            trials_done = self.study.get_trials(deepcopy=False, states=FINISHED)
            reached = {s for t in trials_done for s in t.intermediate_values}
            rung = next((r for r in self._schedule if r > run.epochs), None)
            epoch_s, eval_s = run.epoch_s or cost.epoch_s, run.eval_s or cost.eval_s
            room = self.clock.remaining - judged
            goes_on = sure_rungs_s(self._schedule, rung, reached, epoch_s, eval_s, room)
        return job_seconds_left(self.clock, mean, judged, goes_on)

    def _trial_s(self) -> float:
        """Seconds of a new trial to its first judgement: the mean of those measured (the
        probe's estimate before any); 0 before the plan."""
        plan = self.study.user_attrs.get("plan") or {"first_rung_s": 0.0}
        seen = self.study.user_attrs.get("first_rungs_s") or [plan["first_rung_s"]]
        return sum(seen) / len(seen)

    # -- trials --------------------------------------------------------------------------------
    def _next_trial(self, setup: TrialSetup) -> optuna.trial.Trial | None:
        """The trial an interrupted attempt left running, else a new one if it may start."""
        running = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if running:  # Optuna's own way back to a trial: its storage id
            return optuna.trial.Trial(self.study, running[0]._trial_id)
        done = self._done()
        if self.cfg.trials is not None and done >= self.cfg.trials:
            self.reporter.info(f"{done} trials done: the most this job runs")
            return None
        need = self._trial_s()  # a trial as long as the others took fits (the ETA's rule too)
        if self.clock.remaining < need:
            self.reporter.info(
                f"{max(0.0, self.clock.remaining):.0f} s left, a first rung takes about "
                f"{need:.0f} s here: no new trial"
            )
            return None
        return self.study.ask()

    def _nothing_judged(self) -> bool:
        """No trial of this study has an evaluation yet (the first may be cut and evaluated)."""
        return not any(t.intermediate_values for t in self.study.get_trials(deepcopy=False))

    def _done(self) -> int:
        """Trials trained to their end (a sampled repeat of a judged detector is not one)."""
        return sum(
            "repeat_of" not in t.user_attrs
            for t in self.study.get_trials(deepcopy=False, states=FINISHED)
        )

    def _repeat(self, trial: optuna.trial.Trial) -> bool:
        """A trial whose detector an earlier trial has judged gets that trial's rungs and end
        (training is seeded and deterministic: it would only repeat them); True if so."""
        for earlier in self.study.get_trials(deepcopy=False, states=FINISHED):
            row = earlier.user_attrs.get("row")
            if (
                earlier.number != trial.number
                and "repeat_of" not in earlier.user_attrs
                and earlier.params == trial.params
                and row is not None
                and row["extra"]["state"] in REPEATABLE
            ):
                for step, value in earlier.intermediate_values.items():
                    trial.report(value, step)
                trial.set_user_attr("repeat_of", earlier.number)
                self._tell(trial, TrialOutcome(row["extra"]["state"]), row)
                return True
        return False

    def _record(self, setup: TrialSetup, trial, choice: DetectorChoice, out: TrialOutcome) -> None:
        """Tell the study, log the row, keep or drop the trial's files, refresh the result."""
        row = self._row(setup, trial.number, choice, out)
        trial.set_user_attr("row", row)  # a row not yet logged is logged on a resume
        self._tell(trial, out, row)
        self._log_row(row)
        self.study.set_user_attr("elapsed_s", self.clock.elapsed)
        if out.first_rung_s is not None:
            seen = [*self.study.user_attrs.get("first_rungs_s", []), out.first_rung_s]
            self.study.set_user_attr("first_rungs_s", seen)
        self._keep_files(trial.number, out)
        extra = row["extra"]
        self.reporter.info(
            f"trial {trial.number} {extra['state']} after {out.epochs} "
            f"epoch{'' if out.epochs == 1 else 's'}"
            + (f": AP50 {out.ap50:.3f}, {out.latency_ms:.1f} ms" if out.ap50 is not None else "")
        )
        for key in ("AP50", "reward"):
            if extra[key] is not None:
                self.reporter.metric(f"search/{key}", extra[key], step=trial.number)
        self.reporter.result(self._result(setup, final=False))

    def _row(self, setup: TrialSetup, number: int, choice: DetectorChoice, out: TrialOutcome):
        folder = trial_folder(self.run_dir, number)
        value = None if out.ap50 is None else reward(out.ap50, out.latency_ms, setup.target_ms)
        weights = folder / WEIGHTS_FILE
        return {
            "genotype": choice.to_dict(),
            "score": out.ap50,
            "params": out.params,
            "latency_ms": out.latency_ms,
            "step": number,
            "extra": {
                "role": ROLE,
                "trial": number,
                "state": out.state,
                "pruned": out.state == "pruned",
                "epochs": out.epochs,
                "max_epochs": setup.max_epochs,
                "AP50": out.ap50,
                "AP": out.metrics.get("AP"),
                "reward": value,
                "seconds": round(out.seconds, 2),
                "error": out.error,
                "weights": self.reporter.store.relative_path(weights)
                if out.state == "complete"
                else None,
                "det_config": out.det_config,
                "backbone": out.backbone,
            },
        }

    def _tell(self, trial, out: TrialOutcome, row: dict) -> None:
        state = optuna.trial.TrialState
        if out.state == "complete" and row["extra"]["reward"] is not None:
            self.study.tell(trial, row["extra"]["reward"])
        elif out.state in ("pruned", "stopped") and row["extra"]["reward"] is not None:
            self.study.tell(trial, state=state.PRUNED)  # TPE learns from its last rung
        else:
            self.study.tell(trial, state=state.FAIL)

    def _log_row(self, row: dict) -> None:
        self.reporter.architecture(
            row["genotype"],
            row["score"],
            row["params"],
            None,
            row["latency_ms"],
            row["step"],
            row["extra"],
        )

    def _reconcile(self, setup: TrialSetup) -> None:
        """Rows of trials told but not logged, and trials recorded but not told, by an attempt
        that was interrupted between the two."""
        logged = {t["trial"] for t in trials(self.reporter.store, self.reporter.job_id)}
        for frozen in self.study.get_trials(deepcopy=False):
            row = frozen.user_attrs.get("row")
            if row is None:
                continue
            if frozen.state == optuna.trial.TrialState.RUNNING:
                trial = optuna.trial.Trial(self.study, frozen._trial_id)
                self._tell(trial, TrialOutcome(row["extra"]["state"]), row)
            if frozen.number not in logged:
                self._log_row(row)

    def _keep_files(self, number: int, out: TrialOutcome) -> None:
        """Weights stay for complete trials (none yet: every evaluated one, the pick may be)."""
        rows = trials(self.reporter.store, self.reporter.job_id)
        any_complete = any(r["state"] == "complete" for r in rows)
        clean_trial_folder(
            trial_folder(self.run_dir, number),
            keep_weights=out.state == "complete" or (not any_complete and out.ap50 is not None),
        )
        if out.state == "complete":
            for r in rows:
                if r["state"] != "complete":
                    clean_trial_folder(trial_folder(self.run_dir, r["trial"]), keep_weights=False)

    # -- the answer ----------------------------------------------------------------------------
    def _result(self, setup: TrialSetup, final: bool) -> dict[str, Any]:
        rows = trials(self.reporter.store, self.reporter.job_id)
        by_number = {r["trial"]: r for r in rows}
        front = [by_number[p.trial] for p in pareto_front(points(rows))]
        chosen = pick(points(rows), setup.target_ms)
        plan = self.study.user_attrs.get("plan") or {}
        counts = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "stopped")}
        counts["failed"] = sum(r["state"] == "failed" for r in rows)
        return {
            "level": "detector",
            "final": final,
            "target_ms": setup.target_ms,
            "target_source": plan.get("target_source"),
            "default_latency_ms": plan.get("default_latency_ms"),
            "max_epochs": setup.max_epochs,
            "rungs": setup.schedule,
            "objective": "AP50 * (latency / target)^w, w = 0 within the target, -1 above",
            "trials": len(rows),
            "states": counts,
            "front": [brief(r) for r in front],
            "pick": None
            if chosen is None
            else dict(brief(by_number[chosen.point.trial]), within_target=chosen.within_target),
            "search_seconds": round(self.clock.elapsed, 1),
        }

    def _finish(self, setup: TrialSetup) -> dict[str, Any]:
        self.reporter.check_stop(fresh=True)  # a cancel after the last trial registers no model
        result = self._result(setup, final=True)
        if result["pick"] is None:
            raise SearchError(
                f"{KIND}: no trial was evaluated in {self.cfg.minutes:g} minutes (a first rung "
                f"takes about {self._trial_s():.0f} s here): give "
                "more minutes, fewer min_epochs or smaller image_sizes"
            )
        chosen = next(
            r
            for r in trials(self.reporter.store, self.reporter.job_id)
            if r["trial"] == result["pick"]["trial"]
        )
        model = self._register(setup, chosen)
        result.update(
            model=model,
            AP50=chosen["AP50"],
            AP=chosen["AP"],
            latency_ms=chosen["latency_ms"],
            train_seconds=chosen["seconds"],  # the pick's own trial
            job_seconds=round(self.clock.elapsed, 1),
        )
        pick_ = result["pick"]
        self.reporter.info(
            f"pick: trial {pick_['trial']} ({DetectorChoice.from_dict(pick_['config']).label()}), "
            f"AP50 {pick_['AP50']:.3f} at {pick_['latency_ms']:.1f} ms "
            f"({'within' if pick_['within_target'] else 'none within'} the {setup.target_ms:.1f} "
            f"ms target); {len(result['front'])} on the front of {result['trials']} trials; "
            f"registered as model {model}"
        )
        self.reporter.progress(1.0, "done")
        return result

    def _register(self, setup: TrialSetup, row: dict) -> str:
        """The pick as model `job-<id>`: its weights, evaluation and detector in the run folder."""
        store, job_id = self.reporter.store, self.reporter.job_id
        folder = trial_folder(self.run_dir, row["trial"])
        model_path = self.run_dir / MODEL_FILE
        with atomic_path(model_path) as tmp:
            shutil.copyfile(folder / WEIGHTS_FILE, tmp)
        evaluation = read_json(folder / METRICS_FILE) or {}
        write_json_atomic(self.run_dir / EVAL_FILE, evaluation)
        choice = DetectorChoice.from_dict(row["config"])
        train = trial_config(setup, choice).to_spec()
        extra = self._row_extra(row)
        doc = {
            "trial": row["trial"],
            "detector": choice.to_dict(),
            "label": choice.label(),
            "det_config": extra.get("det_config"),
            "backbone": extra.get("backbone"),
            "train": train,
            "AP50": row["AP50"],
            "AP": row["AP"],
            "latency_ms": row["latency_ms"],
            "target_ms": setup.target_ms,
            "params": row["params"],
            "epochs": row["epochs"],
        }
        write_json_atomic(self.run_dir / PICK_FILE, doc, indent=2)
        name = f"job-{job_id}"
        metrics = {k: v for k, v in evaluation.items() if isinstance(v, (int, float))}
        store.add_model(
            name,
            "trained",
            model_path,
            list(store.get_dataset(self.cfg.dataset)["classes"]),
            metrics=metrics,
            config={
                "det_config": doc["det_config"],
                "backbone": doc["backbone"],
                "train": train,
                "origin": KIND,
                "trial": row["trial"],
                "params": row["params"],
                "latency": {"ms": row["latency_ms"], "device": self.reporter.device, "batch": 1},
            },
            job_id=job_id,
            replace=True,
        )
        for kind, path in (
            ("checkpoint", model_path),
            ("evaluation", self.run_dir / EVAL_FILE),
            ("detector", self.run_dir / PICK_FILE),
            ("config", self.run_dir / CONFIG_FILE),
            ("study", self.run_dir / STUDY_FILE),
        ):
            self.reporter.artifact(kind, path)
        return name

    def _row_extra(self, row: dict) -> dict:
        arch = self.reporter.store.get_architecture(row["arch_id"])
        return arch.get("extra") or {}


__all__ = ["DetectorSearch", "open_study", "run_detector_search"]
