"""`python -m core`: the command line over the engine.

Verbs: worker, jobs list|show|cancel|resume|logs|delete, plus those each package registers
(data ..., search, train, evaluate, predict, export, models ...). `--home` (or NASDET_HOME)
selects the home folder everywhere. Exit codes: 0 ok, 1 failed job / runtime error, 2 bad input
(any engine error raised before a job runs), 130 interrupted. No verb prints a traceback: an
unexpected error is one line on stderr, its traceback goes to <home>/logs/cli.log (or to stderr
with NASDET_DEBUG=1). A closed stdout (`jobs list | head`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from core.app import jobs, model_list
from core.cli_util import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    job_id_arg,
    number_arg,
    print_json,
    print_table,
    quiet_broken_pipe,
    report_unexpected,
    store_from,
    wait_for_job,
)
from core.det import cli as det_cli
from core.engine.jobs import JOB_KINDS
from core.engine.store import JOB_STATUSES
from core.engine.worker import run_worker
from core.errors import DatabaseBusyError, DiskFullError, NasdetError, SpecError

# Packages that add verbs: each module has register(subparsers).
VERB_MODULES = (
    "core.data.cli",
    "core.nas.cli",
    "core.nas.detector.cli",  # --level detector on core.nas.cli's `search`
    "core.train.cli",
    "core.det.cli",
)
JOB_FIELDS = [
    "id",
    "kind",
    "status",
    "progress",
    "device",
    "created_at",
    "started_at",
    "finished_at",
    "error",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="NASDet Studio engine")
    parser.add_argument("--home", help="home folder (default: $NASDET_HOME or ./nasdet_data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    worker = sub.add_parser("worker", help="run a job worker in the foreground")
    worker.add_argument("--device", default="auto", help="auto | cpu | cuda:N | mps")
    worker.add_argument("--max-jobs", type=number_arg(int, 1), help="exit after this many jobs")
    worker.add_argument(
        "--idle-exit",
        type=number_arg(float, 0),
        help="exit after this many idle seconds",
    )
    worker.add_argument(
        "--lane",
        default="all",
        choices=["all", "light"],
        help="all: every job; light: only data, evaluate and export jobs (beside a long one)",
    )
    worker.set_defaults(func=cmd_worker)

    jobs = sub.add_parser("jobs", help="list, show, cancel, resume, delete jobs; show logs")
    jsub = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = jsub.add_parser("list", help="list jobs, newest first")
    p.add_argument("--status", choices=JOB_STATUSES, help="only jobs with this status")
    p.add_argument("--kind", help="only jobs of this kind")
    p.add_argument("--json", action="store_true", help="print JSON objects")
    p.set_defaults(func=cmd_jobs_list)
    for name, func, text in (
        ("show", cmd_jobs_show, "show one job"),
        ("cancel", cmd_jobs_cancel, "cancel a queued or running job"),
        ("resume", cmd_jobs_resume, "re-queue an interrupted/failed/cancelled job"),
        ("logs", cmd_jobs_logs, "print a job's log"),
        ("delete", cmd_jobs_delete, "delete a finished job and its files"),
    ):
        p = jsub.add_parser(name, help=text)
        p.add_argument("job_id", type=job_id_arg)
        if name == "show":
            p.add_argument("--json", action="store_true", help="print a JSON object")
        if name == "resume":
            p.add_argument("--no-worker", action="store_true", help="do not start a worker")
            p.add_argument(
                "--wait", action="store_true", help="follow the job; exit 0 only if it succeeded"
            )
        p.set_defaults(func=func)

    for module in VERB_MODULES:
        importlib.import_module(module).register(sub)
    _register_models(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one verb; argparse exits 2 on a malformed command line (SystemExit), every other
    error becomes an `error: ...` line and an exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code = args.func(args) or EXIT_OK
        sys.stdout.flush()  # a closed pipe shows here, inside the guard
        return code
    except BrokenPipeError:
        return quiet_broken_pipe()
    except KeyboardInterrupt:
        print(
            "interrupted (a queued or running job goes on in its worker; `jobs cancel ID` "
            "stops it)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except (DiskFullError, DatabaseBusyError) as exc:  # not bad input: the machine's state
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except NasdetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. a permission refused while writing an export
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # the one place an unforeseen error becomes a message
        return report_unexpected(exc, argv, args.home)


def cmd_worker(args) -> int:
    return run_worker(
        args.home, args.device, max_jobs=args.max_jobs, idle_exit_s=args.idle_exit, lane=args.lane
    )


def _job_view(job: dict) -> dict:
    return {k: job.get(k) for k in JOB_FIELDS + ["message", "eta_s", "spec", "result"]}


def cmd_jobs_list(args) -> int:
    jobs = store_from(args).list_jobs(status=args.status, kind=args.kind)
    if args.kind and not jobs and args.kind not in JOB_KINDS:
        raise SpecError(f"no jobs of kind {args.kind!r}; the kinds are {', '.join(JOB_KINDS)}")
    if args.json:
        print_json([{k: j.get(k) for k in JOB_FIELDS} for j in jobs])
    else:
        print_table(jobs, ["id", "kind", "status", "progress", "device", "created_at", "message"])
    return EXIT_OK


def cmd_jobs_show(args) -> int:
    job = store_from(args).get_job(args.job_id)
    if args.json:
        print_json(_job_view(job))
    else:
        for key, value in _job_view(job).items():
            print(f"{key:12} {value}")
    return EXIT_OK


def cmd_jobs_cancel(args) -> int:
    print(jobs.cancel(store_from(args), args.job_id))
    return EXIT_OK


def cmd_jobs_resume(args) -> int:
    store = store_from(args)
    jobs.resume(store, args.job_id, start_worker=not args.no_worker)
    code = wait_for_job(store, args.job_id) if args.wait else EXIT_OK
    print(args.job_id)
    return code


def cmd_jobs_logs(args) -> int:
    store = store_from(args)
    store.get_job(args.job_id)
    for e in store.events(args.job_id, limit=100_000):
        print(f"{e['level'].upper():8} {e['message']}")
    return EXIT_OK


def cmd_jobs_delete(args) -> int:
    print(jobs.delete(store_from(args), args.job_id))
    return EXIT_OK


def _register_models(sub) -> None:
    """`models list [--json] [--dataset NAME]` (core.app.model_list: the Models tab's table) and
    `models import-effdet` (core.det.cli)."""
    models = sub.add_parser("models", help="list detectors; import effdet weights")
    msub = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = msub.add_parser("list", help="every stored detector: origin, size, AP50, latency")
    p.add_argument("--json", action="store_true", help="print JSON objects")
    p.add_argument("--dataset", help="only the models trained on this dataset")
    p.set_defaults(func=cmd_models_list)
    det_cli.add_import_effdet(msub)


def cmd_models_list(args) -> int:
    rows = model_list.model_table(store_from(args), args.dataset)
    if args.json:
        print_json(rows)
        return EXIT_OK
    shown = [
        dict(r, AP50=_fixed(r["AP50"], 3), AP=_fixed(r["AP"], 3), ms=_fixed(r["latency_ms"], 1))
        for r in rows
    ]
    print_table(shown, ["name", "origin", "dataset", "backbone", "image_size", "AP50", "AP", "ms"])
    return EXIT_OK


def _fixed(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"
