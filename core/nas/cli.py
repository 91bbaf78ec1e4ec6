"""CLI verbs of core.nas (registered into `python -m core` by core/cli.py).

`python -m core search --dataset NAME --strategy darts|enas|evolution|random|zero-cost
[--minutes M] [--epochs E] [--samples N] [--seed S] [--fast] [--warm-start zero-cost]
[--objective accuracy|accuracy-latency] [--target-ms T] [--set KEY=VALUE ...] [--wait]` submits
a search job and prints its plan (how the minutes split into search and report) before the job
id. Options, their flags and their help come from the field descriptions of core.nas.config
(nested fields keep a short flag where their param names one: crops.fast is --fast,
evolution.population --population); every other option is set with --set as a dotted key
(`report.epochs=8`, `darts.warmup=0.3`; values are parsed by the spec layer).
"""

from __future__ import annotations

import argparse

from core.cli_util import add_submit_options, store_from, submit
from core.errors import SpecError
from core.nas.config import SearchConfig
from core.nas.tasks import plan_line
from core.spec import add_arguments, args_to_spec, field_names
from core.spec_values import did_you_mean

# the options with a flag of their own (dotted: a nested field); the rest go through --set
FLAGS = (
    "dataset",
    "strategy",
    "minutes",
    "epochs",
    "samples",
    "seed",
    "crops.fast",
    "warm_start",
    "objective.kind",
    "objective.target_ms",
    "network.C",
    "network.layers",
    "crops.image_size",
    "supernet.batch_size",
    "crops.max_per_class",
    "execution.threads",
    "execution.executor",
    "execution.ray_address",
    "darts.warmup",
    "darts.second_order",
    "darts.partial_channels",
    "evolution.population",
    "evolution.sample_size",
    "evolution.parallel",
    "report.random",
    "report.epochs",
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
    add_arguments(p, SearchConfig, FLAGS)
    p.add_argument("--no-time-limit", action="store_true", help="no minutes budget")
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
    spec = args_to_spec(args, FLAGS)
    if args.no_time_limit:
        spec["minutes"] = None
    known = field_names(SearchConfig)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise SpecError(
                f"--set expects KEY=VALUE with KEY a search option (e.g. report.epochs, "
                f"darts.warmup), got {item!r}{did_you_mean(key, known)}"
            )
        spec[key] = value
    return spec


def cmd_search(args: argparse.Namespace) -> int:
    spec = search_spec(args)
    print(plan_line(store_from(args), spec))
    return submit(args, "search", spec)
