"""One independent training of a search as a picklable task: a `Trial` names the genotype, the
proxy network's shape, the optimiser settings, the seed and the split; `run_trial` trains a fresh
network for it and scores it, in this process (LocalExecutor) or in a Ray worker.

Each trial is seeded on its own (`torch.manual_seed(seed)` before the network is built, the batch
order from a generator of the same seed: core.nas.proxy_training.train_and_score), so a trial gives
the same numbers wherever it runs, given the same device and torch thread count (`threads`). A
`deadline` (wall-clock seconds, time.time()) lets a remote training stop when the job's budget ends,
as the local one does through its check (TrialTimeout).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from core.nas.genotypes import Genotype
from core.nas.network import CifarNetwork
from core.nas.proxy_training import ProxyTensors, TrainSettings, train_and_score

SPLITS = ("search", "report")  # search: search-train -> search-val; report: train -> val


class TrialTimeout(Exception):
    """A trial passed its deadline (the search's time budget) and stopped."""


@dataclass(frozen=True)
class Trial:
    """What one training needs besides the data (small: it is pickled for every task)."""

    genotype: dict
    C: int
    num_classes: int
    layers: int
    settings: TrainSettings
    seed: int
    split: str = "search"
    deadline: float | None = None  # time.time() after which the training stops (TrialTimeout)
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads in the task (None: leave the process's)


def proxy_network(genotype: Genotype, C: int, num_classes: int, layers: int) -> CifarNetwork:
    """The proxy network of a genotype (no auxiliary head), on the CPU."""
    return CifarNetwork(C, num_classes, layers, False, genotype)


def on_cpu(data: ProxyTensors) -> ProxyTensors:
    """The proxy tensors on the CPU (what goes into Ray's object store)."""
    return dataclasses.replace(
        data,
        **{
            f.name: getattr(data, f.name).cpu()
            for f in dataclasses.fields(data)
            if isinstance(getattr(data, f.name), torch.Tensor)
        },
    )


def trial_tensors(
    trial: Trial, data: ProxyTensors, device: torch.device
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """(train, val) pairs of the trial's split on `device`."""
    if trial.split == "search":
        pairs = ((data.search_train_x, data.search_train_y), (data.search_val_x, data.search_val_y))
    elif trial.split == "report":
        pairs = ((data.train_x, data.train_y), (data.val_x, data.val_y))
    else:
        raise ValueError(f"trial split must be one of {SPLITS}, got {trial.split!r}")
    return tuple((x.to(device), y.to(device)) for x, y in pairs)  # type: ignore[return-value]


def run_trial(
    trial: Trial,
    data: ProxyTensors,
    check: Callable[[], None] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> dict[str, float]:
    """Train and score the trial's network: {"train_acc", "val_acc", "loss", "seconds"}.

    check() runs every step (a local cancel); past the deadline TrialTimeout is raised."""
    if trial.threads:
        torch.set_num_threads(trial.threads)
    device = torch.device(trial.device)
    train, val = trial_tensors(trial, data, device)

    def check_all() -> None:
        if check is not None:
            check()
        if trial.deadline is not None and time.time() > trial.deadline:
            raise TrialTimeout(f"the search budget ended during a training (seed {trial.seed})")

    torch.manual_seed(trial.seed)
    network = proxy_network(
        Genotype.from_dict(trial.genotype), trial.C, trial.num_classes, trial.layers
    ).to(device)
    return train_and_score(network, train, val, trial.settings, trial.seed, check_all, on_epoch)
