"""A reusable "which job, how far, stop/continue" panel for the tabs that start jobs.

The panel holds a job picker (jobs of its kinds, newest first), the status line with a progress
bar and ETA, Cancel / Resume buttons (enabled only when they can act) and the tab's notice line.
The owning tab adds its own views and refreshes them from the same fingerprint-guarded tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from core.app import jobs
from nasdet_gui.common import (
    Ctx,
    as_int,
    cancel_job,
    job_buttons,
    job_line,
    make_notice,
    need,
    progress_html,
    resume_job,
    wire,
)


@dataclass
class JobPanel:
    kinds: tuple[str, ...]
    picker: gr.Dropdown
    status: gr.Markdown
    bar: gr.HTML
    cancel: gr.Button
    resume: gr.Button
    notice: gr.HTML

    def outputs(self) -> list:
        """Components `render(ctx, job_id)` fills, in order."""
        return [self.picker, self.status, self.bar, self.cancel, self.resume]

    def render(self, ctx: Ctx, job_id: int | None) -> tuple:
        """Fresh picker choices (keeping the selection), status line, bar and buttons."""
        job = jobs.find_job(ctx.store, job_id)
        choices = jobs.job_choices(ctx.store, self.kinds)
        return (
            gr.Dropdown(choices=choices, value=job["id"] if job else None),
            job_line(job),
            progress_html(job),
            *job_buttons(job),
        )


def build_panel(ctx: Ctx, kinds: tuple[str, ...], label: str, stacked: bool = False) -> JobPanel:
    """Lay out the panel; Cancel/Resume act on the picked job. `stacked`: the buttons under the
    picker (for a narrow column), else beside it."""
    with gr.Row(elem_classes="action-row"):
        picker = gr.Dropdown(
            label=label,
            choices=jobs.job_choices(ctx.store, kinds),
            value=None,
            scale=4,
            allow_custom_value=False,
            elem_classes="job-picker",
        )
        if not stacked:
            cancel, resume = _buttons()
    if stacked:
        with gr.Row(elem_classes="action-row"):
            cancel, resume = _buttons()
    status = gr.Markdown(elem_classes="job-line")
    bar = gr.HTML(progress_html(None))
    notice = make_notice()
    panel = JobPanel(kinds, picker, status, bar, cancel, resume, notice)

    def act(action):
        def handler(job):
            jid = need(as_int(job), "Pick a job first.")
            said = action(ctx, jid)
            return (*panel.render(ctx, jid)[1:], said)

        return handler

    wire(cancel.click, act(cancel_job), picker, panel.outputs()[1:], notice)
    wire(resume.click, act(resume_job), picker, panel.outputs()[1:], notice)
    return panel


def _buttons() -> tuple[gr.Button, gr.Button]:
    return (
        gr.Button("Cancel", scale=1, min_width=90, interactive=False, size="md"),
        gr.Button("Resume", scale=1, min_width=90, interactive=False, size="md"),
    )
