"""A blocking library call that a cancel can end: run it in a forked child process.

Some steps are one long call into a library with no place to check a cancel flag between steps
(`torch.onnx.export`, `torch.jit.trace`). `call_forked(fn, *args, check=...)` runs `fn(*args)` in a
child forked from this process (the model and tensors are shared copy-on-write, nothing is
pickled on the way in) and calls `check()` every `poll_s` seconds while it runs; when `check`
raises (JobCancelled), the child is killed and the exception propagates. The call's return value
comes back pickled, and so does its exception, re-raised here as it was raised there.

Where fork is not available the call runs in this process (and cannot be interrupted).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any, TypeVar

import torch

T = TypeVar("T")
POLL_S = 0.1


def call_forked(
    fn: Callable[..., T], *args: Any, check: Callable[[], None], poll_s: float = POLL_S
) -> T:
    """`fn(*args)` in a forked child, `check()` polled meanwhile (see the module docstring)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        check()
        return fn(*args)
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, fn, args), name="nasdet-forked")
    child.start()
    send.close()
    try:
        while not receive.poll(poll_s):
            check()
            if not child.is_alive() and not receive.poll(0):
                raise ChildProcessError(
                    f"{getattr(fn, '__name__', 'the call')} ended its process with code "
                    f"{child.exitcode} and no answer"
                )
        ok, value = receive.recv()
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if ok:
        return value
    raise value


def _child(send, fn: Callable[..., Any], args: tuple) -> None:
    torch.set_num_threads(1)  # the parent's thread pool does not survive a fork
    try:
        answer = (True, fn(*args))
    except BaseException as exc:  # sent to the parent, which raises it
        answer = (False, exc)
    try:
        send.send(answer)
    except Exception as exc:  # an unpicklable value or exception: its words
        send.send((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]} ({exc})")))
    send.close()
    os._exit(0)
