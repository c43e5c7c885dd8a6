"""The scheduler: the jobs it runs, their runs, and the admins' jobs page."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The jobs page and the scheduler's own housekeeping job."""
    from rollcal import registry
    from rollcal.jobs import home, models, views  # noqa: F401
    from rollcal.jobs.scheduler import KEEP_RUNS, Job, prune_runs

    app.register_blueprint(views.bp)
    for panel in home.PANELS:
        registry.add_home_panel(app, panel)
    registry.add_job(
        app,
        Job(
            "housekeeping",
            "Housekeeping",
            f"Removes records of job runs older than {KEEP_RUNS.days} days.",
            "Daily at 03:00 UTC",
            {"hour": 3, "minute": 0},
            prune_runs,
        ),
    )
