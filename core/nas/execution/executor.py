"""Executors: where the independent trainings of a search run (evolution and random children,
the zero-cost top-k, the final report's networks).

    with make_executor("ray", device="cpu", cpus_per_task=1) as executor:
        data = executor.share(tensors)                       # one copy in Ray's object store
        for stats in executor.map(run_trial, trials, data, check=reporter.check_stop):
            ...                                              # results in order, in the caller

`LocalExecutor` runs each call in this process, one after the other, passing `check` on so that
a cancel interrupts a training at its next step. `RayExecutor` runs each call as a Ray task
(Moritz et al., OSDI 2018): one GPU per task where the cluster has GPUs (`num_gpus=1`), else
`cpus_per_task` CPU slots; a task lost with its worker or node is retried (`max_retries`); the
caller polls `check` while it waits and, when it raises (cancel), `ray.cancel`s every
outstanding task (force: their worker processes end) before re-raising. Without an address it
starts a local Ray with the job's slots and shuts it down at the end; with one (`auto`, or the
head's HOST:PORT) it joins that cluster and leaves it running, after the head has answered a
probe (core.nas.execution.ray_address: an unreachable head fails the job within seconds, and a
cancel while connecting is honoured). Results always come back to the
caller, which alone writes the store. Tasks must be module-level functions (importable on every
node) of picklable arguments.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol

from core.errors import SpecError
from core.nas.execution.ray_address import wait_for_head

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
POLL_S = 0.2  # how often a waiting caller runs `check` (cancel latency)
MAX_RETRIES = 3  # Ray: re-runs of a task whose worker or node died


class Executor(Protocol):
    """What the search needs from a place to run trainings."""

    name: str
    slots: int  # trainings that run at once
    remote: bool  # tasks run in other processes: arguments are pickled, `check` stays here

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: Any) -> None: ...

    def share(self, obj: Any) -> Any:
        """A handle for a large argument many tasks read (pass it as a task argument)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run fn(*args); a future of its result."""

    def map(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *shared: Any,
        check: Callable[[], None] | None = None,
        **local: Any,
    ) -> Iterator[Any]:
        """fn(item, *shared) for every item; yields the results in the items' order. `local`
        keywords (callbacks such as progress) reach fn only when it runs in this process."""

    def cancel_all(self) -> None:
        """Cancel every task that has not finished."""


class LocalExecutor:
    """Every call in this process, in order (the reference the Ray executor must equal)."""

    name, remote = "local", False

    def __init__(self, slots: int = 1):
        self.slots = slots

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def share(self, obj: Any) -> Any:
        return obj

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # the future carries it; .result() raises it in the caller
            future.set_exception(exc)
        return future

    def map(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *shared: Any,
        check: Callable[[], None] | None = None,
        **local: Any,
    ) -> Iterator[Any]:
        """fn(item, *shared, check=check, **local), one after the other; `items` is read
        lazily (an item is made only when the previous result has been taken)."""
        for item in items:
            if check is not None:
                check()
            yield fn(item, *shared, check=check, **local)

    def cancel_all(self) -> None:
        return None  # nothing runs outside the caller's own call


class RayExecutor:
    """Ray tasks on a local Ray (started here) or on a cluster (`address`)."""

    name, remote = "ray", True

    def __init__(
        self,
        slots: int | None = None,
        address: str | None = None,
        cpus_per_task: int = 1,
        gpus_per_task: float = 0.0,
        max_retries: int = MAX_RETRIES,
        poll_s: float = POLL_S,
        check: Callable[[], None] | None = None,
    ):
        self.address, self.requested_slots, self.check = address, slots, check
        self.cpus_per_task, self.gpus_per_task = max(1, cpus_per_task), gpus_per_task
        self.max_retries, self.poll_s = max_retries, poll_s
        self.slots = slots or 1
        self._started = False
        self._pending: set = set()
        self._remotes: dict[Callable, Any] = {}

    def __enter__(self) -> RayExecutor:
        ray = _import_ray()
        if not ray.is_initialized():
            if self.address:
                wait_for_head(self.address, self.check)  # fails fast, cancellable
                ray.init(address=self.address, logging_level=logging.WARNING)
            else:
                ray.init(
                    num_cpus=(self.requested_slots or 1) * self.cpus_per_task,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
                self._started = True
        self.slots = self._cluster_slots(ray)
        log.info(
            "ray executor: %d slot(s)%s",
            self.slots,
            f" on {self.address}" if self.address else " (local Ray)",
        )
        return self

    def _cluster_slots(self, ray) -> int:
        resources = ray.cluster_resources()
        if self.gpus_per_task:
            return max(1, int(resources.get("GPU", 0) // self.gpus_per_task))
        return max(1, int(resources.get("CPU", 1) // self.cpus_per_task))

    def __exit__(self, *exc: Any) -> None:
        self.cancel_all()
        if self._started:
            _import_ray().shutdown()
            self._started = False

    def share(self, obj: Any) -> Any:
        return _import_ray().put(obj)

    def _remote(self, fn: Callable[..., Any]) -> Any:
        if fn not in self._remotes:
            ray = _import_ray()
            self._remotes[fn] = ray.remote(fn).options(
                num_cpus=self.cpus_per_task,
                num_gpus=self.gpus_per_task,
                max_retries=self.max_retries,
                retry_exceptions=False,
            )
        return self._remotes[fn]

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        ref = self._remote(fn).remote(*args)
        self._pending.add(ref)
        return ref.future()

    def map(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *shared: Any,
        check: Callable[[], None] | None = None,
        **local: Any,
    ) -> Iterator[Any]:
        """All items are submitted at once; results are yielded in order. When `check` or a
        task raises, or the caller stops iterating, the unfinished tasks are cancelled.
        `local` keywords are callbacks of this process: they do not travel to the tasks."""
        ray = _import_ray()
        refs = [self._remote(fn).remote(item, *shared) for item in items]
        self._pending.update(refs)
        try:
            for ref in refs:
                while not ray.wait([ref], timeout=self.poll_s)[0]:
                    if check is not None:
                        check()
                self._pending.discard(ref)
                yield ray.get(ref)
        finally:
            self._cancel([ref for ref in refs if ref in self._pending])

    def cancel_all(self) -> None:
        self._cancel(list(self._pending))

    def _cancel(self, refs: list) -> None:
        if not refs:
            return
        ray = _import_ray()
        for ref in refs:
            ray.cancel(ref, force=True)  # ends the task's worker process
            self._pending.discard(ref)
        log.info("ray executor: cancelled %d task(s)", len(refs))


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise SpecError(
            "--executor ray needs the `ray` package (pip install -r "
            "requirements.txt); or use --executor local"
        ) from exc
    return ray


def default_slots(device: str, cpus_per_task: int = 1) -> tuple[int, float]:
    """(slots, GPUs per task) of a local Ray for a job on `device`: one task per GPU on CUDA,
    else one per `cpus_per_task` CPU cores."""
    if device.startswith("cuda"):
        import torch

        return max(1, torch.cuda.device_count()), 1.0
    return max(1, (os.cpu_count() or 1) // max(1, cpus_per_task)), 0.0


def make_executor(
    kind: str,
    device: str = "cpu",
    address: str | None = None,
    cpus_per_task: int = 1,
    check: Callable[[], None] | None = None,
) -> Executor:
    """'local' or 'ray' (a local Ray with the device's slots, or the cluster at `address`);
    `check` runs while connecting to a cluster (a cancel raises from it)."""
    if kind == "local":
        return LocalExecutor()
    if kind != "ray":
        raise SpecError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
    slots, gpus = default_slots(device, cpus_per_task)
    return RayExecutor(
        slots=None if address else slots,
        address=address,
        cpus_per_task=cpus_per_task,
        gpus_per_task=gpus,
        check=check,
    )
