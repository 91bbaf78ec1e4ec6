"""A detection backbone built from searched cells: strides 8/16/32 for EfficientDet's BiFPN.

Layout follows the DARTS ImageNet network (Liu et al. 2019, section 3.3; NetworkImageNet in the
authors' cnn/model.py): a stem of three stride-2 3x3 convolutions reaches stride 8 (stem0: two of
them -> stride 4, stem1: one more -> stride 8; the first cell factorized-reduces the stride-4
map), then `layers` cells with reduction cells at layers//3 and 2*layers//3 (channels doubled).
The output of the last cell of each resolution is a feature map: [B, m*C, H/8, W/8],
[B, m*2C, H/16, W/16], [B, m*4C, H/32, W/32] with m the cell's concat length (4 for DARTS
cells). `feature_info` lists {"num_chs", "reduction"} for them; `C` (width) and `layers`
(depth) are the options.

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


class NasBackbone(nn.Module):
    """Searched-cell backbone: [B, 3, H, W] -> [C3 (stride 8), C4 (stride 16), C5 (stride 32)].

    `drop_path_prob` (attribute, default 0) applies drop path inside the cells while training.
    """

    def __init__(self, genotype: Genotype, C: int = DEFAULT_C, layers: int = DEFAULT_LAYERS):
        super().__init__()
        if layers < 3:
            raise SpecError(f"a NAS backbone needs layers >= 3 (a cell per stride), got {layers}")
        if C % 2:
            raise SpecError(f"a NAS backbone needs an even C (the stem halves it), got {C}")
        self.genotype = genotype
        self.drop_path_prob = 0.0
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, C // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C))
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C))
        reductions = reduction_layers(layers)
        C_prev_prev, C_prev, C_curr = C, C, C
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
