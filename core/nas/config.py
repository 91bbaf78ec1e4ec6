"""Search job configuration: frozen dataclasses validated by the one spec layer (core.spec).

Imported at submit time (validation), so it must stay cheap: no torch here.

`SearchConfig` holds what every strategy shares (data, proxy networks, weight optimiser, budget,
objective) and one nested dataclass per strategy (`darts`, `enas`, `evolution`, `zero_cost`)
plus the final report's (`report`). Defaults follow the papers scaled to a 2-core CPU: a DARTS
supernet of C=8 initial channels and 5 cells (reductions at cells 1 and 3) on 32x32 object crops
(16x16 in fast mode), 4 intermediate nodes per cell, the DARTS optimiser settings (weights: SGD
0.025 cosine to 0.001, momentum 0.9, weight decay 3e-4, gradient clip 5; alphas: Adam 3e-4,
betas (0.5, 0.999), weight decay 1e-3; discrete networks: AdamW 3e-3), ENAS controller
settings from Pham et al. 2018 (LSTM 64, Adam 3.5e-3, tanh constant 2.5, temperature 5,
baseline decay 0.99), aging evolution (Real et al. 2019) with a small population, and
zero-cost pre-ranking (Abdelfattah et al. 2021, ZiCo).

`minutes` bounds the whole job (search, final report, saving; core.nas.plan splits it).
Specs written before the nesting used flat keys (`report_epochs`, `population`, `warmup`...):
`from_spec` still reads them (LEGACY_KEYS), and dotted keys (`report.epochs`) too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core import spec as speclib
from core.errors import SpecError
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
FAST_IMAGE_SIZE = 16
NET_LR = {"adam": 3e-3, "sgd": 0.1}  # default net_lr per net_optimizer
NESTED = ("darts", "enas", "evolution", "zero_cost", "report")


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
    objective: Literal["accuracy", "accuracy-latency"] = param(
        "accuracy",
        help=("accuracy-latency: MnasNet reward acc * (lat / target)^w (darts: a latency penalty)"),
        label="Objective",
    )
    target_ms: float | None = param(
        None,
        gt=0,
        hi=1e6,
        help=("latency target of the backbone (empty: derived from the device)"),
        label="Latency target",
        unit="ms",
    )
    latency_weight: float = param(
        -0.07, lo=-10, hi=0, help="w of the MnasNet reward", label="Latency weight (MnasNet w)"
    )
    latency_size: int = param(
        256,
        lo=32,
        hi=2048,
        help=("detector input side at which the backbone latency is measured"),
        label="Latency input side",
        unit="pixels",
    )
    # proxy task
    image_size: int = param(
        32, lo=8, hi=256, help="proxy crop side", label="Crop size", unit="pixels"
    )
    fast: bool = param(False, help="16x16 crops: about 4x cheaper", label="Fast mode (16x16 crops)")
    context: float = param(
        0.2,
        lo=0,
        hi=4,
        help="crop margin around each box (share of size)",
        label="Crop margin",
        unit="share of the box size",
    )
    max_per_class: int | None = param(
        100, lo=1, help="crops per class and split", label="Crops per class and split"
    )
    val_fraction: float = param(
        0.5,
        gt=0,
        lt=1,
        help=("share of the proxy train split used for architecture choice"),
        label="Share of crops that choose the cell",
    )
    # networks
    C: int = param(8, lo=2, hi=512, help="initial channels (even)", label="Initial channels")
    layers: int = param(
        5,
        lo=3,
        hi=50,
        help="cells; reductions at 1/3 and 2/3 of the depth",
        label="Cells in the network",
    )
    nodes: int = param(4, lo=1, hi=8, help="intermediate nodes per cell", label="Nodes per cell")
    batch_size: int = param(
        16, lo=2, hi=4096, help="supernet batch", label="Supernet batch", unit="crops"
    )
    threads: int | None = param(
        None,
        lo=1,
        hi=1024,
        help=(
            "torch CPU threads for this job (empty: 1 on a CPU, where the small proxy networks "
            "gain little from more and lose much when other processes share the cores)"
        ),
        label="CPU threads",
    )
    # where the independent trainings (children, zero-cost top-k, report networks) run
    executor: Literal["local", "ray"] = param(
        "local",
        help=(
            "local: in the job's process; ray: as Ray tasks, one GPU or CPU slot each (darts/enas "
            "supernets stay on the job's device)"
        ),
        label="Where trainings run",
    )
    ray_address: str | None = param(
        None,
        help=(
            "Ray cluster to join: auto (this machine's) or the head's HOST:PORT (empty: a local "
            "Ray with the job's slots, stopped at the end)"
        ),
        label="Ray cluster address",
    )
    # weight optimiser (DARTS section 3.1.1)
    lr: float = param(0.025, gt=0, hi=10, label="Learning rate of the weights")
    lr_min: float = param(0.001, lo=0, hi=10, label="Final learning rate")
    momentum: float = param(0.9, lo=0, lt=1, label="Momentum")
    weight_decay: float = param(3e-4, lo=0, hi=1, label="Weight decay")
    grad_clip: float = param(5.0, gt=0, label="Gradient clipping norm")
    # discrete networks: evolution/random children, zero-cost top-k, the final report. AdamW
    # by default: after a candidate's few epochs it already ranks cells much as the longer
    # report training does, where SGD at lr 0.1 leaves short trainings near chance
    # (bench/net_recipe.py; docs/BENCHMARKS.md, "demo_default")
    child_epochs: int = param(
        3,
        lo=1,
        hi=1000,
        help="proxy training of each trained candidate",
        label="Epochs per trained candidate",
    )
    net_batch_size: int = param(32, lo=2, hi=4096, label="Batch of trained cells", unit="crops")
    net_optimizer: Literal["adam", "sgd"] = param(
        "adam",
        help=(
            "optimiser of the discrete networks: adam (AdamW, beta1 = momentum) or sgd (momentum)"
        ),
        label="Optimizer of trained cells",
    )
    net_lr: float | None = param(
        None,
        gt=0,
        hi=10,
        help=("learning rate of the discrete networks (empty: 0.003 for adam, 0.1 for sgd)"),
        label="Learning rate of trained cells",
    )
    skip_cap: int = param(
        2,
        lo=0,
        help="most skip_connect ops in a normal cell",
        label="Most skip connections per normal cell",
    )
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
    def size(self) -> int:
        """Proxy crop side in pixels."""
        return FAST_IMAGE_SIZE if self.fast else self.image_size

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
    def net_learning_rate(self) -> float:
        """net_lr, or the default of net_optimizer."""
        return self.net_lr if self.net_lr is not None else NET_LR[self.net_optimizer]

    @property
    def budget_s(self) -> float:
        """The whole job's budget in seconds (inf: none)."""
        return math.inf if self.minutes is None else 60.0 * self.minutes

    def to_spec(self) -> dict[str, Any]:
        return speclib.dump(self)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SearchConfig:
        """Validate a job spec (flat legacy, dotted or nested keys) -> config; raises SpecError."""
        spec = nest(spec)
        if spec.get("net_lr") == NET_LR["sgd"] and "net_optimizer" not in spec:
            spec["net_optimizer"] = "sgd"  # a job validated before AdamW (its filled default)
        cfg = speclib.load(cls, spec, what="search")
        if not cfg.dataset and not cfg.proxy_path:
            raise SpecError(
                "search: a search needs a dataset: pass --dataset NAME (see "
                "`python -m core data list`)"
            )
        return cfg

    def check(self) -> None:
        """Checks across fields (each field's own bounds are checked by core.spec.load)."""
        if self.size < 8 or self.size % 4:
            raise SpecError(f"search: image_size={self.size}: must be a multiple of 4 and >= 8")
        if self.C % 2:
            raise SpecError(f"search: C={self.C}: must be even (factorized reduce halves it)")
        if self.C % self.darts.partial_channels:
            raise SpecError(
                f"search: partial_channels={self.darts.partial_channels}: must divide C={self.C}"
            )
        if self.evolution.sample_size > self.evolution.population:
            raise SpecError(
                f"search: evolution.sample_size={self.evolution.sample_size}: must "
                f"be <= evolution.population ({self.evolution.population})"
            )
        if self.ray_address and self.executor != "ray":
            raise SpecError(
                f"search: ray_address={self.ray_address!r}: needs executor=ray (--executor ray)"
            )
        if self.ray_address:
            try:
                parse_address(self.ray_address)
            except SpecError as exc:
                raise SpecError(f"search: {exc}") from None
        if self.skip_cap > 2 * self.nodes:
            raise SpecError(
                f"search: skip_cap={self.skip_cap}: must be <= {2 * self.nodes} (two ops per node)"
            )


