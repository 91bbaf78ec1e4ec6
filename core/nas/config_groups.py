"""The options every search strategy shares, one frozen dataclass per concern, nested in
SearchConfig (core.nas.config): the proxy crops, the proxy networks' shape, the supernet's
weight optimiser, the training of discrete cells, the objective and where trainings run.
Imported at submit time: no torch here.

Defaults follow DARTS (Liu et al. 2019) scaled to a 2-core CPU: a network of C=8 initial
channels and 5 cells (reductions at cells 1 and 3) on 32x32 object crops (16x16 in fast mode),
4 intermediate nodes per cell, and the paper's weight optimiser (section 3.1.1: SGD 0.025 cosine
to 0.001, momentum 0.9, weight decay 3e-4, gradient clip 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.spec import param

FAST_IMAGE_SIZE = 16
NET_LR = {"adam": 3e-3, "sgd": 0.1}  # default child.lr per child.optimizer


@dataclass(frozen=True)
class CropsConfig:
    """The proxy task: object crops cut from the dataset's boxes (core.data.crops)."""

    image_size: int = param(
        32,
        lo=8,
        hi=256,
        flag="--image-size",
        help="proxy crop side",
        label="Crop size",
        unit="pixels",
    )
    fast: bool = param(
        False, flag="--fast", help="16x16 crops: about 4x cheaper", label="Fast mode (16x16 crops)"
    )
    context: float = param(
        0.2,
        lo=0,
        hi=4,
        help="crop margin around each box (share of size)",
        label="Crop margin",
        unit="share of the box size",
    )
    max_per_class: int | None = param(
        100,
        lo=1,
        flag="--max-per-class",
        help="crops per class and split",
        label="Crops per class and split",
    )
    val_fraction: float = param(
        0.5,
        gt=0,
        lt=1,
        help=("share of the proxy train split used for architecture choice"),
        label="Share of crops that choose the cell",
    )

    @property
    def size(self) -> int:
        """Proxy crop side in pixels."""
        return FAST_IMAGE_SIZE if self.fast else self.image_size


@dataclass(frozen=True)
class NetworkConfig:
    """The proxy networks' shape: the supernet, the trained cells and the report's networks."""

    C: int = param(
        8, lo=2, hi=512, flag="--C", help="initial channels (even)", label="Initial channels"
    )
    layers: int = param(
        5,
        lo=3,
        hi=50,
        flag="--layers",
        help="cells; reductions at 1/3 and 2/3 of the depth",
        label="Cells in the network",
    )
    nodes: int = param(4, lo=1, hi=8, help="intermediate nodes per cell", label="Nodes per cell")
    skip_cap: int = param(
        2,
        lo=0,
        help="most skip_connect ops in a normal cell",
        label="Most skip connections per normal cell",
    )


@dataclass(frozen=True)
class SupernetConfig:
    """The weight optimiser of the DARTS/ENAS supernet (DARTS section 3.1.1: SGD with a cosine
    schedule); the trained cells share its lr_min, momentum, weight_decay and grad_clip."""

    batch_size: int = param(
        16,
        lo=2,
        hi=4096,
        flag="--batch-size",
        help="supernet batch",
        label="Supernet batch",
        unit="crops",
    )
    lr: float = param(0.025, gt=0, hi=10, label="Learning rate of the weights")
    lr_min: float = param(0.001, lo=0, hi=10, label="Final learning rate")
    momentum: float = param(0.9, lo=0, lt=1, label="Momentum")
    weight_decay: float = param(3e-4, lo=0, hi=1, label="Weight decay")
    grad_clip: float = param(5.0, gt=0, label="Gradient clipping norm")


@dataclass(frozen=True)
class ChildConfig:
    """The training of discrete cells: evolution/random children, the zero-cost top-k and the
    final report's networks. AdamW by default: after a candidate's few epochs it already ranks
    cells much as the longer report training does, where SGD at lr 0.1 leaves short trainings
    near chance (bench/net_recipe.py; docs/BENCHMARKS.md, "demo_default")."""

    epochs: int = param(
        3,
        lo=1,
        hi=1000,
        help="proxy training of each trained candidate",
        label="Epochs per trained candidate",
    )
    batch_size: int = param(32, lo=2, hi=4096, label="Batch of trained cells", unit="crops")
    optimizer: Literal["adam", "sgd"] = param(
        "adam",
        help=(
            "optimiser of the discrete networks: adam (AdamW, beta1 = supernet.momentum) or sgd "
            "(momentum)"
        ),
        label="Optimizer of trained cells",
    )
    lr: float | None = param(
        None,
        gt=0,
        hi=10,
        help=("learning rate of the discrete networks (empty: 0.003 for adam, 0.1 for sgd)"),
        label="Learning rate of trained cells",
    )

    @property
    def learning_rate(self) -> float:
        """lr, or the default of the optimizer."""
        return self.lr if self.lr is not None else NET_LR[self.optimizer]


@dataclass(frozen=True)
class ObjectiveConfig:
    """What a cell is scored by: accuracy alone, or the MnasNet reward (Tan et al. 2019)."""

    kind: Literal["accuracy", "accuracy-latency"] = param(
        "accuracy",
        flag="--objective",
        help=("accuracy-latency: MnasNet reward acc * (lat / target)^w (darts: a latency penalty)"),
        label="Objective",
    )
    target_ms: float | None = param(
        None,
        gt=0,
        hi=1e6,
        flag="--target-ms",
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


@dataclass(frozen=True)
class ExecutionConfig:
    """Where the job's independent trainings (children, zero-cost top-k, report networks) run,
    and the CPU threads of its own process."""

    threads: int | None = param(
        None,
        lo=1,
        hi=1024,
        flag="--threads",
        help=(
            "torch CPU threads for this job (empty: 1 on a CPU, where the small proxy networks "
            "gain little from more and lose much when other processes share the cores)"
        ),
        label="CPU threads",
    )
    executor: Literal["local", "ray"] = param(
        "local",
        flag="--executor",
        help=(
            "local: in the job's process; ray: as Ray tasks, one GPU or CPU slot each (darts/enas "
            "supernets stay on the job's device)"
        ),
        label="Where trainings run",
    )
    ray_address: str | None = param(
        None,
        flag="--ray-address",
        help=(
            "Ray cluster to join: auto (this machine's) or the head's HOST:PORT (empty: a local "
            "Ray with the job's slots, stopped at the end)"
        ),
        label="Ray cluster address",
    )
