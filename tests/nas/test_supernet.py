"""Supernet: registered alphas, mixed and discrete forward, the DARTS derive rule and skip cap."""

from __future__ import annotations

import random

import pytest
import torch

from core.errors import SpecError
from core.nas.derive import derive_cell, derive_genotype
from core.nas.genotypes import Genotype
from core.nas.operations import PRIMITIVES
from core.nas.space import edge_list, sample_genotype
from core.nas.supernet import MixedOp, SuperNet, channel_shuffle

P = {name: k for k, name in enumerate(PRIMITIVES)}


def _row(**weights):
    """An edge's softmax weights: the named ops get their value, the rest share what is left."""
    rest = (1.0 - sum(weights.values())) / (len(PRIMITIVES) - len(weights))
    return [weights.get(name, rest) for name in PRIMITIVES]


# nodes = 2 -> edges (0,0) (0,1) (1,0) (1,1) (1,2)
HAND = [
    _row(none=0.9, sep_conv_3x3=0.05),  # node 0 <- input 0: none is ignored
    _row(max_pool_3x3=0.3),  # node 0 <- input 1
    _row(dil_conv_5x5=0.4),  # node 1 <- input 0
    _row(skip_connect=0.2),  # node 1 <- input 1 (weakest: dropped)
    _row(none=0.45, avg_pool_3x3=0.5),  # node 1 <- node 0
]
HAND_PAIRS = [("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("avg_pool_3x3", 2), ("dil_conv_5x5", 0)]


def test_derive_rule_on_hand_set_weights():
    assert derive_cell(HAND, 2) == HAND_PAIRS


def test_supernet_genotype_from_hand_set_alphas():
    net = SuperNet(4, 3, 3, nodes=2)
    with torch.no_grad():
        net.alphas_normal.copy_(torch.tensor(HAND).log())
        net.alphas_reduce.copy_(torch.tensor(HAND).log().flip(0))  # edges reversed
    g = net.genotype()
    assert list(g.normal) == HAND_PAIRS and g.normal_concat == (2, 3)
    assert list(g.reduce) != HAND_PAIRS


def test_skip_cap_replaces_weakest_skips_with_next_best_op():
    nodes = 4
    rows = [
        _row(skip_connect=0.5 + 0.01 * k, sep_conv_5x5=0.3) for k in range(len(edge_list(nodes)))
    ]
    uncapped = derive_genotype(rows, rows, nodes, skip_cap=None)
    assert uncapped.count("skip_connect") == 8
    capped = derive_genotype(rows, rows, nodes, skip_cap=2)
    assert capped.count("skip_connect") == 2
    assert capped.count("sep_conv_5x5") == 6
    kept = [k for k, (op, _) in enumerate(capped.normal) if op == "skip_connect"]
    assert kept == [6, 7]  # node 3's edges have the largest skip weights (k grows with the edge)
    assert capped.count("skip_connect", "reduce") == 8  # the cap is on the normal cell only
    assert [j for _, j in capped.normal] == [j for _, j in uncapped.normal]


def test_alphas_are_registered_and_split_from_weights():
    net = SuperNet(4, 3, 3, nodes=2)
    names = {n for n, _ in net.named_parameters()}
    assert {"alphas_normal", "alphas_reduce"} <= names
    assert net.alphas_normal.shape == (5, len(PRIMITIVES))
    ids = {id(p) for p in net.weight_parameters()}
    assert all(id(a) not in ids for a in net.arch_parameters())
    assert len(ids) + 2 == len(list(net.parameters()))


def test_mixed_and_discrete_forward_and_alpha_gradients():
    torch.manual_seed(0)
    net = SuperNet(4, 3, 3, nodes=2)
    x = torch.randn(2, 3, 8, 8)
    out = net(x)
    assert out.shape == (2, 3)
    out.sum().backward()
    assert net.alphas_normal.grad is not None and net.alphas_normal.grad.abs().sum() > 0
    g = sample_genotype(random.Random(0), nodes=2)
    assert net(x, genotype=g).shape == (2, 3)


def test_discrete_path_uses_only_genotype_ops():
    torch.manual_seed(0)
    net = SuperNet(4, 3, 3, nodes=2).eval()
    g = Genotype(
        [("sep_conv_3x3", 0), ("max_pool_3x3", 1), ("avg_pool_3x3", 2), ("skip_connect", 0)],
        [2, 3],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0)],
        [2, 3],
    )
    x = torch.randn(2, 3, 8, 8)
    before = net(x, genotype=g)
    with torch.no_grad():  # a weight the genotype never uses
        for p in net.cells[0]._ops[0]._ops[P["dil_conv_5x5"]].parameters():
            p.add_(1.0)
    assert torch.equal(before, net(x, genotype=g))


def test_channel_shuffle_interleaves_the_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]


@pytest.mark.parametrize("stride", [1, 2])
def test_partial_channel_edge_sends_1_over_k_through_its_ops(stride):
    """PC-DARTS: the ops see C/K channels; the other channels pass unchanged (max-pooled on a
    reduction edge) and land, after the shuffle, at every K-th position but the first."""
    torch.manual_seed(0)
    op = MixedOp(8, stride, partial_channels=2)
    assert all(p.shape[0] <= 4 for p in op.parameters() if p.dim() == 4)  # C/K = 4 wide
    x = torch.randn(2, 8, 8, 8)
    out = op(x, torch.softmax(torch.randn(len(PRIMITIVES)), -1))
    rest = x[:, 4:] if stride == 1 else torch.nn.functional.max_pool2d(x[:, 4:], 2, 2)
    assert out.shape == (2, 8, 8 // stride, 8 // stride)
    assert torch.equal(out[:, 1::2], rest)


def test_pc_darts_has_normalised_edges_and_fewer_weights():
    """K = 4: betas are architecture parameters, each node's input weights sum to 1, the derived
    weights are softmax(alpha) x beta, and the supernet has fewer weights than DARTS's."""
    torch.manual_seed(0)
    darts, pc = SuperNet(8, 3, 3, nodes=2), SuperNet(8, 3, 3, nodes=2, partial_channels=4)
    assert len(pc.arch_parameters()) == 4 and darts.edge_weights("normal") is None
    n_weights = [sum(p.numel() for p in net.weight_parameters()) for net in (darts, pc)]
    assert n_weights[1] < 0.5 * n_weights[0]
    with torch.no_grad():
        pc.betas_normal.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0]))
    edges = pc.edge_weights("normal").detach()
    assert edges[:2].sum() == pytest.approx(1) and edges[2:].sum() == pytest.approx(1)
    assert edges[2] > edges[3] == pytest.approx(edges[4])
    derived = torch.tensor(pc.alpha_weights()["normal"])
    assert torch.allclose(derived, torch.softmax(pc.alphas_normal.detach(), -1) * edges[:, None])
    out = pc(torch.randn(2, 3, 8, 8))
    out.sum().backward()
    assert pc.betas_normal.grad is not None and pc.betas_normal.grad.abs().sum() > 0
    with pytest.raises(SpecError, match="must divide"):
        SuperNet(6, 3, 3, partial_channels=4)
