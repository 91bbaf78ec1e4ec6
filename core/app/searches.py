"""Searches as a screen or a CLI verb sees them: the found cell and the best cell so far, the
roles of the architecture rows, the searches that have a cell to show, the plan line, and the
published cells to compare with. The meaning lives in core.nas.results; this is the door."""

from __future__ import annotations

from core.nas.config import STRATEGIES, SearchConfig
from core.nas.genotypes import PUBLISHED_GENOTYPES, Genotype, published
from core.nas.results import (
    ROLE_OF_KIND,
    ROLES,
    arch_role,
    architectures,
    cells_trained,
    proxy_accuracy,
    search_best,
    search_cells,
    searched_architecture,
    searched_genotype,
)
from core.nas.tasks import plan_line

__all__ = [
    "STRATEGIES",
    "SearchConfig",
    "PUBLISHED_GENOTYPES",
    "ROLES",
    "ROLE_OF_KIND",
    "Genotype",
    "arch_role",
    "architectures",
    "cells_trained",
    "plan_line",
    "proxy_accuracy",
    "published",
    "search_best",
    "search_cells",
    "searched_architecture",
    "searched_genotype",
]
