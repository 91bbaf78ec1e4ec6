"""The one-shot supernet of the DARTS search space (Liu et al. 2019, sections 2.2 and 2.4; the
authors' cnn/model_search.py), shared by DARTS and ENAS.

Every edge (node i, input j) of a cell is a `MixedOp`: all ops of the search set applied to the
input, mixed by the softmax of that edge's architecture weights (DARTS eq. 2); the pooling ops get
a non-affine BN as in DARTS. The architecture weights `alphas_normal` and `alphas_reduce`
([edges, ops], rows in `core.nas.space.edge_list` order, columns in PRIMITIVES order) are
registered nn.Parameters of the network, shared by all cells of a kind; `weight_parameters()`
and `arch_parameters()` split them for the two optimisers.

`SuperNet.forward(x)` runs the continuous relaxation; `forward(x, genotype=g)` runs only the ops
of a discrete genotype over the shared weights (ENAS, Pham et al. 2018, section 2.3).
`SuperNet.genotype()` applies the DARTS derive rule (core.nas.derive, plain Python): for each
node keep the two inputs whose strongest non-none op is strongest, with that op; then cap
skip_connect in the normal cell.

`partial_channels=K` > 1 is PC-DARTS (Xu et al., ICLR 2020, sections 3.2-3.3; the authors'
model_search.py): each edge sends only C/K of its channels through the ops (the rest bypass
them, max-pooled on a reduction edge) and shuffles the channels afterwards, so the supernet
costs about K times less; edge normalisation weighs each node's inputs by the softmax of
per-edge parameters `betas_normal`/`betas_reduce` ([edges], architecture parameters too), and
the derive rule ranks an edge's ops by softmax(alpha) x its normalised beta.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from core.errors import SpecError
from core.nas.derive import derive_genotype
from core.nas.genotypes import Genotype
from core.nas.network import STEM_MULTIPLIER, reduction_layers
from core.nas.operations import OPS, PRIMITIVES, FactorizedReduce, ReLUConvBN, Zero
from core.nas.space import edge_index, edge_list

ALPHA_INIT_SCALE = 1e-3  # DARTS: alphas start as 1e-3 * N(0, 1)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: [B, g*n, H, W] -> channels interleaved across the g groups."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class MixedOp(nn.Module):
    """All candidate ops on one edge: [B, C, H, W] -> [B, C, H/stride, W/stride]; with
    `partial_channels` K > 1 only the first C/K channels go through the ops (PC-DARTS)."""

    def __init__(
        self, C: int, stride: int, primitives: Sequence[str] = PRIMITIVES, partial_channels: int = 1
    ):
        super().__init__()
        self.primitives = tuple(primitives)
        self.k = partial_channels
        C_op = C // self.k
        ops = []
        for name in self.primitives:
            op = OPS[name](C_op, stride, False)
            if "pool" in name:
                op = nn.Sequential(op, nn.BatchNorm2d(C_op, affine=False))
            ops.append(op)
        self._ops = nn.ModuleList(ops)
        self._stride = stride

    def _partial(self, x: torch.Tensor, through) -> torch.Tensor:
        if self.k == 1:
            return through(x)
        c = x.shape[1] // self.k
        rest = x[:, c:]
        if self._stride == 2:
            rest = F.max_pool2d(rest, 2, 2)
        return channel_shuffle(torch.cat([through(x[:, :c]), rest], dim=1), self.k)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """weights: [len(primitives)], the softmax of this edge's alphas.

        The `none` op adds w * 0 (no value, no gradient), so it is skipped: same result, fewer ops.
        """
        return self._partial(
            x,
            lambda h: sum(
                w * op(h) for w, op in zip(weights, self._ops) if not isinstance(op, Zero)
            ),
        )

    def forward_op(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """Only the op called `name` (a discrete edge over the shared weights)."""
        return self._partial(x, self._ops[self.primitives.index(name)])


class SearchCell(nn.Module):
    """A cell whose edges are all MixedOps: -> [B, nodes * C, H', W'] (all nodes concatenated)."""

    def __init__(
        self,
        nodes: int,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        primitives: Sequence[str] = PRIMITIVES,
        partial_channels: int = 1,
    ):
        super().__init__()
        self.reduction = reduction
        self.nodes = nodes
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(C_prev_prev, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self._ops = nn.ModuleList(
            MixedOp(C, 2 if reduction and j < 2 else 1, primitives, partial_channels)
            for _, j in edge_list(nodes)
        )

    def forward(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        weights: torch.Tensor,
        edge_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """weights: [edges, ops] softmax weights of this cell kind; edge_weights: [edges], each
        node's inputs normalised (PC-DARTS), or None."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self.nodes):
            states.append(
                sum(
                    self._ops[offset + j](h, weights[offset + j])
                    * (1.0 if edge_weights is None else edge_weights[offset + j])
                    for j, h in enumerate(states)
                )
            )
            offset += len(states) - 1
        return torch.cat(states[2:], dim=1)

    def forward_discrete(
        self, s0: torch.Tensor, s1: torch.Tensor, pairs: Sequence[tuple[str, int]]
    ) -> torch.Tensor:
        """Only the genotype's edges; pairs must have 2 per node (concat: all nodes)."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self.nodes):
            states.append(
                sum(
                    self._ops[edge_index(i, j)].forward_op(states[j], op)
                    for op, j in pairs[2 * i : 2 * i + 2]
                )
            )
        return torch.cat(states[2:], dim=1)


class SuperNet(nn.Module):
    """DARTS search network: stem 3C, `layers` search cells, pooling, classifier.

    Input [B, 3, H, W] -> logits [B, num_classes].
    """

    def __init__(
        self,
        C: int,
        num_classes: int,
        layers: int,
        nodes: int = 4,
        primitives: Sequence[str] = PRIMITIVES,
        stem_multiplier: int = STEM_MULTIPLIER,
        partial_channels: int = 1,
    ):
        super().__init__()
        if partial_channels < 1 or C % partial_channels:
            raise SpecError(
                f"partial channels K must divide the width C={C}; got {partial_channels}"
            )
        self.nodes = nodes
        self.partial_channels = partial_channels
        self.primitives = tuple(primitives)
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr)
        )
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        reductions = reduction_layers(layers)
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                C_curr *= 2
            self.cells.append(
                SearchCell(
                    nodes,
                    C_prev_prev,
                    C_prev,
                    C_curr,
                    reduction,
                    reduction_prev,
                    self.primitives,
                    partial_channels,
                )
            )
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, nodes * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        shape = (len(edge_list(nodes)), len(self.primitives))
        self.alphas_normal = nn.Parameter(ALPHA_INIT_SCALE * torch.randn(shape))
        self.alphas_reduce = nn.Parameter(ALPHA_INIT_SCALE * torch.randn(shape))
        if partial_channels > 1:  # edge normalisation (PC-DARTS); plain DARTS has none
            self.betas_normal = nn.Parameter(ALPHA_INIT_SCALE * torch.randn(shape[0]))
            self.betas_reduce = nn.Parameter(ALPHA_INIT_SCALE * torch.randn(shape[0]))

    def arch_parameters(self) -> list[nn.Parameter]:
        betas = [self.betas_normal, self.betas_reduce] if self.partial_channels > 1 else []
        return [self.alphas_normal, self.alphas_reduce, *betas]

    def weight_parameters(self) -> list[nn.Parameter]:
        return [
            p for name, p in self.named_parameters() if not name.startswith(("alphas_", "betas_"))
        ]

    def edge_weights(self, kind: str) -> torch.Tensor | None:
        """[edges]: each node's incoming edges, softmax of their betas (None without PC-DARTS)."""
        if self.partial_channels == 1:
            return None
        betas = self.betas_normal if kind == "normal" else self.betas_reduce
        out, start = [], 0
        for i in range(self.nodes):
            out.append(torch.softmax(betas[start : start + i + 2], dim=-1))
            start += i + 2
        return torch.cat(out)

    def forward(self, x: torch.Tensor, genotype: Genotype | None = None) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        if genotype is None:
            w_normal = torch.softmax(self.alphas_normal, dim=-1)
            w_reduce = torch.softmax(self.alphas_reduce, dim=-1)
            e_normal, e_reduce = self.edge_weights("normal"), self.edge_weights("reduce")
            for cell in self.cells:
                s0, s1 = (
                    s1,
                    cell(
                        s0,
                        s1,
                        w_reduce if cell.reduction else w_normal,
                        e_reduce if cell.reduction else e_normal,
                    ),
                )
        else:
            for cell in self.cells:
                s0, s1 = (
                    s1,
                    cell.forward_discrete(
                        s0, s1, genotype.reduce if cell.reduction else genotype.normal
                    ),
                )
        return self.classifier(self.global_pooling(s1).flatten(1))

    def alpha_weights(self) -> dict[str, list[list[float]]]:
        """Softmax weights per edge x op (PRIMITIVES order) of both cells, as nested lists; with
        PC-DARTS each edge's row is scaled by its normalised beta (what the derive rule ranks)."""
        out = {}
        with torch.no_grad():
            for kind, alphas in (("normal", self.alphas_normal), ("reduce", self.alphas_reduce)):
                w = torch.softmax(alphas, -1)
                edges = self.edge_weights(kind)
                out[kind] = (w if edges is None else w * edges[:, None]).tolist()
        return out

    def genotype(self, skip_cap: int | None = 2) -> Genotype:
        w = self.alpha_weights()
        return derive_genotype(w["normal"], w["reduce"], self.nodes, self.primitives, skip_cap)
