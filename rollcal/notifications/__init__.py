"""Notifications in rollcal and by e-mail: the bell, preferences, digests and the outbox."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Notification pages, the bell's count on every page, and the e-mail delivery job."""
    from rollcal import registry
    from rollcal.jobs.scheduler import EVERY_MINUTE, Job
    from rollcal.notifications import home, services, views
    from rollcal.notifications.services import deliver_queued

    app.register_blueprint(views.bp)
    for panel in home.PANELS:
        registry.add_home_panel(app, panel)
    services.init_app(app)
    registry.add_job(
        app,
        Job(
            "email_delivery",
            "Send e-mail",
            "Sends queued e-mails over SMTP, retrying failures. Without SMTP settings e-mails "
            "stay in the outbox.",
            "Every minute",
            EVERY_MINUTE,
            deliver_queued,
        ),
    )
