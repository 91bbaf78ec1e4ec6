"""The "Search" tab: start a cell search (DARTS, ENAS, evolution, random, zero-cost) and watch it
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

from core.app import datasets, jobs, searches
from core.app.searches import NESTED_CONFIGS, STRATEGIES, SearchConfig
from core.viz.common import markdown_text
from nasdet_gui import figures
from nasdet_gui.common import (
    Ctx,
    as_int,
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

MAIN_FIELDS = ["minutes", "epochs", "samples", "fast"]
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


def report_markdown(result: dict | None) -> str:
    """The searched-vs-random report of a finished search in plain words."""
    if not result or "searched" not in result:
        return "*The searched-vs-random report appears when the search has finished.*"
    s, r = result["searched"], result.get("random") or {}
    text = (
        f"**Searched cell:** {100 * s['mean']:.1f}% ± {100 * s.get('std', 0):.1f} "
        f"proxy accuracy ({len(s.get('accs', []))} runs)"
    )
    if r.get("accs"):
        text += (
            f"  \n**Random cells:** {100 * r['mean']:.1f}% ± {100 * r.get('std', 0):.1f} "
            f"({len(r['accs'])} cells)  \n**Margin:** {100 * result.get('margin', 0):+.1f} "
            "points"
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
    strategy = gr.Radio(list(STRATEGIES), value=SearchConfig.strategy, label="Strategy")
    main = dataclass_form(
        SearchConfig,
        names=MAIN_FIELDS,
        labels={
            "minutes": "Time budget (minutes)",
            "epochs": "Epochs (DARTS/ENAS)",
            "samples": "Architectures to try (evolution/random)",
            "fast": "Fast mode (16x16 crops)",
        },
    )
    start = gr.Button("Start search", variant="primary", elem_id="search-start")
    plan = gr.Markdown(plan_markdown(ctx, None), elem_id="search-plan")
    with gr.Accordion("Advanced options", open=False):
        advanced = dataclass_form(
            SearchConfig, skip=("dataset", "proxy_path", "strategy", *MAIN_FIELDS, *NESTED_CONFIGS)
        )
        for group, cls in NESTED_CONFIGS.items():  # per-strategy options as "group.field"
            fields = dataclass_form(
                cls, labels={n: f"{group}.{n}" for n in cls.__dataclass_fields__}
            )
            advanced.update({f"{group}.{n}": c for n, c in fields.items()})
    return {
        "dataset": dataset,
        "strategy": strategy,
        "main": main,
        "advanced": advanced,
        "start": start,
        "plan": plan,
    }


def plan_markdown(ctx: Ctx, spec: dict | None) -> str:
    """The planned split of the job's budget for the form's spec, or what is missing."""
    from core.errors import SpecError

    if not spec or not spec.get("dataset"):
        return "*Choose a dataset to see how the time budget will be spent.*"
    try:
        return searches.plan_line(ctx.store, spec).replace("plan:", "**Plan:**", 1)
    except SpecError as exc:
        return f"*Cannot start yet: {markdown_text(exc)}*"


def _views(ctx: Ctx) -> tuple[JobPanel, dict]:
    """The right column: job panel, then one chart per row, the cells, the report, the table."""
    panel = build_panel(ctx, ("search",), "Search job")
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
        "Search a cell on small object crops of a dataset. The search runs in the "
        "background; this page follows it.",
        elem_classes="tab-intro",
    )
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            form = _form(ctx)
        with gr.Column(scale=5):
            panel, v = _views(ctx)
    timer = gr.Timer(TICK_S, active=False)
    state = gr.State(())
    main, advanced = form["main"], form["advanced"]
    names = ["strategy", *main, *advanced]
    optional = optional_fields(SearchConfig)

    def refresh(fp, job):
        newest = jobs.latest_job_id(ctx.store, "search")
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

    def on_change(ds, *values):
        spec = form_spec(names, values, optional)
        return plan_markdown(ctx, dict(spec, dataset=ds) if ds else None)

    inputs = [form["dataset"], form["strategy"], *main.values(), *advanced.values()]
    for component in inputs:
        component.change(
            on_change,
            inputs,
            form["plan"],
            api_visibility="private",
            show_progress="hidden",
            queue=False,
        )

    def on_start(ds, *values):
        need(ds, "Choose a dataset first (the Data tab creates or imports one).")
        spec = form_spec(names, values, optional)
        jid = start_search(
            ctx, ds, spec.pop("strategy", SearchConfig.strategy), spec.pop("minutes", None), spec
        )
        return (*refresh((), jid)[:-1], f"Search job {jid} queued.")

    wire(form["start"].click, on_start, inputs, outputs, panel.notice)

    @ui_errors
    def api_start_search(
        dataset: str,
        strategy: str = SearchConfig.strategy,
        minutes: float = 10.0,
        options: dict | None = None,
    ) -> int:
        """Queue a cell search on a dataset; returns the job id. `options`: any SearchConfig
        field (epochs, samples, fast, C, layers, ...)."""
        return start_search(ctx, dataset, strategy, minutes, options)

    gr.api(api_start_search, api_name="start_search")
    return SearchTab(timer=timer, panel=panel)
