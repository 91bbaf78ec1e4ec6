"""Helpers shared by the CLI's verbs: submitting jobs, following them, printing tables.

Each package registers its own verbs (core/data/cli.py, core/nas/cli.py, core/train/cli.py,
core/det/cli.py) with a `register(subparsers)` function and uses `submit(args, kind, spec)`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.engine.store import FINISHED, Store
from core.engine.submit import submit as submit_job
from core.spec_values import MAX_INT as MAX_ID
from core.spec_values import to_float, to_int

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
DEBUG_ENV = "NASDET_DEBUG"  # =1: unexpected errors print their traceback
LINE_STEP_PCT = 10  # without a terminal, one progress line per this many percent


def add_submit_options(parser: argparse.ArgumentParser) -> None:
    """--wait, --no-worker and --device, for every job-submitting verb."""
    parser.add_argument(
        "--wait",
        action="store_true",
        help="follow the job with a progress bar; exit 0 only if it succeeded",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="only queue the job; do not start a background worker",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda:N or mps"
    )


def store_from(args: argparse.Namespace) -> Store:
    return Store(getattr(args, "home", None))


def submit(args: argparse.Namespace, kind: str, spec: dict) -> int:
    """Validate and queue a job (SpecError propagates -> exit 2), start a worker, maybe wait."""
    store = store_from(args)
    job_id = submit_job(store, kind, spec, args.device, start_worker=not args.no_worker)
    if args.wait:
        code = wait_for_job(store, job_id)
        print(job_id)
        return code
    print(job_id)
    return EXIT_OK


def job_id_arg(value: str) -> int:
    """argparse type of a job id: a whole number 1..2^63-1."""
    return number_arg(int, 1, MAX_ID, "job id")(value)


def number_arg(
    kind: type, lo: float | None = None, hi: float | None = None, what: str = ""
) -> Callable[[str], Any]:
    """argparse type of a bounded int or float option, with the spec layer's coercion (NaN,
    inf, "1.5" for a whole number refused): `type=number_arg(int, lo=1)`. `what` names the
    value in the message (argparse names the option itself)."""
    coerce_value = to_int if kind is int else to_float

    def parse(text: str):
        try:
            value = coerce_value(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{what} {exc}, got {text!r}".strip()) from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = (
                f"in {lo}..{hi}"
                if None not in (lo, hi)
                else f">= {lo}"
                if hi is None
                else f"<= {hi}"
            )
            raise argparse.ArgumentTypeError(f"{what} must be {bounds}, got {text}".strip())
        return value

    return parse


def wait_for_job(
    store: Store, job_id: int, poll_s: float = 0.5, timeout_s: float | None = None, out=None
) -> int:
    """Follow a job until it ends; 0 if it succeeded, else 1 with its error printed.

    On a terminal `out` (default stderr) a tqdm bar; otherwise (a log file, a pipe) plain
    lines: one per status change and per LINE_STEP_PCT percent, no carriage returns."""
    out = sys.stderr if out is None else out
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with (_Bar if _is_terminal(out) else _Lines)(job_id, out) as shown:
        while True:
            job = store.get_job(job_id)
            shown.update(round(100 * (job["progress"] or 0.0)), job["status"], job["message"] or "")
            if job["status"] in FINISHED + ("interrupted",):
                break
            if deadline is not None and time.monotonic() > deadline:
                print(f"job {job_id}: gave up waiting (still {job['status']})", file=out)
                return EXIT_FAILED
            time.sleep(poll_s)
    if job["status"] == "succeeded":
        return EXIT_OK
    print(f"job {job_id} {job['status']}: {job['error'] or 'no error recorded'}", file=out)
    return EXIT_FAILED


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Bar:
    """A tqdm bar (terminal only: it redraws the line with carriage returns)."""

    def __init__(self, job_id: int, out) -> None:
        self.bar = tqdm(
            total=100,
            desc=f"job {job_id}",
            unit="%",
            file=out,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
        )

    def update(self, pct: int, status: str, message: str) -> None:
        self.bar.n = pct
        self.bar.set_postfix_str(f"{status} {message}"[:80], refresh=True)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()


class _Lines:
    """Progress as whole lines: `job 7: 30% running epoch 3/10`, on each status change and each
    LINE_STEP_PCT percent step."""

    def __init__(self, job_id: int, out) -> None:
        self.job_id, self.out = job_id, out
        self.status: str | None = None
        self.step = -1

    def update(self, pct: int, status: str, message: str) -> None:
        step = pct // LINE_STEP_PCT
        if status == self.status and step == self.step:
            return
        self.status, self.step = status, step
        print(
            f"job {self.job_id}: {pct:3d}% {status} {message}"[:160].rstrip(),
            file=self.out,
            flush=True,
        )

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc) -> None:
        return None


def report_unexpected(exc: BaseException, argv: list[str] | None, home: str | None) -> int:
    """An error no verb expected: one line on stderr and the traceback in <home>/logs/cli.log
    (printed instead when NASDET_DEBUG=1). Returns EXIT_FAILED."""
    text = "".join(traceback.format_exception(exc))
    if os.environ.get(DEBUG_ENV) == "1":
        print(text, file=sys.stderr, end="")
        where = "above"
    else:
        log = _append_cli_log(home, argv, text)
        where = f"in {log}" if log else f"not saved; rerun with {DEBUG_ENV}=1 to see it"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
    print(
        f"error: unexpected {type(exc).__name__}: {detail} (the traceback is {where}; "
        "please report it)",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _append_cli_log(home: str | None, argv: list[str] | None, text: str) -> Path | None:
    """Append a traceback to <home>/logs/cli.log when the home folder exists; else None."""
    folder = Path(home or os.environ.get("NASDET_HOME") or "nasdet_data").expanduser()
    if not folder.is_dir():
        return None
    log = folder.resolve() / "logs" / "cli.log"
    try:
        log.parent.mkdir(exist_ok=True)
        with open(log, "a", encoding="utf-8") as f:
            f.write(
                f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} python -m core "
                f"{' '.join(argv if argv is not None else sys.argv[1:])}\n{text}"
            )
    except OSError:
        return None
    return log


def quiet_broken_pipe() -> int:
    """The reader of stdout went away (`jobs list | head`): stop quietly.

    Points stdout at devnull so the interpreter's final flush cannot raise again; exits 0
    (the reader had all it wanted)."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # no real descriptor (captured in tests)
        return EXIT_OK
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return EXIT_OK


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def print_table(rows: Iterable[dict], columns: list[str]) -> None:
    """A plain aligned text table (no extra dependency)."""
    rows = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value > 1e9:  # a timestamp
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
        return f"{value:.3g}"
    return str(value)


def by_name(path: str):
    """A verb's function named "module:function", imported when the verb runs: a verb whose
    body needs torch is registered this way, so the parser itself stays light."""
    module, _, function = path.partition(":")

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), function)(args)

    run.__qualname__ = run.__name__ = function
    return run
