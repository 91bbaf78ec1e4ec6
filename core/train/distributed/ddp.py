"""Data-parallel training (torch DistributedDataParallel) set up from torchrun's environment.

torchrun (`python -m torch.distributed.run`, core.train.distributed.launch) starts N processes per
node and gives each RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address. `setup()` joins the
process group - NCCL on CUDA (one GPU per process, cuda:LOCAL_RANK), gloo on the CPU - with a
collective timeout (DEFAULT_TIMEOUT_S, env NASDET_DIST_TIMEOUT_S) so that a hung peer fails the job
instead of hanging it; ranks that wait for rank 0's serial work (evaluation, checkpoints) wait on a
separate gloo group with a long timeout (`wait_for_main`).

The recipe, Goyal et al. 2017 ("Accurate, Large Minibatch SGD"): every process takes a per-process
batch B of its own shard of the data (DistributedSampler, one shuffle per epoch shared by all
ranks), the global batch is N x B, and the learning rate scales linearly with N (sec. 2.1, "linear
scaling rule"). BatchNorm statistics are synchronised over the global batch
(core.train.distributed.syncbn) and the detection loss is normalised by the positives of the global
batch (DistributedLoss), so one step of N processes equals one step of one process on the N x B
images (tests/train/distributed/test_ddp.py). Per-rank seeds (seed + rank) give each rank its own
augmentation draws. `SINGLE` is the one-process context: every hook is the identity.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from core.errors import SpecError
from core.train.distributed.syncbn import convert_sync_batchnorm

DEFAULT_TIMEOUT_S = 60.0  # a collective (all-reduce, broadcast) that waits longer fails the job
TIMEOUT_ENV = "NASDET_DIST_TIMEOUT_S"
WAIT_FOR_MAIN_S = 3600.0  # ranks > 0 wait this long for rank 0's evaluation and checkpoints
LR_RULE = "linear rule, Goyal et al. 2017"


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over all processes (a copy; the input is untouched); identity without a group."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    out = tensor.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean over all processes (a copy); identity without a process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    return all_reduce_sum(tensor) / dist.get_world_size()


def is_main() -> bool:
    """True in rank 0, and in a process that is not part of a process group."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    """Wait until every process reaches this point (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def scaled_lr(lr: float, world_size: int) -> float:
    """The linear scaling rule: lr for a per-process batch times the number of processes."""
    return lr * world_size


class DistributedLoss(nn.Module):
    """DetectionBench.loss for DDP: normalised by the positives of the global batch.

    Each rank returns world_size x (its sums / global normaliser): DDP averages gradients over
    the ranks, so the step is the gradient of (sum of all sums) / global normaliser, the loss of
    one process on the whole global batch; the mean of the returned values is that loss too.
    """

    def __init__(self, bench: nn.Module, world_size: int):
        super().__init__()
        self.bench = bench
        self.world_size = world_size

    def forward(self, images: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        losses = self.bench.loss(images, targets, reduce_positives=all_reduce_sum)
        return {key: value * self.world_size for key, value in losses.items()}


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel job, and the trainer's hooks."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device_type: str = "cpu"  # "cuda" (NCCL) or "cpu" (gloo)
    wait_group: Any = field(default=None, compare=False, repr=False)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device_type == "cuda" else "gloo"

    @property
    def device(self) -> str:
        """This rank's torch device: cuda:LOCAL_RANK on CUDA, else the CPU."""
        return f"cuda:{self.local_rank}" if self.device_type == "cuda" else "cpu"

    def rank_seed(self, seed: int) -> int:
        """Per-rank seed: seed + rank (rank 0 keeps the one-process seed)."""
        return seed + self.rank

    def prepare_model(self, model: nn.Module, sync_bn: bool = True) -> nn.Module:
        """SyncBatchNorm when N > 1 and `sync_bn` (before the EMA copy and the optimiser see the
        model); without it each process normalises over its own batch."""
        if not (self.distributed and sync_bn):
            return model

        return convert_sync_batchnorm(model, self.device_type)

    def wrap_loss(self, bench: nn.Module) -> Callable[..., dict[str, torch.Tensor]]:
        """bench.loss, or a DDP-wrapped DistributedLoss (gradients averaged over ranks)."""
        if not self.distributed:
            return bench.loss
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if self.device_type == "cuda" else None
        return DistributedDataParallel(DistributedLoss(bench, self.world_size), device_ids=ids)

    def sampler(self, dataset: Dataset, seed: int, epoch: int) -> DistributedSampler | None:
        """This rank's shard of an epoch (one shuffle for all ranks, seeded by seed and epoch)."""
        if not self.distributed:
            return None
        sampler = DistributedSampler(
            dataset,
            num_replicas=self.world_size,
            rank=self.rank,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return sampler

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean over ranks (logged losses are the global batch's); identity for one process."""
        return all_reduce_mean(values) if self.distributed else values

    def wait_for_main(self) -> None:
        """Every rank waits here until rank 0 has evaluated and saved (long timeout)."""
        if self.distributed:
            dist.barrier(group=self.wait_group)


SINGLE = DistContext()


def context_from_env(env: Mapping[str, str] | None = None, device_type: str = "cpu") -> DistContext:
    """RANK, WORLD_SIZE, LOCAL_RANK (set by torchrun) -> DistContext; SpecError if malformed."""
    env = os.environ if env is None else env
    try:
        rank, world = int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise SpecError(
            f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc}); start the "
            "ranks with torchrun (python -m torch.distributed.run)"
        ) from exc
    if not (0 <= rank < world and local >= 0):
        raise SpecError(
            f"bad torchrun environment: RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local}"
        )
    return DistContext(rank, world, local, device_type)


def collective_timeout_s(env: Mapping[str, str] | None = None) -> float:
    """The collective timeout in seconds: NASDET_DIST_TIMEOUT_S or DEFAULT_TIMEOUT_S."""
    text = (os.environ if env is None else env).get(TIMEOUT_ENV)
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError as exc:
        raise SpecError(f"{TIMEOUT_ENV} must be a number of seconds, got {text!r}") from exc
    if not value > 0:
        raise SpecError(f"{TIMEOUT_ENV} must be > 0, got {value}")
    return value


def setup(
    device_type: str,
    init_method: str = "env://",
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> DistContext:
    """Join the process group of this torchrun launch; returns this rank's context."""
    ctx = context_from_env(env, device_type)
    if device_type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
    timeout = timedelta(seconds=timeout_s or collective_timeout_s(env))
    dist.init_process_group(
        ctx.backend,
        init_method=init_method,
        rank=ctx.rank,
        world_size=ctx.world_size,
        timeout=timeout,
    )
    wait_group = dist.new_group(backend="gloo", timeout=timedelta(seconds=WAIT_FOR_MAIN_S))
    return DistContext(ctx.rank, ctx.world_size, ctx.local_rank, device_type, wait_group)


def teardown() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
