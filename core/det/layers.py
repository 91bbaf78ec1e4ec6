"""Small building blocks shared by the BiFPN and the heads: separable conv, 1x1 conv + BN, pooling.

All convolutions here are stride 1, so TF "same" and PyTorch padding coincide for them; only the
stride-2 max pool differs (TF "same" pads bottom/right with -inf, PyTorch pads 1 on every side).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import get_act_layer
from torch import nn

from core.errors import SpecError


def norm_layer_for(momentum: float, eps: float) -> Callable[[int], nn.BatchNorm2d]:
    """A BatchNorm2d constructor with the given momentum (PyTorch convention) and eps."""
    return partial(nn.BatchNorm2d, momentum=momentum, eps=eps)


def act_layer_for(act_type: str) -> type[nn.Module]:
    act = get_act_layer(act_type)
    if act is None:
        raise SpecError(f"unknown activation {act_type!r} (try swish, relu, relu6)")
    return act


class SeparableConv2d(nn.Module):
    """Depthwise kxk conv -> pointwise 1x1 conv (+ bias) -> optional BN. Shape-preserving."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        bias: bool = False,
        norm_layer: Callable[[int], nn.Module] | None = None,
    ):
        super().__init__()
        self.conv_dw = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=in_channels,
            bias=False,
        )
        self.conv_pw = nn.Conv2d(in_channels, out_channels, 1, bias=bias)
        self.bn = norm_layer(out_channels) if norm_layer is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pw(self.conv_dw(x))
        if self.bn is not None:
            x = self.bn(x)
        return x


class ConvBn(nn.Module):
    """1x1 conv (optionally with bias) -> BN: the channel projection of a resampled edge."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool,
        norm_layer: Callable[[int], nn.Module],
    ):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=bias)
        self.bn = norm_layer(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class MaxPool2dSame(nn.Module):
    """TF "SAME" max pool: pad so that out = ceil(in / stride), the extra pixel at bottom/right."""

    def __init__(self, kernel_size: int, stride: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h = _same_pad(x.shape[-2], self.kernel_size, self.stride)
        pad_w = _same_pad(x.shape[-1], self.kernel_size, self.stride)
        if pad_h or pad_w:
            x = F.pad(
                x,
                (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2),
                value=float("-inf"),
            )
        return F.max_pool2d(x, self.kernel_size, self.stride)


def _same_pad(size: int, kernel: int, stride: int) -> int:
    return max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)


def max_pool(stride: int, pad_type: str) -> nn.Module:
    """The BiFPN downsampling op for a size ratio `stride`: kernel stride+1 (3 for stride 2)."""
    kernel = stride + 1
    if pad_type == "same":
        return MaxPool2dSame(kernel, stride)
    return nn.MaxPool2d(kernel, stride, padding=(stride - 1 + kernel - 1) // 2)


class Upsample(nn.Module):
    """Nearest-neighbour upsampling by an integer factor."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=float(self.factor), mode="nearest")


def glorot_uniform_(weight: torch.Tensor, groups: int = 1) -> None:
    """TF glorot_uniform as effdet applies it (fan_out divided by the conv groups)."""
    fan_in, fan_out = _fans(weight, groups)
    limit = math.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2.0))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def variance_scaling_(weight: torch.Tensor) -> None:
    """TF variance_scaling (fan_in, normal) as effdet applies it to the head convs."""
    fan_in, _ = _fans(weight, 1)
    with torch.no_grad():
        weight.normal_(std=math.sqrt(1.0 / max(1.0, fan_in)))


def _fans(weight: torch.Tensor, groups: int) -> tuple[int, int]:
    receptive = weight[0][0].numel() if weight.dim() > 2 else 1
    return weight.size(1) * receptive, weight.size(0) * receptive // groups