NESTED_CONFIGS: dict[str, type] = {
    "darts": DartsConfig,
    "enas": EnasConfig,
    "evolution": EvolutionConfig,
    "zero_cost": ZeroCostConfig,
    "report": ReportConfig,
}

# old flat key -> (nested dataclass field, its field); jobs queued before the nesting use them
LEGACY_KEYS: dict[str, tuple[str, str]] = {
    "second_order": ("darts", "second_order"),
    "warmup": ("darts", "warmup"),
    "arch_lr": ("darts", "arch_lr"),
    "arch_weight_decay": ("darts", "arch_weight_decay"),
    **{
        k: ("enas", k)
        for k in (
            "controller_hidden",
            "controller_lr",
            "controller_steps",
            "entropy_weight",
            "baseline_decay",
            "tanh_constant",
            "temperature",
        )
    },
    "enas_derive_samples": ("enas", "derive_samples"),
    "population": ("evolution", "population"),
    "sample_size": ("evolution", "sample_size"),
    "report_random": ("report", "random"),
    "report_repeats": ("report", "repeats"),
    "report_epochs": ("report", "epochs"),
}


def nest(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Flat legacy keys and dotted keys (`report.epochs`) -> the nested spec shape."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"search: the spec must be a JSON object, got {type(spec).__name__}")
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in NESTED and isinstance(value, Mapping):
            out.setdefault(key, {}).update(value)
            continue
        if "." in key:
            group, name = key.split(".", 1)
        elif key in LEGACY_KEYS:
            group, name = LEGACY_KEYS[key]
        else:
            out[key] = value
            continue
        if group not in NESTED:
            raise SpecError(
                f"search: {key}={value!r}: unknown option group {group!r}; use one "
                f"of {', '.join(NESTED)}"
            )
        out.setdefault(group, {})[name] = value
    return out


def option_names() -> list[str]:
    """Every settable option: top-level fields, dotted nested fields and the legacy flat keys."""
    names = []
    for f in dataclasses.fields(SearchConfig):
        if f.name in NESTED:
            names += [f"{f.name}.{g.name}" for g in dataclasses.fields(f.default)]
        else:
            names.append(f.name)
    return names + sorted(LEGACY_KEYS)
