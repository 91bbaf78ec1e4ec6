"""A detector's latency as a user of it sees it: one picture (batch 1) through the prediction path
that Detect, `predict` and evaluation use (core.det.bench.DetectionBench.predict on its BN-folded,
channels_last inference copy: normalisation, forward, anchor decoding, NMS), on the device given.

`detector_latency_ms(model, device)` is the one detector timer (core.torch_util.median_ms): the
detector search scores its trials with it and stored models carry its figure. The model is copied,
so a model in training is left as it was (mode, device, memory format, weights).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from core.det.bench import DetectionBench
from core.torch_util import median_ms

REPEATS = 10  # a median of 10: robust to a neighbour's burst on a shared machine
WARMUP = 2  # the first calls pay oneDNN/cuDNN kernel selection
# Detect keeps every box above this score for its slider to filter, so its NMS sees as many
# candidates as this timer's does
SCORE_THRESHOLD = 0.05
INPUT_SEED = 0  # a fixed picture: the post-processing cost depends on the scores it gives


def detector_latency_ms(
    model: nn.Module,
    device: torch.device | str = "cpu",
    repeats: int = REPEATS,
    image_size: tuple[int, int] | None = None,
) -> float:
    """Median milliseconds of one [1, 3, H, W] detection (H, W: `image_size`, default the model's
    config) with `model` (an EfficientDet), after a warm-up. The global RNG is not touched."""
    device = torch.device(device)
    height, width = image_size or tuple(model.config.image_size)
    bench = DetectionBench(copy.deepcopy(model)).to(device).eval()
    bench.optimize_for_inference()
    generator = torch.Generator().manual_seed(INPUT_SEED)
    image = torch.rand(1, 3, height, width, generator=generator).to(device)
    return median_ms(
        lambda: bench.predict(image, score_threshold=SCORE_THRESHOLD), device, repeats, WARMUP
    )


__all__ = ["detector_latency_ms", "REPEATS"]
