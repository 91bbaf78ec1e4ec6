"""A reusable "which job, how far, stop/continue" panel for the tabs that start jobs.

The panel holds a job picker (jobs of one kind, newest first), the status line with a progress
bar and ETA, and Cancel / Resume buttons. The owning tab adds its own views and refreshes them
from the same fingerprint-guarded timer tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from nasdet_gui.common import (Ctx, as_int, cancel_job, job_choices, job_line, progress_html,
                               resume_job, ui_errors)


@dataclass
class JobPanel:
    kinds: tuple[str, ...]
    picker: gr.Dropdown
    status: gr.Markdown
    bar: gr.HTML
    cancel: gr.Button
    resume: gr.Button

    def outputs(self) -> list:
        """Components `render(ctx, job_id)` fills, in order."""
        return [self.picker, self.status, self.bar]

    def render(self, ctx: Ctx, job_id: int | None) -> tuple:
        """Fresh picker choices (keeping the selection), status line and bar."""
        job = ctx.store.get_job(job_id) if job_id else None
        choices = job_choices(ctx.store, self.kinds)
        return (gr.Dropdown(choices=choices, value=job_id),
                job_line(job), progress_html(job))


def build_panel(ctx: Ctx, kinds: tuple[str, ...], label: str) -> JobPanel:
    """Lay out the panel; Cancel/Resume act on the picked job."""
    with gr.Row(elem_classes="action-row"):
        picker = gr.Dropdown(label=label, choices=job_choices(ctx.store, kinds), value=None,
                             scale=3, allow_custom_value=False)
        cancel = gr.Button("Cancel", scale=1)
        resume = gr.Button("Resume", scale=1)
    status = gr.Markdown(elem_classes="job-line")
    bar = gr.HTML(progress_html(None))
    panel = JobPanel(kinds, picker, status, bar, cancel, resume)

    @ui_errors
    def do_cancel(job):
        cancel_job(ctx, _need(job))

    @ui_errors
    def do_resume(job):
        resume_job(ctx, _need(job))

    cancel.click(do_cancel, picker, None, api_visibility="private")
    resume.click(do_resume, picker, None, api_visibility="private")
    return panel


def _need(job) -> int:
    jid = as_int(job)
    if jid is None:
        raise gr.Error("Pick a job first.", print_exception=False)
    return jid
