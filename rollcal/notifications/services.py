"""Notifications: in-app (the bell), e-mail through an outbox, and each person's choices.

Every notification carries a ``key`` naming what it tells and whom (``checklist_due:
2026-03-02:u7``, a person's reminder for their day). The database keeps keys unique and
notifications are inserted with ``INSERT … ON CONFLICT DO NOTHING``, so a job that runs
twice, or in two scheduler processes at once, tells a person once: the second insert
waits for the first transaction and then does nothing. An e-mail is queued in the same
transaction as the notification (or digest) it carries, so it exists exactly when that
does.

E-mail leaves through the outbox. ``queue_email`` writes an ``EmailMessage``; the
``email_delivery`` job claims queued messages one at a time (``FOR UPDATE SKIP LOCKED``
on PostgreSQL) and sends them over SMTP. Without SMTP settings a message is kept as
``held`` for an admin to read in the app, and nothing is sent.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from flask_login import current_user
from sqlalchemy.dialects import postgresql, sqlite

from rollcal import uow
from rollcal.accounts.models import User
from rollcal.errors import NotFound, ValidationError
from rollcal.extensions import db
from rollcal.jobs.scheduler import claim_rows
from rollcal.notifications import mail
from rollcal.notifications.models import (
    Delivery,
    Digest,
    DigestKind,
    EmailMessage,
    EmailStatus,
    Kind,
    Notification,
    NotificationPreference,
    choices_for,
)
from rollcal.permissions import holds_one_of
from rollcal.registry import registry
from rollcal.types import utcnow

log = logging.getLogger("rollcal.notifications")

# A failing message is retried after 2, 4, 8 and 16 minutes, then left as failed.
MAX_ATTEMPTS = 5
# Inserting once ----------------------------------------------------------------------


def insert_once(model: type[db.Model], values: dict, unique: list[str]):
    """Insert a row unless one with the same ``unique`` columns exists; return the new
    object, or None if the row was there already.

    On PostgreSQL a concurrent insert of the same values waits for the other transaction
    and then does nothing, so exactly one of two racing schedulers gets the object.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model).values(**values).on_conflict_do_nothing(index_elements=unique)
    ).returning(model)
    return db.session.scalars(statement).first()


# Links and times ---------------------------------------------------------------------


def path_for(endpoint: str, **values) -> str:
    """The path of a page, built without a request (jobs have none)."""
    adapter = current_app.url_map.bind("localhost")
    return adapter.build(endpoint, values)


def absolute_url(path: str) -> str:
    """A link for an e-mail, on ``ROLLCAL_BASE_URL``."""
    return current_app.config["ROLLCAL_BASE_URL"].rstrip("/") + path


def local_time(value: datetime | None, zone: str) -> str:
    """A time as the person in ``zone`` reads it, through the same ``localtime`` filter
    the pages use."""
    return current_app.jinja_env.filters["localtime"](value, zone=zone)


# Preferences -------------------------------------------------------------------------


def kinds_for(user: User) -> list[Kind]:
    """The registered kinds a person's role may receive, in the order the preferences page
    lists."""
    registered = registry().notification_kinds
    return [
        kind for kind in Kind if kind in registered and holds_one_of(user, registered[kind].roles)
    ]


