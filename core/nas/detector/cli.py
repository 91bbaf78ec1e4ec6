"""`python -m core search --level detector`: the detector search's options on the `search` verb.

core.nas.cli defines `search` (the cell search, `--level cell`, the default); `register` adds
`--level` and this search's own options to it and sends `--level detector` here, which submits
a `search.detector` job after printing its plan line. The options it shares with the cell search
are --dataset, --minutes (--no-time-limit), --target-ms, --seed, --threads and --epochs (here:
the epochs of a complete trial; the detector search's field is the last part of the cell search's
dotted one: objective.target_ms -> target_ms); any other cell-search option is refused with
--level detector.
"""

from __future__ import annotations

import argparse

from core.cli_util import store_from, submit
from core.errors import SpecError
from core.nas.cli import FLAGS
from core.nas.config import SearchConfig
from core.nas.detector.config import KIND, DetectorSearchConfig, plan_line
from core.spec import add_arguments, args_to_spec, cli_flag

LEVELS = ("cell", "detector")
# the cell search's options this search reads too
SHARED_FLAGS = ("dataset", "minutes", "objective.target_ms", "seed", "execution.threads", "epochs")
DETECTOR_FLAGS = (
    "trials",
    "backbones",
    "image_sizes",
    "fpn_channels",
    "fpn_cell_repeats",
    "box_class_repeats",
    "min_epochs",
    "reduction_factor",
    "startup_trials",
)


def register(sub) -> None:
    """Add --level and the detector search's options to the `search` verb."""
    parser = sub.choices["search"]
    cell_search = parser.get_default("func")
    parser.add_argument(
        "--level",
        choices=LEVELS,
        default="cell",
        help="cell: search a cell on object crops (default); detector: search the whole "
        "detector (backbone, input size, BiFPN width and depth, head depth) by training it",
    )
    group = parser.add_argument_group(
        "detector search (--level detector)",
        "Also --dataset, --minutes, --no-time-limit, --target-ms (default: the quick-cpu "
        "detector's latency on the job's device), --seed, --threads, and --epochs: the epochs "
        "of a complete trial (default: planned from the minutes). Lists: comma-separated.",
    )
    add_arguments(group, DetectorSearchConfig, DETECTOR_FLAGS)

    def cmd_search(args: argparse.Namespace) -> int:
        return cmd_detector_search(args) if args.level == "detector" else cell_search(args)

    parser.set_defaults(func=cmd_search)


def detector_spec(args: argparse.Namespace) -> dict:
    """The search.detector job spec from parsed arguments (only what was given)."""
    cell_only = [n for n in args_to_spec(args, FLAGS) if n not in SHARED_FLAGS]
    if cell_only or args.set:
        flag = cli_flag(SearchConfig, cell_only[0]) if cell_only else "--set"
        raise SpecError(
            f"{flag} is an option of the cell search (--level cell); "
            "`python -m core search --help` lists the detector search's"
        )
    shared = args_to_spec(args, SHARED_FLAGS)
    spec = {name.rpartition(".")[2]: value for name, value in shared.items()}
    spec.update(args_to_spec(args, DETECTOR_FLAGS))
    if args.no_time_limit:
        spec["minutes"] = None
    return spec


def cmd_detector_search(args: argparse.Namespace) -> int:
    spec = detector_spec(args)
    print(plan_line(store_from(args), spec))
    return submit(args, KIND, spec)
