"""CLI verbs of core.train: `train` and `evaluate` (jobs) and `predict` (runs here, no job).

python -m core train --dataset shapes [--model efficientdet_d0] [--preset quick-cpu] --wait
python -m core evaluate --model job-7 --dataset shapes [--split val] --wait
python -m core predict --model job-7 --out out/ photo1.jpg photo2.jpg
"""

from __future__ import annotations

import argparse
import logging

from core.cli_util import add_submit_options, by_name, number_arg, submit
from core.spec import add_arguments, args_to_spec
from core.train.presets import EvaluateSpec, TrainConfig

log = logging.getLogger(__name__)

# CLI option -> train spec field (the spec names are the contract; see core.train.presets).
TRAIN_OPTIONS = (
    "dataset",
    "model",
    "backbone",
    "image_size",
    "epochs",
    "batch_size",
    "lr",
    "init",
    "preset",
    "pretrained_backbone",
    "seed",
    "workers",
    "optimizer",
    "model_overrides",
    "nproc",
    "nnodes",
    "rdzv_endpoint",
    "sync_bn",
    "force",
)
EVALUATE_OPTIONS = (
    "model",
    "dataset",
    "split",
    "image_size",
    "batch_size",
    "workers",
    "score_threshold",
)


def register(sub) -> None:
    """Add `train`, `evaluate` and `predict` to the top-level subparsers."""
    _register_train(sub)
    _register_evaluate(sub)
    _register_predict(sub)


def _register_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an EfficientDet detector (a job)",
        description="Defaults are the paper preset's; another --preset changes "
        "them (core/train/presets.py), options given here win over both.",
    )
    add_arguments(p, TrainConfig, TRAIN_OPTIONS, required=("dataset",))
    add_submit_options(p)
    p.set_defaults(func=cmd_train)


def _register_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="COCO-evaluate a trained model on a dataset (a job)")
    add_arguments(p, EvaluateSpec, EVALUATE_OPTIONS, required=("model", "dataset"))
    add_submit_options(p)
    p.set_defaults(func=cmd_evaluate)


def _register_predict(sub) -> None:
    p = sub.add_parser("predict", help="detect objects in images; writes drawn images + JSON")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", required=True, help="model name or job id (`models list`)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--score-threshold",
        type=number_arg(float, 0, 1),
        default=None,
        help="keep detections scoring at least this (default: the model's F1-best "
        "threshold from its newest evaluation, else 0.3)",
    )
    p.add_argument("--batch-size", type=number_arg(int, 1, 1024), default=4)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda:N | mps")
    p.set_defaults(func=by_name("core.train.commands:cmd_predict"))


def cmd_train(args: argparse.Namespace) -> int:
    return submit(args, "train", args_to_spec(args, TRAIN_OPTIONS))


def cmd_evaluate(args: argparse.Namespace) -> int:
    return submit(args, "evaluate", args_to_spec(args, EVALUATE_OPTIONS))
