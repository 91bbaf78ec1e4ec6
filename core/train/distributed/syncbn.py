"""Synchronised BatchNorm: statistics over the global batch of all processes (MegDet's
cross-GPU BatchNorm, Peng et al., CVPR 2018, sec. 3.2), so that N processes with batch B
normalise as one process with batch N x B does.

On CUDA this is torch's `nn.SyncBatchNorm` through timm's `convert_sync_batchnorm` (which keeps
the activation of timm's BatchNormAct2d). torch's kernels are CUDA-only, so on the CPU (gloo)
`CpuSyncBatchNorm` computes the same statistics with one autograd-aware all-reduce per layer
(`AllReduceSum`, whose backward all-reduces the gradients, as torch's SyncBatchNorm does), of
sums shifted by the running mean s (the same on every rank), d = x - s:

    mean = s + sum_r sum(d_r) / n,   var = sum_r sum(d_r^2) / n - (mean - s)^2,   n = sum_r count_r

and updates the running statistics with the unbiased variance, exactly as nn.BatchNorm2d.
Outside training, or without a process group, it is a plain BatchNorm2d.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class AllReduceSum(torch.autograd.Function):
    """y = sum over processes of x; dL/dx = sum over processes of dL/dy (every rank's loss
    depends on every rank's x through y)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.contiguous().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out


class CpuSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are all-reduced over the default process group.

    Input [B, C, H, W]; a timm BatchNormAct2d converted to it keeps its `drop` and `act`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            out = super().forward(x)
        else:
            out = self._synced(x)
        if hasattr(self, "drop"):
            out = self.drop(out)
        if hasattr(self, "act"):
            out = self.act(out)
        return out

    def _synced(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        dims, shape, channels = (0, 2, 3), (1, -1, 1, 1), x.shape[1]
        # shifted sums (the running mean: the same on every rank) keep E[d^2] - E[d]^2 exact
        # enough in float32, and need one all-reduce instead of two (gloo latency per layer)
        shift = (
            self.running_mean if self.running_mean is not None else x.new_zeros(channels)
        ).detach()
        d = x - shift.view(shape)
        local = torch.cat([d.sum(dims), (d * d).sum(dims), x.new_tensor([x.numel() / channels])])
        total = AllReduceSum.apply(local)  # [2C + 1]: sums, sums of squares, element count
        count = total[-1]
        m1, m2 = total[:channels] / count, total[channels : 2 * channels] / count
        mean, var = shift + m1, (m2 - m1 * m1).clamp_min(0.0)
        if self.track_running_stats:
            self._update_running(mean.detach(), var.detach(), count.detach())
        out = (x - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1).clamp_min(1)
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(unbiased, factor)


def convert_cpu_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm (timm BatchNormAct2d included) by CpuSyncBatchNorm, sharing the
    parameters and buffers; mirrors timm.layers.convert_sync_batchnorm."""
    if not isinstance(module, nn.modules.batchnorm._BatchNorm):
        for name, child in module.named_children():
            module.add_module(name, convert_cpu_sync_batchnorm(child))
        return module
    out = CpuSyncBatchNorm(
        module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
    )
    for name in ("act", "drop"):  # timm BatchNormAct2d: normalise, then drop and activate
        if hasattr(module, name):
            setattr(out, name, getattr(module, name))
    if module.affine:
        out.weight, out.bias = module.weight, module.bias
    out.running_mean, out.running_var = module.running_mean, module.running_var
    out.num_batches_tracked = module.num_batches_tracked
    out.train(module.training)
    return out


def convert_sync_batchnorm(model: nn.Module, device_type: str) -> nn.Module:
    """SyncBatchNorm for `device_type` ('cuda': torch's, else CpuSyncBatchNorm)."""
    if device_type == "cuda":
        from timm.layers import convert_sync_batchnorm as timm_convert

        return timm_convert(model)
    return convert_cpu_sync_batchnorm(model)
