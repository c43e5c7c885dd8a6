"""What notifications are stored as: the kinds and deliveries, notifications, each
person's choices, digests and the e-mail outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollcal.accounts.models import Role, User
from rollcal.extensions import db
from rollcal.registry import registry
from rollcal.types import UTCDateTime, enum_type, utcnow

# The hour of the day, in each person's own time zone, that digests go out after.
DIGEST_HOUR = 8

EVERYONE = frozenset(Role)
MANAGERS = frozenset({Role.ADMIN, Role.POM})


@dataclass(frozen=True)
class KindInfo:
    """What a kind of notification is about, for the preferences page."""

    title: str
    description: str
    roles: frozenset[Role]
    is_digest: bool = False


class Kind(StrEnum):
    """The kinds of notification; a person chooses how to get each one.

    The values are what the ``notification_kind`` column accepts (a migration changes
    them); what each kind is about and who gets it is registered by the domain that sends
    it (``rollcal.registry.add_notification_kind``).
    """

    CHECKLIST_DUE = "checklist_due"
    ITEM_COMMENTED = "item_commented"
    MENTIONED = "mentioned"
    ITEM_ASSIGNED = "item_assigned"
    GO_LIVE_MOVED = "go_live_moved"
    SESSION_OPENED = "session_opened"
    SESSION_CLOSING = "session_closing"
    SESSION_REVEALED = "session_revealed"
    SESSION_CLOSED = "session_closed"
    SESSION_PROBLEM = "session_problem"
    FLAG_RAISED = "flag_raised"
    ROLLOUT_LIVE = "rollout_live"
    SIGNOFF_REQUESTED = "signoff_requested"
    SIGNOFF_DECIDED = "signoff_decided"
    DAILY_DIGEST = "daily_digest"
    WEEKLY_SUMMARY = "weekly_summary"

    @property
    def info(self) -> KindInfo:
        """Title, description and who gets this kind, as its domain registered them."""
        return registry().notification_kinds[self]


class Delivery(StrEnum):
    """How a person gets one kind of notification."""

    IMMEDIATELY = "immediately"
    DIGEST = "digest"
    OFF = "off"

    def title_for(self, kind: Kind) -> str:
        """The choice as the preferences page words it for ``kind``."""
        if kind.info.is_digest:
            return "Send it" if self == Delivery.IMMEDIATELY else "Off"
        return {
            "immediately": "In rollcal and by e-mail at once",
            "digest": "In rollcal, and by e-mail in the daily digest",
            "off": "Off",
        }[self.value]


def choices_for(kind: Kind) -> list[Delivery]:
    """The deliveries a person may choose for ``kind`` (a digest is never in a digest)."""
    if kind.info.is_digest:
        return [Delivery.IMMEDIATELY, Delivery.OFF]
    return list(Delivery)


class EmailStatus(StrEnum):
    """Where an e-mail is: waiting to be sent, sent, given up on, or kept (no SMTP)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"

    @property
    def title(self) -> str:
        """The status as an admin reads it."""
        return {
            "queued": "Queued",
            "sent": "Sent",
            "failed": "Failed",
            "held": "In the outbox (SMTP not configured)",
        }[self.value]


class DigestKind(StrEnum):
    """The periodic e-mails."""

    DAILY = "daily"
    WEEKLY = "weekly"


class EmailMessage(db.Model):
    """One e-mail in the outbox, with both bodies as they were rendered."""

    __tablename__ = "email_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(sa.String(254))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[EmailStatus] = mapped_column(
        enum_type(EmailStatus, "email_status"), default=EmailStatus.QUEUED, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    user: Mapped[User | None] = relationship()


class Notification(db.Model):
    """Something a person should know, shown under the bell until they read it.

    ``delivery`` is how it was delivered when made: ``immediately`` (an e-mail was
    queued with it) or ``digest`` (it waits for the next daily digest, which sets
    ``digested_at``). ``entries`` are the things a grouped notification lists (a day's
    checklist reminders), each a mapping with a ``title`` and a ``link`` and what the
    page shows beside them; a notification about one thing has none.
    """

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[Kind] = mapped_column(enum_type(Kind, "notification_kind"))
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str | None] = mapped_column(sa.String(500))
    entries: Mapped[list[dict] | None] = mapped_column(sa.JSON)
    delivery: Mapped[Delivery] = mapped_column(enum_type(Delivery, "delivery"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("email_messages.id", ondelete="SET NULL")
    )

    user: Mapped[User] = relationship()

    @property
    def is_read(self) -> bool:
        """Whether the person has read it."""
        return self.read_at is not None


class NotificationPreference(db.Model):
    """A person's choice for one kind; without a row the kind is delivered immediately."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[Kind] = mapped_column(enum_type(Kind, "notification_kind"), primary_key=True)
    delivery: Mapped[Delivery] = mapped_column(enum_type(Delivery, "delivery"))


class Digest(db.Model):
    """A daily digest or weekly summary made for one person and period.

    The unique (person, kind, period) row is what makes a digest go out once: it is
    inserted before the digest is built, in the same transaction as its e-mail. An empty
    digest is recorded too (without an e-mail), so the period is never looked at again.
    """

    __tablename__ = "digests"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "kind", "period", name="uq_digests_user_kind_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[DigestKind] = mapped_column(enum_type(DigestKind, "digest_kind"))
    period: Mapped[date] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    email_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("email_messages.id", ondelete="SET NULL")
    )

    email: Mapped[EmailMessage | None] = relationship()
