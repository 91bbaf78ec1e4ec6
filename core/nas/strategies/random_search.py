"""Random search: the baseline (Li & Talwalkar 2019) - uniform samples of the cell space,
evaluated and budgeted exactly as regularised evolution (core.nas.strategies.sampling).

With `warm_start = "zero-cost"` the training-free proxies act as a filter (Abdelfattah et al.
2021, section 5): cells are scored first (core.nas.strategies.zero_cost.warm_ranking), the best
`zero_cost.keep` share of them is trained in rank order, then uniform samples follow if the
budget is not spent."""

from __future__ import annotations

import math

from core.nas.genotypes import Genotype
from core.nas.search_context import SearchContext, SearchOutcome
from core.nas.space import sample_genotype
from core.nas.strategies.sampling import run_sampling
from core.nas.strategies.zero_cost import warm_ranking


def search(ctx: SearchContext) -> SearchOutcome:
    cfg = ctx.cfg
    kept: list[dict] = []
    if cfg.warm_start == "zero-cost":
        ctx.run_state.search = ctx.state or {"history": [], "done": False}
        ranked = warm_ranking(ctx, ctx.run_state.search)
        kept = ranked[: max(1, math.ceil(cfg.zero_cost.keep * len(ranked)))]

    def propose(rng, history, state):
        if len(history) < len(kept):
            record = kept[len(history)]
            return (
                Genotype.from_dict(record["genotype"]),
                {
                    "origin": "zero-cost filter",
                    "rank": record["rank"],
                    "candidate_arch_id": record["arch_id"],
                },
            )
        return sample_genotype(rng, cfg.network.nodes, cfg.network.skip_cap), {}

    # proposals never wait for results: a round fills every slot of the executor
    return run_sampling(
        ctx, propose, "random", after=None, width=lambda history, state: ctx.executor.slots
    )
