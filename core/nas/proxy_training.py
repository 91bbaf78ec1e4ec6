"""The NAS proxy task: small-crop classification tensors, and how networks train and score on it.

Data: `core.data.crops.load_proxy` gives uint8 crops [N, 3, s, s] of a dataset's objects (or a
`.pt` file of the same tensors, `proxy_path`). `prepare` turns them into float tensors normalised
with the train split's per-channel mean/std and splits the train split in two halves, seeded:
`search_train` (network weights) and `search_val` (architecture choice: DARTS alphas, ENAS
rewards, evolution/random scores), as DARTS does (section 3.1.1). The proxy's own val split is
held out from the search and only used by the final report, so the searched-vs-random comparison
is not biased by the selection.

Training: AdamW (or SGD with momentum, the DARTS setting; `TrainSettings.optimizer`), cosine
learning rate, gradient clipping, random flips and padded crops. `measure` counts parameters,
FLOPs (torch.utils.flop_counter, one 32x32 image, multiply-add = 2 FLOPs) and CPU latency
(median, batch 1) of a discrete network.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from core.data.crops import load_proxy
from core.errors import DatasetError
from core.nas.network import AUXILIARY
from core.nas.planning import epoch_steps
from core.torch_util import count_parameters

log = logging.getLogger(__name__)

AUGMENT_PAD_FRACTION = 0.125  # padded random crops: 4 px at 32x32 (as the CIFAR recipe)
EVAL_BATCH = 128
LATENCY_REPEATS = 5


@dataclass(frozen=True)
class ProxyTensors:
    """Float crops normalised per channel: x [N, 3, s, s] float32, y [N] int64 (0-based)."""

    search_train_x: torch.Tensor
    search_train_y: torch.Tensor
    search_val_x: torch.Tensor
    search_val_y: torch.Tensor
    train_x: torch.Tensor  # the whole proxy train split (final report training)
    train_y: torch.Tensor
    val_x: torch.Tensor  # held-out proxy val split (final report scores)
    val_y: torch.Tensor
    classes: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def size(self) -> int:
        return int(self.train_x.shape[-1])


def load_raw(
    store,
    dataset: str | None,
    proxy_path: str | None,
    size: int,
    context: float,
    seed: int,
    max_per_class: int | None,
    check: Callable[[], None] | None = None,
) -> dict:
    """uint8 proxy tensors {train_x, train_y, val_x, val_y, classes} from the store or a file;
    `check()` runs between images while crops are built (it may raise to stop)."""
    if proxy_path:
        path = store.resolve_path(proxy_path) if store is not None else Path(proxy_path)
        if not Path(path).is_file():
            raise DatasetError(f"proxy tensor file {path} does not exist")
        raw = torch.load(path, map_location="cpu", weights_only=True)
        missing = {"train_x", "train_y", "val_x", "val_y", "classes"} - set(raw)
        if missing:
            raise DatasetError(f"proxy file {path} lacks {', '.join(sorted(missing))}")
        return raw

    data = load_proxy(
        store,
        dataset,
        size=size,
        context=context,
        seed=seed,
        max_per_class=max_per_class,
        check=check,
    )
    return {
        "train_x": data.train_x,
        "train_y": data.train_y,
        "val_x": data.val_x,
        "val_y": data.val_y,
        "classes": list(data.classes),
    }


def prepare(
    raw: dict,
    size: int,
    val_fraction: float = 0.5,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> ProxyTensors:
    """Normalise, resize to `size` if needed and split the train split (see module docstring).

    All tensors end up on `device` (the crops are small: a GPU search keeps them there).
    """
    train_x, val_x = _to_float(raw["train_x"], size), _to_float(raw["val_x"], size)
    train_y, val_y = raw["train_y"].long(), raw["val_y"].long()
    if len(train_y) < 4:
        raise DatasetError(
            f"the proxy train split has {len(train_y)} crops; a search needs at "
            "least 4 (generate or import a larger dataset)"
        )
    if len(val_y) == 0:  # no val images: hold out a quarter of train for the report
        perm = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(seed + 1))
        cut = max(1, len(perm) // 4)
        val_x, val_y, train_x, train_y = (
            train_x[perm[:cut]],
            train_y[perm[:cut]],
            train_x[perm[cut:]],
            train_y[perm[cut:]],
        )
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
    train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
    perm = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(seed))
    cut = min(max(1, int(round(len(perm) * (1 - val_fraction)))), len(perm) - 1)
    w_idx, a_idx = perm[:cut], perm[cut:]
    tensors = [
        t.to(device)
        for t in (
            train_x[w_idx],
            train_y[w_idx],
            train_x[a_idx],
            train_y[a_idx],
            train_x,
            train_y,
            val_x,
            val_y,
        )
    ]
    return ProxyTensors(*tensors, list(raw["classes"]))


def _to_float(x: torch.Tensor, size: int) -> torch.Tensor:
    x = x.float().div_(255.0)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return x.contiguous()


# -- batches -----------------------------------------------------------------------------------
def batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    augment: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One shuffled epoch of (x [B, 3, s, s], y [B]); the last partial batch is kept if >= 2."""
    order = torch.randperm(len(y), generator=generator)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size].to(x.device)
        if len(idx) < 2 and start > 0:
            break
        xb = x[idx]
        yield (random_flip_crop(xb, generator) if augment else xb), y[idx]


