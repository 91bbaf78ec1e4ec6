"""Box-aware geometry and augmentation for detection (torchvision.transforms.v2 + tv_tensors).

Letterbox (EfficientDet "ResizePad"): scale the image to fit the target (H, W) keeping its aspect
ratio, place it at the top-left corner and pad the rest with 0. Scale jitter (EfficientDet
"RandomResizePad", Tan et al. 2020, sec. 5.1 / effdet's transforms.py): the fit scale is multiplied
by a random factor from `scale_range`, then a random target-sized window is cropped from the
result (if it is larger) before padding. Boxes are (x1, y1, x2, y2) pixels throughout, carried as
`tv_tensors.BoundingBoxes` so every v2 op moves them with the pixels.

Mapping back: original = (letterboxed - offset) / scale, with `offset` = (x, y) of the original
image's top-left corner in the output (0, 0 for a plain letterbox; minus the crop origin with
scale jitter). A horizontal flip is applied before resizing and is not part of that mapping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as F
from torchvision import tv_tensors

MIN_BOX_SIZE = 1.0  # boxes thinner than this (pixels) after augmentation are dropped


def as_hw(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """An image size given as an int (square) or (H, W) -> (H, W)."""
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def round_up_to_multiple(size: int | tuple[int, int], multiple: int) -> tuple[int, int]:
    """(H, W) rounded up so that each side is divisible by `multiple` (e.g. 128 for P3-P7)."""
    h, w = as_hw(size)
    return math.ceil(h / multiple) * multiple, math.ceil(w / multiple) * multiple


def fit_scale(height: int, width: int, size: int | tuple[int, int]) -> float:
    """The largest scale at which a (height, width) image fits into `size`."""
    th, tw = as_hw(size)
    return min(th / height, tw / width)


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation settings (the defaults follow EfficientDet's recipe)."""

    hflip: float = 0.5  # probability of a horizontal flip
    scale_range: tuple[float, float] = (0.1, 2.0)  # random factor on the fit scale
    brightness: float = 0.2  # ColorJitter strengths (0 disables)
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.02
    min_box_size: float = MIN_BOX_SIZE


@dataclass
class Transformed:
    """One transformed sample: image float32 [3, H, W] in [0, 1], boxes float32 [N, 4] xyxy,
    labels, crowd flags, scale and offset."""

    image: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    iscrowd: torch.Tensor
    scale: float
    offset: tuple[float, float]


