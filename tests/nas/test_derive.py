"""core.nas.derive: the torch-free DARTS derive rule gives the supernet's genotype for the same
alphas, and importing it (or the genotypes, or the cell graphs) loads no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.nas.derive import derive_genotype
from core.nas.supernet import SuperNet


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("seed", range(6))
def test_equals_the_supernet_genotype_on_random_alphas(seed):
    net = SuperNet(4, 3, 3, nodes=3)
    rng = np.random.default_rng(seed)
    normal = rng.normal(0, 1, tuple(net.alphas_normal.shape))
    reduce = rng.normal(0, 1, tuple(net.alphas_reduce.shape))
    normal[:, 3] += 0.8 * (seed % 2)  # odd seeds: many skips, so the cap has work to do
    with torch.no_grad():
        net.alphas_normal.copy_(torch.from_numpy(normal))
        net.alphas_reduce.copy_(torch.from_numpy(reduce))
    for cap in (2, None):
        ours = derive_genotype(
            _softmax(normal).tolist(), _softmax(reduce).tolist(), 3, skip_cap=cap
        )
        assert ours == net.genotype(skip_cap=cap)


def test_derive_and_cell_graphs_load_no_torch():
    code = (
        "import sys; import core.nas.derive, core.nas.genotypes, core.viz.cell_graph, "
        "core.viz.alphas; print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False"
