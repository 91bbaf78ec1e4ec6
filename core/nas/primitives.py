"""The op names of the cell space and their parameter counts, as plain data (no torch).

`PRIMITIVES` is the DARTS search set in the authors' order (Liu et al. 2019, cnn/genotypes.py);
its order is the column order of the architecture weights alpha everywhere in core.nas.
`OP_NAMES` are all ops a genotype may use: the search set plus the NASNet/AmoebaNet ops
(sep_conv_7x7, conv_7x1_1x7). core.nas.operations builds them as torch modules (its OPS table
has exactly these names); genotypes, the derive rule and the cell graphs only need the names.

`op_param_count(op, C, stride)` is the parameter count of `OPS[op](C, stride, affine=True)`
written out from the op definitions (tests/nas/test_primitives.py checks it against the built
modules), so the cell graphs can show it without building a module:
  pools, none, skip (stride 1): 0
  skip (stride 2, factorized reduce): two 1x1 convs C -> C/2 + BN(C)  = C^2 + 2C
  dil_conv_k: depthwise k x k + pointwise 1x1 + BN                    = C k^2 + C^2 + 2C
  sep_conv_k: the dil_conv block twice                                = 2 (C k^2 + C^2 + 2C)
  conv_7x1_1x7: a 1x7 and a 7x1 conv C -> C + BN                      = 14 C^2 + 2C
"""

from __future__ import annotations

PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
OP_NAMES: frozenset[str] = frozenset(PRIMITIVES) | {"sep_conv_7x7", "conv_7x1_1x7"}
BN_PARAMS_PER_CHANNEL = 2  # affine BatchNorm: weight and bias


def _separable(C: int, kernel: int) -> int:
    """Depthwise kernel x kernel conv, pointwise 1x1 conv (no biases), affine BN."""
    return C * kernel * kernel + C * C + BN_PARAMS_PER_CHANNEL * C


def op_param_count(op: str, C: int, stride: int = 1) -> int | None:
    """Parameters of op `op` at C channels and `stride` (affine BN); None for an unknown op."""
    if op in ("none", "max_pool_3x3", "avg_pool_3x3"):
        return 0
    if op == "skip_connect":
        return 0 if stride == 1 else C * C + BN_PARAMS_PER_CHANNEL * C
    if op in ("dil_conv_3x3", "dil_conv_5x5"):
        return _separable(C, int(op[-1]))
    if op in ("sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"):
        return 2 * _separable(C, int(op[-1]))
    if op == "conv_7x1_1x7":
        return 14 * C * C + BN_PARAMS_PER_CHANNEL * C
    return None
