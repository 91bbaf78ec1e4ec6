"""CLI verbs of core.nas (registered into `python -m core` by core/cli.py).

`python -m core search --dataset NAME --strategy darts|enas|evolution|random|zero-cost
[--minutes M] [--epochs E] [--samples N] [--seed S] [--fast] [--warm-start zero-cost]
[--objective accuracy|accuracy-latency] [--target-ms T] [--set KEY=VALUE ...] [--wait]` submits
a search job and prints its plan (how the minutes split into search and report) before the job
id. Options and their help come from core.nas.config (defaults read from the definitions); every
other option, nested ones included (`report.epochs`, `darts.warmup`, or the older flat names
such as `report_epochs`), can be set with --set (values are parsed by the spec layer).
"""

from __future__ import annotations

import argparse

from core.cli_util import add_submit_options, store_from, submit
from core.errors import SpecError
from core.nas.config import DartsConfig, EvolutionConfig, ReportConfig, SearchConfig, option_names
from core.nas.tasks import plan_line
from core.spec import add_arguments, args_to_spec, help_text

TOP_FLAGS = (
    "dataset",
    "strategy",
    "minutes",
    "epochs",
    "samples",
    "seed",
    "fast",
    "warm_start",
    "objective",
    "target_ms",
    "C",
    "layers",
    "image_size",
    "batch_size",
    "max_per_class",
    "threads",
    "executor",
    "ray_address",
)
# nested options with their own flag: (group, dataclass, field, flag)
NESTED_FLAGS = (
    ("darts", DartsConfig, "warmup", "--warmup"),
    ("darts", DartsConfig, "second_order", "--second-order"),
    ("darts", DartsConfig, "partial_channels", "--partial-channels"),
    ("evolution", EvolutionConfig, "population", "--population"),
    ("evolution", EvolutionConfig, "sample_size", "--sample-size"),
    ("evolution", EvolutionConfig, "parallel", "--parallel"),
    ("report", ReportConfig, "random", "--report-random"),
    ("report", ReportConfig, "epochs", "--report-epochs"),
)


def register(sub) -> None:
    """Add this package's verbs to the top-level subparsers."""
    p = sub.add_parser(
        "search",
        help="submit a neural architecture search job",
        description="Search a DARTS-space cell on the proxy task of a dataset, "
        "then retrain it beside random cells (the final report). "
        "--minutes bounds the whole job.",
    )
    add_arguments(p, SearchConfig, TOP_FLAGS)
    p.add_argument("--no-time-limit", action="store_true", help="no minutes budget")
    for group, cls, name, flag in NESTED_FLAGS:
        kwargs = {"action": argparse.BooleanOptionalAction} if name == "second_order" else {}
        p.add_argument(
            flag,
            dest=f"{group}.{name}",
            default=None,
            help=f"{group}: {help_text(cls, name)}".replace("%", "%%"),
            **kwargs,
        )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other search option, e.g. report.epochs=8, zero_cost.cells=300, "
        "darts.arch_lr=6e-4 (see core/nas/config.py)",
    )
    add_submit_options(p)
    p.set_defaults(func=cmd_search)


def search_spec(args: argparse.Namespace) -> dict:
    """The job spec from parsed arguments (only what was given; defaults come from validate)."""
    spec = args_to_spec(args, TOP_FLAGS)
    spec.update(args_to_spec(args, [f"{g}.{n}" for g, _, n, _ in NESTED_FLAGS]))
    if args.no_time_limit:
        spec["minutes"] = None
    known = option_names()
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise SpecError(
                f"--set expects KEY=VALUE with KEY a search option (e.g. "
                f"report.epochs, darts.warmup), got {item!r}"
            )
        spec[key] = value
    return spec


def cmd_search(args: argparse.Namespace) -> int:
    spec = search_spec(args)
    print(plan_line(store_from(args), spec))
    return submit(args, "search", spec)
