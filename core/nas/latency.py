"""Latency where it matters: a cell as the detector's backbone, at the detector's input size, on
the device the job runs on; and the latency-aware objectives built on it.

* `backbone_latency_ms`: median forward time (batch 1, eval mode, after a warm-up) of the
  genotype's `NasBackbone` (core.nas.backbone, its default width and depth) on a
  [1, 3, size, size] image.
* `mnas_reward`: MnasNet's soft-constraint reward (Tan et al., CVPR 2019, eq. 2),
  acc * (lat / target)^w with w = -0.07: 10 % slower costs about 0.7 % of the reward.
* `op_latency_table` and `expected_latency`: the FBNet / ProxylessNAS differentiable latency
  (Wu et al. 2019, eq. 5; Cai et al. 2019, eq. 3) for DARTS: every candidate op timed on the
  device at each backbone cell's channels and resolution, summed per cell kind; the expected
  latency of the supernet is the stem's plus, per cell kind, the sum over edges of
  softmax(alpha_e) . op latencies, scaled by (ops kept per cell) / (edges per cell) so that it
  estimates the derived cell's latency. `latency_loss` = -w * log(E[lat] / target) is the
  log of the MnasNet factor, added to the alpha loss.
"""

from __future__ import annotations

import torch
from torch import nn

from core.nas.backbone import DEFAULT_C, DEFAULT_LAYERS, NasBackbone
from core.nas.genotypes import Genotype, concat_range, published
from core.nas.network import reduction_layers
from core.nas.operations import build_op
from core.torch_util import median_ms

REPEATS = 5
REFERENCE_GENOTYPE = "DARTS_V2"  # the default target: this published cell on the same device


@torch.no_grad()
def time_ms(module: nn.Module, x: torch.Tensor, repeats: int = REPEATS) -> float:
    """Median milliseconds of module(x) after one warm-up call (module in eval mode)."""
    module.eval()
    return median_ms(lambda: module(x), x.device, repeats)


def backbone_latency_ms(
    genotype: Genotype,
    size: int,
    device: torch.device | str = "cpu",
    C: int = DEFAULT_C,
    layers: int = DEFAULT_LAYERS,
    repeats: int = REPEATS,
) -> float:
    """Milliseconds of one [1, 3, size, size] forward of the genotype's detector backbone."""
    device = torch.device(device)
    state = torch.get_rng_state()  # building a network must not shift a seeded search
    model = NasBackbone(genotype, C, layers).to(device)
    torch.set_rng_state(state)
    return time_ms(model, torch.randn(1, 3, size, size, device=device), repeats)


def default_target_ms(size: int, device: torch.device | str = "cpu") -> float:
    """The default latency target: the DARTS_V2 backbone at the same size on the same device."""
    return backbone_latency_ms(published(REFERENCE_GENOTYPE), size, device)


def mnas_reward(accuracy: float, latency_ms: float, target_ms: float, w: float) -> float:
    """acc * (lat / target)^w (MnasNet, eq. 2); w <= 0 penalises slow cells."""
    return accuracy * (latency_ms / target_ms) ** w


def op_latency_table(
    ops: tuple[str, ...],
    size: int,
    device: torch.device | str = "cpu",
    nodes: int = 4,
    C: int = DEFAULT_C,
    layers: int = DEFAULT_LAYERS,
    repeats: int = REPEATS,
) -> dict:
    """{"normal": {op: ms}, "reduce": {op: ms}, "fixed_ms"} over the backbone's cells.

    A cell at stride s has C_cell channels on [size / s]^2 maps; each op is timed there (reduce
    cells: on the input resolution with stride 2), summed over the cells of each kind. `none`
    costs nothing. fixed_ms: the stem and the cells' 1x1 preprocessing (an all-skip cell)."""
    device = torch.device(device)
    table: dict = {"normal": dict.fromkeys(ops, 0.0), "reduce": dict.fromkeys(ops, 0.0)}
    reductions, channels, stride = reduction_layers(layers), C, 8
    for i in range(layers):
        kind = "reduce" if i in reductions else "normal"
        if kind == "reduce":
            channels *= 2
        x = torch.randn(1, channels, size // stride, size // stride, device=device)
        for op in ops:
            if op != "none":
                module = build_op(op, channels, 2 if kind == "reduce" else 1).to(device)
                table[kind][op] += time_ms(module, x, repeats)
        stride *= 2 if kind == "reduce" else 1
    pairs, concat = [("skip_connect", 0), ("skip_connect", 1)] * nodes, concat_range(nodes)
    skip = Genotype(pairs, concat, pairs, concat)
    table["fixed_ms"] = backbone_latency_ms(skip, size, device, C, layers, repeats)
    return table


def expected_latency(
    weights: dict[str, torch.Tensor], table: dict, ops: tuple[str, ...], kept_per_cell: int
) -> torch.Tensor:
    """E[lat] in ms of the supernet: fixed + sum over kinds and edges of softmax . op latency.

    weights[kind]: softmax(alpha) [edges, len(ops)] (differentiable)."""
    total = torch.tensor(
        table["fixed_ms"], dtype=weights["normal"].dtype, device=weights["normal"].device
    )
    for kind in ("normal", "reduce"):
        lat = torch.tensor([table[kind][op] for op in ops], dtype=total.dtype, device=total.device)
        w = weights[kind]
        total = total + (w @ lat).sum() * (kept_per_cell / w.shape[0])
    return total


def latency_loss(expected_ms: torch.Tensor, target_ms: float, w: float) -> torch.Tensor:
    """-w * log(E[lat] / target): minimising CE plus this maximises log of the MnasNet reward."""
    return -w * torch.log(expected_ms.clamp_min(1e-6) / target_ms)