def preferences_for(user: User) -> dict[Kind, Delivery]:
    """How the person gets each kind of notification their role may receive."""
    chosen = dict(
        db.session.execute(
            sa.select(NotificationPreference.kind, NotificationPreference.delivery).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {kind: chosen.get(kind, Delivery.IMMEDIATELY) for kind in kinds_for(user)}


def delivery_for(user: User, kind: Kind) -> Delivery:
    """How the person gets ``kind``: their choice, or immediately."""
    chosen = db.session.scalar(
        sa.select(NotificationPreference.delivery).where(
            NotificationPreference.user_id == user.id, NotificationPreference.kind == kind
        )
    )
    return chosen or Delivery.IMMEDIATELY


def save_preferences(user: User, choices: dict[str, str]) -> dict[Kind, Delivery]:
    """Store the person's choice for every kind their role receives; each must be given
    and allowed for its kind, or nothing is saved."""
    kinds = kinds_for(user)
    parsed: dict[Kind, Delivery] = {}
    for kind in kinds:
        raw = choices.get(kind.value)
        try:
            delivery = Delivery(raw)
        except ValueError:
            raise ValidationError.field(kind.value, "choose how to get these.") from None
        if delivery not in choices_for(kind):
            raise ValidationError.field(kind.value, "that choice is not available here.")
        parsed[kind] = delivery
    existing = {
        preference.kind: preference
        for preference in db.session.scalars(
            sa.select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for kind, delivery in parsed.items():
        if kind in existing:
            existing[kind].delivery = delivery
        else:
            db.session.add(NotificationPreference(user_id=user.id, kind=kind, delivery=delivery))
    db.session.flush()
    return parsed


# Making notifications and e-mails -----------------------------------------------------


def notification_key(kind: Kind, about: str, user: User) -> str:
    """The unique key of one notification: what it tells, about what, to whom."""
    return f"{kind.value}:{about}:u{user.id}"


def already_notified(keys: list[str]) -> set[str]:
    """Which of ``keys`` exist already: lets frequent jobs skip known work cheaply (the
    unique key, not this check, is what keeps two schedulers from doubling)."""
    if not keys:
        return set()
    return set(db.session.scalars(sa.select(Notification.key).where(Notification.key.in_(keys))))


def notify(
    user: User,
    kind: Kind,
    *,
    about: str,
    title: str,
    body: str = "",
    link: str | None = None,
    entries: list[dict] | None = None,
    email: bool = True,
) -> Notification | None:
    """Tell ``user`` something once; return the notification, or None if they turned
    this kind off or were told already (``about`` names the subject, e.g. an item and a
    day). ``entries`` are the things a grouped notification lists, each with a ``title``
    and a ``link``. With ``email`` and the person's choice "immediately", the e-mail is
    queued in the same transaction. The caller commits."""
    if not user.active:
        return None
    delivery = delivery_for(user, kind)
    if delivery == Delivery.OFF:
        return None
    notification = insert_once(
        Notification,
        {
            "user_id": user.id,
            "kind": kind,
            "key": notification_key(kind, about, user),
            "title": title[:300],
            "body": body,
            "link": link,
            "entries": entries,
            "delivery": delivery,
            "created_at": utcnow(),
        },
        ["key"],
    )
    if notification is not None and email and delivery == Delivery.IMMEDIATELY:
        message = queue_email(
            user,
            kind.value,
            subject=title,
            template="notification",
            notifications=[notification],
        )
        notification.email_id = message.id
    return notification


def queue_email(user: User, kind: str, *, subject: str, template: str, **context) -> EmailMessage:
    """Render ``email/<template>.txt`` and ``.html`` for ``user`` and put the e-mail in the
    outbox: queued for SMTP, or held when SMTP is not configured. The caller commits."""
    context = {
        "recipient": user,
        "zone": user.timezone,
        "url": absolute_url,
        "subject": subject,
        "preferences_url": absolute_url(path_for("notifications.preferences")),
        **context,
    }
    text, html = mail.render(template, context)
    configured = mail.smtp_configured(current_app.config)
    message = EmailMessage(
        user_id=user.id,
        to_address=user.email,
        kind=kind,
        subject=subject[:300],
        text_body=text,
        html_body=html,
        status=EmailStatus.QUEUED if configured else EmailStatus.HELD,
        created_at=utcnow(),
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    return message


# Sending ----------------------------------------------------------------------------


def deliver_queued() -> str:
    """Send queued e-mails over SMTP, one claimed row at a time (the ``email_delivery``
    job). A message is locked while it is sent and marked sent in the same transaction,
    so two schedulers never send it twice; a failure is retried later with backoff."""
    config = current_app.config
    if not mail.smtp_configured(config):
        return "SMTP is not configured; e-mails are kept in the outbox"
    sent = 0
    problem = None
    with mail.Connection(config) as connection:
        while problem is None:
            now = utcnow()
            message = db.session.scalars(
                claim_rows(
                    sa.select(EmailMessage)
                    .where(
                        EmailMessage.status == EmailStatus.QUEUED,
                        EmailMessage.next_attempt_at <= now,
                    )
                    .order_by(EmailMessage.id)
                    .limit(1)
                )
            ).first()
            if message is None:
                break
            message.attempts += 1
            mime = mail.build_message(
                sender=config["ROLLCAL_MAIL_FROM"],
                to=message.to_address,
                subject=message.subject,
                text=message.text_body,
                html=message.html_body,
            )
            # Lets an operator match a delivered e-mail to its row in the outbox.
            mime["X-Rollcal-Email"] = str(message.id)
            try:
                connection.send(mime)
            except (OSError, smtplib.SMTPException) as error:
                # Stop at the first failure: the server is probably down, and the other
                # messages are better left for the next run than failed one by one.
                problem = f"{type(error).__name__}: {error}"
                message.last_error = problem
                if message.attempts >= MAX_ATTEMPTS:
                    message.status = EmailStatus.FAILED
                else:
                    message.next_attempt_at = now + timedelta(minutes=2**message.attempts)
                log.warning("E-mail %s to %s failed: %s", message.id, message.to_address, problem)
            else:
                message.status, message.sent_at, message.last_error = EmailStatus.SENT, now, None
                sent += 1
            # Each e-mail is its own unit of work: marked sent while still locked.
            uow.commit()
    summary = f"sent {sent} e-mail{'s' if sent != 1 else ''}"
    if problem:
        summary += f"; stopped after a failure: {problem}"
    return summary


# Reading ----------------------------------------------------------------------------


def notify_each(
    people, kind: Kind, *, about: str, leave_out: User | None = None, **message
) -> list[Notification]:
    """Tell each of ``people`` (once each, whatever the repeats) the same thing, leaving
    out ``leave_out`` (the person who did it is not told of their own action). Ordered by
    id, so two callers racing on the same keys wait on each other instead of deadlocking."""
    unique = {person.id: person for person in people if person is not None}
    if leave_out is not None:
        unique.pop(leave_out.id, None)
    told = []
    for person_id in sorted(unique):
        notification = notify(unique[person_id], kind, about=about, **message)
        if notification is not None:
            told.append(notification)
    return told


def notifications_of(user: User) -> sa.Select:
    """The person's notifications, unread first, newest first."""
    return (
        sa.select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.read_at.is_not(None), Notification.created_at.desc())
    )


def unread_count(user: User) -> int:
    """How many of the person's notifications are unread (the bell's number)."""
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.user_id == user.id, Notification.read_at.is_(None)
        )
    )


def get_notification(user: User, notification_id: int) -> Notification:
    """One of the person's own notifications; anyone else's is ``NotFound``."""
    notification = db.session.scalar(
        sa.select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user.id
        )
    )
    if notification is None:
        raise NotFound("Notification was not found.")
    return notification


def mark_read(user: User, notification: Notification) -> Notification:
    """Mark one of the person's notifications read (reading it twice changes nothing)."""
    if notification.user_id != user.id:
        raise NotFound("Notification was not found.")
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the person read; return how many."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.flush()
    return result.rowcount


def pending_digest(user: User) -> list[Notification]:
    """Notifications waiting for the person's next daily digest, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(
                Notification.user_id == user.id,
                Notification.delivery == Delivery.DIGEST,
                Notification.digested_at.is_(None),
            )
            .order_by(Notification.created_at)
        )
    )


def outbox() -> sa.Select:
    """Every e-mail, newest first (the admin's outbox)."""
    return sa.select(EmailMessage).order_by(EmailMessage.id.desc())


def get_email(email_id: int) -> EmailMessage:
    """One e-mail of the outbox, or ``NotFound``."""
    message = db.session.get(EmailMessage, email_id)
    if message is None:
        raise NotFound("E-mail was not found.")
    return message


# Digests ----------------------------------------------------------------------------


def claim_digest(user: User, kind: DigestKind, period: date) -> Digest | None:
    """Record that ``user``'s digest of ``kind`` for ``period`` is being made; None if it
    was made already (by this or another scheduler). The caller builds it and commits."""
    return insert_once(
        Digest,
        {"user_id": user.id, "kind": kind, "period": period, "created_at": utcnow()},
        ["user_id", "kind", "period"],
    )


def previous_digest(user: User, kind: DigestKind, before: date) -> Digest | None:
    """The person's last digest of ``kind`` before ``period``, if any."""
    return db.session.scalar(
        sa.select(Digest)
        .where(Digest.user_id == user.id, Digest.kind == kind, Digest.period < before)
        .order_by(Digest.period.desc())
        .limit(1)
    )


def init_app(app: Flask) -> None:
    """Give every page the signed-in person's unread count, for the bell."""

    @app.context_processor
    def bell():
        def unread_notifications() -> int:
            if not current_user.is_authenticated:
                return 0
            return unread_count(current_user)

        return {"unread_notifications": unread_notifications}
