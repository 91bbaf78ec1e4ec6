"""Search by training sampled architectures one by one: the loop shared by regularised evolution
and random search, so both get the same evaluation and budget (Real et al. 2019 compare them
exactly this way, section 3).

Each candidate is a fresh proxy network trained `child_epochs` on the search-train half and scored
on the search-val half (seeded per candidate), logged as kind "sampled" with its score (its
accuracy, or the MnasNet reward with the accuracy-latency objective: SearchContext.objective),
and followed by a checkpoint: one candidate is one "generation" of aging evolution. The budget
is `samples` candidates or the plan's search share of `minutes`, whichever ends first; a
candidate cut by the budget is dropped.
"""

from __future__ import annotations

import random
from typing import Callable

import torch

from core.errors import SearchError
from core.nas.genotypes import Genotype
from core.nas.proxy import train_and_score
from core.nas.strategies.base import SearchContext, SearchOutcome, rng_state, set_rng_state

# propose(rng, history, state) -> (genotype, extra dict for the log)
Proposer = Callable[[random.Random, list[dict], dict], tuple[Genotype, dict]]


class BudgetCut(Exception):
    """The time budget ran out while a candidate was training."""


def evaluate_candidate(ctx: SearchContext, genotype: Genotype, index: int) -> dict:
    """Train a fresh proxy network of `genotype` and score it; raises BudgetCut on time-out."""
    cfg, data = ctx.cfg, ctx.data

    def check() -> None:
        ctx.check_stop()
        if ctx.budget.exhausted():
            raise BudgetCut

    seed = cfg.seed * 100_003 + index
    torch.manual_seed(seed)
    return train_and_score(ctx.network(genotype).to(ctx.device), (data.search_train_x, data.search_train_y),
                           (data.search_val_x, data.search_val_y),
                           ctx.train_settings(cfg.child_epochs), seed, check)


def run_sampling(ctx: SearchContext, propose: Proposer, name: str,
                 after: Callable[[dict, dict], None] | None = None) -> SearchOutcome:
    """Propose, train and score candidates until the budget ends; the best score wins.

    `after(state, record)` updates the strategy's own state (e.g. the population) per candidate.
    """
    cfg = ctx.cfg
    rng = random.Random(cfg.seed)
    st = ctx.state or {"history": [], "done": False}
    if "rng" in st:  # a checkpoint after at least one candidate (a warm start saves before)
        set_rng_state(st["rng"], rng)
        ctx.reporter.info(f"{name}: resumed after {len(st['history'])} candidates")
    total = cfg.max_samples
    while not st["done"] and len(st["history"]) < total:
        index = len(st["history"])
        genotype, extra = propose(rng, st["history"], st)
        try:
            stats = evaluate_candidate(ctx, genotype, index)
        except BudgetCut:
            st["done"] = True
            if not st["history"]:  # no time for one training: the answer is an untrained draw
                ctx.reporter.warning(f"{name}: the search budget ended before the first "
                                     "candidate was trained; its first draw is the answer")
                return SearchOutcome(genotype, 0.0, f"{name}: untrained first draw (no time "
                                     "to train a candidate)")
            break
        score, objective = ctx.objective(genotype, stats["val_acc"])
        record = {"genotype": genotype.to_dict(), "score": score, **extra}
        record["arch_id"] = ctx.log_architecture(
            genotype, score, "sampled", index, train_acc=stats["train_acc"],
            seconds=round(stats["seconds"], 2), **extra, **objective,
            score_source="trained from scratch, search-val half")
        st["history"].append(record)
        if after is not None:
            after(st, record)
        best = max(r["score"] for r in st["history"])
        ctx.epoch_metrics(index, train_acc=stats["train_acc"], val_acc=stats["val_acc"],
                          best_score=best)
        st["done"] = ctx.budget.exhausted()
        st["rng"] = rng_state(rng)
        ctx.save(st)
        ctx.progress(max((index + 1) / total, ctx.budget.fraction()),
                     f"{name}: {index + 1}/{total} candidates, best {best:.3f}")
    if not st["history"]:
        raise SearchError(f"{name} ended before the first candidate was scored; give it a "
                          "larger budget (--minutes) or a smaller proxy (--fast)")
    best = max(st["history"], key=lambda r: r["score"])
    return SearchOutcome(Genotype.from_dict(best["genotype"]), best["score"],
                         f"best of {len(st['history'])} candidates (#{st['history'].index(best)})")
