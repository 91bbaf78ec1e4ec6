"""core.spec: the one generic spec loader, its CLI options and the image-size parser."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from core.errors import SpecError
from core.spec import (
    add_arguments,
    args_to_spec,
    coerce_fields,
    dump,
    help_text,
    load,
    param,
    parse_image_size,
)


@dataclass(frozen=True)
class Inner:
    lr: float = param(0.1, gt=0, help="step size")
    steps: int = param(3, lo=1, hi=10)


@dataclass(frozen=True)
class Job:
    dataset: str = param(help="dataset name")
    epochs: int = param(300, lo=1, hi=10_000, help="passes over the data")
    lr: float | None = param(None, gt=0, help="peak learning rate")
    seed: int = param(0, lo=0, hi=2**63 - 1)
    amp: bool = param(True, help="mixed precision")
    optimizer: Literal["sgd", "adamw"] = "sgd"
    split: str = param("val", choices=("train", "val"))
    scale_range: tuple[float, float] = param((0.1, 2.0), gt=0)
    sizes: list[int] = param([1, 2], lo=1)
    overrides: dict[str, Any] | None = None
    inner: Inner = param(Inner())
    note: str | None = None


def _msg(spec: dict) -> str:
    with pytest.raises(SpecError) as info:
        load(Job, spec, what="train")
    return str(info.value)


def test_defaults_and_string_coercion():
    job = load(
        Job,
        {
            "dataset": "d",
            "epochs": "12",
            "lr": "0.5",
            "amp": "false",
            "seed": 7.0,
            "scale_range": "0.5,1.5",
            "sizes": "3 4",
            "note": "",
        },
        what="train",
    )
    assert job == Job(
        dataset="d",
        epochs=12,
        lr=0.5,
        amp=False,
        seed=7,
        scale_range=(0.5, 1.5),
        sizes=[3, 4],
        note=None,
    )
    # a null for a non-optional field means "use the default" (the CLI's "not given")
    assert load(Job, {"dataset": "d", "epochs": None}, what="train").epochs == 300
    assert load(Job, {"dataset": "d", "amp": "TRUE"}, what="train").amp is True


def test_messages_name_field_and_value():
    assert _msg({"dataset": "d", "epochs": 1e12}) == "train: epochs=1000000000000: must be <= 10000"
    assert (
        _msg({"dataset": "d", "epochs": "1000000000000"})
        == "train: epochs=1000000000000: must be <= 10000"
    )
    assert _msg({"dataset": "d", "epochs": 0}) == "train: epochs=0: must be >= 1"
    assert _msg({"dataset": "d", "lr": float("nan")}) == "train: lr=nan: must be a finite number"
    assert _msg({"dataset": "d", "lr": "inf"}) == "train: lr='inf': must be a finite number"
    assert _msg({"dataset": "d", "lr": 0}) == "train: lr=0.0: must be > 0"
    assert _msg({"dataset": "d", "seed": 2**64}) == f"train: seed={2**64}: must be <= {2**63 - 1}"
    assert _msg({"dataset": "d", "seed": -1}) == "train: seed=-1: must be >= 0"
    assert "must be a whole number" in _msg({"dataset": "d", "epochs": 2.5})
    assert "must be a whole number" in _msg({"dataset": "d", "epochs": "ten"})


def test_bool_is_not_a_number_and_numbers_are_not_bools():
    assert "not true/false" in _msg({"dataset": "d", "epochs": True})
    assert "not true/false" in _msg({"dataset": "d", "lr": False})
    assert _msg({"dataset": "d", "amp": 1}) == "train: amp=1: must be true or false"
    assert _msg({"dataset": "d", "amp": "maybe"}) == "train: amp='maybe': must be true or false"
    assert _msg({"dataset": "d", "amp": "yes"}) == "train: amp='yes': must be true or false"


def test_unknown_keys_suggest_the_closest_field():
    msg = _msg({"dataset": "d", "epoch": 5})
    assert msg.startswith("train: epoch=5: unknown field (did you mean 'epochs'?); known: ")
    assert "did you mean" not in _msg({"dataset": "d", "zzzz": 1})


def test_required_choices_and_literals():
    assert _msg({}) == "train: dataset: required (dataset name)"
    assert (
        _msg({"dataset": "d", "optimizer": "sgdd"})
        == "train: optimizer='sgdd': must be one of sgd, adamw (did you mean 'sgd'?)"
    )
    assert (
        _msg({"dataset": "d", "split": "test"}) == "train: split='test': must be one of train, val"
    )
    assert _msg({"dataset": 5}) == "train: dataset=5: must be a string"
    assert "must be a JSON object" in _msg([1, 2])


def test_tuples_lists_dicts_and_free_values():
    assert (
        _msg({"dataset": "d", "scale_range": [0.1]})
        == "train: scale_range=[0.1]: must have 2 values, got 1"
    )
    assert (
        _msg({"dataset": "d", "scale_range": [0.1, float("inf")]})
        == "train: scale_range[1]=inf: must be a finite number"
    )
    assert (
        _msg({"dataset": "d", "scale_range": [0, 1]})
        == "train: scale_range=(0.0, 1.0): must be > 0"
    )
    assert _msg({"dataset": "d", "sizes": [1, 0]}) == "train: sizes=[1, 0]: must be >= 1"
    assert (
        _msg({"dataset": "d", "overrides": {"m": float("nan")}})
        == "train: overrides.m=nan: must be a finite number"
    )
    job = load(Job, {"dataset": "d", "overrides": '{"fpn_channels": 32}'}, what="train")
    assert job.overrides == {"fpn_channels": 32}
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    assert "nested deeper" in _msg({"dataset": "d", "overrides": {"x": deep}})


def test_nested_dataclass_from_dict():
    job = load(Job, {"dataset": "d", "inner": {"lr": "0.3"}}, what="search")
    assert job.inner == Inner(lr=0.3, steps=3)
    with pytest.raises(SpecError) as info:
        load(Job, {"dataset": "d", "inner": {"steps": 11}}, what="search")
    assert str(info.value) == "search: inner.steps=11: must be <= 10"
    with pytest.raises(SpecError) as info:
        load(Job, {"dataset": "d", "inner": {"stepz": 1}}, what="search")
    assert str(info.value).startswith(
        "search: inner.stepz=1: unknown field (did you mean 'steps'?)"
    )


def test_coerce_fields_checks_only_the_given_fields():
    assert coerce_fields(Inner, {"steps": "4"}, what="train: inner") == {"steps": 4}
    with pytest.raises(SpecError) as info:
        coerce_fields(Inner, {"lr": "nan"}, what="train: inner")
    assert str(info.value) == "train: inner.lr='nan': must be a finite number"


def test_dump_round_trips():
    job = load(Job, {"dataset": "d", "overrides": {"a": [1, 2]}}, what="train")
    data = dump(job)
    assert data["scale_range"] == [0.1, 2.0] and data["inner"] == {"lr": 0.1, "steps": 3}
    assert load(Job, data, what="train") == job


def test_parse_image_size():
    assert parse_image_size(512) == 512
    assert parse_image_size(" 512 ") == 512
    assert parse_image_size("640x384") == (384, 640)  # W x H on the command line -> (H, W)
    assert parse_image_size([384, 640]) == (384, 640)
    assert parse_image_size("384, 640") == (384, 640)  # the [H, W] list as text (GUI forms)
    for bad in (True, None, "abc", "1x2x3", 2.5, [1], "512x"):
        with pytest.raises(SpecError, match="use S or WxH"):
            parse_image_size(bad)
    with pytest.raises(SpecError) as info:
        parse_image_size(4096)
    assert str(info.value) == "image_size=4096: each side must be 8..2048 pixels"
    with pytest.raises(SpecError, match="32..4096"):
        parse_image_size("16x64", lo=32, hi=4096)


def test_cli_options_read_defaults_from_the_definition():
    assert help_text(Job, "epochs") == "passes over the data; >= 1, <= 10000; default: 300"
    assert help_text(Job, "dataset") == "dataset name; required"
    parser = argparse.ArgumentParser()
    add_arguments(parser, Job, ["dataset", "epochs", "amp", "scale_range", "optimizer"])
    args = parser.parse_args(
        ["--dataset", "d", "--epochs", "5", "--no-amp", "--scale-range", "0.2", "0.9"]
    )
    spec = args_to_spec(args, ["dataset", "epochs", "amp", "scale_range", "optimizer"])
    assert spec == {"dataset": "d", "epochs": "5", "amp": False, "scale_range": ["0.2", "0.9"]}
    assert load(Job, spec, what="train") == Job(
        dataset="d", epochs=5, amp=False, scale_range=(0.2, 0.9)
    )
    assert "default: 300" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--optimizer", "rmsprop"])


def test_describe_gives_each_fields_kind_label_bounds_and_choices():
    from core.spec import describe
    from core.train.presets import TrainConfig

    info = {i.name: i for i in describe(TrainConfig)}
    assert (info["epochs"].kind, info["epochs"].lo, info["epochs"].hi) == ("int", 1, 10000)
    assert info["image_size"].label == "Image size (pixels)" and info["image_size"].kind == "str"
    assert info["lr"].label.startswith("Learning rate") and info["lr"].optional
    assert info["optimizer"].kind == "choice" and info["optimizer"].choices == ("sgd", "adamw")
    assert info["amp"].kind == "bool" and info["model_overrides"].kind == "mapping"
    assert info["dataset"].required and not info["epochs"].required
    assert info["momentum"].hi == 1.0  # lt: the form's bound
    assert "default: 300" in info["epochs"].help  # the same help text as the CLI's
    assert [i.name for i in describe(TrainConfig, ["lr", "seed"])] == ["lr", "seed"]


def test_search_fields_are_labelled_in_words():
    """A search form shows no field keys: no label of SearchConfig or of its nested groups
    (crops, network, ..., the strategies', the report's) carries an underscore or an
    abbreviation of code (lr, C, top k, ms)."""
    from core.nas.config import SearchConfig
    from core.spec import describe, field_names

    code = ("lr", "c", "k", "ms", "min", "max", "arch", "net", "cap", "tanh", "val")
    for info in [*describe(SearchConfig), *describe(SearchConfig, field_names(SearchConfig))]:
        words = info.label.split(" (")[0].lower().split()
        assert "_" not in info.label and not set(words) & set(code), info
    info = {i.name: i for i in describe(SearchConfig, field_names(SearchConfig))}
    assert "report_random" not in info and "C" not in info  # nested, not flat
    assert info["network.C"].label == "Initial channels"
    assert info["minutes"].label == "Time budget (minutes)"
    assert info["report.random"].label == "Random cells to compare"
    assert info["child.lr"].optional and info["crops.fast"].kind == "bool"
    assert "default: 24" in info["report.epochs"].help
    assert [i.kind for i in describe(SearchConfig, ["crops", "objective"])] == ["nested"] * 2


def test_the_gui_form_is_built_from_the_description():
    import gradio as gr

    from core.train.presets import TrainConfig
    from nasdet_gui.common import dataclass_form

    form = dataclass_form(TrainConfig, names=["epochs", "optimizer", "amp", "image_size"])
    assert isinstance(form["epochs"], gr.Number) and form["epochs"].minimum == 1
    assert form["epochs"].label == "Epochs (passes over the data)"
    assert isinstance(form["optimizer"], gr.Dropdown) and isinstance(form["amp"], gr.Checkbox)
    assert isinstance(form["image_size"], gr.Textbox)