def random_flip_crop(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per-sample horizontal flip and a random crop of the zero-padded image: [B,3,s,s] -> same."""
    b, _, h, w = x.shape
    pad = max(1, int(round(h * AUGMENT_PAD_FRACTION)))
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])


def cycle_batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless shuffled batches (no augmentation): the architecture-side data stream."""
    while True:
        yield from batches(x, y, batch_size, generator)


def cosine_lr(base: float, minimum: float, epoch: int, total: int) -> float:
    """DARTS's cosine schedule: base at epoch 0, `minimum` at epoch `total`."""
    return minimum + 0.5 * (base - minimum) * (1 + math.cos(math.pi * min(epoch, total) / total))


def logits_of(out) -> torch.Tensor:
    """CifarNetwork returns (logits, aux); the supernet returns logits."""
    return out[0] if isinstance(out, tuple) else out


# -- training and scoring ----------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    check_stop: Callable[[], None] | None = None,
) -> float:
    """Top-1 accuracy in [0, 1] of model (eval mode) on x [N,3,s,s], y [N]."""
    was_training = model.training
    model.eval()
    forward = forward or (lambda xb: logits_of(model(xb)))
    correct = 0
    for start in range(0, len(y), EVAL_BATCH):
        if check_stop is not None:
            check_stop()
        xb = x[start : start + EVAL_BATCH].contiguous(memory_format=torch.channels_last)
        correct += int((forward(xb).argmax(1) == y[start : start + EVAL_BATCH]).sum())
    model.train(was_training)
    return correct / max(1, len(y))


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser and budget of one proxy training (the DARTS weight settings by default)."""

    epochs: int = 1
    batch_size: int = 32
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    optimizer: str = "sgd"  # "sgd" (momentum) or "adam" (AdamW: momentum is beta1)

    def build(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        """The optimiser of `params` at `lr` (the cosine schedule sets it per epoch)."""
        if self.optimizer == "adam":
            return torch.optim.AdamW(
                params, lr=self.lr, betas=(self.momentum, 0.999), weight_decay=self.weight_decay
            )
        return torch.optim.SGD(
            params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )


def weight_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    params: list[nn.Parameter],
    grad_clip: float,
) -> None:
    """One optimiser step of network weights (not DARTS alphas): backward, clip the norm, step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()


def train_and_score(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    settings: TrainSettings,
    seed: int,
    check_stop: Callable[[], None] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> dict[str, float]:
    """Train `model` from its current weights on `train`, score on `val`.

    Returns {"train_acc", "val_acc", "loss", "seconds"}; check_stop() is called every step,
    on_epoch(epochs done, seconds so far) after each epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = settings.build(params)
    start, correct, seen, loss_sum = time.monotonic(), 0, 0, 0.0
    model.train()
    for epoch in range(settings.epochs):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(settings.lr, settings.lr_min, epoch, settings.epochs)
        correct = seen = 0
        for xb, yb in batches(*train, settings.batch_size, generator, augment=True):
            if check_stop is not None:
                check_stop()
            logits = logits_of(model(xb.contiguous(memory_format=torch.channels_last)))
            loss = F.cross_entropy(logits, yb)
            weight_step(loss, opt, params, settings.grad_clip)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
            loss_sum = loss.item()
        if on_epoch is not None:
            on_epoch(epoch + 1, time.monotonic() - start)
    val_acc = evaluate(model, *val, check_stop=check_stop)
    return {
        "train_acc": correct / max(1, seen),
        "val_acc": val_acc,
        "loss": loss_sum,
        "seconds": time.monotonic() - start,
    }


def step_seconds(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings,
    steps: int = 3,
    warmup: int = 2,
) -> float:
    """Measured seconds of one training step of `model` (changed: pass a throwaway network) at
    batch `settings.batch_size` on the device of x, augmentation included: the median of `steps`
    timed steps after `warmup` untimed ones (the first steps of a network pay for allocations
    and kernel selection, and one stalled step must not set the plan)."""
    model = model.to(x.device, memory_format=torch.channels_last).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = settings.build(params)
    generator = torch.Generator().manual_seed(0)
    n = min(len(y), settings.batch_size)
    times = []
    for step in range(warmup + steps):
        _sync(x.device)
        start = time.perf_counter()
        xb = random_flip_crop(x[:n], generator).contiguous(memory_format=torch.channels_last)
        weight_step(F.cross_entropy(logits_of(model(xb)), y[:n]), opt, params, settings.grad_clip)
        _sync(x.device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def epoch_seconds(step_s: float, train_crops: int, val_crops: int, batch_size: int) -> float:
    """One epoch over `train_crops` at `step_s` per training step of `batch_size` crops, plus
    the network's evaluation of `val_crops` (core.nas.planning.epoch_steps)."""
    return step_s * epoch_steps(train_crops, val_crops, batch_size)


# -- cost of a discrete network ----------------------------------------------------------------
@torch.no_grad()
def measure(model: nn.Module, size: int, latency_repeats: int = LATENCY_REPEATS) -> dict:
    """{"params", "flops", "latency_ms"} of a network on one [1, 3, size, size] CPU image."""
    from torch.utils.flop_counter import FlopCounterMode

    model = model.eval()
    x = torch.randn(1, 3, size, size)
    with FlopCounterMode(display=False) as counter:
        model(x)
    times = []
    for _ in range(latency_repeats + 1):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return {
        "params": count_parameters(model, exclude=AUXILIARY),
        "flops": int(counter.get_total_flops()),
        "latency_ms": 1000.0 * statistics.median(times[1:]),
    }


def spread(values: list[float]) -> dict[str, float | list[float]]:
    """{"mean", "std" (sample std; 0 for a single value), "accs"} of a list of accuracies."""
    if not values:
        return {"mean": None, "std": None, "accs": []}
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "accs": list(values)}
