"""A Ray address nothing listens on: refused at submit when malformed, the job failed within 30 s
with the address and advice when well formed, and a cancel honoured within 5 s while the job is
still connecting. The closed port is a local one that was bound and released."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from core.engine.store import Store
from core.errors import JobCancelled, SpecError
from core.nas.execution.ray_address import (
    CONNECT_TIMEOUT_S,
    RayUnreachable,
    parse_address,
    wait_for_head,
)
from core.nas.tasks import SEARCH
from tests.nas.conftest import make_job, proxy_file  # noqa: F401 (fixtures)

JOB_FAILS_WITHIN_S = 30.0
CANCEL_WITHIN_S = 5.0


@pytest.fixture
def closed_port() -> int:
    """A local TCP port with nothing listening (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "address, expected",
    [
        ("auto", None),
        ("10.0.0.5:6379", ("10.0.0.5", 6379)),
        ("[::1]:1", ("::1", 1)),
        ("head.local:65535", ("head.local", 65535)),
    ],
)
def test_well_formed_addresses(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address, problem",
    [
        ("bogus:99999", "PORT must be a number from 1 to 65535, got '99999'"),
        ("head:0", "PORT must be a number from 1 to 65535"),
        ("head:port", "PORT must be a number"),
        ("head", "must be HOST:PORT"),
        (":6379", "must be HOST:PORT"),
        ("::1:6379", "HOST must be a host name or an IP address"),
        ("my head:6379", "HOST must be a host name or an IP address"),
    ],
)
def test_malformed_address_refused_at_submit(make_job, address, problem):  # noqa: F811
    with pytest.raises(SpecError, match="ray_address=") as info:
        make_job(execution={"executor": "ray", "ray_address": address})
    assert problem in str(info.value) and repr(address) in str(info.value)


def test_probe_gives_up_after_its_timeout_with_address_and_advice(closed_port):
    address = f"127.0.0.1:{closed_port}"
    started = time.monotonic()
    with pytest.raises(RayUnreachable) as info:
        wait_for_head(address, timeout_s=1.5, probe_s=0.25)
    assert 1.25 <= time.monotonic() - started < 2.5
    text = str(info.value)
    assert f"no Ray head answers at {address}" in text
    assert f"ray start --head --port {closed_port}" in text and "--executor local" in text


def test_unreachable_head_fails_the_search_job_within_30_s(make_job, closed_port):  # noqa: F811
    assert CONNECT_TIMEOUT_S < JOB_FAILS_WITHIN_S - 5  # room for importing Ray and the job start
    address = f"127.0.0.1:{closed_port}"
    _job_id, reporter = make_job(execution={"executor": "ray", "ray_address": address})
    started = time.monotonic()
    with pytest.raises(RayUnreachable, match=f"no Ray head answers at {address}"):
        SEARCH.run(reporter.spec, reporter)
    assert time.monotonic() - started < JOB_FAILS_WITHIN_S


def test_cancel_while_connecting_is_honoured_within_5_s(make_job, store, closed_port):  # noqa: F811
    job_id, reporter = make_job(
        execution={"executor": "ray", "ray_address": f"127.0.0.1:{closed_port}"}
    )
    asked: list[float] = []

    def cancel_soon() -> None:
        time.sleep(2.0)  # the job is in its connection loop by then
        asked.append(time.monotonic())
        Store(store.home).request_cancel(job_id)

    thread = threading.Thread(target=cancel_soon)
    thread.start()
    try:
        with pytest.raises(JobCancelled):
            SEARCH.run(reporter.spec, reporter)
    finally:
        thread.join()
    assert time.monotonic() - asked[0] < CANCEL_WITHIN_S
