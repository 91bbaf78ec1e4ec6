"""Search by training sampled architectures: the loop shared by regularised evolution and
random search, so both get the same evaluation and budget (Real et al. 2019 compare them exactly
this way, section 3).

Each candidate is a fresh proxy network trained `child.epochs` on the search-train half and scored
on the search-val half (seeded per candidate), logged as kind "sampled" with its score (its
accuracy, or the MnasNet reward with the accuracy-latency objective: SearchContext.objective),
and followed by a checkpoint: one candidate is one "generation" of aging evolution. The budget
is `samples` candidates or the plan's search share of `minutes`, whichever ends first; a
candidate cut by the budget is dropped.

Candidates are proposed in rounds of `width(history, state)` (the strategy says how many can be
proposed before the next result is known: random search any number, evolution its initial
population, then `evolution.parallel`) and trained through the job's executor (core.nas.execution):
a local one trains them one by one, Ray at once. Rounds are part of the algorithm, not of the
executor, so a seed gives the same search on both; the round still to train is checkpointed.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator

from core.errors import SearchError
from core.nas.genotypes import Genotype
from core.nas.search_context import SearchContext, SearchOutcome, rng_state, set_rng_state
from core.nas.trials import TrialTimeout

# propose(rng, history, state) -> (genotype, extra dict for the log)
Proposer = Callable[[random.Random, list[dict], dict], tuple[Genotype, dict]]


# width(history, state) -> how many candidates the next round may propose
Width = Callable[[list[dict], dict], int]
BudgetCut = TrialTimeout  # the time budget ran out while a candidate was training
CANDIDATE_SEED = 100_003  # candidate i trains with seed * CANDIDATE_SEED + i


def candidate_trial(ctx: SearchContext, genotype: Genotype, index: int, epochs: int | None = None):
    """Candidate `index`: `epochs` (default `child.epochs`) on the search-train half, scored on
    the search-val half, seeded by (seed, index); it stops (BudgetCut) when the search budget
    ends."""
    remaining = ctx.budget.remaining
    deadline = time.time() + remaining if math.isfinite(remaining) else None
    return ctx.trial(
        genotype,
        ctx.cfg.seed * CANDIDATE_SEED + index,
        epochs or ctx.cfg.child.epochs,
        "search",
        deadline,
    )


def evaluate_candidates(
    ctx: SearchContext, candidates: list[tuple[Genotype, int]], epochs: int | None = None
) -> Iterator[dict]:
    """Train and score (genotype, index) candidates on the job's executor; stats in order."""
    return ctx.run_trials(candidate_trial(ctx, g, i, epochs) for g, i in candidates)


def run_sampling(
    ctx: SearchContext,
    propose: Proposer,
    name: str,
    after: Callable[[dict, dict], None] | None = None,
    width: Width | None = None,
) -> SearchOutcome:
    """Propose, train and score candidates until the budget ends; the best score wins.

    `after(state, record)` updates the strategy's own state (e.g. the population) per candidate;
    `width` sizes the rounds (default: one candidate at a time)."""
    rng = random.Random(ctx.cfg.seed)
    st = ctx.state or {"history": [], "done": False}
    if "rng" in st:  # a checkpoint after at least one candidate (a warm start saves before)
        set_rng_state(st["rng"], rng)
        ctx.reporter.info(f"{name}: resumed after {len(st['history'])} candidates")
    total = ctx.cfg.max_samples
    while not st["done"] and len(st["history"]) < total:
        if not st.get("pending"):
            n = min(total - len(st["history"]), max(1, width(st["history"], st) if width else 1))
            st["pending"] = _propose_round(rng, propose, st, n)
            st["rng"] = rng_state(rng)
        first = len(st["history"])
        round_ = [(Genotype.from_dict(p["genotype"]), p["extra"]) for p in st["pending"]]
        results = evaluate_candidates(ctx, [(g, first + j) for j, (g, _) in enumerate(round_)])
        try:
            for j, stats in enumerate(results):
                _record(ctx, st, *round_[j], stats, first + j, name, after, total)
                if st["done"]:  # the budget ended: the round's later candidates are dropped
                    break
        except BudgetCut:
            st["done"], st["pending"] = True, []
            if not st["history"]:  # no time for one training: the answer is an untrained draw
                ctx.reporter.warning(
                    f"{name}: the search budget ended before the first "
                    "candidate was trained; its first draw is the answer"
                )
                return SearchOutcome(
                    round_[0][0],
                    0.0,
                    f"{name}: untrained first draw (no time to train a candidate)",
                )
        finally:
            results.close()  # Ray: cancels what is still running
    if not st["history"]:
        raise SearchError(
            f"{name} ended before the first candidate was scored; give it a "
            "larger budget (--minutes) or a smaller proxy (--fast)"
        )
    best = max(st["history"], key=lambda r: r["score"])
    return SearchOutcome(
        Genotype.from_dict(best["genotype"]),
        best["score"],
        f"best of {len(st['history'])} candidates (#{st['history'].index(best)})",
    )


def _propose_round(rng: random.Random, propose: Proposer, st: dict, n: int) -> list[dict]:
    """n proposals from the same history; each sees the round's earlier ones as pending
    entries after the history (so len(history) is its own index)."""
    pending: list[dict] = []
    for _ in range(n):
        genotype, extra = propose(rng, st["history"] + pending, st)
        pending.append({"genotype": genotype.to_dict(), "extra": extra})
    return pending


def _record(
    ctx: SearchContext,
    st: dict,
    genotype: Genotype,
    extra: dict,
    stats: dict,
    index: int,
    name: str,
    after: Callable[[dict, dict], None] | None,
    total: int,
) -> None:
    """Log one trained candidate, update the strategy's state, checkpoint, report progress."""
    score, objective = ctx.objective(genotype, stats["val_acc"])
    record = {"genotype": genotype.to_dict(), "score": score, "accuracy": stats["val_acc"], **extra}
    record["arch_id"] = ctx.log_architecture(
        genotype,
        score,
        "sampled",
        index,
        train_acc=stats["train_acc"],
        seconds=round(stats["seconds"], 2),
        **extra,
        **objective,
        score_source="trained from scratch, search-val half",
    )
    st["history"].append(record)
    st["pending"].pop(0)
    if after is not None:
        after(st, record)
    top = max(st["history"], key=lambda r: r["score"])
    ctx.epoch_metrics(
        index, train_acc=stats["train_acc"], val_acc=stats["val_acc"], best_score=top["score"]
    )
    st["done"] = ctx.budget.exhausted()
    ctx.save(st)
    # with a time budget the count cap is rarely reached: "2/100" would promise a long wait
    done = f"{index + 1}" if math.isfinite(ctx.budget.seconds) else f"{index + 1}/{total}"
    ctx.progress(
        max((index + 1) / total, ctx.budget.fraction()),
        f"{name}: {done} cells trained, the best one "
        f"{100 * top.get('accuracy', top['score']):.0f}% proxy accuracy",
    )
