"""The honest final report of a search: the searched cell retrained from scratch beside K random
cells under the same budget (the random-search baseline argument of Li & Talwalkar 2019 and
Yang et al. 2020, "NAS evaluation is frustratingly hard").

Every network is a fresh `CifarNetwork` (`network.C` and `network.layers`) trained on the whole
proxy train split (batch `child.batch_size`, `child.optimizer` at `child.lr`) and scored on the
proxy val split, which the search never saw. The searched genotype is trained with `report.repeats`
seeds, the random genotypes (seeded, same skip cap) with one seed each, all for the same
epochs. With a time budget the report trains what it can afford in the job's time left
(core.nas.planning.fitting, from the step time of the searched cell measured when the report
starts and those of the random cells timed beside the plan, scaled by the machine's pace now):
fewer epochs, then fewer networks, keeping one random cell while one fits, then the searched
cell alone, or none when the plan left no time for one; the report says so ("afforded"). Every
training stops at the job's hard limit (HARD_LIMIT of its budget, mid-epoch if need be): a
network cut there is left out and the report says which. The report is
written whatever the outcome: {"searched": {"mean", "std", "accs"}, "random": {"mean", "std",
"accs", "genotypes"}, "margin": searched mean - random mean, "genotype", "afforded", "budget",
"latency": the backbone latency (ms, `objective.latency_size` px, the job's device) of the
searched and random cells, ...}. Each finished training is checkpointed, so an interrupted report
resumes where it stopped.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Iterable
from dataclasses import asdict

import torch

from core.engine.eta import time_fraction
from core.nas.genotypes import Genotype
from core.nas.pace import Pace
from core.nas.planning import (
    NO_REPORT,
    REPORT_MARGIN,
    SEARCH_ONLY,
    TIMED_CELLS,
    ReportPlan,
    duration,
    fitting,
    plan,
)
from core.nas.proxy_training import epoch_seconds, spread, step_seconds
from core.nas.search_context import SAVE_S, SearchContext
from core.nas.space import sample_genotype
from core.nas.trials import TrialTimeout

RANDOM_SEED_OFFSET = 7919  # random report cells come from their own seeded stream
TRAIN_SEED_OFFSET = 104729
HARD_LIMIT = 1.05  # a random cell is skipped when it would end the job past 105 % of its budget
TIMED_RANDOM_CELLS = TIMED_CELLS  # random cells timed before the search to plan the report
TIMING_SHARE = 0.05  # after this share of the budget spent timing, the other cells are not timed
FIRST_SEARCHED = "searched:0"  # the report network that always trains


def report_genotypes(ctx: SearchContext) -> list[Genotype]:
    """The K random genotypes of the report (deterministic in the config seed)."""
    rng = random.Random(ctx.cfg.seed + RANDOM_SEED_OFFSET)
    return [
        sample_genotype(rng, ctx.cfg.network.nodes, ctx.cfg.network.skip_cap)
        for _ in range(ctx.cfg.report.random)
    ]


def timed_epoch_s(ctx: SearchContext, genotype: Genotype) -> float:
    """Measured seconds of one report epoch of `genotype` (training and evaluation) on the job's
    device; the torch RNG is left as it was (timing must not shift a seeded search)."""
    state = torch.get_rng_state()
    try:
        step = step_seconds(
            ctx.network(genotype), ctx.data.train_x, ctx.data.train_y, ctx.train_settings(1)
        )
    finally:
        torch.set_rng_state(state)
    return epoch_seconds(step, len(ctx.data.train_y), len(ctx.data.val_y), ctx.cfg.child.batch_size)


def timed_cells(ctx: SearchContext) -> list[Genotype]:
    """The cells timed for the plan: the report's first random cells (or one random cell)."""
    return report_genotypes(ctx)[:TIMED_RANDOM_CELLS] or [
        sample_genotype(
            random.Random(ctx.cfg.seed + RANDOM_SEED_OFFSET),
            ctx.cfg.network.nodes,
            ctx.cfg.network.skip_cap,
        )
    ]


def start_pace(ctx: SearchContext, baseline_s: float | None = None) -> None:
    """The job's pace probe (core.nas.pace) on the first timed cell's network on the job's
    device, against `baseline_s` (a resumed job: the plan's probe time) or its own first one."""
    state = torch.get_rng_state()  # building a network must not shift a seeded search
    try:
        network = ctx.network(timed_cells(ctx)[0]).to(ctx.device, memory_format=torch.channels_last)
    finally:
        torch.set_rng_state(state)
    ctx.pace = Pace(network, ctx.data.train_x, baseline_s)


