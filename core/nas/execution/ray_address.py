"""The Ray cluster a search joins: its address checked for form at submit, and its head probed
before `ray.init` so that a job whose address nothing answers fails fast and stays cancellable.

`ray.init(address="HOST:PORT")` against a port nobody listens on keeps retrying the head's GCS
for minutes and cannot be interrupted from the job. So the job first opens a plain TCP
connection to HOST:PORT itself, one short try after another, checking its cancel flag between
tries; only once the head accepts does it call `ray.init`. "auto" (the cluster this machine
belongs to: RAY_ADDRESS or a running local Ray) is resolved by Ray itself and not probed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from core.errors import NasdetError, SpecError

AUTO = "auto"
CONNECT_TIMEOUT_S = 20.0  # no answer from the head within this fails the job
PROBE_S = 1.0  # one connection try, and the longest wait between cancel checks while connecting
ADVICE = (
    "start the head there (`ray start --head --port PORT`), check the host, the port and the "
    "firewall, use --ray-address auto on a machine of the cluster, or run the search with "
    "--executor local"
)


class RayUnreachable(NasdetError):
    """No Ray head answered at the job's address within CONNECT_TIMEOUT_S."""


def parse_address(address: str) -> tuple[str, int] | None:
    """'HOST:PORT' -> (host, port), 'auto' -> None; SpecError on any other form. HOST is a name,
    an IPv4 address or a bracketed IPv6 one ([::1]:6379); PORT is 1..65535."""
    text = address.strip()
    if text == AUTO:
        return None
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    problem = None
    if not sep or not host:
        problem = "must be HOST:PORT (the head's address, e.g. 10.0.0.5:6379) or auto"
    elif any(c.isspace() for c in host) or (":" in host and not text.startswith("[")):
        problem = "HOST must be a host name or an IP address ([...] around IPv6)"
    elif not port.isdigit() or not 1 <= int(port) <= 65535:
        problem = f"PORT must be a number from 1 to 65535, got {port!r}"
    if problem:
        raise SpecError(f"ray_address={address!r}: {problem}")
    return host, int(port)


def wait_for_head(
    address: str,
    check: Callable[[], None] | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
    probe_s: float = PROBE_S,
) -> None:
    """Return once the Ray head at `address` accepts a TCP connection; RayUnreachable after
    `timeout_s` without one. `check` runs before every try (a cancel raises from it)."""
    target = parse_address(address)
    if target is None:
        return
    deadline = time.monotonic() + timeout_s
    while True:
        if check is not None:
            check()
        left = deadline - time.monotonic()
        started = time.monotonic()
        try:
            with socket.create_connection(target, timeout=max(0.05, min(probe_s, left))):
                return
        except OSError as exc:
            error = exc
        if time.monotonic() + probe_s > deadline:
            raise RayUnreachable(
                f"no Ray head answers at {address} ({error.strerror or error}) after "
                f"{timeout_s:.0f} s: " + ADVICE.replace("PORT", str(target[1]))
            )
        time.sleep(max(0.0, probe_s - (time.monotonic() - started)))  # a refusal is instant
