"""The "Jobs" tab: every job with status, device, progress, times and log; cancel, resume, delete.

The table and the selected job's log are rebuilt from the store (core.app.jobs, read only)
on page load and on a gr.Timer tick when their fingerprint changed; nothing is cached per
user outside the session's gr.State. Cancel / Resume / Delete are enabled only when they can act
on the selected job; what they did, or why not, shows in the tab's notice line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr

from core.app import jobs
from nasdet_gui.common import (
    ACTIVE,
    Ctx,
    as_int,
    cancel_job,
    fmt_duration,
    fmt_time,
    job_buttons,
    job_line,
    make_notice,
    need,
    resume_job,
    ui_errors,
    wire,
)
from nasdet_gui.config import TICK_S

HEADERS = ["ID", "Kind", "Status", "Progress", "Device", "Message", "Created", "Duration", "Error"]
COLUMN_WIDTHS = ["5%", "11%", "11%", "8%", "7%", "22%", "11%", "8%", "17%"]
LOG_LINES = 400
NO_JOB = "Select a job first: click its row in the table."


@dataclass
class JobsTab:
    timer: gr.Timer
    job_id: gr.Textbox


@dataclass
class _Views:
    table: gr.Dataframe
    job_id: gr.Textbox
    cancel: gr.Button
    resume: gr.Button
    delete: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button
    keep: gr.Button
    summary: gr.Markdown
    log_box: gr.Textbox
    notice: gr.HTML

    def detail_outputs(self) -> list:
        return [self.summary, self.log_box, self.cancel, self.resume, self.delete]


def job_rows(ctx: Ctx, limit: int = 200) -> list[list]:
    """The table rows, newest job first."""
    rows = []
    for j in jobs.list_jobs(ctx.store, limit=limit):
        end = j["finished_at"] or (time.time() if j["status"] == "running" else None)
        duration = fmt_duration(end - j["started_at"]) if j["started_at"] and end else ""
        rows.append(
            [
                j["id"],
                jobs.kind_words(j["kind"]),
                j["status"],
                f"{100 * (j['progress'] or 0):.0f}%",
                j["device"] or j["requested_device"],
                j["message"] or "",
                fmt_time(j["created_at"]),
                duration,
                (j["error"] or "")[:120],
            ]
        )
    return rows


def job_log(ctx: Ctx, job_id: int) -> str:
    """The job's events as log lines (newest last)."""
    lines = [
        f"{fmt_time(e['ts'])} {e['level'].upper():7s} {e['message']}"
        for e in ctx.store.events(job_id, limit=LOG_LINES)
    ]
    return "\n".join(lines) or "(no log lines yet)"


def job_detail(ctx: Ctx, job_id: int | None) -> tuple:
    """(summary markdown, log text, Cancel, Resume, Delete buttons) of one job."""
    job = jobs.find_job(ctx.store, job_id)
    if job is None:
        return (
            "Select a job in the table (click its row) to see its log.",
            "",
            *job_buttons(None),
            gr.Button(interactive=False),
        )
    spec = ", ".join(
        f"{k}={v}" for k, v in (job["spec"] or {}).items() if not isinstance(v, (dict, list))
    )
    times = (
        f"created {fmt_time(job['created_at'])}, started {fmt_time(job['started_at'])}, "
        f"finished {fmt_time(job['finished_at'])}, attempts {job['attempts']}"
    )
    return (
        f"{job_line(job)}\n\n`{spec}`\n\n{times}",
        job_log(ctx, job["id"]),
        *job_buttons(job),
        gr.Button(interactive=job["status"] not in ACTIVE),
    )


def _layout() -> _Views:
    gr.Markdown(
        "Every job, newest first. Click a row to see its log; jobs run in a background "
        "worker, so closing the browser does not stop them.",
        elem_classes="tab-intro",
    )
    table = gr.Dataframe(
        headers=HEADERS,
        value=[],
        interactive=False,
        max_height=360,
        wrap=True,
        elem_id="jobs-table",
        column_widths=COLUMN_WIDTHS,
    )
    with gr.Row(elem_classes="action-row"):
        job_id = gr.Textbox(
            label="Selected job",
            placeholder="click a row in the table",
            scale=2,
            elem_id="jobs-selected",
        )
        cancel = gr.Button("Cancel", scale=1, interactive=False, elem_id="jobs-cancel")
        resume = gr.Button("Resume", scale=1, interactive=False, elem_id="jobs-resume")
        delete = gr.Button(
            "Delete...", variant="stop", scale=1, interactive=False, elem_id="jobs-delete"
        )
    notice = make_notice("jobs-notice")
    with gr.Row(visible=False, elem_classes="confirm-row") as confirm_row:
        confirm_text = gr.Markdown()
        confirm = gr.Button("Yes, delete it and its files", variant="stop")
        keep = gr.Button("No, keep it")
    summary = gr.Markdown(elem_id="jobs-summary")
    log_box = gr.Textbox(
        label="Log", lines=12, max_lines=24, interactive=False, autoscroll=True, elem_id="jobs-log"
    )
    return _Views(
        table,
        job_id,
        cancel,
        resume,
        delete,
        confirm_row,
        confirm_text,
        confirm,
        keep,
        summary,
        log_box,
        notice,
    )


