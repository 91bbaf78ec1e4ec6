"""Small torch helpers shared by core.det, core.nas and core.train (no imports from them).

* `count_parameters`: the one parameter counter (DARTS counts without the auxiliary head:
  `exclude="auxiliary"`).
* `median_ms`: the one latency timer: median milliseconds of a call after a warm-up, the device
  synchronised around each call (core.nas.latency times cells with it, core.det.latency
  detectors).
* `threads_for_load`: torch CPU threads for a job given what other processes keep busy now
  (`threads_fitted` sets them for a block).
* `rng_state` / `set_rng_state`: the one RNG-state helper. The state holds Python (the global
  `random` module, or a given `random.Random`), NumPy, torch CPU and, when present, CUDA
  generators as values `torch.load(..., weights_only=True)` can read back, so a resumed job
  draws the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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


LOAD_SAMPLE_S = 0.3  # how long threads_for_load watches the CPU


def _cpu_ticks() -> tuple[int, int, int] | None:
    """(busy ticks of the whole machine, all ticks, this process's ticks) from /proc (Linux);
    None where there is none."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle and iowait
    return sum(values) - idle, sum(values), int(fields[11]) + int(fields[12])  # utime + stime


def busy_cores(seconds: float = LOAD_SAMPLE_S) -> float | None:
    """CPU cores that other processes keep busy, watched for `seconds`; None off Linux."""
    before = _cpu_ticks()
    if before is None:
        return None
    time.sleep(seconds)
    after = _cpu_ticks()
    if after is None or after[1] <= before[1]:
        return None
    cores = os.cpu_count() or 1
    busy, total, own = (a - b for a, b in zip(after, before))
    return max(0.0, (busy - own) / total * cores)


def threads_for_load(most: int | None = None) -> int:
    """Torch CPU threads for a job starting now: the cores other processes leave free, at least
    one, at most `most` (default: torch's current count). On a busy machine fewer threads are
    faster, not only fairer: torch's threads meet at a barrier after every operation, and a
    thread the OS has given to a neighbour holds all of them up (docs/BENCHMARKS.md, "Guided
    demo on the detector search", has the measured steps)."""
    most = most or torch.get_num_threads()
    others = busy_cores()
    if others is None:
        return most
    free = (os.cpu_count() or 1) - others
    return max(1, min(most, int(free + 0.5)))


@contextmanager
def threads_fitted(device: torch.device | str = "cpu", threads: int | None = None) -> Iterator[int]:
    """torch's CPU threads set for the block, then back: `threads` when given, else (on a CPU
    device) threads_for_load()."""
    before = torch.get_num_threads()
    if threads is None:
        threads = threads_for_load(before) if torch.device(device).type == "cpu" else before
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)


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
