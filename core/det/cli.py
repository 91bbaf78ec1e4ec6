"""CLI verbs of core.det (registered into `python -m core` by core/cli.py).

models import-effdet CHECKPOINT --name tf_efficientdet_d0 [--classes coco|FILE] --as NAME
export --model NAME_OR_JOB --format onnx|torchscript [--out FILE] [--no-postprocess] [--wait]
       [--image-size S|WxH] [--score-threshold T] [--opset N]
"""

from __future__ import annotations

import argparse

from core.cli_util import add_submit_options, by_name, submit
from core.det.tasks import ExportSpec
from core.spec import add_arguments, args_to_spec

EXPORT_OPTIONS = ("model", "format", "out", "postprocess", "image_size", "score_threshold", "opset")


def register(sub) -> None:
    """Add this package's verbs to the top-level subparsers."""
    p = sub.add_parser("export", help="export a detector to ONNX or TorchScript (a job)")
    add_arguments(p, ExportSpec, EXPORT_OPTIONS, required=("model",))
    add_submit_options(p)
    p.set_defaults(func=cmd_export)


def add_import_effdet(msub) -> None:
    """`models import-effdet` (core/cli.py makes the `models` verb group)."""
    p = msub.add_parser("import-effdet", help="register efficientdet-pytorch (effdet) weights")
    p.add_argument(
        "checkpoint", help="an effdet .pth file (e.g. tf_efficientdet_d0_34-f153e0cf.pth)"
    )
    p.add_argument("--name", required=True, help="effdet variant, e.g. tf_efficientdet_d0")
    p.add_argument(
        "--classes",
        default="coco",
        help="coco (the 90 COCO names, built in) or a file: one name per line or JSON list",
    )
    p.add_argument("--as", dest="as_name", required=True, help="name to register the model as")
    p.add_argument("--replace", action="store_true", help="replace a model of the same name")
    p.set_defaults(func=by_name("core.det.commands:cmd_import_effdet"))


def cmd_export(args: argparse.Namespace) -> int:
    return submit(args, "export", args_to_spec(args, EXPORT_OPTIONS))
