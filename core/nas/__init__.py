"""Neural architecture search in the NASNet/DARTS cell space.

operations (op table, PRIMITIVES) -> genotypes (Genotype, PUBLISHED_GENOTYPES) -> network
(CifarNetwork) and supernet (SuperNet, derive rule) -> strategies (darts, enas, evolution, random,
zero-cost with the training-free scores of core.nas.zero_cost_scores) on the proxy task
(proxy_training) -> report (searched vs random) -> backbone (NasBackbone for the detector). The
`search` job kind is core.nas.tasks:SEARCH; the CLI verb is in core.nas.cli. `plan(config)`
(core.nas.planning) is the planned split of a search job's minutes, shown before the start.
"""

from core.nas.planning import plan

__all__ = ["plan"]
