"""User text is shown as text, never run or rendered as HTML; own pictures that are not images or
are too large are refused on the page in our words.

A dataset whose classes are named `<script>alert(1)</script>` and `<img src=x onerror=...>`
(its table row and its objects-per-class chart), and a failed job whose error quotes them (the
Jobs tab's summary, Markdown): the names show literally and no script runs. Uploads of a text
file and of a PNG declaring 30000 x 30000 pixels to the Detect tab say "not an image" / "too
large: W x H, limit N megapixels", with no server path (the Guided demo's own upload, shown
only at the end of its walk, is tried in test_browser.py).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.gui.conftest import open_page
from tests.gui.test_api_bad_input import png_declaring

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("gui")]

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=window.__xss=1>"
DATASET = "xss-classes"
# Any script a name could start is recorded here instead of interrupting the page.
RECORD_SCRIPTS = "window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));"


@pytest.fixture(scope="module")
def hostile(gui_app) -> dict:
    """A dataset with hostile class names and a failed job whose error quotes them."""
    from core.data.generate import generate_dataset
    from core.data.internal import commit_dataset, new_workdir, split_json

    store = gui_app.store()
    work = new_workdir(store.home, DATASET)
    out = generate_dataset(work, "shapes", 8, 64, (1, 2), "easy", 0.25, 0)
    classes = [SCRIPT, IMG, *out["classes"][2:]]
    for split in ("train", "val"):
        path = split_json(work, split)
        doc = json.loads(path.read_text())
        for category, name in zip(doc["categories"], classes):
            category["name"] = name
        path.write_text(json.dumps(doc))
    commit_dataset(store, work, DATASET, "generated", classes)
    with store.transaction():  # one transaction: the app's worker never sees it queued
        failed = store.insert_job("dataset.generate", {"name": "quoted"})
        store.finish_job(failed, "failed", error=f"class {SCRIPT} beside {IMG} is *wrong*")
    return {"failed": failed}


@pytest.fixture(scope="module")
def page(browser, gui_app, hostile):
    pg = open_page(browser, gui_app.url, init_script=RECORD_SCRIPTS)
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    pg.context.close()


def open_tab(pg, key: str, ready: str) -> None:
    """Select a tab and wait for one of its elements (never for network idle)."""
    pg.click(f"#tab-{key}-button")
    pg.locator(f"#tab-{key} {ready}").first.wait_for(state="visible", timeout=30_000)


def assert_no_script_ran(pg) -> None:
    assert pg.evaluate("() => window.__alerts") == [] and pg.dialogs == []
    assert pg.evaluate("() => window.__xss") is None
    assert pg.locator("#main-tabs img[src='x']").count() == 0  # no element made of a name


def test_class_names_show_literally_in_the_data_tab(page):
    open_tab(page, "data", "#data-table")
    page.locator("#data-table [role=gridcell]", has_text=DATASET).first.click()
    charts = page.locator("#tab-data .js-plotly-plot")
    charts.filter(has_text=SCRIPT).first.wait_for(timeout=30_000)  # the chart's class axis
    table, drawn = page.locator("#data-table").inner_text(), " ".join(charts.all_text_contents())
    assert SCRIPT in table and IMG in table
    assert SCRIPT in drawn and IMG in drawn
    assert_no_script_ran(page)


def test_an_error_quoting_them_shows_literally_in_the_jobs_tab(page, hostile):
    open_tab(page, "jobs", "#jobs-table")
    page.locator(
        "#jobs-table [role=gridcell]", has_text=re.compile(rf"^\s*{hostile['failed']}\s*$")
    ).first.click()
    summary = page.locator("#jobs-summary", has_text="Reason")
    summary.wait_for(timeout=30_000)
    assert f"class {SCRIPT} beside {IMG} is *wrong*" in summary.inner_text()
    assert_no_script_ran(page)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("uploads")
    text, huge = folder / "notes.png", folder / "huge.png"
    text.write_text("not a picture")
    huge.write_bytes(png_declaring(30000, 30000))
    return {"text": text, "huge": huge}


SAID = {
    "text": "notes.png: not an image",
    "huge": "huge.png: too large: 30000 x 30000, limit 64 megapixels",
}


def assert_no_path(text: str) -> None:
    assert "/tmp/" not in text and "gradio" not in text.lower() and "preprocess" not in text


@pytest.mark.parametrize("kind", ["text", "huge"])
def test_detect_refuses_an_upload_on_the_page(page, uploads, kind):
    open_tab(page, "detect", "#detect-files")
    page.locator("#detect-files input[type=file]").set_input_files(str(uploads[kind]))
    notice = page.locator("#detect-notice .notice-error", has_text=SAID[kind])
    notice.wait_for(timeout=30_000)
    assert_no_path(notice.inner_text())
    page.locator("#detect-files button[aria-label='Clear']").first.click()
