"""Compose the tabs into one gr.Blocks (`build_app`) and prepare a home folder (`first_start`).

Each tab module lays out its components and wires its handlers given the shared `Ctx`; this
module only orders the tabs, links them (e.g. "Train with this cell") and turns each tab's
timer on only while that tab is shown.
"""

from __future__ import annotations

import logging

import gradio as gr

from core.app import jobs
from core.app.jobs import Store
from core.errors import NasdetError, NotFoundError
from nasdet_gui import (
    api,
    architectures_tab,
    data_tab,
    detect_tab,
    guided_tab,
    jobs_tab,
    models_tab,
    search_tab,
    train_tab,
)
from nasdet_gui.common import Ctx
from nasdet_gui.config import CSS_FILE, DEFAULT_DATASET, AppConfig

log = logging.getLogger(__name__)

TITLE = "NASDet Studio"
TABS = [
    ("Guided demo", guided_tab),
    ("Data", data_tab),
    ("Search", search_tab),
    ("Architectures", architectures_tab),
    ("Train", train_tab),
    ("Models", models_tab),
    ("Detect", detect_tab),
    ("Jobs", jobs_tab),
]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue="indigo",
        secondary_hue="sky",
        neutral_hue="slate",
        radius_size="md",
        text_size="md",
    )


def css() -> str:
    return CSS_FILE.read_text(encoding="utf-8")


# Keys Gradio 6.31's own frontend asks for but its English table lacks: without them the raw key
# shows ("common.complete" after each event in the status tracker's live region, "common.upload"
# as the upload button's tooltip).
MISSING_GRADIO_LABELS = {
    "common.complete": "Complete",
    "common.upload": "Upload",
    "common.webcam": "Webcam",
    "common.video": "Video",
}


def translations() -> gr.I18n:
    """Labels for `demo.launch(i18n=...)`: the keys Gradio's English table lacks."""
    return gr.I18n(en=dict(MISSING_GRADIO_LABELS))


def build_app(config: AppConfig, store: Store | None = None) -> gr.Blocks:
    """The whole GUI. Launch with `demo.launch(theme=theme(), css=css(), ...)`."""
    ctx = Ctx(store=store or Store(config.home), config=config)
    with gr.Blocks(title=TITLE) as demo:
        with gr.Row(elem_id="header"):
            gr.Markdown(
                f"## {TITLE}\nSearch a cell, train a detector, see what it finds - "
                f"jobs run in the background; home `{ctx.store.home}`"
            )
        timers: dict[str, gr.Timer] = {}
        tab_blocks: dict[str, gr.Tab] = {}
        built = {}
        with gr.Tabs(elem_id="main-tabs") as tabs:
            for name, module in TABS:
                key = name.split()[0].lower()
                with gr.Tab(name, id=key, elem_id=f"tab-{key}") as tab:
                    built[key] = module.build(ctx, demo)
                timers[key], tab_blocks[key] = built[key].timer, tab
        api.build(ctx)
        _link_tabs(tabs, built)
        _one_timer_at_a_time(demo, tab_blocks, timers, first=next(iter(timers)))
    return demo


def _link_tabs(tabs: gr.Tabs, built: dict) -> None:
    """Cross-tab actions: "Train a detector with this cell" fills the Train tab and opens it."""
    arch, train = built["architectures"], built["train"]
    arch.train_button.click(
        lambda backbone: (gr.Dropdown(value=backbone), gr.Tabs(selected="train")),
        arch.backbone,
        [train.backbone, tabs],
        api_visibility="private",
    )


def _one_timer_at_a_time(
    demo: gr.Blocks, tab_blocks: dict[str, gr.Tab], timers: dict[str, gr.Timer], first: str
) -> None:
    """Only the shown tab polls the store: selecting a tab activates its timer, stops the rest."""
    names = list(timers)

    def activate(name: str):
        return [gr.Timer(active=(n == name)) for n in names]

    for name, tab in tab_blocks.items():
        tab.select(
            lambda n=name: activate(n),
            None,
            [timers[n] for n in names],
            show_progress="hidden",
            queue=False,
            api_visibility="private",
        )
    demo.load(
        lambda: activate(first),
        None,
        [timers[n] for n in names],
        queue=False,
        api_visibility="private",
    )


def first_start(store: Store, config: AppConfig) -> int | None:
    """On a fresh home, queue the built-in `shapes-demo` dataset; returns the job id or None."""
    try:
        store.get_dataset(DEFAULT_DATASET)
        return None
    except NotFoundError:
        pass
    pending = [
        j
        for j in store.list_jobs(kind="dataset.generate", limit=50)
        if (j["spec"] or {}).get("name") == DEFAULT_DATASET
        and j["status"] in ("queued", "running", "interrupted")
    ]
    if pending:
        if pending[0]["status"] == "interrupted":
            store.resume_job(pending[0]["id"])
        return None
    spec = dict(
        config.demo.get("first_start_dataset") or config.presets.get("first_start_dataset", {}),
        name=DEFAULT_DATASET,
    )
    try:
        return jobs.submit(store, "dataset.generate", spec, start_worker=False)
    except (NasdetError, ImportError) as exc:  # data package not there yet: the app still starts
        log.warning("could not queue the %s dataset: %s", DEFAULT_DATASET, exc)
        return None
