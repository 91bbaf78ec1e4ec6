"""Discrete networks: the exact published parameter counts and forward shapes."""

from __future__ import annotations

import pytest
import torch

from core.nas.genotypes import PUBLISHED_GENOTYPES
from core.nas.network import AUXILIARY, CifarNetwork, drop_path, reduction_layers
from core.torch_util import count_parameters

# C=36, layers=20, 10 classes, auxiliary head excluded (DARTS paper / reference json).
EXPECTED = {
    "DARTS_V2": 3_349_342,
    "DARTS_V1": 3_169_414,
    "AmoebaNet": 3_145_078,
    "NASNet": 3_830_950,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exact_parameter_counts(name):
    with torch.device("meta"):  # shapes only: fast
        model = CifarNetwork(36, 10, 20, True, PUBLISHED_GENOTYPES[name])
    assert count_parameters(model, exclude=AUXILIARY) == EXPECTED[name]
    assert sum(p.numel() for p in model.parameters()) > EXPECTED[name]  # aux head exists


@pytest.mark.parametrize("size", [16, 32])
def test_forward_shapes_with_aux_and_drop_path(size):
    torch.manual_seed(0)
    model = CifarNetwork(6, 4, 5, True, PUBLISHED_GENOTYPES["NASNet"])
    model.drop_path_prob = 0.2
    logits, aux = model(torch.randn(2, 3, size, size))
    assert logits.shape == (2, 4) and aux.shape == (2, 4)
    model.eval()
    logits, aux = model(torch.randn(2, 3, size, size))
    assert aux is None


def test_reductions_at_thirds_and_drop_path_scaling():
    assert reduction_layers(20) == (6, 13) and reduction_layers(5) == (1, 3)
    torch.manual_seed(0)
    x = torch.ones(4000, 1, 1, 1)
    out = drop_path(x, 0.25)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.75))
    assert abs((out == 0).float().mean().item() - 0.25) < 0.03


@pytest.mark.parametrize("optimizer, kind", [("adam", torch.optim.AdamW), ("sgd", torch.optim.SGD)])
def test_train_settings_build_the_named_optimiser_and_it_learns(optimizer, kind):
    from core.nas.proxy_training import TrainSettings, train_and_score
    from tests.nas.conftest import make_proxy_tensors

    lr = {"adam": 3e-3, "sgd": 0.1}[optimizer]
    settings = TrainSettings(epochs=6, batch_size=8, lr=lr, momentum=0.8, optimizer=optimizer)
    opt = settings.build([torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(opt, kind) and opt.defaults["lr"] == lr
    assert opt.defaults["betas" if optimizer == "adam" else "momentum"] == (
        (0.8, 0.999) if optimizer == "adam" else 0.8
    )
    t = make_proxy_tensors(n_train=64, n_val=32)
    norm = lambda x: (x.float() - 80) / 60  # noqa: E731
    torch.manual_seed(0)
    net = CifarNetwork(4, 2, 3, False, PUBLISHED_GENOTYPES["DARTS_V2"])
    scores = train_and_score(
        net, (norm(t["train_x"]), t["train_y"]), (norm(t["val_x"]), t["val_y"]), settings, seed=0
    )
    assert scores["val_acc"] >= 0.9  # one bright channel: a working optimiser learns it
