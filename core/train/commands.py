"""The bodies of core.train's CLI verbs that need torch (`predict`): core.train.cli registers
them by name, so `python -m core --help` and every other verb load no torch."""

from __future__ import annotations

import argparse

from core.cli_util import EXIT_OK, store_from
from core.engine.devices import resolve_device
from core.train.evaluations import model_threshold
from core.train.predict import DEFAULT_SCORE_THRESHOLD, load_model, predict_files


def cmd_predict(args: argparse.Namespace) -> int:
    threshold = args.score_threshold
    store = store_from(args)
    loaded = load_model(store, args.model, device=resolve_device(args.device))
    if threshold is None:
        threshold = model_threshold(store, loaded.name) or DEFAULT_SCORE_THRESHOLD
        print(f"score threshold {threshold:.3f}")
    written = predict_files(loaded, args.images, args.out, threshold, args.batch_size)
    for image_path, count in written:
        print(f"{image_path}: {count} detections")
    print(args.out)
    return EXIT_OK
