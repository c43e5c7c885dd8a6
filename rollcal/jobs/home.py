"""The admin's home panel for the scheduler: jobs whose latest run failed."""

from __future__ import annotations

import sqlalchemy as sa

from rollcal.extensions import db
from rollcal.jobs.models import JobRun, RunOutcome
from rollcal.permissions import Action, may
from rollcal.registry import HomePanel, registry


def failing_jobs(user) -> dict | None:
    """Each job whose latest finished run failed, with its error."""
    if not may(user, Action.MANAGE_JOBS):
        return None
    latest = (
        sa.select(
            JobRun.job_id,
            JobRun.outcome,
            JobRun.finished_at,
            JobRun.error,
            sa.func.row_number()
            .over(
                partition_by=JobRun.job_id, order_by=(JobRun.finished_at.desc(), JobRun.id.desc())
            )
            .label("place"),
        )
        .where(JobRun.outcome.in_([RunOutcome.SUCCEEDED, RunOutcome.FAILED]))
        .subquery()
    )
    failed = db.session.execute(
        sa.select(latest)
        .where(latest.c.place == 1, latest.c.outcome == RunOutcome.FAILED)
        .order_by(latest.c.finished_at.desc())
    ).all()
    jobs = registry().jobs
    return {
        "title": "Jobs failing",
        "failed": [
            (jobs[row.job_id].title if row.job_id in jobs else row.job_id, row) for row in failed
        ],
    }


PANELS = (HomePanel("failing_jobs", "admin/home/failing_jobs.html", failing_jobs, 75),)
