"""Job kind `export`: write a stored detector as ONNX or TorchScript and check it.

Spec: {"model": NAME | job-ID | ID, "format": "onnx" | "torchscript", "out": path (default
runs/<job>/model.onnx|.ts), "postprocess": true, "image_size": [H, W] (default: the model's),
"score_threshold": 0.05, "opset": 17}. The result holds the path and the max abs difference
between the exported file (onnxruntime / torch.jit) and PyTorch on a test image.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.engine.jobs import TaskDef
from core.errors import SpecError

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".ts"}
PARITY_TOLERANCE = 1e-4
DEFAULTS: dict[str, Any] = {"format": "onnx", "out": None, "postprocess": True,
                            "image_size": None, "score_threshold": 0.05, "opset": 17}


def validate_export(spec: dict) -> dict:
    unknown = sorted(set(spec) - set(DEFAULTS) - {"model"})
    if unknown:
        raise SpecError(f"unknown export option(s) {unknown}; known: model, {', '.join(DEFAULTS)}")
    if not spec.get("model"):
        raise SpecError("export needs a model: a name from `models list`, job-ID or a job id")
    out = {**DEFAULTS, **spec, "model": str(spec["model"])}
    if out["format"] not in FORMATS:
        raise SpecError(f"format must be one of {FORMATS}, got {out['format']!r}")
    if int(out["opset"]) < 17:
        raise SpecError(f"ONNX opset must be >= 17, got {out['opset']}")
    if not 0.0 <= float(out["score_threshold"]) <= 1.0:
        raise SpecError(f"score_threshold must be in [0, 1], got {out['score_threshold']}")
    if out["image_size"] is not None:
        size = out["image_size"]
        size = [size, size] if isinstance(size, int) else list(size)
        if len(size) != 2 or any(int(s) <= 0 or int(s) % 128 for s in size):
            raise SpecError(f"image_size must be [H, W] multiples of 128, got {out['image_size']}")
        out["image_size"] = [int(s) for s in size]
    out["postprocess"] = bool(out["postprocess"])
    return out


def run_export(spec: dict, reporter: "Reporter") -> dict:
    import torch

    from core.det.bench import DetectionBench
    from core.det.export import check_onnx, check_torchscript, export_detector
    from core.train.models import load_model_file, resolve_model_row

    store = reporter.store
    row = resolve_model_row(store, spec["model"])
    reporter.progress(0.1, f"loading {row['name']}")
    model, _meta = load_model_file(store.resolve_path(row["path"]))
    bench = DetectionBench(model).eval()
    size = tuple(spec["image_size"] or model.config.image_size)
    out = Path(spec["out"]) if spec["out"] else reporter.run_dir / f"model{SUFFIX[spec['format']]}"
    reporter.progress(0.3, f"exporting {spec['format']} at {size[0]}x{size[1]}")
    export_detector(bench, out, spec["format"], size, spec["postprocess"],
                    spec["score_threshold"], int(spec["opset"]))
    reporter.check_stop()
    reporter.progress(0.8, "checking the exported file against PyTorch")
    torch.manual_seed(0)
    images = torch.rand(2, 3, *size)
    check = check_onnx if spec["format"] == "onnx" else check_torchscript
    diff = check(out, bench, images, spec["postprocess"], spec["score_threshold"])
    reporter.artifact(spec["format"], out)
    reporter.info(f"exported {out} (max abs diff to PyTorch {diff:.2e})")
    if diff > PARITY_TOLERANCE:
        reporter.warning(f"exported outputs differ from PyTorch by {diff:.2e} (> {PARITY_TOLERANCE})")
    reporter.progress(1.0, "done")
    return {"path": str(out), "format": spec["format"], "max_abs_diff": diff,
            "image_size": list(size), "postprocess": spec["postprocess"]}


EXPORT = TaskDef(run=run_export, validate=validate_export)
