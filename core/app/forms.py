"""Job forms: the field descriptions of every job spec (core.spec), from which the GUI builds its
inputs and reads their text back with the engine's own coercion, as argparse does for the CLI."""

from __future__ import annotations

from dataclasses import MISSING

from core.spec import FieldInfo, coerce_fields, describe, dump, field_names

__all__ = ["MISSING", "FieldInfo", "coerce_fields", "describe", "dump", "field_names"]
