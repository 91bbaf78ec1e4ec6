"""Zero-cost proxies on tiny hand-built networks, against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from core.nas import zero_cost_scores


def _linear(weight) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
    return layer


def test_synflow_by_hand_with_batchnorm_as_identity():
    # |W1| = [[1, 2], [3, 4]], |W2| = [[1, 2]]; all-ones input: h = [3, 7], R = 3 + 14 = 17.
    # dR/dW2 = h -> |W2 * h| sums to 17; dR/dW1[i, j] = |W2|[i] -> |W1| * [[1, 1], [2, 2]]
    # = [[1, 2], [6, 8]] sums to 17 (synaptic flow is conserved per layer): 34 in all.
    net = nn.Sequential(
        _linear([[1.0, -2.0], [3.0, 4.0]]), nn.BatchNorm1d(2), nn.ReLU(), _linear([[-1.0, 2.0]])
    )
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert zero_cost_scores.synflow(net, (2,)) == pytest.approx(
        34.0, rel=1e-12
    )  # BN kept: 34/sqrt(1+eps)
    for key, value in net.state_dict().items():  # signs and dtype kept
        assert torch.equal(value, before[key])


def test_naswot_log_det_of_the_hamming_kernel():
    # codes of 3 images over 4 units: [1,1,0,0], [1,0,1,0], [0,0,0,1]; hamming 2, 3, 3, so
    # K = 4 - hamming = [[4, 2, 1], [2, 4, 1], [1, 1, 4]], det K = 60 - 14 - 2 = 44.
    x = torch.tensor([[1.0, 2.0, -1.0, 0.0], [3.0, -1.0, 0.5, -2.0], [-1.0, 0.0, -3.0, 1.0]])
    assert zero_cost_scores.naswot(nn.Sequential(nn.ReLU(), nn.Identity()), x) == pytest.approx(
        math.log(44.0)
    )
    # two ReLU layers on the same codes add their kernels: det(2K) = 8 * 44
    assert zero_cost_scores.naswot(nn.Sequential(nn.ReLU(), nn.ReLU()), x) == pytest.approx(
        math.log(8 * 44.0)
    )


def test_naswot_leaves_batchnorm_statistics_alone():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).eval()
    before = net[1].running_mean.clone()
    zero_cost_scores.naswot(net, torch.randn(5, 3, 6, 6))
    assert torch.equal(net[1].running_mean, before) and not net.training


def test_zico_by_hand():
    # W = 0 (2 classes x 3 features): softmax = [0.5, 0.5]; both labels 0, so p - y = [-.5, .5]
    # and dL/dW = (p - y) x^T: batch 1 x = [1, 2, 0] -> [[-.5, -1, 0], [.5, 1, 0]], batch 2
    # x = [2, 1, 0] -> [[-1, -.5, 0], [1, .5, 0]]. Per weight, mean|g| / std(g) over the two
    # batches = (|a| + |b|) / |a - b| = 1.5 / 0.5 = 3 for the four nonzero ones; the third
    # column has std 0 and is skipped. ZiCo = log(4 * 3) = log 12.
    layer = _linear([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    batches = [
        (torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([0])),
        (torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([0])),
    ]
    assert zero_cost_scores.zico(layer, batches) == pytest.approx(math.log(12.0))
    assert layer.weight.grad is None  # scored on a copy


def test_params_counts_every_parameter_but_the_auxiliary_head():
    net = nn.Sequential(nn.Linear(3, 2), nn.Conv2d(2, 4, 1, bias=False))
    assert zero_cost_scores.params(net) == 3 * 2 + 2 + 2 * 4


def test_noskip_counts_the_normal_cells_skips_only():
    from core.nas.genotypes import Genotype

    genotype = Genotype(
        [("skip_connect", 0), ("sep_conv_3x3", 1), ("skip_connect", 1), ("max_pool_3x3", 0)],
        [2, 3],
        [("skip_connect", 0), ("skip_connect", 1)],
        [2],
    )
    assert zero_cost_scores.noskip(genotype) == -2.0


def test_ranks_and_rank_aggregation():
    assert zero_cost_scores.ranks([5.0, 5.0, 1.0, 7.0]) == [2.5, 2.5, 4.0, 1.0]
    scores = {"a": [3.0, 1.0, 2.0], "b": [1.0, 3.0, 2.0]}  # ranks [1,3,2] and [3,1,2]
    assert zero_cost_scores.rank_aggregate(scores, "mean-rank") == [-2.0, -2.0, -2.0]
    # log-rank: -(log 1 + log 3) = -1.10 for the cells one proxy ranks first, -2 log 2 = -1.39
    combined = zero_cost_scores.rank_aggregate(scores, "log-rank")
    assert combined == pytest.approx([-math.log(3), -math.log(3), -2 * math.log(2)])
