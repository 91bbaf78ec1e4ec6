"""Search job configuration: one frozen dataclass, filled from and written back to the job spec.

Imported at submit time (validation), so it must stay cheap: no torch here.

Defaults follow the papers scaled to a 2-core CPU: a DARTS supernet of C=8 initial channels and
5 cells (reductions at cells 1 and 3) on 32x32 object crops (16x16 in fast mode), 4 intermediate
nodes per cell, the DARTS optimiser settings (weights: SGD 0.025 cosine to 0.001, momentum 0.9,
weight decay 3e-4, gradient clip 5; alphas: Adam 3e-4, betas (0.5, 0.999), weight decay 1e-3),
ENAS controller settings from Pham et al. 2018 (LSTM 64, Adam 3.5e-3, tanh constant 2.5,
temperature 5, baseline decay 0.99), and aging evolution (Real et al. 2019) with a small
population. The budget is whichever of `minutes` and `epochs` / `samples` runs out first.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from core.errors import SpecError

STRATEGIES = ("darts", "enas", "evolution", "random")
DEFAULT_EPOCHS = {"darts": 50, "enas": 50}  # cut short by `minutes` on a CPU
DEFAULT_SAMPLES = 100  # evolution / random: architectures trained and evaluated
FAST_IMAGE_SIZE = 16


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search job needs; every field is shown and editable in the GUI."""

    dataset: str | None = None          # dataset name in the store (proxy crops come from it)
    proxy_path: str | None = None       # or a .pt file of proxy tensors (see core.nas.proxy)
    strategy: str = "darts"
    seed: int = 0
    minutes: float | None = 10.0        # wall-clock budget of the search phase (None: no limit)
    epochs: int | None = None           # darts / enas epochs (default per strategy)
    samples: int | None = None          # evolution / random: architectures evaluated
    # proxy task
    image_size: int = 32
    fast: bool = False                  # 16x16 crops: about 4x cheaper
    context: float = 0.2                # crop margin around each box (fraction of its size)
    max_per_class: int | None = 100     # crops per class and split: a CPU-sized proxy
    val_fraction: float = 0.5           # darts/enas: share of the proxy train split used for alphas
    # networks
    C: int = 8                          # initial channels of supernet and proxy networks
    layers: int = 5                     # cells; reductions at layers//3 and 2*layers//3
    nodes: int = 4                      # intermediate nodes per cell
    batch_size: int = 16                # small: more supernet steps fit a CPU budget
    threads: int | None = None          # torch CPU threads for this job (None: leave as is;
                                        # 1 is far faster on a CPU shared with other work)
    # weight optimiser (DARTS section 3.1.1)
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    # darts
    second_order: bool = False          # finite-difference unrolled gradient (DARTS eq. 7-8)
    warmup: float = 0.5                 # share of the search (epochs or minutes) that trains
                                        # weights only, before alphas update (0: the paper); on
                                        # a CPU budget alphas otherwise follow an untrained
                                        # supernet (docs/BENCHMARKS.md, section search)
    arch_lr: float = 3e-4
    arch_weight_decay: float = 1e-3
    # enas
    controller_hidden: int = 64
    controller_lr: float = 3.5e-3
    controller_steps: int = 10          # controller updates per epoch
    entropy_weight: float = 1e-4
    baseline_decay: float = 0.99
    tanh_constant: float = 2.5
    temperature: float = 5.0
    enas_derive_samples: int = 16       # candidates scored with shared weights at the end
    # evolution / random
    population: int = 10                # P
    sample_size: int = 3                # S (tournament size)
    child_epochs: int = 3               # proxy training of each evaluated architecture
    # derived cells: at most this many skip_connect ops in the normal cell (skip collapse guard)
    skip_cap: int = 2
    # final report: best genotype retrained beside K random ones, same budget
    report_random: int = 3              # K
    report_repeats: int = 2             # seeds of the searched genotype
    report_epochs: int = 24             # 8 left cells far from converged on the shapes proxy,
                                        # so the report ranked cells by training speed and noise
    # discrete-network training (evolution/random children and the final report): larger batch
    # and learning rate than the supernet's, so that a few CPU minutes lift a network well above
    # chance (DARTS_V2, C=8: 0.54 val accuracy after 8 epochs of 600 crops vs 0.27 with the
    # supernet's batch 16 / lr 0.025 for 3 epochs)
    net_batch_size: int = 32
    net_lr: float = 0.1

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
        return self.samples if self.samples is not None else DEFAULT_SAMPLES

    @property
    def budget_s(self) -> float:
        return math.inf if self.minutes is None else 60.0 * self.minutes

    def to_spec(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "SearchConfig":
        """Validate a job spec (unknown keys, types, ranges) -> config; raises SpecError."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(spec) - set(known))
        if unknown:
            raise SpecError(f"unknown search option(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(known))}")
        values = {k: _coerce(k, v, known[k].type, getattr(cls, k)) for k, v in spec.items()}
        cfg = cls(**values)
        cfg.check()
        return cfg

    def check(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SpecError(f"unknown strategy {self.strategy!r}; use one of "
                            f"{', '.join(STRATEGIES)}")
        if not self.dataset and not self.proxy_path:
            raise SpecError("a search needs a dataset: pass --dataset NAME (see `python -m core "
                            "data list`)")
        _positive(self, "C", "layers", "nodes", "batch_size", "net_batch_size", "population",
                  "sample_size", "child_epochs", "report_epochs", "report_repeats",
                  "controller_steps", "controller_hidden", "enas_derive_samples")
        _positive(self, *(k for k in ("threads", "max_per_class") if getattr(self, k) is not None))
        _positive(self, *(k for k in ("epochs", "samples") if getattr(self, k) is not None))
        if self.minutes is not None and self.minutes <= 0:
            raise SpecError(f"minutes must be > 0 (or null for no time limit), got {self.minutes}")
        if self.layers < 3:
            raise SpecError(f"layers must be >= 3 (two reduction cells plus a normal one), "
                            f"got {self.layers}")
        if self.size < 8 or self.size % 4:
            raise SpecError(f"image_size must be a multiple of 4 and >= 8, got {self.size}")
        if self.C % 2 or self.C < 2:
            raise SpecError(f"C must be even (factorized reduce halves it), got {self.C}")
        if not 0.0 < self.val_fraction < 1.0:
            raise SpecError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.sample_size > self.population:
            raise SpecError(f"sample_size ({self.sample_size}) must be <= population "
                            f"({self.population})")
        if not 0 <= self.skip_cap <= 2 * self.nodes:
            raise SpecError(f"skip_cap must be in 0..{2 * self.nodes}, got {self.skip_cap}")
        if not 0.0 <= self.warmup < 1.0:
            raise SpecError(f"warmup must be in [0, 1) (a share of the search), got {self.warmup}")
        if self.report_random < 0:
            raise SpecError(f"report_random must be >= 0, got {self.report_random}")


def _positive(cfg: SearchConfig, *names: str) -> None:
    for name in names:
        if getattr(cfg, name) < 1:
            raise SpecError(f"{name} must be >= 1, got {getattr(cfg, name)}")


def _coerce(name: str, value: Any, annotation: str, default: Any) -> Any:
    """Check a spec value against its field's annotation (strings, as `from __future__`)."""
    optional = "None" in annotation
    if value is None:
        if optional:
            return None
        raise SpecError(f"search option {name} cannot be null")
    base = annotation.replace(" | None", "")
    try:
        if base == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if base == "int":
            if isinstance(value, bool) or not float(value).is_integer():
                raise TypeError
            return int(value)
        if base == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if base == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
    except (TypeError, ValueError):
        raise SpecError(f"search option {name} must be {base}, got {value!r}") from None
    return value
