"""A detection backbone built from searched cells: strides 8/16/32 for EfficientDet's BiFPN.

Layout after the DARTS ImageNet network (Liu et al. 2019, section 3.3; NetworkImageNet in the
authors' cnn/model.py): a stem reaches stride 8 (stem0 -> stride 4, stem1 -> stride 8; the first
cell factorized-reduces the stride-4 map), then `layers` cells with reduction cells at layers//3
and 2*layers//3 (channels doubled). The output of the last cell of each resolution is a feature
map: [B, m*C, H/8, W/8], [B, m*2C, H/16, W/16], [B, m*4C, H/32, W/32] with m the cell's concat
length (4 for DARTS cells). `feature_info` lists {"num_chs", "reduction"} for them; `C` (width),
`layers` (depth) and `stem` are the options.

Stems: "mbconv" (default) - a 3x3 stride-2 conv, then MobileNetV2 inverted-residual blocks
(Sandler et al. 2018) to stride 4 (C channels) and stride 8 (1.5 C), with a residual block at
each; "darts" - DARTS's three plain stride-2 3x3 convolutions (C/2, C, C channels). The cells
find what the detector gets at strides 8-32; the stem only has to bring good features to stride
8. With the DARTS stem those come from three plain convolutions, and a detector trained from
scratch on a small set learns much more slowly (docs/BENCHMARKS.md, "demo_default", compares the
two stems). Model files record their stem; a file that names none has the DARTS stem.

The model never touches the store: `core.nas.resolve.resolve_genotype(store, spec)` finds the cell
a backbone spec names (nas:JOB_ID, nas:NAME, nas-arch:ID, nas-file:PATH).
"""

from __future__ import annotations

import torch
from torch import nn

from core.errors import SpecError
from core.nas.genotypes import Genotype
from core.nas.network import Cell, reduction_layers

DEFAULT_C = 16
DEFAULT_LAYERS = 5  # one normal cell per stride at the default: N R N R N
STEMS = ("mbconv", "darts")
DEFAULT_STEM = "mbconv"
LEGACY_STEM = "darts"  # model files without a "stem" field
STEM_WIDTH = 16  # channels of the first (stride-2) convolution of the mbconv stem
EXPAND = (4, 3)  # inverted-residual expansion: the stride-2 block, the residual block


def _inverted_residual(c_in: int, c_out: int, stride: int, expand: int) -> nn.Sequential:
    """1x1 expand, 3x3 depthwise (stride), 1x1 linear projection (MobileNetV2)."""
    mid = c_in * expand
    return nn.Sequential(
        nn.Conv2d(c_in, mid, 1, bias=False),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
    )


class _Residual(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _mbconv_stage(c_in: int, c_out: int) -> nn.Sequential:
    """Stride 2 then a residual block: an inverted-residual stage of the mbconv stem."""
    return nn.Sequential(
        _inverted_residual(c_in, c_out, 2, EXPAND[0]),
        _Residual(_inverted_residual(c_out, c_out, 1, EXPAND[1])),
    )


def _stems(kind: str, C: int) -> tuple[nn.Module, nn.Module, int, int]:
    """(stem0 -> stride 4, stem1 -> stride 8, their channels)."""
    if kind == "darts":
        stem0 = nn.Sequential(
            nn.Conv2d(3, C // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        stem1 = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        return stem0, stem1, C, C
    if kind == "mbconv":
        c4, c8 = C, 3 * C // 2
        stem0 = nn.Sequential(
            nn.Conv2d(3, STEM_WIDTH, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(STEM_WIDTH),
            nn.ReLU(inplace=True),
            _mbconv_stage(STEM_WIDTH, c4),
        )
        return stem0, _mbconv_stage(c4, c8), c4, c8
    raise SpecError(f"unknown NAS backbone stem {kind!r}; choose from {', '.join(STEMS)}")


class NasBackbone(nn.Module):
    """Searched-cell backbone: [B, 3, H, W] -> [C3 (stride 8), C4 (stride 16), C5 (stride 32)].

    `drop_path_prob` (attribute, default 0) applies drop path inside the cells while training.
    """

    def __init__(
        self,
        genotype: Genotype,
        C: int = DEFAULT_C,
        layers: int = DEFAULT_LAYERS,
        stem: str = DEFAULT_STEM,
    ):
        super().__init__()
        if layers < 3:
            raise SpecError(f"a NAS backbone needs layers >= 3 (a cell per stride), got {layers}")
        if C % 2:
            raise SpecError(f"a NAS backbone needs an even C (the stem halves it), got {C}")
        self.genotype = genotype
        self.stem = stem
        self.drop_path_prob = 0.0
        self.stem0, self.stem1, c4, c8 = _stems(stem, C)
        reductions = reduction_layers(layers)
        C_prev_prev, C_prev, C_curr = c4, c8, C
        reduction_prev = True  # the stem's last conv halved the resolution of s0 -> s1
        self.cells = nn.ModuleList()
        self._out_indices: list[int] = []
        self.feature_info: list[dict[str, int]] = []
        stride = 8
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                C_curr *= 2
                stride *= 2
            cell = Cell(genotype, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i + 1 == layers or (i + 1) in reductions:  # last cell of this stride
                self._out_indices.append(i)
                self.feature_info.append({"num_chs": C_prev, "reduction": stride})

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        s0 = self.stem0(x)
        s1 = self.stem1(s0)
        features = []
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i in self._out_indices:
                features.append(s1)
        return features
