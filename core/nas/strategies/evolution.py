"""Regularised (aging) evolution (Real, Aggarwal, Huang, Le, AAAI 2019, algorithm 1).

The population starts with P uniform random cells. Then each cycle samples S members uniformly,
takes the best of the sample as parent, mutates one op or one input of one cell
(core.nas.space.mutate), trains and scores the child, adds it to the population and removes the
OLDEST member (not the worst): aging favours architectures that stay good when retrained. Every
candidate is evaluated like random search's (core.nas.strategies.sampling); P = `population`,
S = `sample_size`.
"""

from __future__ import annotations

from core.nas.space import mutate, sample_genotype
from core.nas.genotypes import Genotype
from core.nas.strategies.base import SearchContext, SearchOutcome
from core.nas.strategies.sampling import run_sampling


def search(ctx: SearchContext) -> SearchOutcome:
    cfg = ctx.cfg

    def propose(rng, history, state):
        population = state.setdefault("population", [])  # indices into history, oldest first
        if len(history) < cfg.population:
            return sample_genotype(rng, cfg.nodes, cfg.skip_cap), {"origin": "initial"}
        sample = rng.sample(population, cfg.sample_size)
        parent = max(sample, key=lambda i: history[i]["score"])
        child, change = mutate(Genotype.from_dict(history[parent]["genotype"]), rng,
                               cfg.skip_cap)
        return child, {"origin": "mutation", "parent": parent,
                       "parent_arch_id": history[parent]["arch_id"], "mutation": change}

    def after(state, record):
        population = state.setdefault("population", [])
        population.append(len(state["history"]) - 1)
        if len(population) > cfg.population:
            population.pop(0)  # aging: the oldest dies

    return run_sampling(ctx, propose, "evolution", after)
