"""Reports: PDF rendering, the queue of renders and its cache, charts, report pages and
downloads."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The pages of rendered reports (status and download), the render worker's command
    and the job that prunes old reports."""
    from rollcal import registry
    from rollcal.jobs.scheduler import Job
    from rollcal.reports import queue, views

    app.register_blueprint(views.bp)
    app.cli.add_command(queue.worker_command)
    registry.add_job(
        app,
        Job(
            "report_retention",
            "Prune old reports",
            "Removes rendered reports older than the retention period "
            "(ROLLCAL_REPORT_RETENTION_DAYS); reports people signed are kept for ever.",
            "Daily at 03:30 UTC",
            {"hour": 3, "minute": 30},
            queue.prune_reports,
        ),
    )
