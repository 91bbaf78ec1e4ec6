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
import os
from dataclasses import dataclass
from typing import Any, Literal

from core.det.config import FIXED_FIELDS, DetConfig, get_config  # dataclasses: light at submit
from core.errors import SpecError
from core.spec import coerce_fields, dump, image_size_hw, load, param

DEFAULT_PRESET = "paper"
DEFAULT_MODEL = "efficientdet_d0"
BACKBONE_PREFIXES = ("nas:", "nas-file:", "nas-arch:")  # searched/published-cell backbones
MAX_EPOCHS = 10_000
MAX_BATCH = 1024
MAX_WORKERS = 2 * (os.cpu_count() or 1)
SEED_MAX = 2**63 - 1
IMAGE_SIZE_HELP = "S or WxH, sides multiples of 128 (default: the model's)"

# Preset name -> TrainConfig overrides.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # From scratch on a generated dataset within 10 minutes on a 2-core CPU (bench/train_quick.py):
    # the narrow efficientdet_tiny head (BiFPN 32 wide, 2 repeats) on timm's MobileNetV3-Small
    # (same MnasNet family as EfficientNet, several times cheaper on a CPU than tinynet_e),
    # AdamW (learns far faster than SGD from scratch at this budget), batch 4 (more steps: at
    # equal epochs it learns more than batch 8 or 16), BN momentum 0.1 so the running
    # statistics keep up in a short run, milder scale jitter, no loader process (on 2 cores it
    # takes CPU from torch's threads: slower epochs for the same AP50).
    "quick-cpu": (
        QUICK_CPU := dict(
            model="efficientdet_tiny",
            backbone="mobilenetv3_small_100",
            image_size=(256, 256),
            epochs=24,
            batch_size=4,
            optimizer="adamw",
            lr=1e-2,
            weight_decay=0.05,
            warmup_epochs=1.0,
            scale_range=(0.6, 1.4),
            workers=0,
            eval_every=2,
            model_overrides={"bn_momentum": 0.1},
        )
    ),
    # Going on from a detector search's pick (--init job-<search>) on a CPU: quick-cpu's recipe
    # without what fixes the model (the pick's own model, backbone and input size are kept),
    # with a shorter warm-up (the weights are trained already).
    "continue-cpu": {
        **{
            k: v
            for k, v in QUICK_CPU.items()
            if k not in ("model", "backbone", "image_size", "model_overrides")
        },
        "warmup_epochs": 0.5,
    },
    # Fine-tuning a pretrained detector (--init) on a small dataset.
    "finetune": dict(epochs=50, lr_per_64=0.02, warmup_epochs=1.0),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a train job does; serialised into the job spec and runs/<id>/config.json."""

    dataset: str = param(help="dataset name (`data list`)")
    model: str | None = param(
        None,
        help=f"detector variant, e.g. {DEFAULT_MODEL} (default), "
        "tf_efficientdet_d1, efficientdet_tiny",
    )
    backbone: str | None = param(
        None,
        help="timm model name | nas:JOB_ID | nas:PUBLISHED_NAME | "
        "nas-arch:ARCH_ID | nas-file:PATH (default: the variant's "
        "EfficientNet)",
    )
    image_size: tuple[int, int] | None = param(
        None, parse=image_size_hw, help=IMAGE_SIZE_HELP, label="Image size", unit="pixels"
    )
    epochs: int = param(
        300,
        lo=1,
        hi=MAX_EPOCHS,  # automl num_epochs (COCO); fine-tuning: fewer
        help="passes over the training split",
        label="Epochs",
        unit="passes over the data",
    )
    minutes: float | None = param(
        None,
        gt=0,
        hi=100_000,
        help="wall-clock budget of the whole job: it trains the epochs that fit, at most "
        "`epochs` (the last one cut to the budget's end), planned after each epoch from the "
        "measured speed (empty: no limit)",
        label="Time budget",
        unit="minutes",
    )
    until: float | None = param(
        None,
        gt=0,
        help="end by this time (Unix seconds) instead of after `minutes`: a chain's promised "
        "end (the Guided demo's training takes what the searches before it left)",
        label="End by",
        unit="Unix time",
    )
    batch_size: int = param(
        16, lo=1, hi=MAX_BATCH, help="images per step (per process)", unit="images per step"
    )
    lr: float | None = param(
        None,
        gt=0,
        hi=10.0,  # None: lr_per_64 * batch_size / 64
        help="peak learning rate (default: lr_per_64 x batch_size / 64)",
        label="Learning rate",
        unit="empty: from the batch size",
    )
    init: str | None = param(
        None,
        help="fine-tune from this model (name or job-ID); a new "
        "class head is made when the classes differ",
        label="Fine-tune from model",
    )
    preset: str = param(DEFAULT_PRESET, choices=tuple(PRESETS), help="settings bundle")
    pretrained_backbone: str | None = param(
        None,
        help="file of ImageNet backbone weights (never downloaded)",
        label="Pretrained backbone weights",
        unit="a file on this machine",
    )
    seed: int = param(0, lo=0, hi=SEED_MAX, label="Random seed")
    workers: int = param(
        2, lo=0, hi=MAX_WORKERS, help="data loader processes", label="Data loader processes"
    )
    model_overrides: dict[str, Any] | None = param(
        None,
        help='DetConfig fields as JSON, e.g. {"fpn_channels": 32}',
        label="Detector settings",
        unit="JSON",
    )
    force: bool = param(
        False,
        help="queue even when the memory estimate says the job does not fit its device",
        label="Queue even if it may not fit in memory",
    )
    # -- scale-out (core.train.distributed: torchrun; GPUs are counted where the job runs) --
    nproc: int = param(
        1,
        lo=1,
        help="training processes on this node (torchrun --nproc-per-node)",
        label="Processes on this node",
        unit="one per GPU on CUDA",
    )
    nnodes: int = param(
        1, lo=1, hi=1024, help="nodes of a multi-node job (torchrun --nnodes)", label="Nodes"
    )
    rdzv_endpoint: str | None = param(
        None,
        help="HOST:PORT of the c10d rendezvous (several nodes)",
        label="Rendezvous address",
        unit="HOST:PORT",
    )
    sync_bn: bool = param(
        True,
        help="SyncBatchNorm over all processes when there are several "
        "(on the CPU it costs a gloo all-reduce per BN layer and step; off: each "
        "process normalises over its own batch)",
        label="Synchronised BatchNorm",
    )
    # -- optimisation (automl defaults) --
    optimizer: Literal["sgd", "adamw"] = param("sgd", label="Optimizer")
    lr_per_64: float = param(0.08, gt=0, hi=10.0, label="Learning rate per 64 images")
    momentum: float = param(0.9, lo=0.0, lt=1.0)
    weight_decay: float = param(4e-5, lo=0.0, hi=1.0)  # conv/linear weights only (not BN, biases)
    warmup_epochs: float = param(1.0, lo=0.0, hi=MAX_EPOCHS, label="Warm-up", unit="epochs")
    warmup_factor: float = param(
        0.1, gt=0.0, hi=1.0, label="Warm-up start factor"
    )  # warm-up starts at lr * warmup_factor
    clip_grad_norm: float = param(10.0, gt=0.0, hi=1e6, label="Gradient clipping norm")
    ema_decay: float = param(0.9998, lo=0.0, lt=1.0, label="EMA decay")  # 0 disables the EMA
    amp: bool = param(
        True, label="Mixed precision (CUDA only)"
    )  # mixed precision, CUDA only (bf16 where supported, else fp16 + GradScaler)
    # -- data and evaluation --
    augment: bool = param(
        True, label="Augmentation (flips, scale jitter)"
    )  # horizontal flip and scale jitter
    scale_range: tuple[float, float] = param(
        (0.1, 2.0), gt=0.0, hi=10.0, label="Scale jitter range"
    )  # automl jitter min/max
    eval_every: int = param(
        1,
        lo=1,
        hi=MAX_EPOCHS,  # the last epoch is always evaluated
        help="epochs between validations",
        label="Validate every",
        unit="epochs",
    )

    @property
    def effective_lr(self) -> float:
        return self.lr if self.lr is not None else self.lr_per_64 * self.batch_size / 64

    def to_spec(self) -> dict[str, Any]:
        return dump(self)


def build_config(spec: dict[str, Any]) -> TrainConfig:
    """Spec dict -> TrainConfig: preset overrides, then the spec's own fields; raises SpecError."""
    if not isinstance(spec, dict):
        raise SpecError(f"train: the spec must be a JSON object, got {type(spec).__name__}")
    given = {k: v for k, v in spec.items() if v is not None}
    preset = load(TrainConfig, {"dataset": "-", "preset": given.get("preset")}, what="train").preset
    config = load(TrainConfig, {**PRESETS[preset], **given}, what="train")
    if config.model_overrides:
        fixed = sorted(set(config.model_overrides) & set(FIXED_FIELDS))
        if fixed:
            raise SpecError(
                f"train: model_overrides.{fixed[0]}: cannot be overridden (use the "
                "model and image_size options; the classes come from the dataset)"
            )
        config = dataclasses.replace(
            config,
            model_overrides=coerce_fields(
                DetConfig, config.model_overrides, what="train: model_overrides"
            ),
        )
    check_config(config)
    return config


