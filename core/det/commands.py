"""The bodies of core.det's CLI verbs that need torch (`models import-effdet`): core.det.cli
registers them by name, so `python -m core --help` and every other verb load no torch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cli_util import EXIT_OK, store_from
from core.det.coco import COCO_CLASSES_90
from core.det.effdet_import import import_effdet, load_effdet_checkpoint
from core.det.model_file import save_model_checkpoint
from core.errors import DatasetError, SpecError


def read_class_names(value: str) -> list[str]:
    """`coco` or a file with one class name per line (or a JSON list)."""
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
