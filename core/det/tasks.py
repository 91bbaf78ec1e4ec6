"""Job kind `export`: write a stored detector as ONNX or TorchScript and check it.

Spec: {"model": NAME | job-ID | ID, "format": "onnx" | "torchscript", "out": path (default
runs/<job>/model.onnx|.ts), "postprocess": true, "image_size": [H, W] (default: the model's),
"score_threshold": 0.05, "opset": 17}. The result holds the path and the max abs difference
between the exported file (onnxruntime / torch.jit) and PyTorch on a test image.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.engine.jobs import TaskDef
from core.errors import SpecError
from core.references import check_model, resolve_model_row
from core.spec import dump, image_size_hw, load, param

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

SUFFIX = {"onnx": ".onnx", "torchscript": ".ts"}
PARITY_TOLERANCE = 1e-4
MIN_OPSET, MAX_OPSET = 17, 21  # opset 17 has LayerNorm/ScatterND as needed; 21: torch 2.x export


def _out_path(value: Any) -> str:
    """An output file: absolute, its folder existing (the file itself is written by the job)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a file path")
    path = Path(value).expanduser().resolve()
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist")
    return str(path)


@dataclass(frozen=True)
class ExportSpec:
    """An export job: a stored detector written as ONNX or TorchScript, checked against PyTorch."""

    model: str = param(help="model name, job-ID or job id (`models list`)")
    format: Literal["onnx", "torchscript"] = param("onnx", help="file format")
    out: str | None = param(
        None, parse=_out_path, help="output file (default: runs/<job>/model.onnx|.ts)"
    )
    postprocess: bool = param(True, help="include NMS (else raw per-level outputs)")
    image_size: tuple[int, int] | None = param(
        None, parse=image_size_hw, help="S or WxH, multiples of 128 (default: the model's)"
    )
    score_threshold: float = param(0.05, lo=0.0, hi=1.0, help="of the exported NMS")
    opset: int = param(MIN_OPSET, lo=MIN_OPSET, hi=MAX_OPSET, help="ONNX opset")

    def __post_init__(self) -> None:
        if self.image_size is not None and any(s % 128 for s in self.image_size):
            height, width = self.image_size
            raise SpecError(f"export: image_size={width}x{height}: sides must be multiples of 128")


FORMATS: tuple[str, ...] = typing.get_args(typing.get_type_hints(ExportSpec)["format"])


def validate_export(spec: dict) -> dict:
    """TaskDef.validate of `export`: every field of ExportSpec filled in."""
    return dump(load(ExportSpec, spec, what="export"))


def resolve_export(spec: dict, store, device: str) -> None:
    """TaskDef.resolve of `export`: the model exists and its file looks like a checkpoint."""
    check_model(store, spec["model"], "export")


def run_export(spec: dict, reporter: Reporter) -> dict:
    import torch

    from core.det.bench import DetectionBench
    from core.det.export import check_onnx, check_torchscript, export_detector
    from core.det.model_file import load_model_file

    store = reporter.store
    row = resolve_model_row(store, spec["model"])
    reporter.progress(0.1, f"loading {row['name']}")
    model, _meta = load_model_file(store.resolve_path(row["path"]))
    bench = DetectionBench(model).eval()
    size = tuple(spec["image_size"] or model.config.image_size)
    out = Path(spec["out"]) if spec["out"] else reporter.run_dir / f"model{SUFFIX[spec['format']]}"
    reporter.progress(0.3, f"exporting {spec['format']} at {size[0]}x{size[1]}")
    export_detector(
        bench,
        out,
        spec["format"],
        size,
        spec["postprocess"],
        spec["score_threshold"],
        int(spec["opset"]),
    )
    reporter.check_stop()
    reporter.progress(0.8, "checking the exported file against PyTorch")
    torch.manual_seed(0)
    images = torch.rand(2, 3, *size)
    check = check_onnx if spec["format"] == "onnx" else check_torchscript
    diff = check(out, bench, images, spec["postprocess"], spec["score_threshold"])
    reporter.artifact(spec["format"], out)
    reporter.info(f"exported {out} (max abs diff to PyTorch {diff:.2e})")
    if diff > PARITY_TOLERANCE:
        reporter.warning(
            f"exported outputs differ from PyTorch by {diff:.2e} (> {PARITY_TOLERANCE})"
        )
    reporter.progress(1.0, "done")
    return {
        "path": str(out),
        "format": spec["format"],
        "max_abs_diff": diff,
        "image_size": list(size),
        "postprocess": spec["postprocess"],
    }


EXPORT = TaskDef(run=run_export, validate=validate_export, resolve=resolve_export)
