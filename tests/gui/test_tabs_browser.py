"""Every tab at 1280x800 and 1920x1080 in headless Chromium, as a user past the Guided demo
sees it.

Each tab fails on a visible error badge or error toast, a leaked Gradio label key ("common.*",
seen at any moment: a MutationObserver records transient ones too), an element wider than
its container (beyond the tab panel, or a block whose content overflows it) and text a user
cannot read (clipped by its box or an ancestor, or covered by another element; the whole tab,
a viewport at a time). Then what a user does: Detect with nothing chosen, the threshold typed
then Enter, the slider at each model's own threshold, an error shown on the page,
Cancel / Resume disabled on a finished job, the architectures table's roles, the found cell
drawn everywhere. Screenshots: tab-<name>.png under tmp/screenshots (ignored), or
docs/screenshots with `make screenshots`.

The home gets a finished search written straight into the store (searched and random report
rows, the last 'final' row a random one) and one tiny training job run by the app's worker.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.gui.conftest import open_page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("gui")]

# `make screenshots` points this at docs/screenshots; `make test` leaves the tracked ones alone.
TMP_SHOTS = Path(__file__).resolve().parents[2] / "tmp" / "screenshots"
SCREENSHOTS = Path(os.environ.get("NASDET_SCREENSHOTS") or TMP_SHOTS)
TABS = ["guided", "data", "search", "architectures", "train", "models", "detect", "jobs"]
TRAIN_SPEC = {
    "dataset": "shapes-demo",
    "preset": "quick-cpu",
    "model": "efficientdet_tiny",
    "image_size": 128,
    "epochs": 1,
    "batch_size": 4,
    "workers": 0,
}

# Records every "common.xxx" text or attribute that ever appears (the status tracker's live
# region shows one for a moment after each event).
RECORD_LEAKS = """
window.__leaks = [];
const LEAK = /\\bcommon\\.[a-z_]+/;
const CODE = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT']);
const look = (node) => {
  if (node.nodeType === 3 && !CODE.has(node.parentNode && node.parentNode.nodeName) &&
      LEAK.test(node.textContent)) window.__leaks.push(node.textContent.trim().slice(0, 80));
  if (node.nodeType === 1) for (const a of node.attributes)
    if (LEAK.test(a.value)) window.__leaks.push(`${a.name}=${a.value}`);
};
new MutationObserver((records) => { for (const r of records) {
  if (r.type === 'characterData') look(r.target);
  if (r.type === 'attributes') look(r.target);
  for (const n of r.addedNodes || []) {
    look(n);
    if (n.querySelectorAll)
      n.querySelectorAll('*').forEach((e) => { look(e); e.childNodes.forEach(look); });
  }
}}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""

# Problems in the shown tab: error badges, leaked keys now visible, elements outside the panel,
# blocks whose content overflows them (horizontally) without a scroll bar of their own.
CHECK_TAB = """
(key) => {
  const panel = document.querySelector(`#tab-${key}`);
  const box = panel.getBoundingClientRect();
  const out = {badges: [], leaks: [], outside: [], overflow: []};
  const visible = (el) => { const r = el.getBoundingClientRect(); const cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none'; };
  const name = (el) => `${el.tagName.toLowerCase()}#${el.id}.${String(el.className).slice(0, 50)}` +
    ` "${(el.innerText || '').trim().slice(0, 30)}"` +
    ` in #${(el.closest('[id]:not([id=""])') || {}).id}`;
  for (const el of panel.querySelectorAll('*')) {
    if (!visible(el)) continue;
    const own = [...el.childNodes].filter((n) => n.nodeType === 3)
      .map((n) => n.textContent).join('').trim();
    const tracker = el.closest('[data-testid="status-tracker"]');
    if ((own === 'Error' && !el.closest('table, .table-wrap')) ||
        (tracker && el.classList.contains('error'))) out.badges.push(name(el));
    if (/\\bcommon\\.[a-z_]+/.test(own)) out.leaks.push(own);
    const r = el.getBoundingClientRect();
    if (tracker ||
        el.closest('.js-plotly-plot, svg, .table-wrap, .grid-wrap, .thumbnails, .preview'))
      continue;  // progress animations, charts, and scrolling tables or galleries
    if (r.right > box.right + 2 || r.left < box.left - 2)
      out.outside.push(`${name(el)} ${r.left|0}-${r.right|0}`);
    const cs = getComputedStyle(el);
    // Gradio's own overhangs by design: the accordion's arrow sits in the block padding, the
    // walkthrough's step label hangs under its round button (the panel check still applies).
    const designed = el.matches('.label-wrap, .step-button');
    const clipped = el.tagName === 'BUTTON' || !/(auto|scroll|hidden)/.test(cs.overflowX);
    if ((el.classList.contains('block') || el.tagName === 'BUTTON') && clipped && !designed &&
        el.scrollWidth > el.clientWidth + 2)
      out.overflow.push(`${name(el)} ${el.scrollWidth}>${el.clientWidth}`);
  }
  for (const t of document.querySelectorAll('.toast-body.error'))
    out.badges.push('toast: ' + t.innerText);
  return out;
}
"""


# Text a user cannot read in the shown part of the tab: clipped by its own box (wider or
# taller than it, with overflow hidden or an ellipsis), cut by a clipping or scrolling ancestor,
# or covered by another element at its centre (a header over a label). Run per viewport.
CHECK_TEXT = """
(key) => {
  const panel = document.querySelector(`#tab-${key}`);
  const vw = window.innerWidth, vh = window.innerHeight;
  const out = {clipped: [], covered: []};
  const name = (el) => `${el.tagName.toLowerCase()}.${String(el.className).slice(0, 40)}` +
    ` "${(el.innerText || el.value || '').trim().slice(0, 30)}"` +
    ` in #${(el.closest('[id]:not([id=""])') || {}).id}`;
  const skip = '.js-plotly-plot, svg, .table-wrap, .grid-wrap, .thumbnails, .preview, ' +
    '[data-testid="status-tracker"], .toast-body, textarea, .options, .cm-editor, ' +
    '.visually-hidden, .sr-only, .hide';  // Gradio's measuring copies and screen-reader text
  const opaque = (el) => ['IMG', 'CANVAS', 'VIDEO'].includes(el.tagName) ||
    !/^(transparent|rgba\\(.*, 0\\))$/.test(getComputedStyle(el).backgroundColor);
  const textRect = (el) => {
    const range = document.createRange();
    const rects = [...el.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim())
      .map((n) => { range.selectNodeContents(n); return range.getBoundingClientRect(); });
    return {left: Math.min(...rects.map((q) => q.left)), top: Math.min(...rects.map((q) => q.top)),
      right: Math.max(...rects.map((q) => q.right)),
      bottom: Math.max(...rects.map((q) => q.bottom)),
      get width() { return this.right - this.left; },
      get height() { return this.bottom - this.top; }};
  };
  const clips = (cs) => /(hidden|clip|auto|scroll)/.test(cs.overflowX + cs.overflowY);
  for (const el of panel.querySelectorAll('*')) {
    const own = [...el.childNodes].filter((n) => n.nodeType === 3)
      .map((n) => n.textContent).join('').trim();
    const field = el.tagName === 'INPUT' && el.type === 'text' && el.value;
    if ((!own && !field) || el.closest(skip)) continue;
    const box = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (box.width === 0 || box.height === 0 || cs.visibility === 'hidden') continue;
    const r = field ? box : textRect(el);  // where its own text is drawn
    if (r.top < 0 || r.bottom > vh) continue;  // another scroll position looks at it whole
    const wide = el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0;
    const tall = el.scrollHeight > el.clientHeight + 1 && el.clientHeight > 0;
    if ((wide && (field || /(hidden|clip)/.test(cs.overflowX) || cs.textOverflow === 'ellipsis'))
        || (tall && /(hidden|clip)/.test(cs.overflowY)))
      out.clipped.push(`${name(el)} ${el.scrollWidth}x${el.scrollHeight}` +
        ` in ${el.clientWidth}x${el.clientHeight}`);
    for (let a = el.parentElement; a && a !== panel; a = a.parentElement) {
      if (!clips(getComputedStyle(a))) continue;
      const b = a.getBoundingClientRect();
      if (r.bottom > b.bottom + 0.5 || r.top < b.top - 0.5 || r.right > b.right + 0.5 ||
          r.left < b.left - 0.5)  // a pixel cut off the text shows as a cut descender
        out.clipped.push(`${name(el)} cut by ${name(a)}: ${r.left|0},${r.top|0}-` +
          `${r.right|0},${r.bottom|0} in ${b.left|0},${b.top|0}-${b.right|0},${b.bottom|0}`);
      break;
    }
    // the topmost element at the text's centre, the text hit-testable for the look (Gradio's
    // floating labels ignore the pointer); an opaque one of another control covers it
    const x = Math.min(Math.max(r.left + r.width / 2, 0), vw - 1);
    const saved = el.style.pointerEvents;
    el.style.pointerEvents = 'auto';
    const top = document.elementFromPoint(x, r.top + r.height / 2);
    el.style.pointerEvents = saved;
    const owner = el.closest('label, button') || el.parentElement;  // its own control
    if (top && !owner.contains(top) && !top.contains(el) && opaque(top))
      out.covered.push(`${name(el)} under ${name(top)}`);
  }
  return out;
}
"""
SIZES = ({"width": 1280, "height": 800}, {"width": 1920, "height": 1080})


@pytest.fixture(scope="module")
def prepared(gui_app) -> dict:
    """shapes-demo, a finished fake search and one trained tiny model in the app's home."""
    from core.app import models
    from core.engine.jobs import submit_job
    from core.nas.genotypes import PUBLISHED_GENOTYPES

    store = gui_app.store()
    gui_app.wait_for(
        lambda: any(d["name"] == "shapes-demo" for d in store.list_datasets()),
        120,
        "the shapes-demo dataset",
    )
    searched = PUBLISHED_GENOTYPES["DARTS_V1"].to_dict()
    randomly = PUBLISHED_GENOTYPES["DARTS_V2"].to_dict()
    with store.transaction():  # one transaction: the app's worker never sees it queued
        search = store.insert_job("search", {"dataset": "shapes-demo", "strategy": "darts"})
        store.finish_job(search, "succeeded", result={"genotype": searched})
    for epoch, cell in enumerate((randomly, searched)):
        store.add_architecture(
            search,
            cell,
            score=0.3 + epoch / 10,
            step=epoch,
            params=9000,
            extra={
                "kind": "derived",
                "epoch": epoch,
                "score_source": "supernet accuracy on the alpha batches",
            },
        )
    path = gui_app.home / "runs" / str(search) / "genotype.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(searched))
    store.add_artifact(search, "genotype", path)
    store.add_architecture(
        search, searched, score=0.61, extra={"kind": "final", "role": "searched"}
    )
    store.add_architecture(search, randomly, score=0.55, extra={"kind": "final", "role": "random"})
    train = submit_job(store, "train", TRAIN_SPEC)
    gui_app.wait_for(
        lambda: store.get_job(train)["status"] in ("succeeded", "failed"), 300, "the tiny training"
    )
    assert store.get_job(train)["status"] == "succeeded", store.get_job(train)["error"]
    return {
        "search": search,
        "train": train,
        "searched": searched,
        "model": store.get_job(train)["result"]["model"],
        "title": models.model_title(store, store.get_job(train)["result"]["model"]),
    }


@pytest.fixture(scope="module")
def page(browser, gui_app, prepared):
    pg = open_page(browser, gui_app.url, init_script=RECORD_LEAKS)
    yield pg
    pg.context.close()


def open_tab(pg, key: str, ready: str) -> None:
    """Select a tab and wait for one of its elements (never for network idle)."""
    pg.click(f"#tab-{key}-button")
    pg.locator(f"#tab-{key} {ready}").first.wait_for(state="visible", timeout=30_000)


def problems(pg, key: str) -> dict:
    found = pg.evaluate(CHECK_TAB, key)
    found["leaks"] += pg.evaluate("() => window.__leaks")
    found["page_errors"] = list(pg.errors)
    return {k: v for k, v in found.items() if v}


def text_problems(pg, key: str) -> dict:
    """CHECK_TEXT over the whole tab: the page scrolled a viewport at a time, top to bottom."""
    found: dict[str, list] = {"clipped": [], "covered": []}
    height = pg.evaluate("() => document.documentElement.scrollHeight")
    step = pg.viewport_size["height"] - 100  # overlapping views: no element only ever half seen
    for y in range(0, max(height, 1), step):
        pg.evaluate("(y) => window.scrollTo(0, y)", y)
        for kind, items in pg.evaluate(CHECK_TEXT, key).items():
            found[kind] += [i for i in items if i not in found[kind]]
    pg.evaluate("() => window.scrollTo(0, 0)")
    return {k: v for k, v in found.items() if v}


def notice_text(pg, key: str) -> str:
    return " ".join(pg.locator(f"#tab-{key} .notice").all_inner_texts())


def captions(pg) -> list[str]:
    return pg.locator(
        "#detect-gallery .caption-label, #detect-gallery figcaption, #detect-gallery .caption"
    ).all_inner_texts()


def test_every_tab_at_1280x800_and_1920x1080_has_no_badge_leak_overflow_or_hidden_text(
    page, prepared
):
    """One walk over the tabs per window size (a shared page and app keep it to one launch):
    no error badge, leaked key or overflow, and no text clipped or covered."""
    ready = {
        "guided": "#demo-walk",
        "data": "#data-samples img",
        "search": "#search-archs [role=gridcell]",
        "architectures": "#arch-summary strong",
        "train": "#train-curves .js-plotly-plot",
        "detect": "#detect-ap .big-number",
        "models": "#models-table [role=gridcell]",
        "jobs": "#jobs-table [role=gridcell]",
    }
    seen = {}
    try:
        for size in SIZES:
            page.set_viewport_size(size)
            wide = size != SIZES[0]  # the docs keep the 1280x800 shots; wider ones stay in tmp
            folder = TMP_SHOTS / f"{size['width']}x{size['height']}" if wide else SCREENSHOTS
            folder.mkdir(parents=True, exist_ok=True)
            for key in TABS:
                open_tab(page, key, ready[key])
                page.wait_for_timeout(1500)  # the tab's first refresh lands
                found = {**problems(page, key), **text_problems(page, key)}
                seen[f"{key} at {size['width']}x{size['height']}"] = found
                page.screenshot(path=str(folder / f"tab-{key}.png"))
    finally:
        page.set_viewport_size(SIZES[0])
    bad = {k: {kind: items[:6] for kind, items in v.items()} for k, v in seen.items() if v}
    assert not bad, json.dumps(bad, indent=1)


def test_found_cell_and_roles(page, prepared):
    """Search and Architectures show the searched cell (not the last, random, report row) and
    the role of every architecture."""
    open_tab(page, "search", "#search-archs")
    page.locator("#tab-search #search-best", has_text="Searched cell").wait_for(timeout=30_000)
    table = page.locator("#search-archs").inner_text()
    for role in ("derived", "searched", "random"):
        assert role in table, table
    open_tab(page, "architectures", "#arch-summary")
    page.click("#arch-cell input")  # another file's walk may have made a newer search
    page.locator("ul.option-list li", has_text=f"search #{prepared['search']}:").first.click()
    summary = page.locator("#arch-summary")
    summary.filter(has_text=f"search {prepared['search']} searched").wait_for(timeout=30_000)
    ops = sorted({op for op, _ in prepared["searched"]["normal"] + prepared["searched"]["reduce"]})
    assert f"operations used: {', '.join(ops)}" in summary.inner_text()
    assert "searched" in page.locator("#arch-table").inner_text()


def test_search_form_shows_the_plan_before_the_start(page, prepared):
    """Choosing a dataset and a budget shows the job's planned split (the CLI's plan line)."""
    open_tab(page, "search", "#search-start")
    plan = page.locator("#search-plan")
    page.click("#search-dataset input")
    page.locator("ul.option-list li", has_text="shapes-demo").first.click()
    plan.filter(has_text="Plan:").wait_for(timeout=30_000)
    minutes = page.locator("#tab-search").get_by_label("Time budget (minutes").first
    minutes.fill("3")
    minutes.press("Enter")
    plan.filter(has_text="within 3m").wait_for(timeout=30_000)
    assert re.search(r"search \d+m \d+s, report \d+", plan.inner_text()), plan.inner_text()


def test_detect_with_nothing_chosen_then_threshold_enter(page, prepared):
    open_tab(page, "detect", "#detect-run")
    page.wait_for_timeout(1000)  # the load event picks the newest model and its dataset
    assert page.locator("#detect-model input").input_value() == prepared["title"]
    page.click("#detect-run")
    page.locator("#tab-detect .notice", has_text=re.compile(r"(box|boxes) found")).wait_for(
        timeout=60_000
    )
    page.locator("#detect-gallery img").first.wait_for(timeout=30_000)
    texts = captions(page)
    assert texts and all(re.search(r"\d+ found / \d+ true$", t) for t in texts), texts
    box = page.locator("#detect-score input[type=number]")
    box.fill("0.05")
    box.press("Enter")
    page.locator("#tab-detect .notice", has_text="score >= 0.05").wait_for(timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "tab-detect-result.png"))
    img = page.locator("#detect-gallery img").first.bounding_box()
    gallery = page.locator("#detect-gallery").bounding_box()
    assert img["width"] <= gallery["width"] + 1 and img["height"] <= gallery["height"] + 1
    assert not problems(page, "detect")


