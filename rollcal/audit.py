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