def measured_plan(ctx: SearchContext) -> dict:
    """The job plan (core.nas.planning.plan) from the measured epoch time of random cells (the
    report's first ones; after TIMING_SHARE of the budget the first one alone), with their
    times ("timed_epoch_s") and the pace probe's ("probe_s", start_pace) taken beside them."""
    timed: list[float] = []
    start = ctx.job.elapsed
    for g in timed_cells(ctx):
        if timed and ctx.job.elapsed - start > TIMING_SHARE * ctx.job.seconds:
            break
        timed.append(timed_epoch_s(ctx, g))
    start_pace(ctx)
    p = plan(
        ctx.cfg,
        epoch_s=statistics.fmean(timed),
        train_crops=len(ctx.data.train_y),
        val_crops=len(ctx.data.val_y),
        elapsed_s=ctx.job.elapsed,
    )
    return {**p, "timed_epoch_s": timed, "probe_s": ctx.pace.baseline_s}


def _estimates(ctx: SearchContext, searched_s: float) -> dict[str, float]:
    """Estimated seconds per epoch of each report network ("searched:R", "random:K") when the
    report starts: the searched cell's `searched_s`, timed now, and the first random cells'
    times from beside the plan (the others get their mean) times the machine's pace now
    (ctx.pace): a machine that got busier during the search costs one probe to see, not a
    second timing of every cell."""
    r = ctx.cfg.report
    first = ctx.run_state.plan or {}
    slowdown = ctx.pace.slowdown() if ctx.pace is not None else 1.0
    timed = [t * slowdown for t in first.get("timed_epoch_s") or []]
    mean = statistics.fmean(timed) if timed else searched_s
    out = {f"searched:{k}": searched_s for k in range(r.repeats)}
    out.update({f"random:{k}": timed[k] if k < len(timed) else mean for k in range(r.random)})
    return out


def _afforded(ctx: SearchContext, genotype: Genotype) -> tuple[ReportPlan, dict[str, float]]:
    """What the report trains (resumed: what it planned) and the estimated seconds per epoch of
    each of its networks (`_estimates`)."""
    saved = ctx.run_state.report.get("plan")
    if saved is not None:
        estimates = saved.get("estimates") or {}
        return ReportPlan(**saved["report"]), estimates or {"*": saved["epoch_s"]}
    left = ctx.job.remaining - SAVE_S if math.isfinite(ctx.job.seconds) else math.inf
    if ctx.plan is not None and ctx.plan["mode"] == SEARCH_ONLY:
        chosen, estimates, epoch_s = NO_REPORT, {}, ctx.plan["epoch_s"]
    else:
        estimates = _estimates(ctx, timed_epoch_s(ctx, genotype))
        epoch_s = statistics.fmean(estimates.values())
        chosen = fitting(REPORT_MARGIN * max(0.0, left), epoch_s, ctx.cfg.report)
    ctx.run_state.report["plan"] = {
        "report": asdict(chosen),
        "epoch_s": epoch_s,
        "estimates": estimates,
    }
    if chosen.networks == 0:
        ctx.reporter.warning(
            f"final report: none, the {duration(max(0.0, left))} left do not hold one epoch "
            "of the searched cell on this machine"
        )
    else:
        ctx.reporter.info(
            f"final report: {chosen.describe()}, about {duration(chosen.seconds)}"
            + ("" if math.isinf(left) else f" of the {duration(left)} left")
        )
    return chosen, estimates


