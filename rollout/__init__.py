"""Policy rollouts: policies and versions, checklists, readiness and sign-off."""

from __future__ import annotations

from flask import Flask

from rollcal.accounts.models import Role
from rollcal.notifications.models import DIGEST_HOUR, EVERYONE, MANAGERS, Kind, KindInfo

NOTIFICATION_KINDS: dict[Kind, KindInfo] = {
    Kind.CHECKLIST_DUE: KindInfo(
        "Checklist items due or overdue",
        "Once a day for each item of yours that is due within two days or overdue.",
        frozenset({Role.ADMIN, Role.POM, Role.QA_LEAD}),
    ),
    Kind.ROLLOUT_LIVE: KindInfo(
        "Rollout went live",
        "When a signed-off rollout you own, or signed off, reaches its go-live date.",
        frozenset({Role.ADMIN, Role.POM, Role.STAKEHOLDER}),
    ),
    Kind.SIGNOFF_REQUESTED: KindInfo(
        "Sign-off requested",
        "When a POM asks you to sign off a rollout's readiness report.",
        frozenset({Role.STAKEHOLDER}),
    ),
    Kind.SIGNOFF_DECIDED: KindInfo(
        "Sign-off decided",
        "When a stakeholder approves or rejects a rollout you asked them to sign off.",
        MANAGERS,
    ),
    Kind.DAILY_DIGEST: KindInfo(
        "Daily digest",
        f"An e-mail at {DIGEST_HOUR:02d}:00 your time: for POMs, rollouts at risk, overdue "
        "items and new flags; for everyone, what you chose to get in the digest.",
        EVERYONE - {Role.STAKEHOLDER},
        is_digest=True,
    ),
    Kind.WEEKLY_SUMMARY: KindInfo(
        "Weekly summary",
        f"An e-mail on Mondays at {DIGEST_HOUR:02d}:00 your time: rollouts, readiness, "
        "sign-offs and calibration across the organisation.",
        frozenset({Role.STAKEHOLDER}),
        is_digest=True,
    ),
}


def init_app(app: Flask) -> None:
    """Register rollout's pages, API, jobs, notification kinds, report command and demo
    data with the app, who may read its reports, what it provides to calibration and the
    events it follows."""
    from rollcal import registry
    from rollcal.permissions import register_report_subject
    from rollcal.reports.commands import report_command
    from rollout import api, demo, events, jobs, report, views

    events.init_app(app)
    register_report_subject("readiness", report.may_read_readiness)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    for job in jobs.JOBS:
        registry.add_job(app, job)
    for kind, info in NOTIFICATION_KINDS.items():
        registry.add_notification_kind(app, kind, info)
    registry.add_report_command(
        app,
        report_command(
            "readiness",
            "rollout",
            report.readiness_report_of,
            "Write the readiness report of a rollout (every site) as a PDF.",
        ),
    )
    registry.add_demo_data(app, demo.seed)
