"""The audit trail: who changed what, before and after, and when."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.types import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """One recorded change. ``rollout_id`` and ``vendor_id`` let feeds be scoped and
    filtered without parsing the payload."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[int] = mapped_column()
    rollout_id: Mapped[int | None] = mapped_column(index=True)
    session_id: Mapped[int | None] = mapped_column(index=True)
    vendor_id: Mapped[int | None] = mapped_column(index=True)
    summary: Mapped[str] = mapped_column(sa.Text)
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()


def record(
    actor: User | None,
    action: str,
    target,
    summary: str,
    *,
    before: dict | None = None,
    after: dict | None = None,
    rollout_id: int | None = None,
    session_id: int | None = None,
    vendor_id: int | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction; the caller commits."""
    event = AuditEvent(
        actor=actor,
        action=action,
        object_type=type(target).__name__,
        object_id=target.id,
        summary=summary,
        before=before,
        after=after,
        rollout_id=rollout_id,
        session_id=session_id,
        vendor_id=vendor_id,
        created_at=at or utcnow(),
    )
    db.session.add(event)
    return event


def last_editor(target) -> User | None:
    """Who last changed ``target``, by its audit trail (``None`` if nobody is recorded)."""
    return db.session.scalar(
        sa.select(User)
        .join(AuditEvent, AuditEvent.actor_id == User.id)
        .where(
            AuditEvent.object_type == type(target).__name__,
            AuditEvent.object_id == target.id,
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )


def saved_first(actor: User, target, what: str) -> tuple[str, dict]:
    """Why an edit made from a stale copy of ``target`` is refused, naming who saved
    first (the person themselves, from another tab, is told so), and the facts a
    conflict page shows: ``changed_by``, ``changed_by_you`` and the current ``version``."""
    editor = last_editor(target)
    mine = editor is not None and editor.id == actor.id
    if mine:
        who = "You saved"
    elif editor is not None:
        who = f"{editor.name} saved"
    else:
        who = "Someone else saved"
    where = " in another tab or window" if mine else ""
    message = (
        f"{who} {what}{where} after you opened it. Your entries are kept below: "
        "check them against what is saved now, then save again if they are still needed."
    )
    return message, {
        "version": target.version,
        "changed_by": editor.name if editor else None,
        "changed_by_you": mine,
    }
