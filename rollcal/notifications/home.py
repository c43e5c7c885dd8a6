"""The admin's home panel for e-mail: messages given up on."""

from __future__ import annotations

import sqlalchemy as sa

from rollcal.extensions import db
from rollcal.notifications.models import EmailMessage, EmailStatus
from rollcal.permissions import Action, may
from rollcal.registry import HomePanel

SHOWN = 5


def failing_emails(user) -> dict | None:
    """E-mails that failed for good, newest first, and how many there are."""
    if not may(user, Action.READ_OUTBOX):
        return None
    failed = EmailMessage.status == EmailStatus.FAILED
    total = db.session.scalar(sa.select(sa.func.count()).select_from(EmailMessage).where(failed))
    messages = db.session.execute(
        sa.select(
            EmailMessage.id,
            EmailMessage.to_address,
            EmailMessage.subject,
            EmailMessage.last_error,
            EmailMessage.created_at,
        )
        .where(failed)
        .order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
        .limit(SHOWN)
    ).all()
    return {"title": "E-mails failing", "messages": messages, "total": total}


PANELS = (HomePanel("failing_emails", "admin/home/failing_emails.html", failing_emails, 80),)
