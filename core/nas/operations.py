"""Candidate operations of the NASNet/DARTS cell space, as a name -> constructor table.

Follows DARTS (Liu et al., 2019, "DARTS: Differentiable Architecture Search", section 2.1 and
the authors' cnn/operations.py): every operation maps a [B, C, H, W] tensor to
[B, C, H / stride, W / stride]. Separable convolutions are applied twice (ReLU - depthwise -
pointwise - BN, two times), dilated convolutions once; a skip connection at stride 2 becomes a
factorized reduce (two offset 1x1 convolutions of stride 2, concatenated). `none` (Zero) is the
"no edge" operation of the search space.

`OPS[name](C, stride, affine)` builds an op; `PRIMITIVES` is the DARTS search set (its order is
the column order of the architecture weights alpha everywhere in this package); names and
parameter counts without torch are in core.nas.primitives.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from core.errors import SpecError
from core.nas.primitives import PRIMITIVES  # noqa: F401 (the alpha column order)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv(k, stride, padding) -> BN. Used to preprocess cell inputs (1x1)."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU -> dilated depthwise conv -> pointwise conv -> BN."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                C_in,
                C_in,
                kernel_size,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=C_in,
                bias=False,
            ),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Separable convolution applied twice, DARTS form: (ReLU - depthwise - pointwise - BN) x 2.

    Only the first depthwise convolution has the stride.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                C_in, C_in, kernel_size, stride=stride, padding=padding, groups=C_in, bias=False
            ),
            nn.Conv2d(C_in, C_in, 1, bias=False),
            nn.BatchNorm2d(C_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=1, padding=padding, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Identity(nn.Module):
    """The skip connection at stride 1 (kept as its own type: drop path skips it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The `none` op: zeros of the output shape ([B, C, H / stride, W / stride])."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve H and W: ReLU, two 1x1 stride-2 convs (the second offset by one pixel), concat, BN.

    C_out must be even. Input [B, C_in, H, W] with H, W even -> [B, C_out, H / 2, W / 2]; odd
    sizes are padded by one pixel on the bottom/right so both branches align.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True):
        super().__init__()
        if C_out % 2:
            raise SpecError(f"FactorizedReduce needs an even C_out, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            x = nn.functional.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
        out = torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1)
        return self.bn(out)


def _conv_7x1_1x7(C: int, stride: int, affine: bool) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(C, C, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
        nn.Conv2d(C, C, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
        nn.BatchNorm2d(C, affine=affine),
    )


OpFactory = Callable[[int, int, bool], nn.Module]

# name -> constructor(C, stride, affine); every op keeps C channels.
OPS: dict[str, OpFactory] = {
    "none": lambda C, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(
        3, stride=stride, padding=1, count_include_pad=False
    ),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": lambda C, stride, affine: (
        Identity() if stride == 1 else FactorizedReduce(C, C, affine=affine)
    ),
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine=affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine=affine),
    "sep_conv_7x7": lambda C, stride, affine: SepConv(C, C, 7, stride, 3, affine=affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine=affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine=affine),
    "conv_7x1_1x7": _conv_7x1_1x7,
}


def build_op(name: str, C: int, stride: int, affine: bool = True) -> nn.Module:
    """OPS[name](C, stride, affine) with a clear error for an unknown name."""
    try:
        factory = OPS[name]
    except KeyError:
        raise SpecError(f"unknown operation {name!r}; known: {', '.join(sorted(OPS))}") from None
    return factory(C, stride, affine)
