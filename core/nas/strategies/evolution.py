"""Regularised (aging) evolution (Real, Aggarwal, Huang, Le, AAAI 2019, algorithm 1).

The population starts with P uniform random cells (with `warm_start = "zero-cost"`: the P
best-ranked of the cells scored by the training-free proxies, core.nas.strategies.zero_cost).
Then each cycle samples S members uniformly, takes the best of the sample as parent, mutates one
op or one input of one cell (core.nas.space.mutate), trains and scores the child, adds it to the
population and removes the OLDEST member (not the worst): aging favours architectures that stay
good when retrained. Every candidate is evaluated like random search's
(core.nas.strategies.sampling); P = `evolution.population`, S = `evolution.sample_size`.
The initial cells are trained as many at once as the executor has slots; after them each round
proposes `evolution.parallel` children from the same population (1: algorithm 1 exactly; more:
the synchronous form of the paper's many parallel workers, the same on every executor).
"""

from __future__ import annotations

import random

from core.nas.genotypes import Genotype
from core.nas.search_context import SearchContext, SearchOutcome
from core.nas.space import mutate, sample_genotype
from core.nas.strategies.sampling import run_sampling
from core.nas.strategies.zero_cost import warm_ranking


def age_population(population: list[int], newest: int, size: int) -> list[int]:
    """Aging: append the newest member (an index into the history); when the population is
    over `size`, the OLDEST member dies (the first), whatever its score."""
    population.append(newest)
    if len(population) > size:
        population.pop(0)
    return population


def tournament(
    rng: random.Random, population: list[int], history: list[dict], sample_size: int
) -> int:
    """The parent: the best-scored of `sample_size` members drawn uniformly without replacement."""
    return max(rng.sample(population, sample_size), key=lambda i: history[i]["score"])


def search(ctx: SearchContext) -> SearchOutcome:
    cfg, evo = ctx.cfg, ctx.cfg.evolution
    warm: list[dict] = []
    if cfg.warm_start == "zero-cost":
        ctx.run_state.search = ctx.state or {"history": [], "done": False}
        warm = warm_ranking(ctx, ctx.run_state.search)

    def propose(rng, history, state):
        population = state.setdefault("population", [])  # indices into history, oldest first
        if len(history) < evo.population:
            if len(history) < len(warm):
                record = warm[len(history)]
                return (
                    Genotype.from_dict(record["genotype"]),
                    {
                        "origin": "zero-cost",
                        "rank": record["rank"],
                        "candidate_arch_id": record["arch_id"],
                    },
                )
            return sample_genotype(rng, cfg.network.nodes, cfg.network.skip_cap), {
                "origin": "initial"
            }
        parent = tournament(rng, population, history, evo.sample_size)
        child, change = mutate(
            Genotype.from_dict(history[parent]["genotype"]), rng, cfg.network.skip_cap
        )
        return child, {
            "origin": "mutation",
            "parent": parent,
            "parent_arch_id": history[parent]["arch_id"],
            "mutation": change,
        }

    def after(state, record):
        age_population(
            state.setdefault("population", []), len(state["history"]) - 1, evo.population
        )

    def width(history, state):  # the initial cells do not wait for results; then `parallel`
        if len(history) < evo.population:
            return min(ctx.executor.slots, evo.population - len(history))
        return evo.parallel

    return run_sampling(ctx, propose, "evolution", after, width)
