"""core.det.model_file: a saved detector loads back with the same outputs (timm and searched-cell
backbones), the stored fields, a new image size, and clear errors for files that are not models."""

from __future__ import annotations

import pytest
import torch

from core.checkpoint import save_checkpoint
from core.det import create_detector
from core.det.model_file import TIMM_BACKBONE, load_model_file, save_model_checkpoint
from core.errors import CheckpointError, SpecError
from core.nas.backbone import NasBackbone
from core.nas.genotypes import PUBLISHED_GENOTYPES


def _outputs(model: torch.nn.Module, size: int) -> list[torch.Tensor]:
    torch.manual_seed(3)
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        classes, boxes = model.eval()(x)
    return list(classes) + list(boxes)


def test_timm_model_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_detector("efficientdet_tiny", 2, image_size=128)
    path = save_model_checkpoint(tmp_path / "m.pt", model, ["cat", "dog"], extra={"note": "x"})
    loaded, meta = load_model_file(path)
    assert meta["classes"] == ["cat", "dog"] and meta["note"] == "x"
    assert meta["backbone"] == TIMM_BACKBONE and meta["image_size"] == [128, 128]
    assert "model" not in meta and loaded.config == model.config
    for a, b in zip(_outputs(model, 128), _outputs(loaded, 128)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("stem", ["mbconv", "darts", None])  # None: a file from before stems
def test_nas_model_rebuilt_from_its_genotype_and_resized(tmp_path, stem):
    genotype = PUBLISHED_GENOTYPES["DARTS_V2"]
    record = {
        "kind": "nas",
        "spec": "nas:DARTS_V2",
        "genotype": genotype.to_dict(),
        "C": 8,
        "layers": 5,
        **({"stem": stem} if stem else {}),
    }
    torch.manual_seed(1)
    backbone = NasBackbone(genotype, C=8, layers=5, stem=stem or "darts")
    model = create_detector("efficientdet_tiny", 1, image_size=128, backbone=backbone)
    path = save_model_checkpoint(tmp_path / "nas.pt", model, ["box"], backbone=record)
    loaded, meta = load_model_file(path, image_size=(256, 256))
    assert meta["backbone"] == record
    assert isinstance(loaded.backbone, NasBackbone) and loaded.config.image_size == (256, 256)
    for a, b in zip(_outputs(model, 128), _outputs(loaded, 128)):
        assert torch.equal(a, b)
    with pytest.raises(SpecError):  # 200 is not a multiple of 2**max_level
        load_model_file(path, image_size=(200, 200))


def test_files_that_are_not_models_are_refused(tmp_path):
    train = save_checkpoint(tmp_path / "train.pt", {"epoch": 1}, kind="train")
    with pytest.raises(CheckpointError, match="expected 'model'"):
        load_model_file(train)
    bare = save_checkpoint(tmp_path / "bare.pt", {"model": {}}, kind="model")
    with pytest.raises(CheckpointError, match="no usable detector config"):
        load_model_file(bare)
