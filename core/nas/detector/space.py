"""The detector search space as data: which backbone, at which input size, with how wide and deep a
BiFPN and how deep a head - the dimensions EfficientDet scales together (Tan, Pang, Le, CVPR 2020,
sec. 4.2, compound scaling), searched instead of scaled.

* `DetectorSpace`: the choices of each dimension. Backbones are train-spec backbone strings: timm
  names (built from scratch, nothing downloaded), published cells (`nas:DARTS_V2`) and the
  searched cells of earlier cell searches (`nas:<job>`), each built by core.nas.backbone.
* `DetectorChoice`: one point of the space; `train_spec` turns it into a `train` job spec on the
  search's training preset (core.train.presets), so a trial is an ordinary training.
* `default_choice(preset)`: the preset's own detector (quick-cpu: efficientdet_tiny's BiFPN and
  head on MobileNetV3-Small at 256 px); `reference_choice(space)`: it, or its nearest detector
  in a space that does not hold it - the reference a search is measured against.
* `suggest(trial, space)`: the choice an Optuna trial samples (one categorical per dimension).

Input sizes are multiples of 128 (2**max_level with EfficientDet's P3-P7 levels).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.det.config import MODEL_TABLE
from core.train.presets import PRESETS

SEARCH_PRESET = "quick-cpu"  # the training recipe of every trial (and of the bench's finals)
TIMM_BACKBONES = ("mobilenetv3_small_100", "efficientnet_b0")  # MobileNetV3-Small, EfficientNet-B0
PUBLISHED_CELLS = ("nas:DARTS_V2",)
IMAGE_SIZES = (128, 256, 384)
FPN_CHANNELS = (16, 24, 32, 48, 64)
FPN_CELL_REPEATS = (1, 2, 3)
BOX_CLASS_REPEATS = (1, 2, 3)
DIMENSIONS = ("backbone", "image_size", "fpn_channels", "fpn_cell_repeats", "box_class_repeats")


@dataclass(frozen=True)
class DetectorChoice:
    """One detector of the space (an EfficientDet variant on the preset's recipe)."""

    backbone: str  # timm name | nas:NAME | nas:JOB_ID
    image_size: int  # square input side, pixels
    fpn_channels: int  # BiFPN width
    fpn_cell_repeats: int  # BiFPN depth
    box_class_repeats: int  # class/box head depth

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorChoice:
        return cls(**{name: data[name] for name in DIMENSIONS})

    def label(self) -> str:
        """e.g. "mobilenetv3_small_100 256px, BiFPN 32x2, head 2"."""
        return (
            f"{self.backbone} {self.image_size}px, BiFPN {self.fpn_channels}x"
            f"{self.fpn_cell_repeats}, head {self.box_class_repeats}"
        )

    def train_spec(
        self, dataset: str, epochs: int, seed: int, preset: str = SEARCH_PRESET
    ) -> dict[str, Any]:
        """A `train` job spec of this detector: the preset's recipe, its model overrides kept."""
        overrides = dict(PRESETS[preset].get("model_overrides") or {})
        overrides.update(
            fpn_channels=self.fpn_channels,
            fpn_cell_repeats=self.fpn_cell_repeats,
            box_class_repeats=self.box_class_repeats,
        )
        return {
            "dataset": dataset,
            "preset": preset,
            "backbone": self.backbone,
            "image_size": [self.image_size, self.image_size],
            "epochs": epochs,
            "eval_every": epochs,  # the search sets the evaluated epochs (its rungs) itself
            "seed": seed,
            "model_overrides": overrides,
        }


def default_choice(preset: str = SEARCH_PRESET) -> DetectorChoice:
    """The preset's detector: its backbone and input size, its model's BiFPN and head."""
    settings = PRESETS[preset]
    model = MODEL_TABLE[settings.get("model") or "efficientdet_d0"]
    size = settings.get("image_size") or model["image_size"]
    overrides = settings.get("model_overrides") or {}
    return DetectorChoice(
        backbone=settings.get("backbone") or model["backbone_name"],
        image_size=int(size[0]),
        fpn_channels=int(overrides.get("fpn_channels", model["fpn_channels"])),
        fpn_cell_repeats=int(overrides.get("fpn_cell_repeats", model["fpn_cell_repeats"])),
        box_class_repeats=int(overrides.get("box_class_repeats", model["box_class_repeats"])),
    )


@dataclass(frozen=True)
class DetectorSpace:
    """The choices of each dimension (each a non-empty tuple)."""

    backbones: tuple[str, ...]
    image_sizes: tuple[int, ...] = IMAGE_SIZES
    fpn_channels: tuple[int, ...] = FPN_CHANNELS
    fpn_cell_repeats: tuple[int, ...] = FPN_CELL_REPEATS
    box_class_repeats: tuple[int, ...] = BOX_CLASS_REPEATS

    def choices(self) -> dict[str, tuple]:
        """Dimension name (a DetectorChoice field) -> its choices."""
        return {
            "backbone": self.backbones,
            "image_size": self.image_sizes,
            "fpn_channels": self.fpn_channels,
            "fpn_cell_repeats": self.fpn_cell_repeats,
            "box_class_repeats": self.box_class_repeats,
        }

    def size(self) -> int:
        """Number of detectors in the space."""
        count = 1
        for values in self.choices().values():
            count *= len(values)
        return count

    def contains(self, choice: DetectorChoice) -> bool:
        return all(getattr(choice, k) in v for k, v in self.choices().items())

    def to_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.choices().items()}

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> DetectorSpace:
        return cls(
            backbones=tuple(data["backbone"]),
            image_sizes=tuple(data["image_size"]),
            fpn_channels=tuple(data["fpn_channels"]),
            fpn_cell_repeats=tuple(data["fpn_cell_repeats"]),
            box_class_repeats=tuple(data["box_class_repeats"]),
        )


def reference_choice(space: DetectorSpace, preset: str = SEARCH_PRESET) -> DetectorChoice:
    """The preset's detector when the space holds it, else its nearest detector in the space:
    per dimension the preset's value, or the closest choice (the first backbone when the
    preset's is not one). The search probes it (its latency is the default target) and runs it
    as its first trial."""
    default, choices = default_choice(preset), space.choices()

    def nearest(name: str):
        value, options = getattr(default, name), choices[name]
        if value in options:
            return value
        if name == "backbone":
            return options[0]
        return min(options, key=lambda v: (abs(v - value), v))

    return DetectorChoice(**{name: nearest(name) for name in DIMENSIONS})


def default_backbones(searched_cells: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The searched cells given (`nas:<job>`), then the published cells, then the timm nets."""
    return tuple(dict.fromkeys((*searched_cells, *PUBLISHED_CELLS, *TIMM_BACKBONES)))


def suggest(trial: Any, space: DetectorSpace) -> DetectorChoice:
    """The detector an Optuna trial samples: one categorical per dimension (a trial that has
    its parameters already, e.g. an enqueued or resumed one, gets them back)."""
    values = {name: trial.suggest_categorical(name, list(v)) for name, v in space.choices().items()}
    return DetectorChoice(**values)