def test_detect_opens_at_the_models_own_threshold(page, prepared, gui_app):
    """The score slider starts at the model's F1-best threshold (its newest evaluation's), to
    the hundredth, on page load and whenever another model is picked; a model registered
    with only its metrics (no job) starts at the threshold in them."""
    store = gui_app.store()
    path = store.resolve_path(store.artifacts(prepared["train"], kind="evaluation")[-1]["path"])
    saved = path.read_text()
    path.write_text(json.dumps(dict(json.loads(saved), score_threshold=0.48)))
    from core.app import models

    row = store.get_model(prepared["model"])
    threshold = "() => document.querySelector('#detect-score input[type=number]').value"

    def pick(name: str, value: str) -> None:
        page.click("#detect-model input")
        page.locator("ul.option-list li", has_text=name).first.click()
        page.wait_for_function(f"() => ({threshold})() === '{value}'", timeout=30_000)

    store.add_model(
        "threshold-check", "imported", row["path"], row["classes"], {"score_threshold": 0.62}
    )
    try:
        page.reload()
        page.wait_for_selector("#main-tabs", timeout=30_000)
        open_tab(page, "detect", "#detect-run")
        # the load picks the newest model, then each pick brings its own threshold
        page.wait_for_function(f"() => ({threshold})() === '0.62'", timeout=30_000)
        pick(prepared["title"], "0.48")
        pick(models.model_title(store, "threshold-check"), "0.62")
    finally:
        path.write_text(saved)


