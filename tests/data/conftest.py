"""Fixtures for core.data tests: small generated datasets registered in a fresh store."""

from __future__ import annotations

import pytest

from core.data.generate import generate_dataset
from core.data.internal import commit_dataset, new_workdir


def make_generated(
    store,
    name: str = "tiny",
    kind: str = "shapes",
    images: int = 6,
    size=(96, 96),
    objects=(2, 4),
    difficulty: str = "medium",
    val_fraction: float = 0.34,
    seed: int = 0,
) -> dict:
    """Generate and register a small dataset; returns its store row."""
    work = new_workdir(store.home, name)
    out = generate_dataset(work, kind, images, size, objects, difficulty, val_fraction, seed)
    return commit_dataset(store, work, name, kind, out["classes"])


@pytest.fixture
def tiny(store):
    """A registered 6-image shapes dataset 'tiny' (96 x 96); returns the store."""
    make_generated(store)
    return store
