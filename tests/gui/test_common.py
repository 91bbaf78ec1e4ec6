"""The GUI's form helpers, error boundary and the app's command-line helpers, without a browser
(the timer's reads are core.engine.queries: tests/engine/test_queries.py)."""

from __future__ import annotations

import pytest

import app as app_module
from nasdet_gui.common import form_spec


def test_form_spec_drops_empty_and_maps_cleared_optional_numbers_to_none():
    spec = form_spec(
        ["strategy", "epochs", "minutes", "network.C", "crops.fast"],
        ("darts", 0, None, 8.0, False),
        optional={"epochs", "minutes"},
    )
    assert spec == {
        "strategy": "darts",
        "epochs": None,
        "minutes": None,
        "network.C": 8,
        "crops.fast": False,
    }
    assert isinstance(spec["network.C"], int)


@pytest.mark.parametrize(
    "host,loop",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_loopback_detection(host, loop):
    assert app_module.is_loopback(host) is loop


def test_auth_parsing():
    assert app_module.parse_auth("ann:s3cret:x") == ("ann", "s3cret:x")
    assert app_module.parse_auth(None) is None
    with pytest.raises(SystemExit, match="USER:PASS"):
        app_module.parse_auth("nopassword")


def test_public_bind_without_auth_warns(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(app_module, "serve", lambda args, auth: 0)
    assert app_module.main(["--host", "0.0.0.0", "--home", str(tmp_path)]) == 0
    assert "WARNING" in capsys.readouterr().err
    assert app_module.main(["--host", "0.0.0.0", "--auth", "a:b", "--home", str(tmp_path)]) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_on_page_shows_expected_errors_in_the_notice_and_reraises_bugs():
    import gradio as gr

    from core.errors import NotFoundError
    from nasdet_gui.common import on_page

    def handler(kind):
        if kind == "engine":
            raise NotFoundError("no model named 'x'; train one")
        if kind == "gui":
            raise gr.Error("Pick a model first.")
        if kind == "bug":
            raise ZeroDivisionError("oops")
        return 1, 2, "done <b>"

    wrapped = on_page(handler, 2)
    assert wrapped("ok")[:2] == (1, 2)
    assert "notice-info" in wrapped("ok")[2] and "done &lt;b&gt;" in wrapped("ok")[2]
    skipped_a, skipped_b, notice = wrapped("engine")
    assert skipped_a == gr.skip() and skipped_b == gr.skip()
    assert "notice-error" in notice and "no model named &#x27;x&#x27;; train one" in notice
    assert "Pick a model first." in wrapped("gui")[2]
    with pytest.raises(ZeroDivisionError):
        wrapped("bug")
    assert on_page(lambda: (5, None), 1)() == (5, gr.skip())  # None: the notice stays as it is
    assert on_page(lambda: "said", 0)() == (on_page(lambda: "said", 0)()[0],)
    assert "said" in on_page(lambda: "said", 0)()[0]


def test_counts_and_job_lines_speak_words():
    from nasdet_gui.common import count, job_line

    assert [count(1, "cell"), count(3, "cell"), count(1, "box", "boxes")] == [
        "1 cell",
        "3 cells",
        "1 box",
    ]
    assert count(0, "box", "boxes") == "0 boxes"
    job = {"id": 4, "kind": "dataset.import", "status": "queued", "progress": 0}
    assert job_line(job).startswith("Job 4 (dataset import): **queued**")
    assert "(training)" in job_line(dict(job, kind="train"))