def check_config(config: TrainConfig) -> None:
    """Cross-field checks, and the model/image size pairing (via core.det.config, cheap)."""
    check_processes(config)
    low, high = config.scale_range
    if low > high:
        raise SpecError(f"train: scale_range={list(config.scale_range)}: min must be <= max")
    for name in ("minutes", "until"):
        value = getattr(config, name)
        if value is not None and config.nproc * config.nnodes > 1:
            raise SpecError(
                f"train: {name}={value:g}: a time budget is planned by one process; "
                "leave it out with nproc or nnodes above 1 (set epochs instead)"
            )
    if config.minutes is not None and config.until is not None:
        raise SpecError("train: give minutes or until, not both")
    if (
        config.backbone
        and ":" in config.backbone
        and not config.backbone.startswith(BACKBONE_PREFIXES)
    ):
        raise SpecError(
            f"train: backbone={config.backbone!r}: use a timm model name, "
            "nas:JOB_ID, nas:PUBLISHED_NAME, nas-arch:ID or nas-file:PATH"
        )
    if config.model is not None or config.init is None:
        det_config(config, num_classes=1)
    elif config.model_overrides or config.backbone or config.pretrained_backbone:
        raise SpecError(
            "train: init: --init fine-tunes a stored model as it is: leave out "
            "backbone, pretrained_backbone and model_overrides"
        )


