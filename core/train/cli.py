"""CLI verbs of core.train: `train` and `evaluate` (jobs) and `predict` (runs here, no job).

    python -m core train --dataset shapes [--model efficientdet_d0] [--preset quick-cpu] --wait
    python -m core evaluate --model job-7 --dataset shapes [--split val] --wait
    python -m core predict --model job-7 --out out/ photo1.jpg photo2.jpg
"""

from __future__ import annotations

import argparse
import logging

from core.cli_util import EXIT_OK, add_submit_options, store_from, submit
from core.errors import SpecError

log = logging.getLogger(__name__)

# CLI option -> train spec field (the spec names are the contract; see core.train.presets).
TRAIN_OPTIONS = ("dataset", "model", "backbone", "image_size", "epochs", "batch_size", "lr",
                 "init", "preset", "pretrained_backbone", "seed", "workers")


def register(sub) -> None:
    """Add `train`, `evaluate` and `predict` to the top-level subparsers."""
    _register_train(sub)
    _register_evaluate(sub)
    _register_predict(sub)


def _register_train(sub) -> None:
    from core.train.presets import PRESETS

    p = sub.add_parser("train", help="train an EfficientDet detector (a job)")
    p.add_argument("--dataset", required=True, help="dataset name (`data list`)")
    p.add_argument("--model", help="detector variant, e.g. efficientdet_d0 (default), "
                                   "tf_efficientdet_d1, efficientdet_tiny")
    p.add_argument("--backbone", help="timm model name | nas:JOB_ID | nas:PUBLISHED_NAME | "
                                      "nas-arch:ARCH_ID | "
                                      "nas-file:PATH (default: the variant's EfficientNet)")
    p.add_argument("--image-size", help="S or WxH, sides multiples of 128 (default: the model's)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="peak learning rate (default 0.08 per 64 images)")
    p.add_argument("--init", help="fine-tune from this model (name or job-ID); a new class "
                                  "head is made when the classes differ")
    p.add_argument("--preset", choices=sorted(PRESETS), help="settings bundle (default paper)")
    p.add_argument("--pretrained-backbone", help="file of ImageNet backbone weights")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, help="data loader processes")
    add_submit_options(p)
    p.set_defaults(func=cmd_train)


def _register_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="COCO-evaluate a trained model on a dataset (a job)")
    p.add_argument("--model", required=True, help="model name or job-ID (`models list`)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", choices=("val", "train"), default="val")
    p.add_argument("--image-size", help="S or WxH (default: the model's training size)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--score-threshold", type=float, help="of the confusion matrix (default 0.3)")
    add_submit_options(p)
    p.set_defaults(func=cmd_evaluate)


def _register_predict(sub) -> None:
    p = sub.add_parser("predict", help="detect objects in images; writes drawn images + JSON")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", required=True, help="model name or job id (`models list`)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--score-threshold", type=float, default=0.3)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda:N | mps")
    p.set_defaults(func=cmd_predict)


def _check_model_exists(store, name: str) -> None:
    from core.train.predict import resolve_model_row

    resolve_model_row(store, name)


def cmd_train(args: argparse.Namespace) -> int:
    spec = {key: getattr(args, key) for key in TRAIN_OPTIONS if getattr(args, key) is not None}
    store = store_from(args)
    store.get_dataset(args.dataset)  # NotFoundError -> exit 2 before anything is queued
    if args.init:
        _check_model_exists(store, args.init)
    return submit(args, "train", spec)


def cmd_evaluate(args: argparse.Namespace) -> int:
    store = store_from(args)
    store.get_dataset(args.dataset)
    _check_model_exists(store, args.model)
    spec = {"model": args.model, "dataset": args.dataset, "split": args.split,
            "image_size": args.image_size, "batch_size": args.batch_size,
            "score_threshold": args.score_threshold}
    return submit(args, "evaluate", {k: v for k, v in spec.items() if v is not None})


def cmd_predict(args: argparse.Namespace) -> int:
    from core.engine.devices import resolve_device
    from core.train.predict import load_model, predict_files

    if not 0 <= args.score_threshold <= 1:
        raise SpecError(f"--score-threshold must be in [0, 1], got {args.score_threshold}")
    if args.batch_size < 1:
        raise SpecError(f"--batch-size must be >= 1, got {args.batch_size}")
    loaded = load_model(store_from(args), args.model, device=resolve_device(args.device))
    written = predict_files(loaded, args.images, args.out, args.score_threshold, args.batch_size)
    for image_path, count in written:
        print(f"{image_path}: {count} detections")
    print(args.out)
    return EXIT_OK
