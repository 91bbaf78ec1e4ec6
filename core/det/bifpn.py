"""BiFPN: the weighted bidirectional feature pyramid of EfficientDet (Tan et al. 2020, sec. 3).

The topology is data: `bifpn_nodes(min_level, max_level)` generates the node list of the official
automl `fpn_config` (a top-down path P(max-1)..P(min), then a bottom-up path P(min+1)..P(max),
each bottom-up node also taking the level's original input). Feature ids 0..L-1 are the inputs
P(min)..P(max); node k produces feature id L + k. Every input edge of a node is resampled on its
own (1x1 conv + BN when the width differs, then max-pool or nearest upsampling), fused by fast
normalised fusion (sec. 3.3: w = relu(w) / (sum(w) + 1e-4), weights initialised to 1) or by a
plain sum (D6+), then swish -> separable 3x3 conv -> BN.

Extra levels: P6 = max-pool(BN(1x1 conv(C5))), P7 = max-pool(P6) (and P8 for D7x).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from core.det.config import DetConfig
from core.det.layers import (
    ConvBn,
    SeparableConv2d,
    Upsample,
    act_layer_for,
    max_pool,
    norm_layer_for,
)

FUSION_EPS = 1e-4


@dataclass(frozen=True)
class FpnNode:
    """One BiFPN node: its pyramid level and the feature ids it fuses."""

    level: int
    inputs: tuple[int, ...]


def bifpn_nodes(min_level: int, max_level: int) -> tuple[FpnNode, ...]:
    """The node list of one BiFPN layer (automl fpn_configs.bifpn_config)."""
    num_levels = max_level - min_level + 1
    ids = {min_level + i: [i] for i in range(num_levels)}  # level -> feature ids so far
    nodes: list[FpnNode] = []
    for level in range(max_level - 1, min_level - 1, -1):  # top-down
        nodes.append(FpnNode(level, (ids[level][-1], ids[level + 1][-1])))
        ids[level].append(num_levels + len(nodes) - 1)
    for level in range(min_level + 1, max_level + 1):  # bottom-up
        nodes.append(FpnNode(level, tuple(ids[level]) + (ids[level - 1][-1],)))
        ids[level].append(num_levels + len(nodes) - 1)
    return tuple(nodes)


class ResampleFeatureMap(nn.Sequential):
    """Bring a feature map to `out_channels` (1x1 conv + BN if needed) and to another level."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        in_level: int,
        out_level: int,
        pad_type: str,
        norm_layer: Callable[[int], nn.Module],
        redundant_bias: bool,
    ):
        super().__init__()
        if in_channels != out_channels:
            self.add_module("conv", ConvBn(in_channels, out_channels, redundant_bias, norm_layer))
        if in_level < out_level:
            self.add_module("downsample", max_pool(2 ** (out_level - in_level), pad_type))
        elif in_level > out_level:
            self.add_module("upsample", Upsample(2 ** (in_level - out_level)))


class FastNormalizedFusion(nn.Module):
    """Weighted sum of same-shape inputs; weights relu'd and normalised (or a plain sum)."""

    def __init__(self, num_inputs: int, weighted: bool = True):
        super().__init__()
        self.weighted = weighted
        self.weight = nn.Parameter(torch.ones(num_inputs)) if weighted else None

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if self.weight is None:
            out = inputs[0]
            for x in inputs[1:]:
                out = out + x
            return out
        w = torch.relu(self.weight.to(inputs[0].dtype))
        w = w / (w.sum() + FUSION_EPS)
        out = inputs[0] * w[0]
        for i in range(1, len(inputs)):
            out = out + inputs[i] * w[i]
        return out


class BiFpnNode(nn.Module):
    """Resample each input edge, fuse, then swish -> separable conv -> BN."""

    def __init__(
        self,
        node: FpnNode,
        in_channels: list[int],
        in_levels: list[int],
        config: DetConfig,
        norm_layer: Callable[[int], nn.Module],
    ):
        super().__init__()
        self.inputs = node.inputs
        ch = config.fpn_channels
        self.resample = nn.ModuleList(
            ResampleFeatureMap(
                in_channels[i],
                ch,
                in_levels[i],
                node.level,
                config.pad_type,
                norm_layer,
                config.redundant_bias,
            )
            for i in node.inputs
        )
        self.fusion = FastNormalizedFusion(len(node.inputs), config.fpn_weight_method == "fastattn")
        self.act = act_layer_for(config.act_type)(inplace=True)
        conv_bias = config.redundant_bias
        if config.separable_conv:
            self.conv = SeparableConv2d(ch, ch, 3, bias=conv_bias, norm_layer=norm_layer)
        else:
            self.conv = nn.Sequential(
                nn.Conv2d(ch, ch, 3, padding=1, bias=conv_bias), norm_layer(ch)
            )

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        resampled = [r(feats[i]) for i, r in zip(self.inputs, self.resample)]
        return self.conv(self.act(self.fusion(resampled)))


class BiFpnLayer(nn.Module):
    """One BiFPN repeat: L inputs (levels min..max) -> L outputs (same levels, fpn width)."""

    def __init__(
        self, in_channels: list[int], config: DetConfig, norm_layer: Callable[[int], nn.Module]
    ):
        super().__init__()
        topology = bifpn_nodes(config.min_level, config.max_level)
        channels = list(in_channels)
        levels = list(range(config.min_level, config.max_level + 1))
        self.nodes = nn.ModuleList()
        for node in topology:
            self.nodes.append(BiFpnNode(node, channels, levels, config, norm_layer))
            channels.append(config.fpn_channels)
            levels.append(node.level)
        # the output of each level is its last node
        last = {level: i for i, level in enumerate(range(config.min_level, config.max_level + 1))}
        for k, node in enumerate(topology):
            last[node.level] = len(in_channels) + k
        self.output_ids = [last[level] for level in sorted(last)]

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        feats = list(feats)
        for node in self.nodes:
            feats.append(node(feats))
        return [feats[i] for i in self.output_ids]


class BiFpn(nn.Module):
    """Backbone features (C3..C5) -> extra levels (P6, P7[, P8]) -> repeated BiFPN layers."""

    def __init__(self, config: DetConfig, backbone_channels: list[int]):
        super().__init__()
        norm_layer = norm_layer_for(config.bn_momentum, config.bn_eps)
        self.extra_levels = nn.ModuleList()
        channels = list(backbone_channels)
        for level in range(config.min_level + len(backbone_channels), config.max_level + 1):
            self.extra_levels.append(
                ResampleFeatureMap(
                    channels[-1],
                    config.fpn_channels,
                    level - 1,
                    level,
                    config.pad_type,
                    norm_layer,
                    config.redundant_bias,
                )
            )
            channels.append(config.fpn_channels)
        self.cells = nn.ModuleList()
        for _ in range(config.fpn_cell_repeats):
            self.cells.append(BiFpnLayer(channels, config, norm_layer))
            channels = [config.fpn_channels] * config.num_levels

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """feats: backbone maps at strides 8, 16, 32 -> num_levels maps
        [B, fpn_channels, H_l, W_l]."""
        feats = list(feats)
        for extra in self.extra_levels:
            feats.append(extra(feats[-1]))
        for cell in self.cells:
            feats = cell(feats)
        return feats