def _wire_refresh(ctx: Ctx, demo: gr.Blocks, v: _Views) -> gr.Timer:
    """Table and detail follow the store (fingerprint-guarded) on load, tick and selection."""
    state = gr.State(())  # fingerprints of what this browser shows
    timer = gr.Timer(TICK_S, active=False)

    def refresh(fp: tuple, selected, force_detail: bool = False):
        jid = as_int(selected)
        new = (jobs.jobs_fingerprint(ctx.store), jobs.job_fingerprint(ctx.store, jid))
        old_jobs, old_job = fp if fp else ((), ())
        rows = job_rows(ctx) if new[0] != old_jobs or not fp else gr.skip()
        same = bool(fp) and new[1] == old_job and not force_detail
        detail = (gr.skip(),) * 5 if same else job_detail(ctx, jid)
        return rows, *detail, new, None

    outputs = [v.table, *v.detail_outputs(), state]
    wire(
        timer.tick,
        refresh,
        [state, v.job_id],
        outputs,
        v.notice,
        show_progress="hidden",
        queue=False,
    )
    wire(demo.load, lambda j: refresh((), j), v.job_id, outputs, v.notice, show_progress="hidden")

    def select(evt: gr.SelectData):
        return str(int(evt.row_value[0])) if evt.row_value else gr.skip()

    v.table.select(select, None, v.job_id, show_progress="hidden", api_visibility="private")
    wire(
        v.job_id.change,
        lambda fp, j: refresh(fp, j, force_detail=True),
        [state, v.job_id],
        outputs,
        v.notice,
        show_progress="hidden",
    )
    return timer


def _wire_actions(ctx: Ctx, v: _Views) -> None:
    """Cancel, Resume, Delete (with a confirmation row); also named API endpoints."""

    def act(action):
        def on_click(selected):
            jid = need(as_int(selected), NO_JOB)
            said = action(ctx, jid)
            return (*job_detail(ctx, jid), said)

        return on_click

    def ask_delete(selected):
        jid = need(as_int(selected), NO_JOB)
        job = jobs.get_job(ctx.store, jid)
        if job["status"] in ACTIVE:
            raise gr.Error(f"Job {jid} is {job['status']}: cancel it first, then delete it.")
        return (
            gr.Row(visible=True),
            f"Delete job **{jid}** ({jobs.kind_words(job['kind'])}, {job['status']}) "
            f"and its folder `runs/{jid}/`? This cannot be undone.",
            "",
        )

    def do_delete(selected):
        jid = need(as_int(selected), NO_JOB)
        jobs.delete(ctx.store, jid)
        return gr.Row(visible=False), None, f"Job {jid} deleted."

    wire(v.cancel.click, act(cancel_job), v.job_id, v.detail_outputs(), v.notice)
    wire(v.resume.click, act(resume_job), v.job_id, v.detail_outputs(), v.notice)
    wire(v.delete.click, ask_delete, v.job_id, [v.confirm_row, v.confirm_text], v.notice)
    wire(v.confirm.click, do_delete, v.job_id, [v.confirm_row, v.job_id], v.notice)
    v.keep.click(lambda: gr.Row(visible=False), None, v.confirm_row, api_visibility="private")
    _api(ctx)


def _api(ctx: Ctx) -> None:
    """/cancel_job, /resume_job, /delete_job for API clients (errors as AppError)."""

    @ui_errors
    def cancel_job_api(job_id: int) -> str:
        """Cancel a queued (at once) or running (at its next step) job."""
        return cancel_job(ctx, need(as_int(job_id), "give a job id"))

    @ui_errors
    def resume_job_api(job_id: int) -> str:
        """Re-queue an interrupted, failed or cancelled job (continues from its checkpoint)."""
        return resume_job(ctx, need(as_int(job_id), "give a job id"))

    @ui_errors
    def delete_job_api(job_id: int) -> str:
        """Delete a finished job, its rows and its runs/<id>/ folder."""
        jid = need(as_int(job_id), "give a job id")
        jobs.delete(ctx.store, jid)
        return f"Job {jid} deleted."

    gr.api(cancel_job_api, api_name="cancel_job")
    gr.api(resume_job_api, api_name="resume_job")
    gr.api(delete_job_api, api_name="delete_job")


def build(ctx: Ctx, demo: gr.Blocks) -> JobsTab:
    """Lay out the Jobs tab inside the current Blocks context and wire its events."""
    views = _layout()
    timer = _wire_refresh(ctx, demo, views)
    _wire_actions(ctx, views)
    return JobsTab(timer=timer, job_id=views.job_id)
