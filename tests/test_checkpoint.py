"""Checkpoint files: round trip, RNG restore, clear errors for corrupt or mismatched files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from core.checkpoint import load_checkpoint, load_weights, rng_state, save_checkpoint, set_rng_state
from core.errors import CheckpointError


def test_round_trip_with_rng_states(tmp_path):
    model = nn.Linear(3, 2)
    torch.manual_seed(1)
    random.seed(2)
    np.random.seed(3)
    path = save_checkpoint(
        tmp_path / "c.pt",
        {"model": model.state_dict(), "epoch": 4, "rng": rng_state()},
        kind="train",
    )
    expected = (torch.rand(3), random.random(), np.random.rand())
    state = load_checkpoint(path, kind="train")
    assert state["epoch"] == 4 and state["format"] == "nasdet-checkpoint"
    set_rng_state(state["rng"])
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0])
    assert expected[1:] == again[1:]
    other = nn.Linear(3, 2)
    load_weights(other, state["model"], "c.pt")
    assert torch.equal(other.weight, model.weight)
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was renamed away


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    path = save_checkpoint(tmp_path / "c.pt", {"model": nn.Linear(3, 2).state_dict()}, "model")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)
    path.write_bytes(b"\x80garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)
    torch.save({"weight": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a NASDet Studio checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    save_checkpoint(path, {}, "model")
    with pytest.raises(CheckpointError, match="expected 'train'"):
        load_checkpoint(path, kind="train")


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"format": "nasdet-checkpoint", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "evil.pt")


def test_mismatched_weights_name_the_keys():
    with pytest.raises(CheckpointError, match=r"shape mismatch.*weight \(4, 3\) vs \(2, 3\)"):
        load_weights(nn.Linear(3, 2), nn.Linear(3, 4).state_dict(), "best.pt")
    with pytest.raises(CheckpointError, match=r"missing \(1\): 0.bias"):
        load_weights(nn.Sequential(nn.Linear(3, 2)), {"0.weight": torch.zeros(2, 3)}, "x")
