"""Small torch helpers shared by core.det, core.nas and core.train (no imports from them).

* `count_parameters`: the one parameter counter (DARTS counts without the auxiliary head:
  `exclude="auxiliary"`).
* `median_ms`: the one latency timer: median milliseconds of a call after a warm-up, the device
  synchronised around each call (core.nas.latency times cells with it, core.det.latency
  detectors).
* `rng_state` / `set_rng_state`: the one RNG-state helper. The state holds Python (the global
  `random` module, or a given `random.Random`), NumPy, torch CPU and, when present, CUDA
  generators as values `torch.load(..., weights_only=True)` can read back, so a resumed job
  draws the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn


def count_parameters(module: nn.Module, exclude: str | None = None) -> int:
    """Number of parameters of `module`, leaving out those whose name contains `exclude`."""
    return sum(
        p.numel() for name, p in module.named_parameters() if exclude is None or exclude not in name
    )


def median_ms(
    fn: Callable[[], object], device: torch.device | str = "cpu", repeats: int = 5, warmup: int = 1
) -> float:
    """Median wall milliseconds of `fn()` over `repeats` calls after `warmup` calls; on CUDA the
    device is synchronised before and after each call, so queued kernels count."""
    device = torch.device(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def rng_state(rng: random.Random | None = None) -> dict[str, Any]:
    """Python (`rng`, else the global generator), NumPy, torch and CUDA RNG states."""
    version, internal, gauss = (rng or random).getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": (
            np_name,
            torch.from_numpy(np_keys.astype(np.int64)),
            int(np_pos),
            int(np_has_gauss),
            float(np_gauss),
        ),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any], rng: random.Random | None = None) -> None:
    """Restore what `rng_state` captured (into `rng` when given). NumPy and CUDA states are
    restored when present (CUDA only on a machine with CUDA); "py" is read as "python" (the
    form of search checkpoints written before this helper)."""
    version, internal, gauss = state["python"] if "python" in state else state["py"]
    (rng or random).setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
