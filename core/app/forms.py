"""Job forms: the field descriptions of every job spec (core.spec), from which the GUI builds its
inputs and reads their text back with the engine's own coercion, as argparse does for the CLI."""

from __future__ import annotations

from core.spec import coerce_fields, dump

__all__ = ["coerce_fields", "dump"]
