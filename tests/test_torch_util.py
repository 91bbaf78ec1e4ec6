"""core.torch_util: the one parameter counter and the one RNG-state helper."""

from __future__ import annotations

import io
import random

import numpy as np
import torch
from torch import nn

from core.torch_util import count_parameters, rng_state, set_rng_state


def test_count_parameters_with_and_without_a_name_filter():
    model = nn.Sequential()
    model.add_module("body", nn.Linear(3, 2))  # 3*2 + 2 = 8
    model.add_module("auxiliary_head", nn.Linear(2, 1))  # 2 + 1 = 3
    assert count_parameters(model) == 11
    assert count_parameters(model, exclude="auxiliary") == 8


def _draws(rng: random.Random | None = None) -> tuple:
    return ((rng or random).random(), float(np.random.rand()), float(torch.rand(1)))


def test_round_trip_through_a_weights_only_file_global_and_private_generators():
    private = random.Random(5)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    for rng in (None, private):
        buffer = io.BytesIO()
        torch.save(rng_state(rng), buffer)
        expected = _draws(rng)
        _draws(rng)  # move every generator on
        buffer.seek(0)
        set_rng_state(torch.load(buffer, weights_only=True), rng)
        assert _draws(rng) == expected


def test_reads_the_old_search_checkpoint_form():
    rng = random.Random(7)
    version, internal, gauss = rng.getstate()
    old = {"torch": torch.get_rng_state(), "py": [version, list(internal), gauss]}
    expected = (rng.random(), float(torch.rand(1)))
    set_rng_state(old, rng)
    assert (rng.random(), float(torch.rand(1))) == expected
