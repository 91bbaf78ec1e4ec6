"""CLI verbs of core.nas (registered into `python -m core` by core/cli.py).

`python -m core search --dataset NAME --strategy darts|enas|evolution|random [--minutes M]
[--epochs E] [--samples N] [--seed S] [--fast] [--warmup F] [--set KEY=VALUE ...] [--wait]`
submits a search job; every SearchConfig field can be set with --set (values parsed as JSON, else strings).
"""

from __future__ import annotations

import argparse
import json

from core.errors import SpecError
from core.nas.config import STRATEGIES, SearchConfig

# flag -> SearchConfig field, for the options shown in --help
FLAGS = {"dataset": "dataset", "strategy": "strategy", "minutes": "minutes", "epochs": "epochs",
         "samples": "samples", "seed": "seed", "C": "C", "layers": "layers",
         "image_size": "image_size", "batch_size": "batch_size", "population": "population",
         "sample_size": "sample_size", "report_random": "report_random",
         "report_epochs": "report_epochs", "max_per_class": "max_per_class", "warmup": "warmup"}


def register(sub) -> None:
    """Add this package's verbs to the top-level subparsers."""
    from core.cli_util import add_submit_options

    p = sub.add_parser("search", help="submit a neural architecture search job",
                       description="Search a DARTS-space cell on the proxy task of a dataset, "
                                   "then retrain it beside random cells (the final report).")
    p.add_argument("--dataset", help="dataset name (python -m core data list)")
    p.add_argument("--strategy", choices=STRATEGIES, default="darts")
    p.add_argument("--minutes", type=float, help="search budget in minutes (default 10)")
    p.add_argument("--no-time-limit", action="store_true", help="no minutes budget")
    p.add_argument("--epochs", type=int, help="darts/enas epochs (default 50, cut by --minutes)")
    p.add_argument("--samples", type=int, help="evolution/random: candidates (default 100)")
    p.add_argument("--seed", type=int)
    p.add_argument("--fast", action="store_true", help="16x16 proxy crops (about 4x faster)")
    p.add_argument("--second-order", action="store_true", help="darts: unrolled gradient")
    p.add_argument("--warmup", type=float,
                   help="darts: share of the search training weights only (default 0.5; 0: paper)")
    p.add_argument("--C", type=int, help="initial channels (default 8)")
    p.add_argument("--layers", type=int, help="cells (default 5)")
    p.add_argument("--image-size", type=int, dest="image_size", help="proxy crop side (32)")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--population", type=int, help="evolution: P")
    p.add_argument("--sample-size", type=int, dest="sample_size", help="evolution: S")
    p.add_argument("--report-random", type=int, dest="report_random",
                   help="final report: K random cells (default 3)")
    p.add_argument("--report-epochs", type=int, dest="report_epochs",
                   help="final report: training epochs of each cell (default 24)")
    p.add_argument("--max-per-class", type=int, dest="max_per_class")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other search option (see the GUI or core/nas/config.py)")
    add_submit_options(p)
    p.set_defaults(func=cmd_search)


def search_spec(args: argparse.Namespace) -> dict:
    """The job spec from parsed arguments (only what was given; defaults come from validate)."""
    spec = {field: getattr(args, flag) for flag, field in FLAGS.items()
            if getattr(args, flag, None) is not None}
    if args.fast:
        spec["fast"] = True
    if args.second_order:
        spec["second_order"] = True
    if args.no_time_limit:
        spec["minutes"] = None
    known = {f for f in SearchConfig.__dataclass_fields__}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise SpecError(f"--set expects KEY=VALUE with KEY a search option, got {item!r}")
        try:
            spec[key] = json.loads(value)
        except json.JSONDecodeError:
            spec[key] = value
    return spec


def cmd_search(args: argparse.Namespace) -> int:
    from core.cli_util import submit

    return submit(args, "search", search_spec(args))
