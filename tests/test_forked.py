"""core.forked.call_forked: the value and the exception of the call come back as they were; a
check that raises ends a call that would block for a minute, at once, and kills its process."""

from __future__ import annotations

import os
import time

import pytest

from core.errors import DiskFullError, JobCancelled, SpecError
from core.forked import call_forked


def _never() -> None:
    pass


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _refuse(text: str) -> None:
    raise SpecError(text)


def _disk_full() -> None:
    raise DiskFullError(28, "disk full: cannot write /x/model.onnx", "/x/model.onnx")


def _block(pid_file: str) -> None:
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)


def test_the_value_comes_back_from_another_process():
    pid, square = call_forked(_pid_and_square, 7, check=_never)
    assert square == 49 and pid != os.getpid()


def test_the_calls_exception_is_raised_here_as_it_was_raised_there():
    with pytest.raises(SpecError, match="^export size 100x100 must be a multiple of 128$"):
        call_forked(_refuse, "export size 100x100 must be a multiple of 128", check=_never)
    with pytest.raises(DiskFullError) as info:
        call_forked(_disk_full, check=_never)
    assert info.value.errno == 28 and info.value.filename == "/x/model.onnx"


def test_a_check_that_raises_ends_the_call_and_kills_its_process(tmp_path):
    pid_file = tmp_path / "pid"
    started = time.monotonic()

    def check() -> None:
        if time.monotonic() - started > 0.5:
            raise JobCancelled("job 1 cancelled by the user")

    with pytest.raises(JobCancelled):
        call_forked(_block, str(pid_file), check=check)
    assert time.monotonic() - started < 2.0
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(pid, 0)
