"""The honest final report of a search: the searched cell retrained from scratch beside K random
cells under the same budget (the random-search baseline argument of Li & Talwalkar 2019 and
Yang et al. 2020, "NAS evaluation is frustratingly hard").

Every network is a fresh `CifarNetwork` (the proxy C and layers) trained on the whole proxy
train split (batch `net_batch_size`, lr `net_lr`) and scored on the proxy val split, which the
search never saw. The searched genotype is trained with `report.repeats` seeds, the random
genotypes (seeded, same skip cap) with one seed each, all for the same epochs. With a time
budget the report trains what it can afford in the job's time left (core.nas.planning.afford,
from the measured step time of the searched cell and of the random ones): fewer epochs, then
fewer networks; the report says so ("afforded"). The report is written whatever the outcome:
{"searched": {"mean", "std", "accs"}, "random": {"mean", "std", "accs", "genotypes"},
"margin": searched mean - random mean, "genotype", "afforded", "budget", "latency": the
backbone latency (ms, `latency_size` px, the job's device) of the searched and random cells,
...}. Each finished
training is checkpointed, so an interrupted report resumes where it stopped.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import asdict

import torch

from core.nas.genotypes import Genotype
from core.nas.planning import ReportPlan, afford, duration, plan
from core.nas.proxy import epoch_seconds, spread, step_seconds
from core.nas.space import sample_genotype
from core.nas.strategies.base import SAVE_S, SearchContext

RANDOM_SEED_OFFSET = 7919  # random report cells come from their own seeded stream
TRAIN_SEED_OFFSET = 104729
HARD_LIMIT = 1.05  # a random cell is skipped when it would end the job past 105 % of its budget
TIMED_RANDOM_CELLS = 2  # random cells timed before the search to plan the report


def report_genotypes(ctx: SearchContext) -> list[Genotype]:
    """The K random genotypes of the report (deterministic in the config seed)."""
    rng = random.Random(ctx.cfg.seed + RANDOM_SEED_OFFSET)
    return [sample_genotype(rng, ctx.cfg.nodes, ctx.cfg.skip_cap)
            for _ in range(ctx.cfg.report.random)]


def timed_epoch_s(ctx: SearchContext, genotype: Genotype) -> float:
    """Measured seconds of one report epoch of `genotype` (training and evaluation) on the job's
    device; the torch RNG is left as it was (timing must not shift a seeded search)."""
    state = torch.get_rng_state()
    try:
        step = step_seconds(ctx.network(genotype), ctx.data.train_x, ctx.data.train_y,
                            ctx.train_settings(1))
    finally:
        torch.set_rng_state(state)
    return epoch_seconds(step, len(ctx.data.train_y), len(ctx.data.val_y),
                         ctx.cfg.net_batch_size)


def measured_plan(ctx: SearchContext) -> dict:
    """The job plan (core.nas.planning.plan) from the measured epoch time of random cells."""
    cells = report_genotypes(ctx)[:TIMED_RANDOM_CELLS] or \
        [sample_genotype(random.Random(ctx.cfg.seed + RANDOM_SEED_OFFSET), ctx.cfg.nodes,
                         ctx.cfg.skip_cap)]
    epoch_s = statistics.fmean(timed_epoch_s(ctx, g) for g in cells)
    return plan(ctx.cfg, epoch_s=epoch_s, train_crops=len(ctx.data.train_y),
                val_crops=len(ctx.data.val_y), elapsed_s=ctx.job.elapsed)


def _afforded(ctx: SearchContext, genotype: Genotype) -> tuple[ReportPlan, float]:
    """What the report trains (resumed: what it planned) and its estimated seconds per epoch."""
    saved = ctx.run_state.report.get("plan")
    if saved is not None:
        return ReportPlan(**saved["report"]), saved["epoch_s"]
    searched_s = timed_epoch_s(ctx, genotype)
    random_s = ctx.plan["epoch_s"] if ctx.plan else searched_s
    r = ctx.cfg.report
    epoch_s = (r.repeats * searched_s + r.random * random_s) / max(1, r.repeats + r.random)
    left = ctx.job.remaining - SAVE_S if math.isfinite(ctx.job.seconds) else math.inf
    chosen = afford(max(0.0, left), epoch_s, r)
    ctx.run_state.report["plan"] = {"report": asdict(chosen), "epoch_s": epoch_s}
    ctx.reporter.info(f"final report: {chosen.describe()}, about {duration(chosen.seconds)}"
                      + ("" if math.isinf(left) else f" of the {duration(left)} left"))
    return chosen, epoch_s


class _Progress:
    """Whole-job progress during the report, from the measured seconds per epoch; decides which
    random cells still fit the job's budget (HARD_LIMIT of it), so that the ETA counts only the
    networks that will be trained."""

    def __init__(self, ctx: SearchContext, chosen: ReportPlan, epoch_s: float):
        self.ctx, self.epochs, self.epoch_s = ctx, chosen.epochs, epoch_s
        self.measured: list[float] = []   # seconds per epoch of the finished networks
        self.roles_left: list[str] = []   # roles of the networks not finished, current first
        self.networks_left = chosen.networks

    def _rate(self, current: float | None = None) -> float:
        rates = self.measured + ([current] if current is not None else [])
        return statistics.fmean(rates) if rates else self.epoch_s

    def _fit(self, roles: list[str], room: float, per_network: float) -> int:
        """Networks of `roles` that fit `room` seconds: every searched seed, then random cells."""
        searched = roles.count("searched")
        randoms = len(roles) - searched
        if math.isfinite(room):
            randoms = min(randoms, max(0, int((room - searched * per_network) // per_network)))
        return searched + randoms

    def _room(self) -> float:
        return HARD_LIMIT * self.ctx.job.seconds - self.ctx.job.elapsed - SAVE_S

    def fitting(self, roles_left: list[str]) -> int:
        """How many of the networks still to train (the next one first) fit the budget."""
        self.roles_left = list(roles_left)
        self.networks_left = self._fit(roles_left, self._room(), self.epochs * self._rate())
        return self.networks_left

    def show(self, epochs_done: int, seconds: float, message: str) -> None:
        from core.engine.eta import time_fraction

        current = seconds / epochs_done if epochs_done else None
        rate = self._rate(current)
        now = (self.epochs - epochs_done) * (current if current is not None else rate)
        later = self._fit(self.roles_left[1:], self._room() - now, self.epochs * rate)
        self.networks_left = 1 + later
        remaining = now + later * self.epochs * rate + SAVE_S
        self.ctx.reporter.progress(time_fraction(self.ctx.job.elapsed, remaining), message,
                                   remaining_s=remaining, measured=True)

    def network_done(self, seconds: float) -> None:
        self.measured.append(seconds / self.epochs)


def final_report(ctx: SearchContext, genotype: Genotype, search_score: float) -> dict:
    """Train and score the searched and random genotypes; returns the report dict.

    The trainings go through the job's executor: a local one trains them one by one, each
    decided (does it fit the budget?) just before it starts; Ray decides for all at submission
    and trains them at once. Each is seeded on its own, so the numbers do not depend on it."""
    chosen, epoch_s = _afforded(ctx, genotype)
    randoms = report_genotypes(ctx)[:chosen.random]
    jobs = [("searched", genotype, r) for r in range(chosen.repeats)]
    jobs += [("random", g, k) for k, g in enumerate(randoms)]
    done: dict = ctx.run_state.report.setdefault("accs", {})
    pending = [(n, role, g, k) for n, (role, g, k) in enumerate(jobs) if f"{role}:{k}" not in done]
    progress = _Progress(ctx, chosen, epoch_s)
    state = {"skipped": 0, "label": ""}

    def trials():  # lazily: a local executor asks for the next one when the last has finished
        for i, (n, role, g, k) in enumerate(pending):
            left = [r for _, r, _, _ in pending[i:]]
            if progress.fitting(left) == 0:  # searched seeds always fit: only random cells go
                state["skipped"] = len(left)
                ctx.reporter.warning(f"final report: {len(left)} random cell(s) skipped, the "
                                     "job's budget ran out")
                return
            state["label"] = f"final report: training {role} cell {k + 1} ({n + 1}/{len(jobs)})"
            progress.show(0, 0.0, state["label"])
            seed = ctx.cfg.seed + TRAIN_SEED_OFFSET + (k if role == "searched" else 100 + k)
            yield ctx.trial(g, seed, chosen.epochs, "report")

    results = ctx.run_trials(trials(), on_epoch=lambda e, s: progress.show(
        e, s, f"{state['label']}, epoch {e}"))
    try:
        for (n, role, g, k), stats in zip(pending, results):
            progress.network_done(stats["seconds"])
            done[f"{role}:{k}"] = stats["val_acc"]
            ctx.log_architecture(g, stats["val_acc"], "final", None, role=role, repeat=k,
                                 report_epochs=chosen.epochs,
                                 backbone_latency_ms=ctx.backbone_latency(g),
                                 score_source="retrained from scratch, proxy val split")
            ctx.save()
    finally:
        results.close()
    return _summary(ctx, genotype, search_score, chosen, randoms, done, state["skipped"])


def _summary(ctx: SearchContext, genotype: Genotype, search_score: float, chosen: ReportPlan,
             randoms: list[Genotype], done: dict, skipped: int) -> dict:
    cfg, data = ctx.cfg, ctx.data
    searched = spread([done[f"searched:{r}"] for r in range(chosen.repeats)])
    trained = [k for k in range(len(randoms)) if f"random:{k}" in done]
    rand = spread([done[f"random:{k}"] for k in trained])
    rand["genotypes"] = [randoms[k].to_dict() for k in trained]
    margin = (searched["mean"] - rand["mean"]) if rand["accs"] else None
    latency = {"image_size": cfg.latency_size, "device": str(ctx.device),
               "searched_ms": ctx.backbone_latency(genotype),
               "random_ms": [ctx.backbone_latency(randoms[k]) for k in trained]}
    latency["random_mean_ms"] = statistics.fmean(latency["random_ms"]) \
        if latency["random_ms"] else None
    return {
        "strategy": cfg.strategy,
        "genotype": genotype.to_dict(),
        "search_score": search_score,
        "searched": searched,
        "random": rand,
        "margin": margin,
        "beats_random_mean": None if margin is None else margin >= 0,
        "objective": cfg.objective,
        "latency": latency,
        "afforded": chosen.describe() + (f" ({skipped} skipped: budget)" if skipped else ""),
        "asked": ReportPlan(cfg.report.repeats, cfg.report.random, cfg.report.epochs,
                            0.0).describe(),
        "budget": {"report_epochs": chosen.epochs, "C": cfg.C, "layers": cfg.layers,
                   "image_size": data.size, "train_crops": len(data.train_y),
                   "val_crops": len(data.val_y), "batch_size": cfg.net_batch_size,
                   "lr": cfg.net_lr},
    }
