"""Search job configuration: frozen dataclasses validated by the one spec layer (core.spec).

Imported at submit time (validation), so it must stay cheap: no torch here.

`SearchConfig` holds what identifies the job at its top level (dataset, strategy, seed, the
`minutes` budget, epochs or samples, warm start) and its options nested by concern, each a frozen
dataclass: what every strategy shares (core.nas.config_groups: `crops`, `network`, `supernet`,
`child`, `objective`, `execution`) and each strategy's own plus the final report's
(core.nas.strategy_configs: `darts`, `enas`, `evolution`, `zero_cost`, `report`). A spec gives
nested fields as objects ({"report": {"epochs": 3}}) or dotted keys ("report.epochs": 3); the
stored spec is the nested form. Defaults follow the papers scaled to a 2-core CPU (see the two
modules).

`minutes` bounds the whole job (search, final report, saving; core.nas.planning splits it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core import spec as speclib
from core.errors import SpecError
from core.nas.config_groups import (
    ChildConfig,
    CropsConfig,
    ExecutionConfig,
    NetworkConfig,
    ObjectiveConfig,
    SupernetConfig,
)
from core.nas.execution.ray_address import parse_address
from core.nas.strategy_configs import (  # noqa: F401 (re-exported: SearchConfig nests them)
    PROXIES,
    DartsConfig,
    EnasConfig,
    EvolutionConfig,
    ReportConfig,
    ZeroCostConfig,
    parse_names,
)
from core.spec import param

STRATEGIES = ("darts", "enas", "evolution", "random", "zero-cost")
DEFAULT_EPOCHS = {"darts": 50, "enas": 50}  # cut short by `minutes` on a CPU
DEFAULT_SAMPLES = 100  # evolution / random: architectures trained and evaluated


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search job needs; every field is shown and editable in the GUI."""

    dataset: str | None = param(
        None, help="dataset name in the store (the proxy crops)", label="Dataset"
    )
    proxy_path: str | None = param(
        None, help="or a .pt file of proxy tensors", label="Proxy tensors file", unit=".pt"
    )
    strategy: str = param(
        "zero-cost",
        choices=STRATEGIES,
        help=(
            "search strategy (default: the one ahead of its random cells at a 4-minute CPU "
            "budget, docs/BENCHMARKS.md 'Search at short budgets')"
        ),
        label="Strategy",
    )
    seed: int = param(0, lo=0, hi=2**31 - 1, label="Random seed")
    minutes: float | None = param(
        10.0,
        gt=0,
        hi=100_000,
        help=("wall-clock budget of the whole job: search, report, saving (empty: no limit)"),
        label="Time budget",
        unit="minutes",
    )
    epochs: int | None = param(
        None,
        lo=1,
        hi=100_000,
        help="darts/enas epochs (default 50)",
        label="Search epochs",
        unit="DARTS/ENAS",
    )
    samples: int | None = param(
        None,
        lo=1,
        hi=100_000,
        help=("evolution/random: architectures trained (default 100); zero-cost: cells scored"),
        label="Architectures to try",
        unit="evolution/random; zero-cost: cells scored",
    )
    warm_start: Literal["none", "zero-cost"] = param(
        "none",
        help=(
            "evolution: initial population from the zero-cost ranking; random: keep its top share"
        ),
        label="Warm start",
    )
    # shared by every strategy, one group per concern (core.nas.config_groups)
    crops: CropsConfig = param(CropsConfig())
    network: NetworkConfig = param(NetworkConfig())
    supernet: SupernetConfig = param(SupernetConfig())
    child: ChildConfig = param(ChildConfig())
    objective: ObjectiveConfig = param(ObjectiveConfig())
    execution: ExecutionConfig = param(ExecutionConfig())
    # per strategy, and the final report
    darts: DartsConfig = param(DartsConfig())
    enas: EnasConfig = param(EnasConfig())
    evolution: EvolutionConfig = param(EvolutionConfig())
    zero_cost: ZeroCostConfig = param(ZeroCostConfig())
    report: ReportConfig = param(ReportConfig())

    def __post_init__(self) -> None:
        self.check()

    # -- derived values ------------------------------------------------------------------------
    @property
    def max_epochs(self) -> int:
        return self.epochs if self.epochs is not None else DEFAULT_EPOCHS.get(self.strategy, 50)

    @property
    def max_samples(self) -> int:
        """Trained candidates (evolution/random) or scored cells (zero-cost)."""
        if self.samples is not None:
            return self.samples
        return self.zero_cost.cells if self.strategy == "zero-cost" else DEFAULT_SAMPLES

    @property
    def budget_s(self) -> float:
        """The whole job's budget in seconds (inf: none)."""
        return math.inf if self.minutes is None else 60.0 * self.minutes

    def to_spec(self) -> dict[str, Any]:
        return speclib.dump(self)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SearchConfig:
        """Validate a job spec (nested objects or dotted keys such as `report.epochs`) -> config;
        raises SpecError."""
        cfg = speclib.load(cls, spec, what="search")
        if not cfg.dataset and not cfg.proxy_path:
            raise SpecError(
                "search: a search needs a dataset: pass --dataset NAME (see "
                "`python -m core data list`)"
            )
        return cfg

    def check(self) -> None:
        """Checks across fields (each field's own bounds are checked by core.spec.load)."""
        crops, net, ex, evo = self.crops, self.network, self.execution, self.evolution
        if crops.size < 8 or crops.size % 4:
            raise SpecError(
                f"search: crops.image_size={crops.size}: must be a multiple of 4 and >= 8"
            )
        if net.C % 2:
            raise SpecError(
                f"search: network.C={net.C}: must be even (factorized reduce halves it)"
            )
        if net.C % self.darts.partial_channels:
            raise SpecError(
                f"search: darts.partial_channels={self.darts.partial_channels}: must divide "
                f"network.C={net.C}"
            )
        if evo.sample_size > evo.population:
            raise SpecError(
                f"search: evolution.sample_size={evo.sample_size}: must be <= "
                f"evolution.population ({evo.population})"
            )
        if ex.ray_address and ex.executor != "ray":
            raise SpecError(
                f"search: execution.ray_address={ex.ray_address!r}: needs execution.executor=ray "
                "(--executor ray)"
            )
        if ex.ray_address:
            try:
                parse_address(ex.ray_address)
            except SpecError as exc:
                raise SpecError(f"search: {exc}") from None
        if net.skip_cap > 2 * net.nodes:
            raise SpecError(
                f"search: network.skip_cap={net.skip_cap}: must be <= {2 * net.nodes} (two ops "
                "per node)"
            )
