"""Train/evaluate spec validation: defaults, presets, overrides and clear SpecErrors."""

from __future__ import annotations

import pytest

from core.errors import SpecError
from core.spec import image_size_hw
from core.train.presets import PRESETS, build_config, validate_evaluate_spec, validate_train_spec


def test_paper_defaults_and_lr_scaling():
    config = build_config({"dataset": "d"})
    assert (config.optimizer, config.momentum, config.weight_decay) == ("sgd", 0.9, 4e-5)
    assert (config.clip_grad_norm, config.ema_decay, config.warmup_epochs) == (10.0, 0.9998, 1.0)
    assert config.effective_lr == pytest.approx(0.08 * 16 / 64)
    assert build_config({"dataset": "d", "batch_size": 64}).effective_lr == pytest.approx(0.08)
    assert build_config({"dataset": "d", "lr": 0.5}).effective_lr == 0.5


def test_preset_then_spec_overrides():
    spec = validate_train_spec({"dataset": "d", "preset": "quick-cpu", "epochs": 3})
    assert spec["epochs"] == 3  # the spec wins over the preset
    assert spec["model"] == PRESETS["quick-cpu"]["model"]
    assert spec["image_size"] == [256, 256]
    assert validate_train_spec(spec) == spec  # idempotent: a stored spec re-validates unchanged


def test_image_size_forms():
    assert image_size_hw(512) == (512, 512)
    assert image_size_hw("640x384") == (384, 640)  # WxH -> (H, W)
    assert image_size_hw([384, 640]) == (384, 640)
    with pytest.raises(SpecError, match="WxH"):
        image_size_hw("big")


@pytest.mark.parametrize(
    "spec, message",
    [
        ({}, "train: dataset: required"),
        ({"dataset": "d", "epochs": 0}, "train: epochs=0: must be >= 1"),
        ({"dataset": "d", "epochs": 2.5}, "whole number"),
        (
            {"dataset": "d", "preset": "fast"},
            "preset='fast': must be one of paper, quick-cpu, continue-cpu, finetune",
        ),
        ({"dataset": "d", "colour": 1}, "train: colour=1: unknown field"),
        ({"dataset": "d", "model": "yolo"}, "unknown detector"),
        ({"dataset": "d", "image_size": 500}, "multiples of 128"),
        ({"dataset": "d", "backbone": "hub:foo"}, "nas:JOB_ID"),
        ({"dataset": "d", "amp": "yes"}, "true or false"),
    ],
)
def test_bad_train_specs(spec, message):
    with pytest.raises(SpecError, match=message):
        validate_train_spec(spec)


def test_evaluate_spec():
    spec = validate_evaluate_spec({"model": "job-3", "dataset": "d", "image_size": "256"})
    assert spec["split"] == "val" and spec["image_size"] == [256, 256]
    with pytest.raises(SpecError, match="evaluate: model: required"):
        validate_evaluate_spec({"dataset": "d"})
    with pytest.raises(SpecError, match="evaluate: split='test': must be one of val, train"):
        validate_evaluate_spec({"model": "m", "dataset": "d", "split": "test"})
