"""Calibration: sessions, raters, cases, blind labels, agreement results and flags.

The blueprints live in ``views.py`` (pages) and ``api.py`` (JSON), as in ``rollcal``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Nothing heavy at import time: importing the package must not load Flask or SQLAlchemy
# (the lean ``rollcal agreement`` imports calibration.agreement_cli through it).
if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register calibration's pages, API, jobs, notification kinds, commands and demo data
    with the app."""
    from calibration import (
        api,
        demo,
        findings_views,  # noqa: F401  (adds its routes to views.bp)
        home,
        jobs,
        model_api,
        model_views,
        notification_kinds,
        quality,
        quick_demo,
        report,
        review,
        schedule_views,
        scorecard_api,
        scorecard_views,
        views,
    )
    from calibration.agreement_cli import agreement_command
    from calibration.quality_cli import quality_command
    from rollcal import events, registry
    from rollcal.permissions import register_report_subject
    from rollcal.reports.commands import report_command
    from rollcal.reports.views import register_report_origin

    register_report_subject("calibration", report.may_read_calibration)
    register_report_origin("calibration", "calibration.session", "session_id", "the session")
    register_report_subject(review.KIND, review.may_read_review)
    app.register_blueprint(views.bp)
    app.register_blueprint(schedule_views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(scorecard_views.bp)
    app.register_blueprint(scorecard_api.bp)
    app.register_blueprint(model_views.bp)
    app.register_blueprint(model_api.bp)
    app.register_blueprint(model_api.labels_bp)
    app.cli.add_command(agreement_command)
    app.cli.add_command(quality_command)
    for job in jobs.JOBS:
        registry.add_job(app, job)
    for kind, info in notification_kinds.NOTIFICATION_KINDS.items():
        registry.add_notification_kind(app, kind, info)
    notification_kinds.subscribe()
    registry.add_report_command(
        app,
        report_command(
            "calibration",
            "calibration session",
            report.calibration_report_of,
            "Write the calibration report of a session (every vendor) as a PDF.",
        ),
    )
    for panel in home.PANELS:
        registry.add_home_panel(app, panel)
    # Scorecards and drift follow every stored result of a revealed session.
    events.session_results_changed.connect(quality.follow_results)
    registry.add_demo_data(app, demo.seed)
    registry.add_demo_data(app, quick_demo.seed)
