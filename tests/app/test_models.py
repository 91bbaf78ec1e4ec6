"""core.app.models' dropdown choices: each model named by what it is, its stored name the value;
the name is added only where two models share a title."""

from __future__ import annotations

from core.app.models import model_choices, model_title
from tests.app.test_model_list import _model


def test_choices_name_models_by_what_they_are(store):
    _model(store, "job-3", 0.5, 10.0)
    _model(store, "job-9", 0.6, 10.0, dataset="glyphs")
    _model(store, "job-12", 0.7, 10.0, dataset="glyphs")  # the same title as job-9
    title = "EfficientDet-tiny on mobilenetv3_small_100, {}, 15 epochs"
    assert model_title(store, "job-3") == title.format("shapes-demo")
    assert model_choices(store) == [
        (title.format("glyphs") + " (job-12)", "job-12"),
        (title.format("glyphs") + " (job-9)", "job-9"),
        (title.format("shapes-demo"), "job-3"),
    ]
