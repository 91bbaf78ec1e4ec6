"""Training-free ("zero-cost") proxies: score an untrained network from one or a few minibatches.

Pure functions over a model and a batch; none of them changes the model it is given (each works
on a copy or restores what it touched). Higher is better for every score.

* `synflow` - Tanaka, Kunin, Yamins, Ganguli 2020 ("Pruning neural networks without any data by
  iteratively conserving synaptic flow", eq. 2) as a NAS proxy (Abdelfattah et al., ICLR 2021,
  "Zero-Cost Proxies for Lightweight NAS", section 3): on a copy with |weights|, BatchNorm
  replaced by the identity and double precision (no overflow at these depths), R = sum of the
  output for an all-ones input; score = sum over conv/linear weights of |theta * dR/dtheta|.
* `naswot` - Mellor, Turner, Storkey, Crowley 2021 ("Neural Architecture Search without
  Training", section 3, the log-determinant form): each ReLU's input over a minibatch of N images
  gives a binary code per image (unit active or not); K_H[i, j] = N_A - hamming(c_i, c_j) (N_A
  units in all); score = log |det K_H|.
* `zico` - Li, Wang, Zhou, Lei, Liu, Yang, Yu, ICLR 2023 ("ZiCo: Zero-shot NAS via Inverse
  Coefficient of Variation on Gradients", eq. 9): gradients of the loss over B >= 2 minibatches;
  per conv/linear layer, log( sum over its weights of mean_b |g| / std_b(g) ) (weights with zero
  std skipped), summed over layers.
* `params` - the number of parameters, the baseline every proxy must beat (ZiCo, section 5).
* `noskip` - a structure prior, not a network score: minus the skip_connect ops of the normal
  cell. DARTS's failure mode is a normal cell that collapses to skips (P-DARTS and DARTS+ cap
  them); on the 40 cells of bench/proxies.py fewer skips ranked trained accuracy better than any
  proxy (docs/BENCHMARKS.md, "proxies").

`rank_aggregate` combines scores of many cells by mean rank or by the sum of log ranks.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import SearchError
from core.nas.network import AUXILIARY
from core.nas.proxy_training import logits_of
from core.torch_util import count_parameters

WEIGHTED = (nn.Conv2d, nn.Linear)


def _bn_to_identity(model: nn.Module) -> nn.Module:
    """A copy of `model` with every BatchNorm replaced by nn.Identity (synflow's linear path)."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, nn.Identity())
    return model


def synflow(model: nn.Module, input_shape: Sequence[int]) -> float:
    """Synaptic flow of `model` for inputs of shape [C, H, W] (see the module docstring)."""
    net = _bn_to_identity(model).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    ones = torch.ones(1, *input_shape, dtype=torch.float64, device=next(net.parameters()).device)
    logits_of(net(ones)).sum().backward()
    total = 0.0
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, WEIGHTED) and module.weight.grad is not None:
                total += float((module.weight * module.weight.grad).abs().sum())
    return total


@torch.no_grad()
def naswot(model: nn.Module, x: torch.Tensor) -> float:
    """log |det K_H| of the ReLU activation-pattern kernel over the minibatch x [N, 3, H, W]."""
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def hook(_module: nn.Module, inputs: tuple) -> None:
        # +-1 codes [N, units]: s_i . s_j = agreements - disagreements = units - 2 hamming, so
        # units - hamming = (units + s_i . s_j) / 2 (exact in float32 below 2^24 units)
        signs = (inputs[0].reshape(n, -1) > 0).float().mul_(2).sub_(1)
        kernel.add_((signs @ signs.t()).double().add_(signs.shape[1]).div_(2))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    was_training = model.training
    state = copy.deepcopy(model.state_dict())  # train-mode BN moves running stats: put back
    try:
        model.train()
        model(x)
    finally:
        for h in handles:
            h.remove()
        model.load_state_dict(state)
        model.train(was_training)
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) > 0 else -math.inf


def zico(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """ZiCo over >= 2 minibatches (x [B, 3, H, W], y [B]) of cross-entropy gradients."""
    net = copy.deepcopy(model).train()
    layers = [m for m in net.modules() if isinstance(m, WEIGHTED)]
    grads: list[list[torch.Tensor]] = [[] for _ in layers]
    for x, y in batches:
        net.zero_grad(set_to_none=True)
        F.cross_entropy(logits_of(net(x)), y).backward()
        for store, layer in zip(grads, layers):
            if layer.weight.grad is not None:
                store.append(layer.weight.grad.detach().flatten().double())
    if min((len(g) for g in grads), default=0) < 2:
        raise SearchError("zico needs at least two minibatches of gradients")
    total = 0.0
    for store in grads:
        g = torch.stack(store)  # [batches, weights]
        std = g.std(dim=0, unbiased=False)
        nonzero = std > 0
        ratio = float((g.abs().mean(dim=0)[nonzero] / std[nonzero]).sum())
        if ratio > 0:
            total += math.log(ratio)
    return total


def params(model: nn.Module) -> float:
    """Number of parameters (the auxiliary head excluded, as DARTS counts)."""
    return float(count_parameters(model, exclude=AUXILIARY))


def noskip(genotype) -> float:
    """Minus the number of skip_connect ops in the genotype's normal cell (higher is better)."""
    return -float(sum(op == "skip_connect" for op, _ in genotype.normal))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks with 1 for the highest value; ties share their mean rank."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            out[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return out


def rank_aggregate(scores: dict[str, Sequence[float]], method: str = "mean-rank") -> list[float]:
    """Combined score per cell (higher is better) from several proxies' scores of the same cells.

    mean-rank: minus the mean of the per-proxy ranks; log-rank: minus the sum of their logs
    (a cell ranked first by one proxy counts more than one ranked second by all).
    """
    per_proxy = [ranks(list(v)) for v in scores.values()]
    if not per_proxy:
        raise SearchError("rank_aggregate needs at least one proxy")
    if method == "mean-rank":
        return [-sum(r) / len(r) for r in zip(*per_proxy)]
    if method == "log-rank":
        return [-sum(math.log(x) for x in r) for r in zip(*per_proxy)]
    raise SearchError(f"unknown rank aggregation {method!r}: use mean-rank or log-rank")
