"""Training configuration: the automl/paper defaults, named presets, and spec validation.

EfficientDet (Tan, Pang, Le, CVPR 2020, sec. 5.1) and the official automl `hparams_config.py`:
SGD momentum 0.9, learning rate 0.08 per 64 images (scaled linearly to the batch), 1 epoch of
linear warm-up from lr/10, cosine decay to 0, weight decay 4e-5 on conv/linear weights only,
gradient-norm clip 10, EMA of the weights with decay 0.9998 (TF's num_updates warm-up), scale
jitter 0.1-2.0. A preset overrides some of these; fields given in a job spec override both.

This module is imported at submit time: it must stay cheap (no torch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError

DEFAULT_PRESET = "paper"
DEFAULT_MODEL = "efficientdet_d0"
OPTIMIZERS = ("sgd", "adamw")
BACKBONE_PREFIXES = ("nas:", "nas-file:", "nas-arch:")  # searched/published-cell backbones


@dataclass(frozen=True)
class TrainConfig:
    """Everything a train job does; serialised into the job spec and runs/<id>/config.json."""

    dataset: str
    model: str | None = None  # None: DEFAULT_MODEL, or the --init model's architecture
    backbone: str | None = None  # timm name | nas:JOB_ID | nas:NAME | nas-arch:ID | nas-file:PATH
    image_size: tuple[int, int] | None = None  # (H, W); None: the model's own size
    epochs: int = 300  # automl num_epochs (COCO); fine-tuning usually needs far fewer
    batch_size: int = 16
    lr: float | None = None  # None: lr_per_64 * batch_size / 64
    init: str | None = None  # a model name / job-ID to fine-tune from (a new head if classes differ)
    preset: str = DEFAULT_PRESET
    pretrained_backbone: str | None = None  # a file of ImageNet weights; never downloaded
    seed: int = 0
    workers: int = 2  # DataLoader worker processes
    model_overrides: dict[str, Any] | None = None  # DetConfig fields, e.g. {"fpn_channels": 32}
    # -- optimisation (automl defaults) --
    optimizer: str = "sgd"
    lr_per_64: float = 0.08
    momentum: float = 0.9
    weight_decay: float = 4e-5  # conv/linear weights only; no decay on BN, biases, fusion weights
    warmup_epochs: float = 1.0
    warmup_factor: float = 0.1  # warm-up starts at lr * warmup_factor (automl lr_warmup_init)
    clip_grad_norm: float = 10.0
    ema_decay: float = 0.9998  # 0 disables the EMA
    amp: bool = True  # mixed precision, CUDA only (bf16 where supported, else fp16 + GradScaler)
    # -- data and evaluation --
    augment: bool = True  # horizontal flip and scale jitter
    scale_range: tuple[float, float] = (0.1, 2.0)  # automl jitter_min / jitter_max
    eval_every: int = 1  # epochs between validations (the last epoch is always evaluated)

    @property
    def effective_lr(self) -> float:
        return self.lr if self.lr is not None else self.lr_per_64 * self.batch_size / 64

    def to_spec(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("image_size", "scale_range"):
            if data[key] is not None:
                data[key] = list(data[key])
        return data


# Preset name -> TrainConfig overrides.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # From scratch on a generated dataset on a 2-core CPU in about 10 minutes (bench/train_quick.py):
    # the narrow efficientdet_tiny head (BiFPN 32 wide, 2 repeats) on timm's MobileNetV3-Small
    # (same MnasNet family as EfficientNet, ~3x cheaper on a CPU than tinynet_e at 256 px),
    # AdamW (far faster than SGD from scratch at this budget), batch 4 (more steps: at equal
    # epochs, val AP50 0.48 after 12 epochs vs 0.42 with batch 8 and 0.26 with 16), BN momentum
    # 0.1 so the running statistics keep up in a short run, milder scale jitter.
    "quick-cpu": dict(model="efficientdet_tiny", backbone="mobilenetv3_small_100",
                      image_size=(256, 256), epochs=24, batch_size=4, optimizer="adamw", lr=1e-2,
                      weight_decay=0.05, warmup_epochs=1.0, scale_range=(0.6, 1.4), workers=1,
                      eval_every=2, model_overrides={"bn_momentum": 0.1}),
    # Fine-tuning a pretrained detector (--init) on a small dataset.
    "finetune": dict(epochs=50, lr_per_64=0.02, warmup_epochs=1.0),
}

_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def build_config(spec: dict[str, Any]) -> TrainConfig:
    """Spec dict -> TrainConfig: preset overrides, then the spec's own fields; raises SpecError."""
    spec = {k: v for k, v in spec.items() if v is not None}
    unknown = sorted(set(spec) - set(_FIELDS))
    if unknown:
        raise SpecError(f"unknown train spec field(s) {unknown}; known: {sorted(_FIELDS)}")
    if not spec.get("dataset"):
        raise SpecError("a train job needs a dataset: --dataset NAME (`data list` shows them)")
    preset = spec.get("preset", DEFAULT_PRESET)
    if preset not in PRESETS:
        raise SpecError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    fields = {**PRESETS[preset], **spec, "preset": preset}
    fields = {k: _coerce(k, v) for k, v in fields.items()}
    config = TrainConfig(**fields)
    check_config(config)
    return config


