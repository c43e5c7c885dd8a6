"""Calibration: sessions, raters, cases, blind labels, agreement results and flags.

The blueprints live in ``views.py`` (pages) and ``api.py`` (JSON), as in ``rollcal``.

Importing the package imports nothing of the web application: ``rollcal agreement``
(``calibration.agreement_cli``) and the pure engine (``calibration.agreement``) run
without Flask or SQLAlchemy, so what the web app needs is imported in the functions below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from rollcal.notifications.models import Kind, KindInfo


def notification_kinds() -> dict[Kind, KindInfo]:
    """The notification kinds calibration sends, with who may receive them."""
    from rollcal.accounts.models import Role
    from rollcal.notifications.models import MANAGERS, Kind, KindInfo

    return {
        Kind.SESSION_OPENED: KindInfo(
            "Calibration session opened",
            "When a session you label in opens.",
            frozenset({Role.QA_LEAD}),
        ),
        Kind.SESSION_CLOSING: KindInfo(
            "Cases left to label",
            "24 hours before a session closes, if you still have cases to label.",
            frozenset({Role.QA_LEAD}),
        ),
        Kind.SESSION_REVEALED: KindInfo(
            "Calibration results revealed",
            "When you can see your labels against the golden answers and the group.",
            frozenset({Role.QA_LEAD}),
        ),
        Kind.SESSION_CLOSED: KindInfo(
            "Calibration session closed",
            "When a session you run closes by itself: its results and the flags raised.",
            MANAGERS,
        ),
        Kind.SESSION_PROBLEM: KindInfo(
            "A session could not open",
            "When a session you run reaches its start time but cannot open, and why.",
            MANAGERS,
        ),
    }


def init_app(app: Flask) -> None:
    """Register calibration's pages, API, jobs, notification kinds, commands and demo data
    with the app."""
    from calibration import api, demo, jobs, quick_demo, report, views
    from calibration.agreement_cli import agreement_command
    from rollcal import registry
    from rollcal.permissions import register_report_subject
    from rollcal.reports.commands import report_command

    register_report_subject("calibration", report.may_read_calibration)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.cli.add_command(agreement_command)
    for job in jobs.JOBS:
        registry.add_job(app, job)
    for kind, info in notification_kinds().items():
        registry.add_notification_kind(app, kind, info)
    registry.add_report_command(
        app,
        report_command(
            "calibration",
            "calibration session",
            report.calibration_report_of,
            "Write the calibration report of a session (every vendor) as a PDF.",
        ),
    )
    registry.add_demo_data(app, demo.seed)
    registry.add_demo_data(app, quick_demo.seed)
