"""Policy rollouts: policies and versions, checklists, readiness and sign-off."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Nothing heavy at import time: importing the package must not load Flask or SQLAlchemy
# (the lean ``rollcal agreement`` imports calibration.agreement_cli through it).
if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register rollout's pages, API, jobs, notification kinds, report command and demo
    data with the app, who may read its reports, what it provides to calibration and the
    events it follows."""
    from rollcal import registry
    from rollcal.permissions import register_report_subject
    from rollcal.reports.commands import report_command
    from rollcal.reports.views import register_report_origin
    from rollout import (
        api,
        demo,
        events,
        home,
        jobs,
        model_gate_views,
        notification_kinds,
        report,
        views,
    )

    events.init_app(app)
    register_report_subject("readiness", report.may_read_readiness)
    register_report_origin("readiness", "rollout.board", "rollout_id", "the rollout")
    app.register_blueprint(views.bp)
    app.register_blueprint(model_gate_views.bp)
    app.register_blueprint(api.bp)
    for job in jobs.JOBS:
        registry.add_job(app, job)
    for kind, info in notification_kinds.NOTIFICATION_KINDS.items():
        registry.add_notification_kind(app, kind, info)
    notification_kinds.subscribe()
    registry.add_report_command(
        app,
        report_command(
            "readiness",
            "rollout",
            report.readiness_report_of,
            "Write the readiness report of a rollout (every site) as a PDF.",
        ),
    )
    for panel in home.PANELS:
        registry.add_home_panel(app, panel)
    registry.add_demo_data(app, demo.seed)
