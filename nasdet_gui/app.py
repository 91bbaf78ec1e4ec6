"""Compose the tabs into one gr.Blocks (`build_app`) and prepare a home folder (`first_start`).

Each tab module lays out its components and wires its handlers given the shared `Ctx`; this
module only orders the tabs, links them (e.g. "Train with this cell") and turns each tab's
timer on only while that tab is shown.
"""

from __future__ import annotations

import logging

import gradio as gr

from core.engine.store import Store
from core.errors import NasdetError, NotFoundError

from nasdet_gui import api, jobs_tab
from nasdet_gui.common import Ctx
from nasdet_gui.config import CSS_FILE, DEFAULT_DATASET, AppConfig

log = logging.getLogger(__name__)

TITLE = "NASDet Studio"


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
                          radius_size="md", text_size="md")


def css() -> str:
    return CSS_FILE.read_text(encoding="utf-8")


def build_app(config: AppConfig, store: Store | None = None) -> gr.Blocks:
    """The whole GUI. Launch with `demo.launch(theme=theme(), css=css(), ...)`."""
    ctx = Ctx(store=store or Store(config.home), config=config)
    with gr.Blocks(title=TITLE) as demo:
        with gr.Row(elem_id="header"):
            gr.Markdown(f"## {TITLE}\nSearch a cell, train a detector, see what it finds - "
                        f"jobs run in the background; home `{ctx.store.home}`")
        with gr.Tabs(elem_id="main-tabs") as tabs:
            timers: dict[str, gr.Timer] = {}
            tab_blocks: dict[str, gr.Tab] = {}
            with gr.Tab("Jobs", id="jobs", elem_id="tab-jobs") as tab:
                jobs = jobs_tab.build(ctx, demo)
            timers["jobs"], tab_blocks["jobs"] = jobs.timer, tab
        api.build(ctx)
        _one_timer_at_a_time(demo, tabs, tab_blocks, timers, first="jobs")
    return demo


def _one_timer_at_a_time(demo: gr.Blocks, tabs: gr.Tabs, tab_blocks: dict[str, gr.Tab],
                         timers: dict[str, gr.Timer], first: str) -> None:
    """Only the shown tab polls the store: selecting a tab activates its timer, stops the rest."""
    names = list(timers)

    def activate(name: str):
        return [gr.Timer(active=(n == name)) for n in names]

    for name, tab in tab_blocks.items():
        tab.select(lambda n=name: activate(n), None, [timers[n] for n in names],
                   show_progress="hidden", queue=False, api_visibility="private")
    demo.load(lambda: activate(first), None, [timers[n] for n in names], queue=False,
              api_visibility="private")


def first_start(store: Store, config: AppConfig) -> int | None:
    """On a fresh home, queue the built-in `shapes-demo` dataset; returns the job id or None."""
    from core.engine.jobs import submit_job

    try:
        store.get_dataset(DEFAULT_DATASET)
        return None
    except NotFoundError:
        pass
    pending = [j for j in store.list_jobs(kind="dataset.generate", limit=50)
               if (j["spec"] or {}).get("name") == DEFAULT_DATASET
               and j["status"] in ("queued", "running", "interrupted")]
    if pending:
        if pending[0]["status"] == "interrupted":
            store.resume_job(pending[0]["id"])
        return None
    spec = dict(config.presets.get("first_start_dataset", {}), name=DEFAULT_DATASET)
    try:
        return submit_job(store, "dataset.generate", spec)
    except (NasdetError, ImportError) as exc:  # data package not there yet: the app still starts
        log.warning("could not queue the %s dataset: %s", DEFAULT_DATASET, exc)
        return None