def letterbox(
    image: np.ndarray, size: int | tuple[int, int]
) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Letterbox an RGB uint8 [H, W, 3] image to `size` -> (image [h, w, 3], scale, offset).

    Same resize and padding as the detection dataset, so predictions on user images map back
    with original = (letterboxed - offset) / scale.
    """
    tensor = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
    out = geometric(tensor, None, size, fit_scale(*image.shape[:2], size), (0, 0))
    return out[0].permute(1, 2, 0).contiguous().numpy(), out[2], (0.0, 0.0)


def to_original(
    boxes: np.ndarray, scale: float, offset: Sequence[float], orig_size: Sequence[int]
) -> np.ndarray:
    """Letterboxed (x1, y1, x2, y2) boxes [K, 4] -> original image pixels, clipped to (H, W)."""
    height, width = orig_size
    boxes = (
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        - np.asarray([offset[0], offset[1], offset[0], offset[1]])
    ) / scale
    return boxes.clip(0, [width, height, width, height])


def geometric(
    image: tv_tensors.Image,
    boxes: tv_tensors.BoundingBoxes | None,
    size: int | tuple[int, int],
    scale: float,
    crop_xy: tuple[int, int],
):
    """Resize by `scale`, crop a window at `crop_xy` (x, y) of at most `size`, pad to `size`.

    Returns (image [3, H, W], boxes or None, scale, offset (x, y)).
    """
    image, boxes, offset = resize_crop(image, boxes, size, scale, crop_xy)
    image, boxes = pad_to(image, boxes, size)
    return image, boxes, scale, offset


def resize_crop(
    image: tv_tensors.Image,
    boxes: tv_tensors.BoundingBoxes | None,
    size: int | tuple[int, int],
    scale: float,
    crop_xy: tuple[int, int],
):
    """Resize by `scale` and crop a window of at most `size` at `crop_xy` -> (image, boxes,
    offset (x, y))."""
    th, tw = as_hw(size)
    h, w = image.shape[-2:]
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    cx, cy = crop_xy
    ch, cw = min(nh - cy, th), min(nw - cx, tw)
    image = F.crop(F.resize(image, [nh, nw], antialias=True), cy, cx, ch, cw)
    if boxes is not None:
        boxes = F.crop(F.resize(boxes, [nh, nw]), cy, cx, ch, cw)
    return image, boxes, (0.0 - cx, 0.0 - cy)


def pad_to(
    image: torch.Tensor, boxes: tv_tensors.BoundingBoxes | None, size: int | tuple[int, int]
):
    """Pad at the bottom/right with 0 up to `size` (H, W)."""
    th, tw = as_hw(size)
    h, w = image.shape[-2:]
    image = F.pad(image, [0, 0, tw - w, th - h], fill=0)
    if boxes is not None:
        boxes = F.pad(boxes, [0, 0, tw - w, th - h])
    return image, boxes


# RGB <-> YIQ: a hue shift is a rotation of the (I, Q) chroma plane (a fast linear stand-in for
# the HSV round trip of ColorJitter's hue, which is several times slower on the CPU).
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def hue_rotate(image: torch.Tensor, fraction: float) -> torch.Tensor:
    """Rotate the hue of a float RGB image [3, H, W] in [0, 1] by `fraction` of a full turn."""
    angle = -2 * math.pi * fraction  # sign chosen so that + goes red -> yellow -> green, as in HSV
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    matrix = _YIQ_TO_RGB @ rot @ _RGB_TO_YIQ
    out = torch.einsum("ij,jhw->ihw", matrix.to(image.dtype), image)
    return out.clamp_(0.0, 1.0)


class DetectionTransform:
    """Letterbox (augment=False) or flip + scale jitter/crop + colour jitter (augment=True).

    Call with an RGB uint8 [H, W, 3] array, boxes float [N, 4] xyxy, labels int64 [N] and
    iscrowd bool [N]; returns a `Transformed`. Randomness comes from torch's global generator
    (seeded per DataLoader worker by PyTorch).
    """

    def __init__(
        self, size: int | tuple[int, int], augment: bool, config: AugmentConfig = AugmentConfig()
    ):
        self.size = as_hw(size)
        self.augment = augment
        self.config = config
        self.color = (
            T.ColorJitter(config.brightness, config.contrast, config.saturation)
            if augment
            else None
        )
        self.sanitize = T.SanitizeBoundingBoxes(
            min_size=config.min_box_size,
            labels_getter=lambda sample: (sample[1]["labels"], sample[1]["iscrowd"]),
        )

    def __call__(
        self, image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, iscrowd: np.ndarray
    ) -> Transformed:
        """Returns a `Transformed` whose image is float32 [3, H, W] in [0, 1] (padding 0)."""
        h, w = image.shape[:2]
        img = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
        bxs = tv_tensors.BoundingBoxes(
            torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            format="XYXY",
            canvas_size=(h, w),
        )
        scale, crop = fit_scale(h, w, self.size), (0, 0)
        if self.augment:
            if torch.rand(()) < self.config.hflip:
                img, bxs = F.horizontal_flip(img), F.horizontal_flip(bxs)
            scale, crop = self._jitter(h, w)
        img, bxs, offset = resize_crop(img, bxs, self.size, scale, crop)
        img = F.to_dtype(img, torch.float32, scale=True)
        if self.augment:
            img = self._colour(img)  # before padding, so the padding stays 0
        img, bxs = pad_to(img, bxs, self.size)
        target = {
            "boxes": bxs,
            "labels": torch.as_tensor(labels, dtype=torch.int64),
            "iscrowd": torch.as_tensor(iscrowd, dtype=torch.bool),
        }
        if self.augment:
            img, target = self.sanitize((img, target))
        return Transformed(
            img.as_subclass(torch.Tensor),
            target["boxes"].as_subclass(torch.Tensor).float(),
            target["labels"],
            target["iscrowd"],
            scale,
            offset,
        )

    def _colour(self, img: torch.Tensor) -> torch.Tensor:
        img = self.color(img)
        if self.config.hue > 0:
            img = hue_rotate(
                img, float(torch.empty(()).uniform_(-self.config.hue, self.config.hue))
            )
        return img

    def _jitter(self, h: int, w: int) -> tuple[float, tuple[int, int]]:
        lo, hi = self.config.scale_range
        factor = lo + (hi - lo) * float(torch.rand(()))
        scale = fit_scale(h, w, self.size) * factor
        th, tw = self.size
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        cy = int(torch.randint(0, nh - th + 1, ())) if nh > th else 0
        cx = int(torch.randint(0, nw - tw + 1, ())) if nw > tw else 0
        return scale, (cx, cy)
