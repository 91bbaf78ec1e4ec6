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
from typing import Any, Literal

from core.engine.jobs import TaskDef, run_by_name
from core.errors import SpecError
from core.references import check_model
from core.spec import dump, image_size_hw, load, param

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


EXPORT = TaskDef(
    run=run_by_name("core.det.export:run_export"),
    validate=validate_export,
    resolve=resolve_export,
)
