"""Datasets as a screen or a CLI verb sees them: their names, the generators and import formats
on offer, and an opened dataset (its records and splits), a picture read as RGB, and the lines
of an import's validation report in words."""

from __future__ import annotations

from core.data.dataset import open_dataset
from core.data.formats.report import summary_line
from core.data.images import MAX_PIXELS, image_size, read_rgb
from core.data.spec import DIFFICULTY_NAMES, GENERATOR_KINDS, IMPORT_FORMATS
from core.engine.queries import dataset_names

__all__ = [
    "DIFFICULTY_NAMES",
    "GENERATOR_KINDS",
    "IMPORT_FORMATS",
    "MAX_PIXELS",
    "dataset_names",
    "image_size",
    "open_dataset",
    "read_rgb",
    "summary_line",
]
