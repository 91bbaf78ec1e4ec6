"""CLI verbs of core.nas (registered into `python -m core` by core/cli.py)."""

from __future__ import annotations


def register(sub) -> None:
    """Add this package's verbs to the top-level subparsers."""
