"""dataset.generate / dataset.import specs refused at submit (core.spec through submit_job):
the same "what: field=value: reason" messages as the CLI, and nothing queued."""

from __future__ import annotations

import pytest

from core.engine.jobs import submit_job
from core.errors import SpecError


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"images": float("nan")}, "dataset.generate: images=nan: must be a finite whole number"),
        ({"images": True}, "dataset.generate: images=True: must be a whole number, not true/false"),
        ({"seed": 2**64}, f"dataset.generate: seed={2**64}: must be <= {2**63 - 1}"),
        ({"size": 4096}, "dataset.generate: size=4096: each side must be 32..2048 pixels"),
        ({"val_fraction": "inf"}, "dataset.generate: val_fraction='inf': must be a finite number"),
        ({"imags": 5}, "dataset.generate: imags=5: unknown field (did you mean 'images'?)"),
    ],
)
def test_bad_generate_values(store, spec, message):
    with pytest.raises(SpecError) as info:
        submit_job(store, "dataset.generate", {"name": "g", **spec})
    assert str(info.value).startswith(message)
    assert store.list_jobs() == []


def test_a_taken_name_is_refused_at_submit_not_only_in_the_cli(store, tmp_path):
    (store.home / "datasets" / "taken").mkdir(parents=True)
    for kind, spec in (
        ("dataset.generate", {"name": "taken"}),
        ("dataset.import", {"name": "taken", "path": str(tmp_path)}),
    ):
        with pytest.raises(SpecError, match="a dataset named 'taken' already exists"):
            submit_job(store, kind, spec)
    with pytest.raises(SpecError, match=r"dataset.import: path='.*nope': .* does not exist"):
        submit_job(store, "dataset.import", {"name": "x", "path": str(tmp_path / "nope")})
    assert store.list_jobs() == []
    job = submit_job(store, "dataset.generate", {"name": "free", "images": "8", "size": "64x32"})
    assert store.get_job(job)["spec"]["images"] == 8 and store.get_job(job)["spec"]["size"] == [
        32,
        64,
    ]
