"""DARTS architect: first-order gradient, and the second-order (unrolled) finite-difference one."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.nas.strategies import darts
from core.nas.strategies.darts import Architect
from core.nas.supernet import SuperNet


def _setup():
    torch.manual_seed(0)
    net = SuperNet(4, 3, 3, nodes=2).double()
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(16, 3, 8, 8, dtype=torch.float64)
    y = torch.arange(16) % 3
    return net, w_opt, (x[:8], y[:8]), (x[8:], y[8:])


def _first_order_grads(net, val):
    loss = F.cross_entropy(net(val[0]), val[1])
    return torch.autograd.grad(loss, net.arch_parameters())


def test_second_order_with_zero_step_equals_first_order():
    net, w_opt, train, val = _setup()
    architect = Architect(net, 3e-4, 1e-3, 0.9, 3e-4)
    expected = _first_order_grads(net, val)
    weights = [w.detach().clone() for w in net.weight_parameters()]
    architect._unrolled_backward(train, val, 0.0, w_opt)  # w' = w, implicit term * 0
    for a, g in zip(net.arch_parameters(), expected):
        assert torch.allclose(a.grad, g, atol=1e-10)
    for w, w0 in zip(net.weight_parameters(), weights):  # the finite differences undo themselves
        assert torch.allclose(w, w0, atol=1e-12)


def test_hessian_vector_product_matches_autograd(monkeypatch):
    # float64 and a small finite-difference step: exact up to rounding. (DARTS's r = 0.01 is
    # coarse on a net this tiny and nonlinear, so the check uses 1e-4.)
    monkeypatch.setattr(darts, "HVP_R", 1e-4)
    net, w_opt, train, _ = _setup()
    architect = Architect(net, 3e-4, 1e-3, 0.9, 3e-4)
    weights = net.weight_parameters()
    vector = [torch.randn_like(w) for w in weights]
    approx = architect._hessian_vector_product(weights, vector, train)
    loss = F.cross_entropy(net(train[0]), train[1])
    g_w = torch.autograd.grad(loss, weights, create_graph=True)
    exact = torch.autograd.grad(g_w, net.arch_parameters(), grad_outputs=vector, allow_unused=True)
    for a, e in zip(approx, exact):
        assert ((a - e).norm() / e.norm()).item() < 1e-6


def test_arch_step_moves_only_alphas():
    net, w_opt, train, val = _setup()
    architect = Architect(net, 1e-2, 1e-3, 0.9, 3e-4)
    alphas = [a.detach().clone() for a in net.arch_parameters()]
    weights = [w.detach().clone() for w in net.weight_parameters()]
    for second_order in (False, True):
        architect.step(train, val, 0.05, w_opt, second_order)
    assert all(not torch.equal(a, a0) for a, a0 in zip(net.arch_parameters(), alphas))
    # (the finite differences add and remove eps * v: equal up to rounding)
    assert all(torch.allclose(w, w0, atol=1e-12) for w, w0 in zip(net.weight_parameters(), weights))
    assert all(w.grad is None for w in net.weight_parameters())