class _Progress:
    """Whole-job progress during the report; decides which networks still fit the job's budget
    (HARD_LIMIT of it; the first searched seed and one random cell always train), so that the
    ETA counts only the networks that will be trained.

    Each network's time is its own estimate (`_estimates`: cells differ in speed) scaled by how
    the finished networks (and the current one, once an epoch is done) compared with theirs."""

    def __init__(
        self,
        ctx: SearchContext,
        chosen: ReportPlan,
        estimates: dict[str, float],
        done: Iterable[str] = (),
    ):
        """`done`: the networks ("role:k") a resumed report has already trained."""
        self.ctx, self.epochs, self.estimates = ctx, chosen.epochs, estimates
        self.fallback = statistics.fmean(estimates.values())  # a network without its own
        self.ratios: list[float] = []  # measured / estimated epoch time of finished networks
        self.left: list[str] = []  # networks not finished ("role:k"), current first
        # a random cell has finished (the floor of one is met)
        self.random_done = any(not k.startswith("searched") for k in done)

    def _estimate(self, key: str) -> float:
        return max(1e-6, self.estimates.get(key, self.fallback))

    def _scale(self, current: float | None = None) -> float:
        ratios = self.ratios + ([current] if current is not None else [])
        return statistics.fmean(ratios) if ratios else 1.0

    def _fit(self, keys: list[str], room: float, scale: float) -> list[str]:
        """The networks of `keys` that fit `room` seconds, in order, after the two that always
        stay: the first searched seed and, until a random cell has trained, one random cell
        (the first that fits, else the cheapest): a report without one has nothing to compare
        with."""
        cost = {k: self.epochs * self._estimate(k) * scale for k in keys}
        fitted = [k for k in keys if k == FIRST_SEARCHED]
        randoms = [k for k in keys if not k.startswith("searched")]
        room -= sum(cost[k] for k in fitted)
        if randoms and not self.random_done:
            floor = [k for k in randoms if not math.isfinite(room) or cost[k] <= room]
            fitted.append(floor[0] if floor else min(randoms, key=lambda k: cost[k]))
            room -= cost[fitted[-1]]
        for k in keys:
            if k not in fitted and (not math.isfinite(room) or cost[k] <= room):
                fitted.append(k)
                room -= cost[k]
        return [k for k in keys if k in fitted]

    def _room(self) -> float:
        return HARD_LIMIT * self.ctx.job.seconds - self.ctx.job.elapsed - SAVE_S

    def fitting(self, keys_left: list[str]) -> list[str]:
        """The networks still to train (the next one first) that fit the budget."""
        self.left = self._fit(keys_left, self._room(), self._scale())
        return self.left

    def show(self, epochs_done: int, seconds: float, message: str) -> None:
        if not self.left:
            return
        key = self.left[0]
        per_epoch = seconds / epochs_done if epochs_done else None
        scale = self._scale(per_epoch / self._estimate(key) if per_epoch else None)
        now = (self.epochs - epochs_done) * (per_epoch or self._estimate(key) * scale)
        later = self._fit(self.left[1:], self._room() - now, scale)
        remaining = now + sum(self.epochs * self._estimate(k) * scale for k in later) + SAVE_S
        self.ctx.reporter.progress(
            time_fraction(self.ctx.job.elapsed, remaining),
            message,
            remaining_s=remaining,
            measured=True,
        )

    def network_done(self, key: str, seconds: float) -> None:
        self.ratios.append(seconds / self.epochs / self._estimate(key))
        self.random_done = self.random_done or not key.startswith("searched")


