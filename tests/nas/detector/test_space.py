"""The detector search space: its default is the quick-cpu detector, every sampled detector is a
valid train spec that builds, and the space survives its JSON round trip."""

from __future__ import annotations

import optuna
import pytest
import torch

from core.det.config import get_config
from core.nas.detector.space import (
    PUBLISHED_CELLS,
    TIMM_BACKBONES,
    DetectorChoice,
    DetectorSpace,
    default_backbones,
    default_choice,
    suggest,
)
from core.train.models import create_for_training
from core.train.presets import build_config, det_config

SPACE = DetectorSpace(backbones=default_backbones(("nas:7",)))


def test_default_choice_is_the_quick_cpu_detector():
    # quick-cpu: efficientdet_tiny (BiFPN 32 wide, 2 repeats, head 2) on MobileNetV3-Small, 256
    assert default_choice() == DetectorChoice("mobilenetv3_small_100", 256, 32, 2, 2)
    spec = default_choice().train_spec("d", epochs=3, seed=5)
    config = build_config(spec)
    assert (config.model, config.backbone, config.image_size) == (
        "efficientdet_tiny",
        "mobilenetv3_small_100",
        (256, 256),
    )
    assert config.model_overrides["bn_momentum"] == 0.1  # the preset's own override is kept
    assert (config.epochs, config.seed, config.optimizer) == (3, 5, "adamw")


def test_default_backbones_put_the_searched_cells_first():
    assert default_backbones(("nas:7",)) == ("nas:7", *PUBLISHED_CELLS, *TIMM_BACKBONES)
    assert default_backbones() == (*PUBLISHED_CELLS, *TIMM_BACKBONES)


def test_space_size_and_round_trip():
    assert SPACE.size() == 4 * 3 * 5 * 3 * 3
    assert DetectorSpace.from_dict(SPACE.to_dict()) == SPACE
    assert SPACE.contains(default_choice())
    assert not SPACE.contains(DetectorChoice("resnet18", 256, 32, 2, 2))


def test_every_sampled_detector_is_in_the_space_and_a_valid_train_spec():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        choice = suggest(trial, SPACE)
        assert SPACE.contains(choice)
        assert trial.params == choice.to_dict()
        config = build_config(choice.train_spec("d", epochs=2, seed=0))
        det = det_config(config, num_classes=3)
        assert det.image_size == (choice.image_size, choice.image_size)
        assert (det.fpn_channels, det.fpn_cell_repeats, det.box_class_repeats) == (
            choice.fpn_channels,
            choice.fpn_cell_repeats,
            choice.box_class_repeats,
        )
        seen.add(choice.backbone)
        study.tell(trial, 0.0)
    assert seen == set(SPACE.backbones)  # 40 draws reach every backbone


@pytest.mark.parametrize("backbone", [*PUBLISHED_CELLS, *TIMM_BACKBONES])
def test_each_offline_backbone_builds_a_detector_at_the_smallest_size(backbone):
    choice = DetectorChoice(backbone, 128, 16, 1, 1)
    config = build_config(choice.train_spec("d", epochs=1, seed=0))
    model, record = create_for_training(
        None, config.model, 2, config.image_size, config.backbone, None, config.model_overrides
    )
    assert model.config == get_config(
        "efficientdet_tiny",
        num_classes=2,
        image_size=128,
        backbone_name=model.config.backbone_name,
        **config.model_overrides,
    )
    assert record["kind"] == ("nas" if backbone.startswith("nas:") else "timm")
    with torch.no_grad():
        class_out, box_out = model.eval()(torch.zeros(1, 3, 128, 128))
    assert [c.shape[-1] for c in class_out] == [16, 8, 4, 2, 1]  # P3-P7 at 128 px
    assert box_out[0].shape[1] == 9 * 4


def test_reference_is_the_default_or_its_nearest_in_the_space():
    from core.nas.detector.space import reference_choice

    holds = DetectorSpace(("mobilenetv3_small_100", "nas:DARTS_V2"))
    assert reference_choice(holds) == default_choice()
    small = DetectorSpace(("nas:7", "efficientnet_b0"), (128, 384), (16,), (1,), (3, 1))
    assert reference_choice(small) == DetectorChoice("nas:7", 128, 16, 1, 1)
