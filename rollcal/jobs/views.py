"""The admin's view of the scheduler: each job's last run, next run, last error, run now."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from rollcal.forms import ConfirmForm
from rollcal.jobs import scheduler
from rollcal.permissions import Action, requires
from rollcal.types import utcnow

bp = Blueprint("jobs", __name__)


@bp.get("/admin/jobs")
@login_required
@requires(Action.MANAGE_JOBS)
def index():
    """Every job with its last run, outcome, next run and last error."""
    now = utcnow()
    return render_template(
        "admin/jobs.html",
        jobs=scheduler.overview(now),
        recent=scheduler.recent_runs(),
        last_activity=scheduler.last_activity(),
        seems_stopped=scheduler.scheduler_seems_stopped(now),
        poll_seconds=scheduler.REQUEST_POLL_SECONDS,
        form=ConfirmForm(),
    )


@bp.post("/admin/jobs/<job_id>/run")
@login_required
@requires(Action.MANAGE_JOBS)
def run_now(job_id: str):
    """Ask the scheduler to run a job now (this web worker does not run it)."""
    if ConfirmForm().validate_on_submit():
        job = scheduler.get_job(job_id)
        scheduler.request_run(current_user, job.id)
        flash(
            f"“{job.title}” will run within {scheduler.REQUEST_POLL_SECONDS} seconds, "
            "as soon as the scheduler picks it up. Reload to see the outcome.",
            "success",
        )
    return redirect(url_for("jobs.index"))
