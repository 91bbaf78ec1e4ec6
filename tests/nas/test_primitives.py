"""core.nas.primitives: the op names match the torch op table and the written-out parameter
counts equal those of the built modules."""

from __future__ import annotations

import pytest

from core.nas.operations import OPS
from core.nas.primitives import OP_NAMES, PRIMITIVES, op_param_count
from core.torch_util import count_parameters


def test_names_are_the_op_table():
    assert set(OPS) == OP_NAMES and set(PRIMITIVES) <= OP_NAMES
    assert PRIMITIVES[0] == "none" and len(set(PRIMITIVES)) == len(PRIMITIVES) == 8


@pytest.mark.parametrize("op", sorted(OP_NAMES))
@pytest.mark.parametrize("C,stride", [(4, 1), (16, 1), (16, 2), (6, 2)])
def test_counts_equal_the_built_modules(op, C, stride):
    assert op_param_count(op, C, stride) == count_parameters(OPS[op](C, stride, True))


def test_hand_counts_and_unknown_op():
    # sep_conv_3x3 at C=16: 2 * (16*9 + 16*16 + 2*16) = 2 * 432
    assert op_param_count("sep_conv_3x3", 16, 1) == 864
    assert op_param_count("skip_connect", 16, 2) == 16 * 16 + 32
    assert op_param_count("skip_connect", 16, 1) == 0
    assert op_param_count("conv_3x3", 16, 1) is None
