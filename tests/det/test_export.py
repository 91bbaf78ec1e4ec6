"""Export: ONNX (opset 17, dynamic batch, with/without post-processing) and TorchScript match
PyTorch to 1e-4; the export job task."""

from __future__ import annotations

import onnx
import pytest
import torch

from core.det import DetectionBench, create_detector
from core.det.export import check_onnx, check_torchscript, export_detector


@pytest.fixture(scope="module")
def bench():
    torch.manual_seed(0)
    b = DetectionBench(create_detector("efficientdet_tiny", 3, image_size=128)).eval()
    with torch.no_grad():  # distinct scores (no ties), many above the threshold: NMS has work
        b.model.class_net.predict.conv_pw.bias.fill_(0.0)
        b.model.class_net.predict.conv_pw.weight.mul_(1000.0)
    return b


@pytest.mark.parametrize("postprocess", [False, True])
def test_onnx_dynamic_batch_matches_pytorch(bench, tmp_path, postprocess):
    path = export_detector(bench, tmp_path / "m.onnx", "onnx", postprocess=postprocess)
    graph = onnx.load(str(path))
    assert graph.opset_import[0].version >= 17
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    torch.manual_seed(1)
    for batch in (1, 3) if postprocess else (3,):  # traced at 2
        assert check_onnx(path, bench, torch.rand(batch, 3, 128, 128), postprocess) <= 1e-4


def test_torchscript_matches_pytorch(bench, tmp_path):
    path = export_detector(bench, tmp_path / "m.ts", "torchscript", postprocess=True)
    assert check_torchscript(path, bench, torch.rand(3, 3, 128, 128), True) <= 1e-4


def test_export_task_validation():
    from core.det.tasks import validate_export
    from core.errors import SpecError

    spec = validate_export({"model": "m", "image_size": 256})
    assert spec["image_size"] == [256, 256] and spec["format"] == "onnx" and spec["postprocess"]
    with pytest.raises(SpecError, match="opset"):
        validate_export({"model": "m", "opset": 11})
    with pytest.raises(SpecError, match="export: model: required"):
        validate_export({"format": "onnx"})
