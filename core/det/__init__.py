"""core.det: the EfficientDet detector (model, anchors, loss, post-processing, import, export).

Public API (imported lazily, so `import core.det` stays cheap for the CLI):

* `create_detector(name, num_classes, image_size=None, backbone=None, pretrained_backbone=None,
  overrides=None) -> EfficientDet`: `model(x)` -> `(class_outputs, box_outputs)`, per level
  [B, A*C, H_l, W_l] / [B, A*4, H_l, W_l] (effdet layout: anchor-major, deltas ty, tx, th, tw).
  `model.config` is the frozen `DetConfig`. Names: `list_models()`, i.e. effdet's
  efficientdet_d0..d5 and tf_efficientdet_d0..d7x, plus two small CPU variants (below).
* `DetectionBench(model)` (core.det.bench): `.loss(images, targets)` and `.predict(images,
  score_threshold=0.05, max_detections=100)`; images [B, 3, H, W] in [0, 1].
* `import_effdet(state_dict, name) -> EfficientDet`: effdet 0.4.1 weights (e.g. the published
  COCO checkpoints) on our modules; `python -m core models import-effdet` stores them as a
  model file of core.det.model_file (the one format of trained and imported detectors).
* `export_detector(...)` (core.det.export): ONNX (opset 17, dynamic batch, with or without
  post-processing) and TorchScript.

Smaller-than-D0 models for fast CPU training and tests (the "quick-cpu" preset):

* registry entries `efficientdet_tiny` (timm tinynet_e backbone, BiFPN width 32, 2 BiFPN
  repeats, 2 head repeats, 256 px, ~0.7 M parameters with 3 classes) and `efficientdet_small`
  (efficientnet_lite0, width 48, 2/2 repeats, 384 px);
* or any variant with `overrides`, a dict of `DetConfig` fields, e.g.
  `create_detector("efficientdet_d0", 3, image_size=256, overrides={"fpn_channels": 32,
  "fpn_cell_repeats": 2, "box_class_repeats": 2})`; with `backbone="tinynet_e"` (any timm
  model with strides 8/16/32) or a module with `feature_info` (core.nas.backbone.NasBackbone).
  Image sides must be multiples of 2**max_level (128); DetectionBench pads other sizes.

For inference speed: `model.inference_model()` (BN folded into convs, channels_last) or
`DetectionBench(model).optimize_for_inference()`; run under `torch.inference_mode()`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "create_detector": "core.det.model",
    "build_detector": "core.det.model",
    "EfficientDet": "core.det.model",
    "count_parameters": "core.det.model",
    "DetConfig": "core.det.config",
    "get_config": "core.det.config",
    "list_models": "core.det.config",
    "MODEL_TABLE": "core.det.config",
    "DetectionBench": "core.det.bench",
    "import_effdet": "core.det.effdet_import",
    "export_detector": "core.det.export",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.det' has no attribute {name!r}")
