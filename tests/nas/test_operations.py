"""Operations: every op keeps C channels and divides H, W by its stride."""

from __future__ import annotations

import pytest
import torch

from core.errors import SpecError
from core.nas.operations import OPS, PRIMITIVES, FactorizedReduce, Identity, SepConv, build_op


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("stride", [1, 2])
def test_op_output_shape(name, stride):
    op = OPS[name](6, stride, True)
    out = op(torch.randn(2, 6, 8, 8))
    assert out.shape == (2, 6, 8 // stride, 8 // stride)


def test_search_set_is_darts_eight_in_order():
    assert PRIMITIVES == (
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    )
    assert {"sep_conv_7x7", "conv_7x1_1x7"} <= set(OPS)


def test_skip_connect_is_identity_at_stride_1_and_factorized_reduce_at_2():
    assert isinstance(OPS["skip_connect"](4, 1, True), Identity)
    assert isinstance(OPS["skip_connect"](4, 2, True), FactorizedReduce)


def test_sep_conv_is_two_relu_dw_pw_bn_blocks():
    op = OPS["sep_conv_3x3"](4, 1, True)
    assert isinstance(op, SepConv)
    kinds = [type(m).__name__ for m in op.op]
    assert kinds == ["ReLU", "Conv2d", "Conv2d", "BatchNorm2d"] * 2
    # depthwise 3x3 (4*9) + pointwise (4*4) + BN (2*4), twice
    assert sum(p.numel() for p in op.parameters()) == 2 * (36 + 16 + 8)


def test_none_outputs_zeros_and_unknown_op_is_named():
    assert OPS["none"](3, 2, False)(torch.ones(1, 3, 4, 4)).abs().sum() == 0
    with pytest.raises(SpecError, match="unknown operation 'conv_9x9'"):
        build_op("conv_9x9", 4, 1)
