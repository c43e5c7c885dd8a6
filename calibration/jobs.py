"""What the scheduler runs for calibration: session deadlines and reminders to raters.

Each function runs inside an app context (``rollcal.jobs.scheduler`` wraps it), returns a
one-line summary, and is safe to run twice or in two schedulers at once: sessions are
claimed one at a time with ``FOR UPDATE SKIP LOCKED`` before they change state, and
every notification has a unique key (see ``rollcal.notifications``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from calibration import queries, services
from calibration.models import CalibrationSession, Flag, Rater, RaterKind, SessionStatus
from rollcal import uow
from rollcal.accounts.models import User
from rollcal.errors import DomainError
from rollcal.extensions import db
from rollcal.jobs.scheduler import EVERY_MINUTE, EVERY_QUARTER, Job, claim_rows
from rollcal.notifications.models import Kind
from rollcal.notifications.services import (
    already_notified,
    local_time,
    notification_key,
    notify,
    path_for,
)
from rollcal.types import utcnow

log = logging.getLogger("rollcal.jobs")

REMIND_BEFORE_CLOSE = timedelta(hours=24)
# Opened and revealed sessions are announced to raters if that happened this recently:
# it covers a scheduler down for a weekend, keeps the every-minute scan small, and does
# not announce old news to raters when a scheduler first starts.
ANNOUNCE_WITHIN = timedelta(days=2)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def session_deadlines() -> str:
    """Open sessions whose start time has passed, close those whose end time has passed
    (telling their POM), and tell raters about sessions opened and revealed."""
    now = utcnow()
    opened, problems = _open_due(now)
    closed = _close_due(now)
    announced = _announce(now)
    parts = [f"opened {opened}", f"closed {closed}", f"{_plural(announced, 'notification')}"]
    if problems:
        parts.append(f"could not open {problems}")
    return ", ".join(parts)


def _next_due(statement: sa.Select, skipped: set[int]) -> CalibrationSession | None:
    """The next session the statement finds, locked for this transaction."""
    if skipped:
        statement = statement.where(CalibrationSession.id.not_in(skipped))
    return db.session.scalars(
        claim_rows(statement.order_by(CalibrationSession.id).limit(1))
    ).first()


def _open_due(now: datetime) -> tuple[int, int]:
    """Open draft sessions whose start time has passed; a session that cannot open (no
    cases, too few raters) stays a draft and its POM is told why, once."""
    opened = problems = 0
    skipped: set[int] = set()
    due = sa.select(CalibrationSession).where(
        CalibrationSession.status == SessionStatus.DRAFT,
        CalibrationSession.opens_at <= now,
        sa.or_(CalibrationSession.closes_at.is_(None), CalibrationSession.closes_at > now),
    )
    while (session := _next_due(due, skipped)) is not None:
        session_id, title, pom = session.id, session.title, session.created_by
        try:
            services.open_session(None, session)
        except DomainError as error:
            uow.rollback()
            skipped.add(session_id)
            problems += 1
            log.warning("Session %s could not open: %s", session_id, error.message)
            field = (getattr(error, "errors", None) or [{}])[0].get("field", "session")
            if pom is not None:
                notify(
                    pom,
                    Kind.SESSION_PROBLEM,
                    about=f"{session_id}:{field}",
                    title=f"“{title}” could not open",
                    body=f"It reached its start time but stays a draft: {error.message}",
                    link=path_for("calibration.session", session_id=session_id),
                )
                uow.commit()
            continue
        opened += 1
        log.info("Opened session %s", session_id)
    return opened, problems


def _close_due(now: datetime) -> int:
    """Close open sessions whose end time has passed: ``close_session`` freezes labels,
    stores the results and raises flags; the POM is told what came out."""
    closed = 0
    skipped: set[int] = set()
    due = sa.select(CalibrationSession).where(
        CalibrationSession.status == SessionStatus.OPEN,
        CalibrationSession.closes_at <= now,
        # Archived sessions are read-only: they wait, open, until unarchived.
        CalibrationSession.archived_at.is_(None),
    )
    while (session := _next_due(due, skipped)) is not None:
        session_id = session.id
        try:
            services.close_session(None, session)
        except DomainError as error:
            uow.rollback()
            skipped.add(session_id)
            log.warning("Session %s could not close: %s", session_id, error.message)
            continue
        closed += 1
        log.info("Closed session %s", session_id)
        _tell_pom_closed(session)
        uow.commit()
    return closed


def _tell_pom_closed(session: CalibrationSession) -> None:
    pom = session.created_by
    if pom is None:
        return
    snapshot = queries.latest_snapshot(session)
    flags = db.session.execute(
        sa.select(Flag.severity, sa.func.count(Flag.id))
        .where(Flag.session_id == session.id)
        .group_by(Flag.severity)
    ).all()
    total = sum(count for _, count in flags)
    high = sum(count for severity, count in flags if severity == "high")
    facts = [f"{_plural(snapshot.n_labels if snapshot else 0, 'label')} frozen."]
    alpha = queries.headline(snapshot).get("alpha") if snapshot else None
    if alpha is not None:
        facts.append(f"Krippendorff's alpha {alpha:.3f}.")
    elif snapshot is not None and snapshot.problem:
        facts.append(snapshot.problem)
    if total:
        facts.append(f"{_plural(total, 'flag')} raised ({high} high).")
    else:
        facts.append("No flags raised.")
    facts.append("Review the results, then reveal them to the raters.")
    notify(
        pom,
        Kind.SESSION_CLOSED,
        about=str(session.id),
        title=f"“{session.title}” closed: {_plural(total, 'flag')}",
        body=" ".join(facts),
        link=path_for("calibration.results", session_id=session.id),
    )


def _recent_sessions(status: SessionStatus, column, since: datetime, *where) -> list:
    return list(
        db.session.scalars(
            sa.select(CalibrationSession)
            .where(CalibrationSession.status == status, column >= since, *where)
            .options(
                selectinload(CalibrationSession.raters).selectinload(Rater.user),
            )
            .order_by(CalibrationSession.id)
        )
    )


def _human_users(session: CalibrationSession) -> list[User]:
    users = [r.user for r in session.raters if r.kind == RaterKind.HUMAN and r.user is not None]
    return sorted(users, key=lambda user: user.id)


def _announce(now: datetime) -> int:
    """Tell raters that a session opened (by the scheduler or a POM) and, later, that its
    results are revealed — once each, whoever changed the session."""
    sent = 0
    since = now - ANNOUNCE_WITHIN
    # A session past its closing time is about to close (perhaps in another scheduler
    # right now): announcing that it is open would send raters to a closed door.
    labelling = sa.or_(CalibrationSession.closes_at.is_(None), CalibrationSession.closes_at > now)
    for session in _recent_sessions(
        SessionStatus.OPEN, CalibrationSession.opened_at, since, labelling
    ):
        sent += _tell_raters(session, Kind.SESSION_OPENED, _opened_message)
    for session in _recent_sessions(SessionStatus.REVEALED, CalibrationSession.revealed_at, since):
        sent += _tell_raters(session, Kind.SESSION_REVEALED, _revealed_message)
    return sent


def _tell_raters(session: CalibrationSession, kind: Kind, message) -> int:
    users = _human_users(session)
    about = str(session.id)
    known = already_notified([notification_key(kind, about, user) for user in users])
    sent = 0
    for user in users:
        if notification_key(kind, about, user) in known:
            continue
        title, body, link = message(session, user)
        if notify(user, kind, about=about, title=title, body=body, link=link):
            sent += 1
    uow.commit()
    return sent


def _opened_message(session: CalibrationSession, user: User) -> tuple[str, str, str]:
    cases = queries.case_count(session)
    closes = (
        f"It closes {local_time(session.closes_at, user.timezone)}."
        if session.closes_at
        else "It has no closing time yet."
    )
    return (
        f"Calibration open: “{session.title}”",
        f"{_plural(cases, 'case')} to label, blind. {closes}",
        path_for("calibration.label_next", session_id=session.id),
    )


def _revealed_message(session: CalibrationSession, user: User) -> tuple[str, str, str]:
    return (
        f"Results revealed: “{session.title}”",
        "See your labels against the golden answers and the group, and the flags raised.",
        path_for("calibration.results", session_id=session.id),
    )


def remind_raters() -> str:
    """Within 24 hours of a session closing, remind each rater who has cases left to
    label, once per session."""
    now = utcnow()
    sessions = db.session.scalars(
        sa.select(CalibrationSession)
        .where(
            CalibrationSession.status == SessionStatus.OPEN,
            CalibrationSession.archived_at.is_(None),
            CalibrationSession.closes_at > now,
            CalibrationSession.closes_at <= now + REMIND_BEFORE_CLOSE,
        )
        .options(selectinload(CalibrationSession.raters).selectinload(Rater.user))
        .order_by(CalibrationSession.id)
    ).all()
    reminded = 0
    for session in sessions:
        cases = queries.case_count(session)
        labelled = queries.label_counts(session)
        about = str(session.id)
        behind = [
            (rater.user, cases - labelled.get(rater.id, 0))
            for rater in session.raters
            if rater.kind == RaterKind.HUMAN
            and rater.user is not None
            and labelled.get(rater.id, 0) < cases
        ]
        behind.sort(key=lambda pair: pair[0].id)
        known = already_notified(
            [notification_key(Kind.SESSION_CLOSING, about, user) for user, _ in behind]
        )
        for user, left in behind:
            if notification_key(Kind.SESSION_CLOSING, about, user) in known:
                continue
            closes = local_time(session.closes_at, user.timezone)
            if notify(
                user,
                Kind.SESSION_CLOSING,
                about=about,
                title=f"{_plural(left, 'case')} left to label in “{session.title}”",
                body=f"The session closes {closes}; labels cannot change after that.",
                link=path_for("calibration.label_next", session_id=session.id),
            ):
                reminded += 1
        uow.commit()
    return f"reminded {_plural(reminded, 'rater')} in {_plural(len(sessions), 'closing session')}"


def calibration_rounds() -> str:
    """Create the rounds of recurring schedules that open within a day, as drafts; the
    session deadline job opens them at their start and tells their raters."""
    from calibration import schedules

    created, already = schedules.run_due_rounds()
    summary = f"created {_plural(created, 'round')}"
    if already:
        summary += f", {already} already made or skipped"
    return summary


# What the scheduler runs of this module (registered by the domain's ``init_app``).
JOBS = (
    Job(
        "session_deadlines",
        "Open and close calibration sessions",
        "Opens sessions whose start time has passed and closes those whose end time has "
        "passed (results and flags computed), telling the POM; tells raters when a session "
        "opens and when its results are revealed.",
        "Every minute",
        EVERY_MINUTE,
        session_deadlines,
    ),
    Job(
        "calibration_rounds",
        "Create recurring calibration rounds",
        "A day before a schedule's next round opens, creates it as a draft session with "
        "its raters and cases (once, however many schedulers run).",
        "Every 15 minutes",
        EVERY_QUARTER,
        calibration_rounds,
    ),
    Job(
        "session_reminders",
        "Remind raters before a session closes",
        "24 hours before a session closes, reminds each rater who still has cases to label.",
        "Every 15 minutes",
        EVERY_QUARTER,
        remind_raters,
    ),
)
