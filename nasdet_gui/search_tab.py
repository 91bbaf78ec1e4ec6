"""The "Search" tab: start a cell search (DARTS, ENAS, evolution, random, zero-cost) or a detector
search (level "detector": backbone, input size, BiFPN and head trained as detectors) and watch it
live.

The form shows the job's planned split of its budget (search, report;
core.app.searches.plan_line, the line the CLI prints) before the start. Start queues a `search`
job and returns its id at once. The views (score chart, best cell, DARTS
alpha heatmap, evaluated architectures, searched-vs-random report) are rebuilt from the store
when the job's fingerprint changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from core.app import datasets, detector_searches, forms, jobs, searches
from core.app.searches import STRATEGIES, SearchConfig
from core.errors import SpecError
from core.viz.common import markdown_text
from nasdet_gui import figures
from nasdet_gui.common import (
    Ctx,
    as_int,
    count,
    dataclass_form,
    dataset_dropdown,
    fmt_duration,
    form_spec,
    need,
    optional_fields,
    submit,
    ui_errors,
    wire,
)
from nasdet_gui.config import TICK_S
from nasdet_gui.job_panel import JobPanel, build_panel

FORM_TOP = ("dataset", "proxy_path", "strategy")  # above the main fields, or not in the form
MAIN_FIELDS = ["minutes", "epochs", "samples", "crops.fast"]
CELL_ONLY = ["epochs", "samples", "crops.fast"]  # hidden at the detector level
LEVELS = ("cell", "detector")
DETECTOR_FIELDS = [
    "target_ms",
    "trials",
    "epochs",
    "seed",
    "backbones",
    "image_sizes",
    "fpn_channels",
    "fpn_cell_repeats",
    "box_class_repeats",
]
SEARCH_KINDS = ("search", detector_searches.KIND)
# the advanced options of one strategy, or of the report, as their labels say (the options every
# strategy shares, crops to execution, are labelled by their own words alone)
GROUP_WORDS = {
    "darts": "DARTS",
    "enas": "ENAS",
    "evolution": "Evolution",
    "zero_cost": "Zero-cost",
    "report": "Final report",
}
ARCH_HEADERS = ["ID", "Role", "Step", "Score", "Params", "FLOPs", "Latency ms"]


@dataclass
class SearchTab:
    timer: gr.Timer
    panel: JobPanel


def start_search(
    ctx: Ctx,
    dataset: str,
    strategy: str = SearchConfig.strategy,
    minutes: float | None = None,
    options: dict | None = None,
) -> int:
    """Queue a search job; returns its id (SpecError -> gr.Error via the caller's ui_errors)."""
    spec = dict(options or {}, dataset=dataset, strategy=strategy)
    if minutes is not None:
        spec["minutes"] = minutes
    return submit(ctx, "search", spec)


def start_detector_search(
    ctx: Ctx, dataset: str, minutes: float | None = None, options: dict | None = None
) -> int:
    """Queue a detector search; returns its id (SpecError -> gr.Error via ui_errors)."""
    spec = dict(options or {}, dataset=dataset)
    if minutes is not None:
        spec["minutes"] = minutes
    return submit(ctx, detector_searches.KIND, spec)


def detector_markdown(result: dict | None) -> str:
    """A detector search's answer so far: the pick and the Pareto front, in plain words."""
    if not result:
        return "*The trials appear below as each one ends; the pick when the search ends.*"
    states = result.get("states") or {}
    text = (
        f"**{result['trials']} trials** ({states.get('complete', 0)} trained to "
        f"{result['max_epochs']} epochs, {states.get('pruned', 0)} stopped early by successive "
        f"halving); latency target **{result['target_ms']:.1f} ms** at batch 1"
    )
    front = ", ".join(
        f"{f['AP50']:.3f} at {f['latency_ms']:.1f} ms (trial {f['trial']})"
        for f in result.get("front") or []
    )
    if front:
        text += f"  \n**Pareto front** (AP50 at latency): {front}"
    pick = result.get("pick")
    if pick:
        label = detector_searches.DetectorChoice.from_dict(pick["config"]).label()
        where = "within the target" if pick["within_target"] else "none is within the target"
        text += (
            f"  \n**{'Pick' if result.get('final') else 'Pick so far'}:** trial {pick['trial']}, "
            f"{label}: AP50 {pick['AP50']:.3f} at {pick['latency_ms']:.1f} ms ({where})"
        )
    if result.get("model"):
        text += f"  \nStored as model **{result['model']}** (Detect, evaluate, export use it)."
    return text


def report_markdown(result: dict | None) -> str:
    """The searched-vs-random report of a finished search in plain words."""
    if not result or "searched" not in result:
        return "*The searched-vs-random report appears when the search has finished.*"
    s, r = result["searched"], result.get("random") or {}
    if s.get("mean") is None:  # the budget held no report (or cut its searched cell)
        return f"*No searched-vs-random report: {markdown_text(result.get('afforded') or '')}.*"
    text = (
        f"**Searched cell:** {100 * s['mean']:.1f}% ± {100 * s.get('std', 0):.1f} "
        f"proxy accuracy ({count(len(s.get('accs', [])), 'run')})"
    )
    if r.get("accs"):
        text += (
            f"  \n**Random cells:** {100 * r['mean']:.1f}% ± {100 * r.get('std', 0):.1f} "
            f"({count(len(r['accs']), 'cell')})  \n"
            f"**Margin:** {100 * result.get('margin', 0):+.1f} points"
        )
    return text


ARCH_LIMIT = 500


def arch_rows(ctx: Ctx, job_id: int) -> list[list]:
    """The architectures table, newest first, with each row's role."""
    rows = []
    for a in reversed(searches.architectures(ctx.store, job_id)[-ARCH_LIMIT:]):
        rows.append(
            [
                a["id"],
                a["role"],
                a["step"],
                None if a["score"] is None else round(a["score"], 4),
                a["params"],
                a["flops"],
                None if a["latency_ms"] is None else round(a["latency_ms"], 2),
            ]
        )
    return rows


def best_markdown(best: dict | None, job: dict) -> str:
    """What the cell drawings show: the searched cell, or the best one so far."""
    if best is None:
        text = "*No cell yet: the first one appears after the first epoch or candidate.*"
    elif best["final"]:
        text = (
            "**Searched cell**: the search's answer, drawn below; training with this "
            "search's cell uses it. The report beside the bars retrains it from scratch."
        )
    else:
        score = "" if best["score"] is None else f", search score {best['score']:.3f}"
        text = (
            f"**Best so far** ({best['role']} cell, architecture {best['arch_id']}{score}); "
            "the searched cell is chosen when the search phase ends"
        )
    if job.get("eta_s") and job["status"] == "running":
        text += f" - about {fmt_duration(job['eta_s'])} left"
    return text


def views(ctx: Ctx, job_id: int | None) -> tuple:
    """(search chart, report bars, best normal cell, best reduce cell, alpha heatmap, table,
    report text, best text)."""
    if not job_id:
        empty = figures.note("Start a search or pick one above.")
        return empty, empty, empty, empty, empty, [], report_markdown(None), ""
    job = jobs.get_job(ctx.store, job_id)
    if job["kind"] == detector_searches.KIND:
        empty = figures.note("A detector search has no cell of its own: its trials are below.")
        answer = detector_markdown(detector_searches.answer(ctx.store, job_id))
        return empty, empty, empty, empty, empty, arch_rows(ctx, job_id), answer, ""
    best = searches.search_best(ctx.store, job_id)
    normal, reduce = figures.cells(
        best["genotype"] if best else None, "searched" if best and best["final"] else "best so far"
    )
    return (
        figures.search_chart(ctx.store, job_id),
        figures.report_chart(ctx.store, job_id),
        normal,
        reduce,
        figures.alphas(ctx.store, job_id),
        arch_rows(ctx, job_id),
        report_markdown(job.get("result")),
        best_markdown(best, job),
    )


def _form(ctx: Ctx) -> dict:
    """The left column: dataset, strategy, the main fields and the advanced ones."""
    dataset = gr.Dropdown(
        label="Dataset",
        choices=datasets.dataset_names(ctx.store),
        value=None,
        allow_custom_value=True,
        elem_id="search-dataset",
    )
    level = gr.Radio(
        list(LEVELS),
        value="cell",
        label="Level",
        info="cell: a cell on object crops; detector: backbone, input size, BiFPN and head, "
        "each trial a real training",
    )
    strategy = gr.Radio(list(STRATEGIES), value=SearchConfig.strategy, label="Strategy")
    main = dataclass_form(
        SearchConfig,
        names=MAIN_FIELDS,
        labels={
            "minutes": "Time budget (minutes; 0 = no limit)",
            "epochs": "Epochs (DARTS/ENAS)",
            "samples": "Architectures to try (evolution/random)",
            "crops.fast": "Fast mode (16x16 crops)",
        },
    )
    with gr.Group(visible=False) as detector_group:
        detector = dataclass_form(
            detector_searches.DetectorSearchConfig,
            names=DETECTOR_FIELDS,
            labels={"epochs": "Epochs of a complete trial", "target_ms": "Latency target (ms)"},
        )
    start = gr.Button("Start search", variant="primary", elem_id="search-start")
    plan = gr.Markdown(plan_markdown(ctx, None), elem_id="search-plan")
    with gr.Accordion("Advanced options", open=False) as advanced_box:
        names = [n for n in forms.field_names(SearchConfig) if n not in (*FORM_TOP, *MAIN_FIELDS)]
        labels = {  # nested options are "group.field"; a strategy's or the report's say so
            i.name: f"{GROUP_WORDS[i.name.partition('.')[0]]}: {i.label}"
            for i in forms.describe(SearchConfig, names)
            if i.name.partition(".")[0] in GROUP_WORDS
        }
        advanced = dataclass_form(SearchConfig, names=names, labels=labels)
    return {
        "dataset": dataset,
        "level": level,
        "strategy": strategy,
        "main": main,
        "advanced": advanced,
        "advanced_box": advanced_box,
        "detector": detector,
        "detector_group": detector_group,
        "start": start,
        "plan": plan,
    }


def plan_markdown(ctx: Ctx, spec: dict | None, level: str = "cell") -> str:
    """The planned split of the job's budget for the form's spec, or what is missing."""
    if not spec or not spec.get("dataset"):
        return "*Choose a dataset to see how the time budget will be spent.*"
    try:
        line = detector_searches.plan_line if level == "detector" else searches.plan_line
        return line(ctx.store, spec).replace("plan:", "**Plan:**", 1)
    except SpecError as exc:
        return f"*Cannot start yet: {markdown_text(exc)}*"


def _views(ctx: Ctx) -> tuple[JobPanel, dict]:
    """The right column: job panel, then one chart per row, the cells, the report, the table."""
    panel = build_panel(ctx, SEARCH_KINDS, "Search job")
    best_text = gr.Markdown(elem_id="search-best")
    chart = gr.Plot(show_label=False, elem_id="search-chart")
    with gr.Row():
        normal = gr.Plot(show_label=False)
        reduce = gr.Plot(show_label=False)
    with gr.Row():
        report_bars = gr.Plot(show_label=False, elem_id="search-report-chart")
        report = gr.Markdown(elem_id="search-report")
    alphas = gr.Plot(show_label=False)
    table = gr.Dataframe(
        headers=ARCH_HEADERS,
        value=[],
        interactive=False,
        max_height=300,
        label="Evaluated architectures (role: derived / candidate during the "
        "search; searched / random in the final report)",
        elem_id="search-archs",
    )
    return panel, {
        "chart": chart,
        "report_bars": report_bars,
        "normal": normal,
        "reduce": reduce,
        "alphas": alphas,
        "table": table,
        "report": report,
        "best": best_text,
    }


def build(ctx: Ctx, demo: gr.Blocks) -> SearchTab:
    gr.Markdown(
        "Search a cell on small object crops of a dataset, or the whole detector by training "
        "it. The search runs in the background; this page follows it.",
        elem_classes="tab-intro",
    )
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            form = _form(ctx)
        with gr.Column(scale=5):
            panel, v = _views(ctx)
    timer = gr.Timer(TICK_S, active=False)
    state = gr.State(())
    main, advanced, detector = form["main"], form["advanced"], form["detector"]

    def refresh(fp, job):
        newest = jobs.latest_job_id(ctx.store, *SEARCH_KINDS)
        jid = as_int(job) or newest  # none picked: follow the newest
        new = jobs.job_fingerprint(ctx.store, jid) + (newest,)
        if fp and new == fp:
            return (gr.skip(),) * len(outputs) + (None,)
        return (*panel.render(ctx, jid), *views(ctx, jid), new, None)

    outputs = [*panel.outputs(), *v.values(), state]
    wire(timer.tick, refresh, [state, panel.picker], outputs, panel.notice, show_progress="hidden")
    wire(panel.picker.input, lambda job: refresh((), job), panel.picker, outputs, panel.notice)
    wire(demo.load, lambda: refresh((), None), None, outputs, panel.notice)
    demo.load(
        lambda: dataset_dropdown(ctx), None, form["dataset"], api_visibility="private", queue=False
    )

    def on_change(ds, level, *values):
        spec = level_spec(form, level, values)
        return plan_markdown(ctx, dict(spec, dataset=ds) if ds else None, level)

    inputs = [
        form["dataset"],
        form["level"],
        form["strategy"],
        *main.values(),
        *advanced.values(),
        *detector.values(),
    ]
    for component in inputs:
        component.change(
            on_change,
            inputs,
            form["plan"],
            api_visibility="private",
            show_progress="hidden",
            queue=False,
        )

    def on_start(ds, level, *values):
        need(ds, "Choose a dataset first (the Data tab creates or imports one).")
        spec = level_spec(form, level, values)
        # the spec keeps "minutes" as the plan line read it: None (0 or empty) is no limit
        if level == "detector":
            jid = start_detector_search(ctx, ds, options=spec)
        else:
            jid = start_search(ctx, ds, spec.pop("strategy", SearchConfig.strategy), options=spec)
        return (*refresh((), jid)[:-1], f"Search job {jid} queued.")

    wire(form["start"].click, on_start, inputs, outputs, panel.notice)
    _wire_level(form)
    _register_api(ctx)
    return SearchTab(timer=timer, panel=panel)


def level_spec(form: dict, level: str, values: tuple) -> dict:
    """The form's spec at its level (values: the inputs after dataset and level); the detector
    search takes the time budget from the main fields and the rest from its own."""
    names = ["strategy", *form["main"], *form["advanced"]]
    cell = form_spec(names, values[: len(names)], optional_fields(SearchConfig, names))
    if level != "detector":
        return cell
    spec = form_spec(
        list(form["detector"]),
        values[len(names) :],
        optional_fields(detector_searches.DetectorSearchConfig),
    )
    if "minutes" in cell:
        spec["minutes"] = cell["minutes"]
    return spec


def _wire_level(form: dict) -> None:
    """The level radio shows the cell search's fields or the detector search's."""
    main = form["main"]
    cell_parts = [form["strategy"], *(main[n] for n in CELL_ONLY), form["advanced_box"]]

    def on_level(level):
        cell = level != "detector"
        return (*(gr.update(visible=cell) for _ in cell_parts), gr.update(visible=not cell))

    form["level"].change(
        on_level,
        form["level"],
        [*cell_parts, form["detector_group"]],
        api_visibility="private",
        queue=False,
    )


def _register_api(ctx: Ctx) -> None:
    """/start_search and /start_detector_search for API clients."""

    @ui_errors
    def api_start_search(
        dataset: str,
        strategy: str = SearchConfig.strategy,
        minutes: float = 10.0,
        options: dict | None = None,
    ) -> int:
        """Queue a cell search on a dataset; returns the job id. `options`: any SearchConfig
        field, nested ones as objects or dotted keys (epochs, samples, crops.fast, network.C,
        report.epochs, ...)."""
        return start_search(ctx, dataset, strategy, minutes, options)

    gr.api(api_start_search, api_name="start_search")

    @ui_errors
    def api_start_detector_search(
        dataset: str, minutes: float = 10.0, options: dict | None = None
    ) -> int:
        """Queue a detector search on a dataset; returns the job id. `options`: any
        DetectorSearchConfig field (target_ms, trials, epochs, backbones, image_sizes, ...)."""
        return start_detector_search(ctx, dataset, minutes, options)

    gr.api(api_start_detector_search, api_name="start_detector_search")
