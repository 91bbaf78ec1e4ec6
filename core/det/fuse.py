"""Inference-time fusion: fold BatchNorm into the preceding convolutions, go channels_last.

Our own modules are folded explicitly (separable convs, 1x1 projections, per-level head BN: a
head's shared conv becomes one folded conv per level). The backbone (timm or any module) is folded
generically: a probe forward records which BatchNorm reads exactly the output of which conv; each
such pair is folded and the BN replaced by what it applied after normalising (timm's
BatchNormAct2d keeps its activation). The result is checked against the unfused backbone.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from core.det.bifpn import ResampleFeatureMap
from core.det.head import HeadNet
from core.det.layers import ConvBn, SeparableConv2d

log = logging.getLogger(__name__)

FOLD_TOLERANCE = 1e-3  # max abs difference allowed between folded and unfused backbone features


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv computing bn(conv(x)) in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    ).to(conv.weight.device, conv.weight.dtype)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused


class FusedHeadNet(nn.Module):
    """HeadNet with its per-level BN folded: convs[level][repeat] are separate fused convs."""

    def __init__(self, head: HeadNet):
        super().__init__()
        self.convs = nn.ModuleList()
        for bns in head.bn_rep:
            level = nn.ModuleList()
            for conv, bn in zip(head.conv_rep, bns):
                if isinstance(conv, SeparableConv2d):
                    level.append(nn.Sequential(conv.conv_dw, fold_conv_bn(conv.conv_pw, bn)))
                else:
                    level.append(fold_conv_bn(conv, bn))
            self.convs.append(level)
        self.act = head.act
        self.predict = head.predict

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = []
        for x, convs in zip(feats, self.convs):
            for conv in convs:
                x = self.act(conv(x))
            outputs.append(self.predict(x))
        return outputs


def _fold_fpn(fpn: nn.Module) -> None:
    for module in list(fpn.modules()):
        if isinstance(module, SeparableConv2d) and module.bn is not None:
            module.conv_pw = fold_conv_bn(module.conv_pw, module.bn)
            module.bn = None
        elif isinstance(module, ResampleFeatureMap) and isinstance(
            getattr(module, "conv", None), ConvBn
        ):
            module.conv = fold_conv_bn(module.conv.conv, module.conv.bn)
        elif (
            isinstance(module, nn.Sequential)
            and len(module) == 2
            and isinstance(module[0], nn.Conv2d)
            and isinstance(module[1], nn.BatchNorm2d)
        ):
            module[0] = fold_conv_bn(module[0], module[1])
            module[1] = nn.Identity()


def _after_norm(bn: nn.BatchNorm2d) -> nn.Module:
    """What a BN module applies after normalising (timm BatchNormAct2d: drop + act)."""
    parts = [
        m
        for name in ("drop", "act")
        if isinstance(m := getattr(bn, name, None), nn.Module) and not isinstance(m, nn.Identity)
    ]
    return nn.Sequential(*parts) if parts else nn.Identity()


def conv_bn_pairs(module: nn.Module, example: torch.Tensor) -> list[tuple[str, str]]:
    """Names of (conv, bn) pairs where the BN's input is exactly the conv's output."""
    names = {m: n for n, m in module.named_modules()}
    outputs: dict[int, tuple[torch.Tensor, str]] = {}
    pairs: list[tuple[str, str]] = []
    hooks = []

    def conv_hook(mod, _inp, out):
        outputs[id(out)] = (out, names[mod])

    def bn_hook(mod, inp):
        hit = outputs.get(id(inp[0]))
        if hit is not None and hit[0] is inp[0]:
            pairs.append((hit[1], names[mod]))

    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.BatchNorm2d):
            hooks.append(m.register_forward_pre_hook(bn_hook))
    try:
        with torch.no_grad():
            module(example)
    finally:
        for h in hooks:
            h.remove()
    seen_conv = [c for c, _ in pairs]
    return [(c, b) for c, b in pairs if seen_conv.count(c) == 1]


def fold_module_batchnorm(module: nn.Module, example: torch.Tensor) -> nn.Module:
    """Fold every conv -> BN pair of an eval-mode module (checked on `example`)."""
    with torch.no_grad():
        reference = module(example)
    pairs = conv_bn_pairs(module, example)
    for conv_name, bn_name in pairs:
        conv, bn = module.get_submodule(conv_name), module.get_submodule(bn_name)
        _set_submodule(module, conv_name, fold_conv_bn(conv, bn))
        _set_submodule(module, bn_name, _after_norm(bn))
    with torch.no_grad():
        folded = module(example)
    diff = max((a - b).abs().max().item() for a, b in zip(_as_list(reference), _as_list(folded)))
    if diff > FOLD_TOLERANCE:
        raise RuntimeError(
            f"BN folding changed the backbone output by {diff:.2e}; use the unfused model"
        )
    log.debug("folded %d conv-BN pairs (max diff %.2e)", len(pairs), diff)
    return module


def _as_list(x) -> list[torch.Tensor]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, attr, new)


def fuse_detector(model: nn.Module, example: torch.Tensor | None = None) -> nn.Module:
    """Fold all BN of an eval-mode EfficientDet in place; channels_last. `example`: [1, 3, H, W]
    normalised input used to fold the backbone (default: zeros at the config's image size)."""
    model.eval()
    if example is None:
        h, w = model.config.image_size
        example = torch.zeros(1, 3, h, w, device=next(model.parameters()).device)
    fold_module_batchnorm(model.backbone, example)
    _fold_fpn(model.fpn)
    model.class_net = FusedHeadNet(model.class_net)
    model.box_net = FusedHeadNet(model.box_net)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(memory_format=torch.channels_last)
