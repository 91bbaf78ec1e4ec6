"""EfficientDet class and box prediction nets (Tan et al. 2020, sec. 3.3 and Fig. 3).

The conv weights are shared by all pyramid levels; each level has its own BatchNorm per repeat
(as automl). Outputs keep effdet's channel layout: anchor-major, i.e. channel a * K + k for anchor
a and output k (class logit k, or box delta k in ty, tx, th, tw order).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.det.config import DetConfig
from core.det.layers import SeparableConv2d, act_layer_for, norm_layer_for, variance_scaling_

# Focal-loss prior (Lin et al. 2017, sec. 4.1): class bias so that sigmoid(bias) = 0.01.
CLASS_PRIOR_PROBABILITY = 0.01


class HeadNet(nn.Module):
    """Shared (conv -> per-level BN -> swish) x repeats, then a predict conv, at every level."""

    def __init__(self, config: DetConfig, num_outputs: int):
        super().__init__()
        ch = config.fpn_channels
        norm_layer = norm_layer_for(config.bn_momentum, config.bn_eps)
        self.num_outputs = num_outputs
        self.conv_rep = nn.ModuleList(
            _conv(config, ch, ch, bias=config.redundant_bias)
            for _ in range(config.box_class_repeats)
        )
        # bn_rep[level][repeat] (level-first, scriptable; effdet's checkpoints are repeat-first)
        self.bn_rep = nn.ModuleList(
            nn.ModuleList(norm_layer(ch) for _ in range(config.box_class_repeats))
            for _ in range(config.num_levels)
        )
        self.act = act_layer_for(config.act_type)(inplace=True)
        self.predict = _conv(config, ch, num_outputs * config.num_anchors, bias=True)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """feats: per level [B, C, H_l, W_l] -> per level [B, A * num_outputs, H_l, W_l]."""
        outputs = []
        for x, bns in zip(feats, self.bn_rep):
            for conv, bn in zip(self.conv_rep, bns):
                x = self.act(bn(conv(x)))
            outputs.append(self.predict(x))
        return outputs

    def init_weights(self, prior_probability: float | None = None) -> None:
        """automl init: variance scaling for convs, zero biases (or the focal-loss prior)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                variance_scaling_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if prior_probability is not None:
            bias = (
                self.predict.conv_pw.bias if hasattr(self.predict, "conv_pw") else self.predict.bias
            )
            nn.init.constant_(bias, -math.log((1 - prior_probability) / prior_probability))


def _conv(config: DetConfig, cin: int, cout: int, bias: bool) -> nn.Module:
    if config.separable_conv:
        return SeparableConv2d(cin, cout, 3, bias=bias)
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