def test_an_error_shows_its_message_on_the_page(page, prepared):
    open_tab(page, "architectures", "#arch-id")
    box = page.locator("#arch-id textarea, #arch-id input").first
    box.fill("abc")
    box.press("Enter")
    page.locator("#tab-architectures .notice-error", has_text="not an architecture id").wait_for(
        timeout=30_000
    )
    page.wait_for_timeout(500)
    assert not problems(page, "architectures")


def test_cancel_and_resume_are_disabled_on_a_finished_job(page, prepared):
    open_tab(page, "jobs", "#jobs-table")
    cell = page.locator(
        "#jobs-table [role=gridcell]", has_text=re.compile(rf"^\s*{prepared['train']}\s*$")
    ).first
    cell.click()
    page.locator("#jobs-summary", has_text=f"Job {prepared['train']} (training)").wait_for(
        timeout=30_000
    )
    cell.dblclick()  # a read-only table: no cell opens for editing
    assert (
        page.locator("#jobs-table textarea:visible, #jobs-table input[type=text]:visible").count()
        == 0
    )
    assert page.locator("#jobs-cancel").is_disabled()
    assert page.locator("#jobs-resume").is_disabled()
    assert page.locator("#jobs-delete").is_enabled()
    open_tab(page, "train", "#train-curves")
    for name in ("Cancel", "Resume"):
        assert page.locator("#tab-train button", has_text=name).first.is_disabled()


