"""The "Jobs" tab: every job with status, device, progress, times and log; cancel, resume, delete.

The table and the selected job's log are rebuilt from the store on page load and on a gr.Timer
tick when their fingerprint changed (see nasdet_gui.common); nothing is cached per user outside
the session's gr.State.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from core.engine import jobs as engine_jobs
from core.engine.store import now

from nasdet_gui.common import (ACTIVE, Ctx, as_int, cancel_job, fmt_duration, fmt_time,
                               job_fingerprint, job_line, jobs_fingerprint, resume_job,
                               ui_errors)
from nasdet_gui.config import TICK_S

HEADERS = ["ID", "Kind", "Status", "Progress", "Device", "Message", "Created", "Duration", "Error"]
LOG_LINES = 400


@dataclass
class JobsTab:
    timer: gr.Timer
    job_id: gr.Number


def job_rows(ctx: Ctx, limit: int = 200) -> list[list]:
    """The table rows, newest job first."""
    rows = []
    for j in ctx.store.list_jobs(limit=limit):
        end = j["finished_at"] or (now() if j["status"] == "running" else None)
        duration = fmt_duration(end - j["started_at"]) if j["started_at"] and end else ""
        rows.append([j["id"], j["kind"], j["status"],
                     f"{100 * (j['progress'] or 0):.0f}%", j["device"] or j["requested_device"],
                     j["message"] or "", fmt_time(j["created_at"]), duration,
                     (j["error"] or "")[:120]])
    return rows


def job_log(ctx: Ctx, job_id: int) -> str:
    """The job's events as log lines (newest last)."""
    lines = []
    for e in ctx.store.events(job_id, limit=LOG_LINES):
        lines.append(f"{fmt_time(e['ts'])} {e['level'].upper():7s} {e['message']}")
    return "\n".join(lines) or "(no log lines yet)"


def job_detail(ctx: Ctx, job_id: int | None) -> tuple[str, str]:
    """(summary markdown, log text) of one job."""
    if job_id is None:
        return "Select a job in the table (click its row) to see its log.", ""
    job = ctx.store.get_job(job_id)
    spec = ", ".join(f"{k}={v}" for k, v in (job["spec"] or {}).items()
                     if not isinstance(v, (dict, list)))
    times = (f"created {fmt_time(job['created_at'])}, started {fmt_time(job['started_at'])}, "
             f"finished {fmt_time(job['finished_at'])}, attempts {job['attempts']}")
    return f"{job_line(job)}\n\n`{spec}`\n\n{times}", job_log(ctx, job_id)


def build(ctx: Ctx, demo: gr.Blocks) -> JobsTab:
    """Lay out the Jobs tab inside the current Blocks context and wire its events."""
    gr.Markdown("Every job, newest first. Click a row to see its log; jobs run in a background "
                "worker, so closing the browser does not stop them.", elem_classes="tab-intro")
    table = gr.Dataframe(headers=HEADERS, value=[], interactive=False, max_height=360,
                         wrap=True, elem_id="jobs-table",
                         column_widths=["5%", "11%", "11%", "8%", "7%", "22%", "11%", "8%", "17%"])
    with gr.Row(elem_classes="action-row"):
        job_id = gr.Number(label="Selected job", value=None, precision=0, minimum=0, scale=2,
                           elem_id="jobs-selected")
        cancel = gr.Button("Cancel", scale=1, size="md")
        resume = gr.Button("Resume", scale=1, size="md")
        delete = gr.Button("Delete...", variant="stop", scale=1, size="md")
    with gr.Row(visible=False, elem_classes="confirm-row") as confirm_row:
        confirm_text = gr.Markdown()
        confirm = gr.Button("Yes, delete it and its files", variant="stop")
        keep = gr.Button("No, keep it")
    summary = gr.Markdown(elem_id="jobs-summary")
    log_box = gr.Textbox(label="Log", lines=12, max_lines=24, interactive=False, autoscroll=True,
                         elem_id="jobs-log")
    state = gr.State(())  # fingerprints of what this browser shows
    timer = gr.Timer(TICK_S, active=False)

    def refresh(fp: tuple, selected):
        jid = as_int(selected)
        new = (jobs_fingerprint(ctx.store), job_fingerprint(ctx.store, jid))
        if fp and new == fp:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        old_jobs, old_job = fp if fp else ((), ())
        rows = job_rows(ctx) if new[0] != old_jobs else gr.skip()
        detail = job_detail(ctx, jid) if new[1] != old_job or not fp else (gr.skip(), gr.skip())
        return rows, *detail, new

    outputs = [table, summary, log_box, state]
    timer.tick(ui_errors(refresh), [state, job_id], outputs, show_progress="hidden",
               queue=False, api_visibility="private")
    demo.load(ui_errors(refresh), [gr.State(()), job_id], outputs, show_progress="hidden",
              api_visibility="private")

    def select(evt: gr.SelectData):
        return int(evt.row_value[0]) if evt.row_value else gr.skip()

    table.select(select, None, job_id, show_progress="hidden", api_visibility="private")
    job_id.change(ui_errors(lambda fp, j: refresh((fp[0], ("changed",)) if fp else (), j)),
                  [state, job_id], outputs, show_progress="hidden",
                  api_visibility="private")

    @ui_errors
    def do_cancel(selected):
        cancel_job(ctx, _need(selected))
        return ()

    @ui_errors
    def do_resume(selected):
        resume_job(ctx, _need(selected))
        return ()

    @ui_errors
    def ask_delete(selected):
        jid = _need(selected)
        job = ctx.store.get_job(jid)
        if job["status"] in ACTIVE:
            raise gr.Error(f"Job {jid} is {job['status']}: cancel it first, then delete it.")
        return (gr.Row(visible=True),
                f"Delete job **{jid}** ({job['kind']}, {job['status']}) and its folder "
                f"`runs/{jid}/`? This cannot be undone.")

    @ui_errors
    def do_delete(selected):
        jid = _need(selected)
        engine_jobs.delete_job(ctx.store, jid)
        gr.Info(f"Job {jid} deleted.")
        return gr.Row(visible=False), None

    cancel.click(do_cancel, job_id, None, api_name="cancel_job")
    resume.click(do_resume, job_id, None, api_name="resume_job")
    delete.click(ask_delete, job_id, [confirm_row, confirm_text], api_visibility="private")
    confirm.click(do_delete, job_id, [confirm_row, job_id], api_name="delete_job")
    keep.click(lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private")
    return JobsTab(timer=timer, job_id=job_id)


def _need(selected) -> int:
    jid = as_int(selected)
    if jid is None:
        raise gr.Error("Select a job first: click its row in the table.", print_exception=False)
    return jid