def final_report(ctx: SearchContext, genotype: Genotype, search_score: float) -> dict:
    """Train and score the searched and random genotypes; returns the report dict.

    The trainings go through the job's executor: a local one trains them one by one, each
    decided (does it fit the budget?) just before it starts; Ray decides for all at submission
    and trains them at once. Each is seeded on its own, so the numbers do not depend on it."""
    chosen, estimates = _afforded(ctx, genotype)
    if chosen.networks == 0:
        note = "no time for one epoch of the searched cell on this machine"
        return _summary(ctx, genotype, search_score, chosen, [], {}, [note])
    randoms = report_genotypes(ctx)[: chosen.random]
    jobs = [("searched", genotype, r) for r in range(chosen.repeats)]
    jobs += [("random", g, k) for k, g in enumerate(randoms)]
    done: dict = ctx.run_state.report.setdefault("accs", {})
    pending = [(n, role, g, k) for n, (role, g, k) in enumerate(jobs) if f"{role}:{k}" not in done]
    progress = _Progress(ctx, chosen, estimates, done)
    state = {"skipped": 0, "label": "", "cut": None}
    started: list = []  # the pending networks handed to the executor, in order
    # every training stops at the job's hard limit (mid-epoch if need be)
    until = HARD_LIMIT * ctx.job.seconds - SAVE_S
    deadline = None if math.isinf(until) else time.time() + until - ctx.job.elapsed

    def trials():  # lazily: a local executor asks for the next one when the last has finished
        for i, (n, role, g, k) in enumerate(pending):
            left = [f"{r}:{kk}" for _, r, _, kk in pending[i:]]
            if left[0] not in progress.fitting(left):  # the first searched seed always fits
                state["skipped"] += 1
                ctx.reporter.warning(
                    f"final report: {role} cell {k + 1} skipped, it does not fit the job's budget"
                )
                continue
            state["label"] = f"final report: training {role} cell {k + 1} ({n + 1}/{len(jobs)})"
            progress.show(0, 0.0, state["label"])
            seed = ctx.cfg.seed + TRAIN_SEED_OFFSET + (k if role == "searched" else 100 + k)
            started.append((n, role, g, k))
            yield ctx.trial(g, seed, chosen.epochs, "report", deadline)

    results = ctx.run_trials(
        trials(),
        on_epoch=lambda e, s: progress.show(e, s, f"{state['label']}, epoch {e}"),
        until_job_s=until,
    )
    try:
        for i, stats in enumerate(results):  # in the order of `started`
            _record(ctx, started[i], stats, chosen, progress, done)
    except TrialTimeout:
        _, role, _, k = started[-1]
        state["cut"] = f"{role} cell {k + 1} cut: the budget ended during its training"
        ctx.reporter.warning(f"final report: {state['cut']}; it is left out")
    finally:
        results.close()
    notes = [f"{state['skipped']} skipped: budget"] if state["skipped"] else []
    notes += [state["cut"]] if state["cut"] else []
    return _summary(ctx, genotype, search_score, chosen, randoms, done, notes)


def _record(
    ctx: SearchContext,
    network: tuple,
    stats: dict,
    chosen: ReportPlan,
    progress: _Progress,
    done: dict,
) -> None:
    """Log one trained report network (n, role, genotype, k) and checkpoint."""
    _, role, g, k = network
    progress.network_done(f"{role}:{k}", stats["seconds"])
    done[f"{role}:{k}"] = stats["val_acc"]
    ctx.log_architecture(
        g,
        stats["val_acc"],
        "final",
        None,
        role=role,
        repeat=k,
        report_epochs=chosen.epochs,
        backbone_latency_ms=ctx.backbone_latency(g),
        score_source="retrained from scratch, proxy val split",
    )
    ctx.save()


def _summary(
    ctx: SearchContext,
    genotype: Genotype,
    search_score: float,
    chosen: ReportPlan,
    randoms: list[Genotype],
    done: dict,
    notes: list[str],
) -> dict:
    cfg, data = ctx.cfg, ctx.data
    searched = spread(
        [done[k] for k in (f"searched:{r}" for r in range(chosen.repeats)) if k in done]
    )
    trained = [k for k in range(len(randoms)) if f"random:{k}" in done]
    rand = spread([done[f"random:{k}"] for k in trained])
    rand["genotypes"] = [randoms[k].to_dict() for k in trained]
    margin = (searched["mean"] - rand["mean"]) if rand["accs"] and searched["accs"] else None
    latency = {
        "image_size": cfg.objective.latency_size,
        "device": str(ctx.device),
        "searched_ms": ctx.backbone_latency(genotype),
        "random_ms": [ctx.backbone_latency(randoms[k]) for k in trained],
    }
    latency["random_mean_ms"] = (
        statistics.fmean(latency["random_ms"]) if latency["random_ms"] else None
    )
    return {
        "strategy": cfg.strategy,
        "genotype": genotype.to_dict(),
        "search_score": search_score,
        "searched": searched,
        "random": rand,
        "margin": margin,
        "beats_random_mean": None if margin is None else margin > 0,
        "objective": cfg.objective.kind,
        "latency": latency,
        "afforded": chosen.describe() + (f" ({'; '.join(notes)})" if notes else ""),
        "asked": ReportPlan(
            cfg.report.repeats, cfg.report.random, cfg.report.epochs, 0.0
        ).describe(),
        "budget": {
            "report_epochs": chosen.epochs,
            "C": cfg.network.C,
            "layers": cfg.network.layers,
            "image_size": data.size,
            "train_crops": len(data.train_y),
            "val_crops": len(data.val_y),
            "batch_size": cfg.child.batch_size,
            "lr": cfg.child.learning_rate,
            "optimizer": cfg.child.optimizer,
        },
    }
