"""Will a train job fit its device? A memory estimate from the D-table, checked at submit.

Training memory ~ activations kept for the backward pass + weights, gradients, optimiser state
and the EMA copy. Activations grow with batch x H x W; per input pixel they are
  backbone: measured per timm model (bytes saved for backward per input pixel, fp32, batch 1,
    train mode, 384 px, torch.autograd.graph.saved_tensors_hooks; a NAS cell backbone at
    C=16, 5 layers measured 150-180 B),
  BiFPN + heads: 4 bytes x fpn_channels x sum_l 4^-l x BIFPN_TENSORS x (fpn repeats + head
    repeats), fitted to the same measurement of efficientdet_tiny, D0, D1, D3, D5 and D7x
    (within 20 %).
Parameters: the backbone's measured count plus the BiFPN/head convolutions from the table.
Mixed precision on CUDA roughly halves the activations. It is an estimate: `force` overrides it.
No torch import unless the device is a GPU (submit stays cheap).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import SpecError

# timm name -> (activation bytes per input pixel, parameters in millions): measured as above.
BACKBONE_COST: dict[str, tuple[int, float]] = {
    "efficientnet_b0": (1844, 3.60),
    "efficientnet_b1": (2603, 6.10),
    "efficientnet_b2": (2751, 7.20),
    "efficientnet_b3": (3658, 10.10),
    "efficientnet_b4": (4923, 16.74),
    "efficientnet_b5": (6898, 27.29),
    "efficientnet_lite0": (1643, 2.96),
    "mobilenetv3_small_100": (347, 0.93),
    "tf_efficientnet_b0": (1851, 3.60),
    "tf_efficientnet_b1": (2610, 6.10),
    "tf_efficientnet_b2": (2758, 7.20),
    "tf_efficientnet_b3": (3667, 10.10),
    "tf_efficientnet_b4": (4932, 16.74),
    "tf_efficientnet_b5": (6909, 27.29),
    "tf_efficientnet_b6": (8965, 39.40),
    "tf_efficientnet_b7": (12279, 62.14),
    "tinynet_e": (752, 0.55),
}
NAS_BACKBONE_COST = (200, 0.3)  # searched cells at the backbone's default width and depth
UNKNOWN_BACKBONE_COST = BACKBONE_COST["efficientnet_b0"]  # other timm names: a B0-sized guess
BIFPN_TENSORS = 9.5  # saved fp32 tensors of fpn_channels per level and repeat (fitted)
TRAIN_BYTES_PER_PARAM = 20  # weights, gradients, two optimiser moments, EMA copy (fp32)
AMP_ACTIVATION_SHARE = 0.5


@dataclass(frozen=True)
class MemoryEstimate:
    activations: int  # bytes
    weights: int  # bytes: parameters x TRAIN_BYTES_PER_PARAM
    params: int

    @property
    def total(self) -> int:
        return self.activations + self.weights


def estimate_train_memory(
    config: Any, batch_size: int, nas_backbone: bool = False, amp_on_gpu: bool = False
) -> MemoryEstimate:
    """Bytes a train step of `config` (a DetConfig) needs at `batch_size`."""
    if nas_backbone:
        per_pixel, backbone_m = NAS_BACKBONE_COST
    else:
        per_pixel, backbone_m = BACKBONE_COST.get(config.backbone_name, UNKNOWN_BACKBONE_COST)
    C = config.fpn_channels
    level_share = sum(4.0**-level for level in range(config.min_level, config.max_level + 1))
    repeats = config.fpn_cell_repeats + config.box_class_repeats
    per_pixel += 4 * C * level_share * BIFPN_TENSORS * repeats
    height, width = config.image_size
    activations = per_pixel * batch_size * height * width
    if amp_on_gpu:
        activations *= AMP_ACTIVATION_SHARE
    nodes = 2 * (config.num_levels - 1)  # BiFPN nodes per repeat (top-down + bottom-up)
    conv = C * C + 12 * C  # a separable 3x3 conv (depthwise + pointwise) with its BN
    params = (
        backbone_m * 1e6
        + config.fpn_cell_repeats * nodes * conv
        + 2 * config.box_class_repeats * conv
        + 9 * C * config.num_anchors * (config.num_classes + 4)
    )
    return MemoryEstimate(int(activations), int(params * TRAIN_BYTES_PER_PARAM), int(params))


def available_memory(device: str) -> tuple[str, int | None]:
    """(what, bytes) the job can use: RAM for cpu/mps (MemAvailable), the GPU's total memory
    for cuda; None when it cannot be told. `device` "auto" is the worker's choice (a GPU when
    this machine has one)."""
    device = resolve_device_cheaply(device)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return "cpu RAM", _ram_available()
        index = int(device.partition(":")[2] or 0)
        return f"{device} ({torch.cuda.get_device_name(index)})", torch.cuda.get_device_properties(
            index
        ).total_memory
    return "cpu RAM", _ram_available()


def resolve_device_cheaply(device: str) -> str:
    """ "auto" -> "cuda:0" when this machine shows an NVIDIA GPU, else "cpu" (no torch import;
    the worker makes the real choice); other names unchanged."""
    if device == "auto":
        return "cuda:0" if _has_nvidia_gpu() else "cpu"
    return device


def _has_nvidia_gpu() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/gpus").is_dir()


def _ram_available() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else free physical pages (os.sysconf)."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        lines = []  # not Linux: os.sysconf below
    for line in lines:
        fields = line.split()
        if fields[:1] == ["MemAvailable:"] and len(fields) > 1 and fields[1].isdigit():
            return int(fields[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(estimate: MemoryEstimate, device: str, what: str, detail: str) -> None:
    """SpecError when the estimate exceeds what the device has (the message gives both)."""
    where, have = available_memory(device)
    if have is None or estimate.total <= have:
        return
    raise SpecError(
        f"{what}: needs about {gib(estimate.total)} of memory ({detail}: activations "
        f"{gib(estimate.activations)}, weights/gradients/optimiser {gib(estimate.weights)} for "
        f"{estimate.params / 1e6:.1f} M parameters) but {where} has {gib(have)}; lower "
        "batch_size or image_size or pick a smaller model, or pass --force (spec key "
        "force: true) to queue it anyway"
    )