def _coerce(key: str, value: Any) -> Any:
    """JSON value -> the field's type (tuples for sizes); SpecError on a wrong type."""
    if value is None:
        return None
    if key == "image_size":
        return parse_image_size(value)
    if key == "model_overrides":
        if not isinstance(value, dict):
            raise SpecError(f"model_overrides must be a JSON object of DetConfig fields, "
                            f"got {value!r}")
        return dict(value)
    if key == "scale_range":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise SpecError(f"scale_range must be [min, max], got {value!r}")
        return (float(value[0]), float(value[1]))
    kind = {"int": int, "float": float, "bool": bool, "str": str}
    annotation = str(_FIELDS[key].type).split("|")[0].strip()
    target = kind.get(annotation)
    if target is None:
        return value
    if target is bool:
        if not isinstance(value, bool):
            raise SpecError(f"{key} must be true or false, got {value!r}")
        return value
    if target in (int, float) and isinstance(value, bool):
        raise SpecError(f"{key} must be a number, got {value!r}")
    try:
        converted = target(value)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{key} must be {annotation}, got {value!r}") from exc
    if target is int and converted != value and not isinstance(value, str):
        raise SpecError(f"{key} must be a whole number, got {value!r}")
    return converted


def parse_image_size(value: Any) -> tuple[int, int]:
    """An int S, "S", "WxH" (width x height, as on the command line) or [H, W] -> (H, W)."""
    try:
        if isinstance(value, str):
            text = value.lower().strip()
            if "x" in text:
                width, height = (int(p) for p in text.split("x"))
                return (height, width)
            value = int(text)
        if isinstance(value, int) and not isinstance(value, bool):
            return (value, value)
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return (int(value[0]), int(value[1]))
    except ValueError as exc:
        raise SpecError(f"bad image size {value!r}: use S or WxH (e.g. 512 or 640x384)") from exc
    raise SpecError(f"bad image size {value!r}: use S or WxH (e.g. 512 or 640x384)")


def check_config(config: TrainConfig) -> None:
    """Range checks, and the model/image size pairing (via core.det.config, which is cheap)."""
    positive = {"epochs": config.epochs, "batch_size": config.batch_size,
                "eval_every": config.eval_every, "lr_per_64": config.lr_per_64}
    for key, value in positive.items():
        if value <= 0:
            raise SpecError(f"{key} must be > 0, got {value}")
    if config.lr is not None and config.lr <= 0:
        raise SpecError(f"lr must be > 0, got {config.lr}")
    if config.workers < 0:
        raise SpecError(f"workers must be >= 0, got {config.workers}")
    if not 0.0 <= config.ema_decay < 1.0:
        raise SpecError(f"ema_decay must be in [0, 1), got {config.ema_decay}")
    if config.optimizer not in OPTIMIZERS:
        raise SpecError(f"optimizer must be one of {OPTIMIZERS}, got {config.optimizer!r}")
    low, high = config.scale_range
    if not 0 < low <= high:
        raise SpecError(f"scale_range must satisfy 0 < min <= max, got {config.scale_range}")
    if config.backbone and ":" in config.backbone and not config.backbone.startswith(
            BACKBONE_PREFIXES):
        raise SpecError(f"bad backbone {config.backbone!r}: use a timm model name, nas:JOB_ID, "
                        "nas:PUBLISHED_NAME, nas-arch:ID or nas-file:PATH")
    from core.det.config import get_config  # dataclasses only: fine at submit time

    if config.model is not None or config.init is None:
        get_config(config.model or DEFAULT_MODEL, num_classes=1, image_size=config.image_size,
                   **(config.model_overrides or {}))
    elif config.model_overrides or config.backbone or config.pretrained_backbone:
        raise SpecError("--init fine-tunes a stored model as it is: leave out backbone, "
                        "pretrained_backbone and model_overrides")


def validate_train_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """TaskDef.validate of `train`: the normalised spec with every default filled in."""
    return build_config(spec).to_spec()


EVAL_FIELDS = {"model": None, "dataset": None, "split": "val", "image_size": None,
               "batch_size": 8, "workers": 1, "score_threshold": 0.3}


def validate_evaluate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """TaskDef.validate of `evaluate`: {model, dataset, split, image_size, batch_size, workers,
    score_threshold (of the confusion matrix)}."""
    unknown = sorted(set(spec) - set(EVAL_FIELDS))
    if unknown:
        raise SpecError(f"unknown evaluate spec field(s) {unknown}; known: {sorted(EVAL_FIELDS)}")
    out = {**EVAL_FIELDS, **{k: v for k, v in spec.items() if v is not None}}
    for key in ("model", "dataset"):
        if not isinstance(out[key], str) or not out[key]:
            raise SpecError(f"an evaluate job needs {key}: --{key} NAME")
    if out["split"] not in ("train", "val"):
        raise SpecError(f"split must be 'train' or 'val', got {out['split']!r}")
    if out["image_size"] is not None:
        out["image_size"] = list(parse_image_size(out["image_size"]))
    for key in ("batch_size", "workers"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < (key == "batch_size"):
            raise SpecError(f"{key} must be a whole number >= {int(key == 'batch_size')}, "
                            f"got {out[key]!r}")
    if not isinstance(out["score_threshold"], (int, float)) or not 0 <= out["score_threshold"] <= 1:
        raise SpecError(f"score_threshold must be in [0, 1], got {out['score_threshold']!r}")
    return out
