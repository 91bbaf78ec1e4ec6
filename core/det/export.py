"""Export a detector to ONNX (opset >= 17, dynamic batch) or TorchScript, and check it.

Two graphs, both taking images [B, 3, H, W] float in [0, 1] (normalisation inside; H, W fixed
to the size given at export, a multiple of 2**max_level):
* raw (`postprocess=False`): the per-level outputs, named cls_p3.., box_p3.. ([B, A*C, H_l, W_l]
  and [B, A*4, H_l, W_l]);
* with post-processing: "detections" [B, max_detections, 6] = (x1, y1, x2, y2, score, class),
  zero rows as padding (score threshold and NMS inside, batched; see core.det.postprocess).
`check_onnx` runs the file with onnxruntime and returns the max abs difference to PyTorch;
`run_export` is the `export` job.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from core.det.bench import DetectionBench
from core.det.model_file import load_model_file
from core.errors import SpecError
from core.forked import call_forked
from core.io import atomic_path
from core.references import resolve_model_row

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
MIN_OPSET = 17
SUFFIX = {"onnx": ".onnx", "torchscript": ".ts"}
PARITY_TOLERANCE = 1e-4  # max abs difference to PyTorch before the job warns


class RawOutputs(nn.Module):
    """images in [0, 1] -> (cls_p3, ..., box_p3, ...)."""

    def __init__(self, bench: DetectionBench):
        super().__init__()
        self.bench = bench

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        class_out, box_out = self.bench.model(self.bench.prepare(images))
        return tuple(class_out) + tuple(box_out)


class Detections(nn.Module):
    """images in [0, 1] -> detections [B, max_detections, 6]."""

    def __init__(self, bench: DetectionBench, score_threshold: float):
        super().__init__()
        self.bench = bench
        self.score_threshold = score_threshold

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.bench.detect(images, self.score_threshold)


def export_module(bench: DetectionBench, postprocess: bool, score_threshold: float) -> nn.Module:
    if postprocess and bench.post_config.soft_nms:
        raise SpecError("soft-NMS cannot be exported; export with hard NMS")
    module = Detections(bench, score_threshold) if postprocess else RawOutputs(bench)
    return module.eval()


def output_names(bench: DetectionBench, postprocess: bool) -> list[str]:
    if postprocess:
        return ["detections"]
    levels = range(bench.config.min_level, bench.config.max_level + 1)
    return [f"cls_p{l}" for l in levels] + [f"box_p{l}" for l in levels]


def export_detector(
    bench: DetectionBench,
    path: str | os.PathLike,
    fmt: str = "onnx",
    image_size: tuple[int, int] | None = None,
    postprocess: bool = True,
    score_threshold: float = 0.05,
    opset: int = MIN_OPSET,
) -> Path:
    """Write `bench`'s detector to `path` as ONNX or TorchScript (traced at batch 2)."""
    if fmt not in FORMATS:
        raise SpecError(f"format must be one of {FORMATS}, got {fmt!r}")
    if opset < MIN_OPSET:
        raise SpecError(f"ONNX opset must be >= {MIN_OPSET}, got {opset}")
    h, w = image_size or bench.config.image_size
    multiple = bench.config.stride_multiple
    if h % multiple or w % multiple:
        raise SpecError(f"export size {h}x{w} must be a multiple of {multiple}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bench = bench.eval()
    module = export_module(bench, postprocess, score_threshold)
    example = torch.rand(2, 3, h, w, device=bench.mean.device)
    bench.anchors.boxes((h, w), example.device)  # cached: a constant in the graph
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about python ints from shapes
        with atomic_path(path) as tmp:  # a full disk: DiskFullError naming the file and disk
            _write_export(module, example, tmp, fmt, output_names(bench, postprocess), opset)
    log.info("exported %s (%s, %dx%d, postprocess=%s)", path, fmt, h, w, postprocess)
    return path


def _write_export(
    module: nn.Module, example: torch.Tensor, path: Path, fmt: str, names: list[str], opset: int
) -> None:
    if fmt == "torchscript":
        torch.jit.trace(module, example, check_trace=False).save(str(path))
    else:
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=["images"],
            output_names=names,
            dynamic_axes={n: {0: "batch"} for n in ["images"] + names},
        )


def reference_outputs(
    bench: DetectionBench, images: torch.Tensor, postprocess: bool, score_threshold: float = 0.05
) -> list[torch.Tensor]:
    module = export_module(bench, postprocess, score_threshold)
    with torch.no_grad():
        out = module(images)
    return [out] if isinstance(out, torch.Tensor) else list(out)


def check_onnx(
    path: str | os.PathLike,
    bench: DetectionBench,
    images: torch.Tensor,
    postprocess: bool,
    score_threshold: float = 0.05,
) -> float:
    """Max abs difference between onnxruntime and PyTorch on `images` [B, 3, H, W] in [0, 1]."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = [torch.from_numpy(g) for g in session.run(None, {"images": images.cpu().numpy()})]
    ref = reference_outputs(bench, images, postprocess, score_threshold)
    return _max_diff(got, ref, postprocess)


def _max_diff(got: list[torch.Tensor], ref: list[torch.Tensor], postprocess: bool) -> float:
    if not postprocess:
        return max(float((g - r.cpu()).abs().max()) for g, r in zip(got, ref))
    return max(_detection_set_diff(g, r.cpu()) for g, r in zip(got[0], ref[0]))


def _detection_set_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Symmetric max-min row distance of two [K, 6] detection lists: insensitive to the order
    of equal-score rows (NMS implementations break score ties differently)."""
    dist = (a[:, None, :] - b[None, :, :]).abs().amax(-1)  # [K, K]
    return float(max(dist.amin(1).max(), dist.amin(0).max()))


def check_torchscript(
    path: str | os.PathLike,
    bench: DetectionBench,
    images: torch.Tensor,
    postprocess: bool,
    score_threshold: float = 0.05,
) -> float:
    module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        got = module(images)
    got = [got] if isinstance(got, torch.Tensor) else list(got)
    ref = reference_outputs(bench, images, postprocess, score_threshold)
    return _max_diff(got, ref, postprocess)


def run_export(spec: dict, reporter: Reporter) -> dict:
    """The `export` job (spec from core.det.tasks.validate_export): the model exported, checked
    against PyTorch on two random images, and registered as an artifact."""
    store = reporter.store
    row = resolve_model_row(store, spec["model"])
    reporter.progress(0.1, f"loading {row['name']}")
    model, _meta = load_model_file(store.resolve_path(row["path"]))
    bench = DetectionBench(model).eval()
    size = tuple(spec["image_size"] or model.config.image_size)
    out = Path(spec["out"]) if spec["out"] else reporter.run_dir / f"model{SUFFIX[spec['format']]}"
    reporter.progress(0.3, f"exporting {spec['format']} at {size[0]}x{size[1]}")
    try:  # one long library call: in a child process that a cancel kills (core.forked)
        call_forked(
            export_detector,
            bench,
            out,
            spec["format"],
            size,
            spec["postprocess"],
            spec["score_threshold"],
            int(spec["opset"]),
            check=reporter.check_stop,
        )
    except BaseException:
        for partial in out.parent.glob(f".{out.name}.*.tmp"):  # atomic_path's, if killed
            partial.unlink(missing_ok=True)
        raise
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
