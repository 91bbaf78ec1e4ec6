"""Random search: the baseline (Li & Talwalkar 2019) - uniform samples of the cell space,
evaluated and budgeted exactly as regularised evolution (core.nas.strategies.sampling)."""

from __future__ import annotations

from core.nas.space import sample_genotype
from core.nas.strategies.base import SearchContext, SearchOutcome
from core.nas.strategies.sampling import run_sampling


def search(ctx: SearchContext) -> SearchOutcome:
    cfg = ctx.cfg

    def propose(rng, history, state):
        return sample_genotype(rng, cfg.nodes, cfg.skip_cap), {}

    return run_sampling(ctx, propose, "random")