def det_config(config: TrainConfig, num_classes: int) -> Any:
    """The DetConfig a fresh (not --init) train job builds: model, image size, overrides."""
    overrides = dict(config.model_overrides or {})
    if config.backbone and not config.backbone.startswith(BACKBONE_PREFIXES):
        overrides["backbone_name"] = config.backbone
    try:
        return get_config(
            config.model or DEFAULT_MODEL,
            num_classes=num_classes,
            image_size=config.image_size,
            **overrides,
        )
    except SpecError as exc:
        raise SpecError(f"train: {exc}") from None


def check_processes(config: TrainConfig) -> None:
    """nproc/nnodes/rdzv_endpoint (GPUs are counted where the job runs:
    core.train.distributed.launch)."""
    cores = os.cpu_count() or 1
    if not 1 <= config.nproc <= cores:
        raise SpecError(
            f"nproc must be in 1..{cores} (the CPU cores here; on CUDA at most the "
            f"GPUs), got {config.nproc}"
        )
    if config.nnodes < 1:
        raise SpecError(f"nnodes must be >= 1, got {config.nnodes}")
    endpoint = config.rdzv_endpoint
    if config.nnodes > 1:
        host, _, port = (endpoint or "").rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SpecError(
                f"a job on {config.nnodes} nodes needs --rdzv-endpoint HOST:PORT "
                f"(the c10d rendezvous every node joins), got {endpoint!r}"
            )
    elif endpoint:
        raise SpecError("--rdzv-endpoint is for jobs on several nodes: give --nnodes too")


def validate_train_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """TaskDef.validate of `train`: the normalised spec with every default filled in."""
    return build_config(spec).to_spec()


@dataclass(frozen=True)
class EvaluateSpec:
    """An evaluate job: COCO metrics of a stored model on a dataset split."""

    model: str = param(help="model name or job-ID (`models list`)")
    dataset: str = param(help="dataset name (`data list`)")
    split: Literal["val", "train"] = param("val", help="which split")
    image_size: tuple[int, int] | None = param(
        None, parse=image_size_hw, help="S or WxH (default: the model's training size)"
    )
    batch_size: int = param(8, lo=1, hi=MAX_BATCH)
    workers: int = param(1, lo=0, hi=MAX_WORKERS, help="data loader processes")
    score_threshold: float = param(0.3, lo=0.0, hi=1.0, help="of the confusion matrix")


def validate_evaluate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """TaskDef.validate of `evaluate`: {model, dataset, split, image_size, batch_size, workers,
    score_threshold (of the confusion matrix)}."""
    return dump(load(EvaluateSpec, spec, what="evaluate"))
