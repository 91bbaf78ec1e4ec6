"""App configuration: the home folder, presets (assets/presets.json) and upload limits.

`AppConfig` is built once by app.py and shared (read-only) by every tab; per-user state lives in
Gradio components and gr.State, never here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from core.app import datasets

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PRESETS_FILE = ASSETS / "presets.json"
CSS_FILE = ASSETS / "style.css"
DEMO_PRESET_ENV = "NASDET_DEMO_PRESET"
IMPORT_ROOTS_ENV = "NASDET_IMPORT_ROOTS"  # os.pathsep-separated folders a folder import may read
MAX_MEGAPIXELS_ENV = "NASDET_MAX_MEGAPIXELS"  # largest picture a user may upload to detect on
DEFAULT_DATASET = "shapes-demo"
TICK_S = 2.0  # gr.Timer interval of every live view


@dataclass(frozen=True)
class AppConfig:
    """Settings of one running app.

    home: the NASDET_HOME folder. demo_preset: key of `presets["demo"]` used by the Guided demo
    ("default": the full demo, minutes on a CPU; "tiny": shorter, for tests). import_roots: folders
    under which a dataset may be imported by path (uploads are always allowed).
    max_upload_mb: largest accepted upload. max_megapixels: largest picture (width x height,
    in millions of pixels) a user may upload to detect on; larger ones are refused unread.
    """

    home: Path
    demo_preset: str = "default"
    import_roots: tuple[Path, ...] = ()
    max_upload_mb: int = 512
    max_megapixels: float = datasets.MAX_PIXELS / 1e6
    presets: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def demo(self) -> dict:
        """The Guided demo's settings: dataset, search and train specs."""
        demos = self.presets.get("demo", {})
        if self.demo_preset not in demos:
            raise ValueError(f"unknown demo preset {self.demo_preset!r}; known: {sorted(demos)}")
        return demos[self.demo_preset]

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1e6)

    def train_presets(self) -> dict[str, dict]:
        return self.presets.get("train", {})

    def search_presets(self) -> dict[str, dict]:
        return self.presets.get("search", {})


def load_presets(path: Path = PRESETS_FILE) -> dict:
    """The presets JSON (train, search and demo settings)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def make_config(
    home: Path,
    demo_preset: str | None = None,
    import_roots: list[str] | None = None,
    max_upload_mb: int = 512,
) -> AppConfig:
    """Build the AppConfig; the demo preset and import roots default to their env variables."""
    preset = demo_preset or os.environ.get(DEMO_PRESET_ENV) or "default"
    roots = import_roots
    if roots is None:
        roots = [r for r in os.environ.get(IMPORT_ROOTS_ENV, "").split(os.pathsep) if r]
    home = Path(home)
    megapixels = os.environ.get(MAX_MEGAPIXELS_ENV)
    all_roots = tuple(Path(r).expanduser().resolve() for r in roots) or (home.resolve(),)
    config = AppConfig(
        home=home,
        demo_preset=preset,
        import_roots=all_roots,
        max_upload_mb=max_upload_mb,
        max_megapixels=float(megapixels) if megapixels else AppConfig.max_megapixels,
        presets=load_presets(),
    )
    _ = config.demo  # fail fast on an unknown preset
    return config