def _second_model(store, first: str) -> dict:
    """A second registration of the trained checkpoint with its own stored numbers (the
    Models tab compares what the store says; the pictures come from the checkpoint)."""
    row = store.get_model(first)
    config = dict(row["config"], latency={"ms": 3.5, "device": "cpu", "batch": 1})
    metrics = dict(row["metrics"], AP50=0.123, AP=0.045)
    path = store.resolve_path(row["path"])
    store.add_model("second", "trained", path, row["classes"], metrics, config, row["job_id"])
    return {"AP50": "0.123", "latency": "3.5"}


def test_models_tab_compares_two_models_on_the_same_pictures(page, prepared, gui_app):
    """The Models tab at 1280x800: the table holds both models with their stored numbers, the
    chart draws their points, and choosing A and B shows two galleries of the same pictures,
    each with "N found / M true" under every picture."""
    store = gui_app.store()
    stored = _second_model(store, prepared["model"])
    page.reload()
    page.wait_for_selector("#main-tabs", timeout=30_000)
    open_tab(page, "models", "#models-table [role=gridcell]")
    table = page.locator("#models-table")
    table.filter(has_text="second").wait_for(timeout=30_000)
    text = table.inner_text()
    assert prepared["model"] in text and stored["AP50"] in text and stored["latency"] in text
    page.locator("#models-chart .js-plotly-plot").wait_for(timeout=30_000)
    names = page.evaluate(
        """() => [...document.querySelectorAll('#models-chart .js-plotly-plot')]
        .flatMap(p => (p.data || []).flatMap(t => t.customdata || []))"""
    )
    assert "second" in names, names
    for key in ("a", "b"):
        page.locator(f"#models-gallery-{key} img").first.wait_for(timeout=60_000)
    labels = {}
    for key in ("a", "b"):
        caps = page.locator(
            f"#models-gallery-{key} .caption-label, #models-gallery-{key} figcaption"
        ).all_inner_texts()
        assert caps and all(re.search(r"\d+ found / \d+ true$", c) for c in caps), caps
        labels[key] = [c.split(":")[0] for c in caps]
    assert labels["a"] == labels["b"]  # the same val pictures for both
    chosen = {page.locator(f"#models-{k} input").input_value() for k in ("a", "b")}
    assert chosen == {"second", prepared["model"]}
    assert not problems(page, "models"), problems(page, "models")
    page.screenshot(path=str(SCREENSHOTS / "tab-models.png"), full_page=True)
    b = page.locator("#models-b input").input_value()
    page.evaluate(  # a click on B's point in the chart (plotly's own click event) makes it A
        """(name) => document.querySelector('#models-chart .js-plotly-plot')
        .emit('plotly_click', {points: [{customdata: name}]})""",
        b,
    )
    page.wait_for_function(
        "(name) => document.querySelector('#models-a input').value === name", arg=b
    )
