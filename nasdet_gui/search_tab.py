"""The "Search" tab: start a cell search (DARTS, ENAS, evolution, random) and watch it live.

Start queues a `search` job and returns its id at once. The views (score chart, best cell, DARTS
alpha heatmap, evaluated architectures, searched-vs-random report) are rebuilt from the store
when the job's fingerprint changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from core.nas.config import STRATEGIES, SearchConfig

from nasdet_gui import figures
from nasdet_gui.common import (Ctx, as_int, best_architecture, dataclass_form, dataset_dropdown,
                               dataset_names, fmt_duration, form_spec, job_fingerprint,
                               latest_job_id, optional_fields, submit, ui_errors)
from nasdet_gui.config import TICK_S
from nasdet_gui.job_panel import JobPanel, build_panel

MAIN_FIELDS = ["minutes", "epochs", "samples", "fast"]
ARCH_HEADERS = ["ID", "Step", "Kind", "Score", "Params", "FLOPs", "Latency ms"]


@dataclass
class SearchTab:
    timer: gr.Timer
    panel: JobPanel


def start_search(ctx: Ctx, dataset: str, strategy: str = "darts", minutes: float | None = None,
                 options: dict | None = None) -> int:
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
    text = (f"**Searched cell:** {100 * s['mean']:.1f}% ± {100 * s.get('std', 0):.1f} "
            f"proxy accuracy ({len(s.get('accs', []))} runs)")
    if r.get("accs"):
        text += (f"  \n**Random cells:** {100 * r['mean']:.1f}% ± {100 * r.get('std', 0):.1f} "
                 f"({len(r['accs'])} cells)  \n**Margin:** {100 * result.get('margin', 0):+.1f} "
                 "points")
    return text


def arch_rows(ctx: Ctx, job_id: int) -> list[list]:
    rows = []
    for a in reversed(ctx.store.architectures(job_id)[-500:]):
        rows.append([a["id"], a["step"], (a.get("extra") or {}).get("kind", ""),
                     None if a["score"] is None else round(a["score"], 4), a["params"],
                     a["flops"], None if a["latency_ms"] is None else round(a["latency_ms"], 2)])
    return rows


def views(ctx: Ctx, job_id: int | None) -> tuple:
    """(score chart, best normal cell, best reduce cell, alpha heatmap, table, report, best id)."""
    if not job_id:
        empty = figures.note("Start a search or pick one above.")
        return empty, empty, empty, empty, [], report_markdown(None), ""
    job = ctx.store.get_job(job_id)
    best = best_architecture(ctx.store, job_id)
    normal, reduce = figures.cells(best["genotype"] if best else None)
    best_text = (f"Best so far: architecture **{best['id']}**, score {best['score']:.3f}"
                 if best and best["score"] is not None else "")
    if job.get("eta_s") and job["status"] == "running":
        best_text += f" - about {fmt_duration(job['eta_s'])} left"
    return (figures.search_chart(ctx.store, job_id), normal, reduce,
            figures.alphas(ctx.store, job_id), arch_rows(ctx, job_id),
            report_markdown(job.get("result")), best_text)


def build(ctx: Ctx, demo: gr.Blocks) -> SearchTab:
    gr.Markdown("Search a cell on small object crops of a dataset. The search runs in the "
                "background; this page follows it.", elem_classes="tab-intro")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            dataset = gr.Dropdown(label="Dataset", choices=dataset_names(ctx.store),
                                  value=None, allow_custom_value=True)
            strategy = gr.Radio(list(STRATEGIES), value="darts", label="Strategy")
            main = dataclass_form(SearchConfig, names=MAIN_FIELDS, labels={
                "minutes": "Time budget (minutes)", "epochs": "Epochs (DARTS/ENAS)",
                "samples": "Architectures to try (evolution/random)",
                "fast": "Fast mode (16x16 crops)"})
            with gr.Accordion("Advanced options", open=False):
                advanced = dataclass_form(SearchConfig, skip=("dataset", "proxy_path", "strategy",
                                                              *MAIN_FIELDS))
            start = gr.Button("Start search", variant="primary")
        with gr.Column(scale=5):
            panel = build_panel(ctx, ("search",), "Search job")
            best_text = gr.Markdown()
            with gr.Row():
                chart = gr.Plot(label="Scores", show_label=False)
                alphas = gr.Plot(label="DARTS alphas", show_label=False)
            with gr.Row():
                normal = gr.Plot(label="Best normal cell", show_label=False)
                reduce = gr.Plot(label="Best reduction cell", show_label=False)
            report = gr.Markdown()
            table = gr.Dataframe(headers=ARCH_HEADERS, value=[], interactive=False,
                                 max_height=300, label="Evaluated architectures")
    timer = gr.Timer(TICK_S, active=False)
    state = gr.State(())
    names = ["strategy", *main, *advanced]
    optional = optional_fields(SearchConfig)
    view_outputs = [chart, normal, reduce, alphas, table, report, best_text]

    def refresh(fp, job):
        jid = as_int(job) or latest_job_id(ctx.store, "search")  # none picked: follow the newest
        new = job_fingerprint(ctx.store, jid) + (latest_job_id(ctx.store, "search"),)
        if fp and new == fp:
            return (gr.skip(),) * len(outputs)
        return (*panel.render(ctx, jid), *views(ctx, jid), new)

    outputs = [*panel.outputs(), *view_outputs, state]
    timer.tick(ui_errors(refresh), [state, panel.picker], outputs, show_progress="hidden",
               api_visibility="private")
    panel.picker.input(ui_errors(lambda job: refresh((), job)), panel.picker, outputs,
                       api_visibility="private")
    demo.load(ui_errors(lambda: refresh((), latest_job_id(ctx.store, "search"))), None, outputs,
              api_visibility="private")
    demo.load(lambda: dataset_dropdown(ctx), None, dataset,
              api_visibility="private", queue=False)

    @ui_errors
    def on_start(ds, *values):
        if not ds:
            raise gr.Error("Choose a dataset first (the Data tab creates or imports one).")
        spec = form_spec(names, values, optional)
        jid = start_search(ctx, ds, spec.pop("strategy", "darts"), spec.pop("minutes", None), spec)
        gr.Info(f"Search job {jid} queued.")
        return refresh((), jid)

    start.click(on_start, [dataset, strategy, *main.values(), *advanced.values()], outputs,
                api_visibility="private")

    @ui_errors
    def api_start_search(dataset: str, strategy: str = "darts", minutes: float = 10.0,
                         options: dict | None = None) -> int:
        """Queue a cell search on a dataset; returns the job id. `options`: any SearchConfig
        field (epochs, samples, fast, C, layers, ...)."""
        return start_search(ctx, dataset, strategy, minutes, options)

    gr.api(api_start_search, api_name="start_search")
    return SearchTab(timer=timer, panel=panel)


