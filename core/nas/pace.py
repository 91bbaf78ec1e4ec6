"""How fast the job's device runs now, compared with when the search was planned.

The plan's epoch cost is timed once, before the search; other processes may start beside the
job afterwards. `Pace` times a small fixed piece of the same work, a forward and backward pass
of one proxy network (a report cell) on PROBE_CROPS crops, the median of PROBE_REPEATS, and
divides it by the same probe timed beside the plan. The search re-plans with that slowdown
(core.nas.planning.replan). A single slow probe (the scheduler gave the core away for a moment)
does not count: the slowdown is the smaller of the last two probes' ratios.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from core.nas.proxy_training import logits_of

PROBE_CROPS = 8
PROBE_REPEATS = 3
MIN_PROBE_S = 1e-6  # a probe below the clock's resolution counts as this


class Pace:
    """Probe timings of one network on a few crops; `slowdown()` against the first (or given)
    baseline. The network is the caller's (built for this, on the job's device); the probe
    draws no random numbers and changes no weights."""

    def __init__(self, network: nn.Module, x: torch.Tensor, baseline_s: float | None = None):
        """`x`: crops [N, 3, s, s] on the network's device (the first PROBE_CROPS are used);
        `baseline_s`: the probe time beside the plan (a resumed job passes the plan's)."""
        self.network = network.eval()  # eval: no dropout draws, no batch-norm statistics
        self.x = x[:PROBE_CROPS].contiguous(memory_format=torch.channels_last)
        self.y = torch.zeros(len(self.x), dtype=torch.long, device=self.x.device)
        warm = self.probe_s()  # the first passes pay for allocations
        self.baseline_s = baseline_s if baseline_s is not None else min(warm, self.probe_s())
        self._previous = 1.0

    @torch.enable_grad()  # also when called inside an evaluation's no_grad (a step check)
    def probe_s(self) -> float:
        """Median seconds of one forward and backward pass on the probe crops."""
        times = []
        for _ in range(PROBE_REPEATS):
            start = time.perf_counter()
            loss = F.cross_entropy(logits_of(self.network(self.x)), self.y)
            loss.backward()
            if self.x.device.type == "cuda":
                torch.cuda.synchronize(self.x.device)
            times.append(time.perf_counter() - start)
        self.network.zero_grad(set_to_none=True)
        return max(MIN_PROBE_S, statistics.median(times))

    def slowdown(self) -> float:
        """How many times longer the probe takes now than at the baseline: the smaller of this
        probe's ratio and the previous one's (1.0 before any)."""
        now = self.probe_s() / max(MIN_PROBE_S, self.baseline_s)
        ratio, self._previous = min(now, self._previous), now
        return ratio
