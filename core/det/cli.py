"""CLI verbs of core.det (registered into `python -m core` by core/cli.py).

models import-effdet CHECKPOINT --name tf_efficientdet_d0 [--classes coco|FILE] --as NAME
export --model NAME_OR_JOB --format onnx|torchscript [--out FILE] [--no-postprocess] [--wait]
       [--image-size S|WxH] [--score-threshold T] [--opset N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cli_util import EXIT_OK, add_submit_options, store_from, submit
from core.det.tasks import ExportSpec
from core.errors import DatasetError, SpecError
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
    p.set_defaults(func=cmd_import_effdet)


def read_class_names(value: str) -> list[str]:
    """`coco` or a file with one class name per line (or a JSON list)."""
    from core.det.coco import COCO_CLASSES_90

    if value.lower() == "coco":
        return list(COCO_CLASSES_90)
    path = Path(value)
    if not path.is_file():
        raise SpecError(f"--classes {value!r}: not 'coco' and not a file")
    text = path.read_text(encoding="utf-8")
    try:
        names = json.loads(text) if text.lstrip().startswith("[") else text.splitlines()
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: invalid JSON class list: {exc}") from exc
    names = [str(n).strip() for n in names if str(n).strip()]
    if not names:
        raise SpecError(f"{path} holds no class names")
    return names


def cmd_import_effdet(args: argparse.Namespace) -> int:
    from core.det.effdet_import import import_effdet, load_effdet_checkpoint
    from core.det.model_file import save_model_checkpoint

    store = store_from(args)
    if not args.replace and any(m["name"] == args.as_name for m in store.list_models()):
        raise SpecError(f"a model named {args.as_name!r} exists; use --replace or another --as")
    classes = read_class_names(args.classes)
    model = import_effdet(load_effdet_checkpoint(args.checkpoint), args.name)
    if len(classes) != model.config.num_classes:
        raise SpecError(
            f"{len(classes)} class names for a {model.config.num_classes}-class "
            "checkpoint; give --classes with one name per output class"
        )
    path = store.home / "models" / f"{args.as_name}.pt"
    save_model_checkpoint(
        path,
        model,
        classes,
        extra={
            "source": {
                "kind": "effdet",
                "name": args.name,
                "checkpoint": str(Path(args.checkpoint).resolve()),
            }
        },
    )
    store.add_model(
        args.as_name,
        "effdet",
        path,
        classes,
        metrics={},
        config=model.config.to_dict(),
        replace=args.replace,
    )
    print(f"registered {args.as_name} ({args.name}, {len(classes)} classes) -> {path}")
    print(args.as_name)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    return submit(args, "export", args_to_spec(args, EXPORT_OPTIONS))
