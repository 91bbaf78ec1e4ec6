"""Discrete networks built from a genotype, as in DARTS (Liu et al. 2019, section 3.2; the
authors' cnn/model.py).

`Cell` turns one cell of a `Genotype` into modules: the two cell inputs are preprocessed to C
channels (a 1x1 ReLU-conv-BN, or a factorized reduce when the previous cell halved the
resolution), each intermediate node sums two ops of its inputs (stride 2 on the cell inputs in a
reduction cell), and the output concatenates the `concat` nodes ([B, len(concat) * C, H', W']).

`CifarNetwork(C, num_classes, layers, auxiliary, genotype)`: a 3x3 stem of 3C channels, `layers`
cells with reductions (channels doubled, resolution halved) at 1/3 and 2/3 of the depth, global
average pooling and a linear classifier; drop path on the non-identity ops while training; an
optional auxiliary head after the 2/3 reduction. Input [B, 3, H, W] -> (logits [B, classes],
aux logits [B, classes] or None). With C=36, layers=20, 10 classes it has exactly the published
parameter counts (auxiliary head excluded): DARTS_V2 3,349,342, NASNet 3,830,950, ...
"""

from __future__ import annotations

import torch
from torch import nn

from core.errors import SpecError
from core.nas.genotypes import Genotype
from core.nas.operations import FactorizedReduce, Identity, ReLUConvBN, build_op

STEM_MULTIPLIER = 3  # the CIFAR stem has 3C channels (DARTS)
AUXILIARY = "auxiliary"  # DARTS parameter counts leave the auxiliary head out:
# core.torch_util.count_parameters(model, exclude=AUXILIARY)


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples of x ([B, ...]) with probability drop_prob, rescaling the rest."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


def reduction_layers(layers: int) -> tuple[int, ...]:
    """Indices of the reduction cells: 1/3 and 2/3 of the depth (DARTS)."""
    return tuple(sorted({layers // 3, 2 * layers // 3}))


class Cell(nn.Module):
    """One discrete cell: [B, C_prev_prev, H0, W0], [B, C_prev, H, W] -> [B, len(concat)*C, H', W'].

    H0 = 2H when the previous cell was a reduction (then input 0 goes through a factorized
    reduce); H' = H / 2 in a reduction cell.
    """

    def __init__(
        self,
        genotype: Genotype,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
    ):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(C_prev_prev, C)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        pairs, concat = genotype.cell("reduce" if reduction else "normal")
        self._indices = [index for _, index in pairs]
        self._concat = list(concat)
        self._steps = len(pairs) // 2
        self.multiplier = len(concat)
        self._ops = nn.ModuleList(
            build_op(name, C, 2 if reduction and index < 2 else 1, True) for name, index in pairs
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self._steps):
            h = []
            for k in (2 * i, 2 * i + 1):
                op = self._ops[k]
                out = op(states[self._indices[k]])
                if self.training and drop_prob > 0.0 and not isinstance(op, Identity):
                    out = drop_path(out, drop_prob)
                h.append(out)
            states.append(h[0] + h[1])
        return torch.cat([states[i] for i in self._concat], dim=1)


class AuxiliaryHeadCifar(nn.Module):
    """Auxiliary classifier on the 8x8 maps after the second reduction (DARTS, for 32x32 inputs).

    [B, C, 8, 8] -> [B, classes]. Other sizes work too: maps under 5x5 are pooled to 2x2
    directly, larger ones are averaged to 1x1 after the 2x2 convolution.
    """

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),  # 8x8 -> 2x2
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features[0](x)
        if min(x.shape[-2:]) >= 5:
            x = self.features[1](x)
        else:  # maps smaller than the 5x5 window (16x16 inputs): pool straight to 2x2
            x = nn.functional.adaptive_avg_pool2d(x, 2)
        x = self.features[2:](x)
        if x.shape[-1] != 1 or x.shape[-2] != 1:
            x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.classifier(x.flatten(1))


class CifarNetwork(nn.Module):
    """The DARTS CIFAR network for a genotype. Input [B, 3, H, W] -> (logits, aux_logits|None).

    `drop_path_prob` is an attribute (set it per epoch, as DARTS does; default 0).
    """

    def __init__(
        self,
        C: int,
        num_classes: int,
        layers: int,
        auxiliary: bool,
        genotype: Genotype,
        stem_multiplier: int = STEM_MULTIPLIER,
    ):
        super().__init__()
        if layers < 1:
            raise SpecError(f"a CifarNetwork needs layers >= 1, got {layers}")
        self._layers = layers
        self._auxiliary = auxiliary
        self.drop_path_prob = 0.0
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr)
        )
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        self._aux_index = 2 * layers // 3
        reductions = reduction_layers(layers)
        reduction_prev = False
        C_aux = C_prev
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                C_curr *= 2
            cell = Cell(genotype, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i == self._aux_index:
                C_aux = C_prev
        self.auxiliary_head = AuxiliaryHeadCifar(C_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits_aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self._aux_index and self.auxiliary_head is not None and self.training:
                logits_aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1)), logits_aux
