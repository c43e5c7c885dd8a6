"""Calibration's panels on people's home pages: findings, drift, sessions to finish.

Each builder returns the panel's context, or None when the panel is not for the person;
each reads a bounded number of rows in a fixed number of statements. Results and flags
reach QA leads only from revealed sessions (``visible_flags``), and only their vendor's.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from calibration import queries
from calibration.models import (
    CalibrationSession,
    Case,
    Flag,
    FlagStatus,
    Label,
    QualityPoint,
    Rater,
    RaterKind,
    SessionStatus,
    Severity,
)
from calibration.quality import DRIFT_KINDS
from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.org.models import Vendor, vendor_owners
from rollcal.permissions import Action, bound_to_vendor, may, vendor_scope
from rollcal.registry import HomePanel
from rollcal.types import utcnow

SHOWN = 6
RATERS_SHOWN = 8
TREND_POINTS = 6


def _owned_vendor_ids(user: User) -> sa.Select:
    return sa.select(vendor_owners.c.vendor_id).where(vendor_owners.c.user_id == user.id)


_FLAG_COLUMNS = (
    Flag.id,
    Flag.severity,
    Flag.scope,
    Flag.subject,
    Flag.message,
    Flag.site_id,
    CalibrationSession.title.label("session_title"),
)


def _visible(user: User, *where) -> list:
    """The WHERE clauses of the flags ``user`` may see, and ``where``."""
    return [*queries.visible_flag_rules(user), *where]


def _flag_rows(user: User, where: list, order, limit: int) -> list:
    """Plain rows of the flags ``user`` may see matching ``where``, with the session's
    title and what the flag is about in words."""
    rows = db.session.execute(
        sa.select(*_FLAG_COLUMNS)
        .join(CalibrationSession, CalibrationSession.id == Flag.session_id)
        .where(*_visible(user, *where))
        .order_by(*order)
        .limit(limit)
    ).all()
    return [(row, Flag.title_of(row.scope, row.subject)) for row in rows]


_HIGH_FIRST = sa.case((Flag.severity == Severity.HIGH, 0), else_=1)


def _count(user: User, where: list, *group) -> sa.Select:
    return (
        sa.select(*group, sa.func.count())
        .select_from(Flag)
        .join(CalibrationSession, CalibrationSession.id == Flag.session_id)
        .where(*_visible(user, *where))
    )


def findings_on_my_vendors(user: User) -> dict | None:
    """Open high and medium findings on the vendors a POM owns, counted by cause."""
    if not may(user, Action.OWN_VENDORS):
        return None
    where = [
        Flag.vendor_id.in_(_owned_vendor_ids(user)),
        Flag.status != FlagStatus.RESOLVED,
        Flag.severity.in_([Severity.HIGH, Severity.MEDIUM]),
        Flag.kind.not_in(DRIFT_KINDS.values()),
    ]
    by_kind = db.session.execute(
        _count(user, where, Flag.kind)
        .group_by(Flag.kind)
        .order_by(sa.func.count().desc(), Flag.kind)
    ).all()
    flags = _flag_rows(user, where, (_HIGH_FIRST, Flag.raised_at.desc(), Flag.id.desc()), SHOWN)
    return {
        "title": "Open findings on your vendors",
        "by_kind": by_kind,
        "total": sum(count for _, count in by_kind),
        "flags": flags,
    }


def drift_alerts(user: User) -> dict | None:
    """Sites drifting: a POM's own vendors, or every vendor for a stakeholder."""
    if may(user, Action.OWN_VENDORS):
        title, scope = "Drift alerts on your vendors", Flag.vendor_id.in_(_owned_vendor_ids(user))
    elif may(user, Action.SIGN_OFF):
        title, scope = "Vendors whose quality is drifting", sa.true()
    else:
        return None
    where = [scope, Flag.kind.in_(DRIFT_KINDS.values()), Flag.status != FlagStatus.RESOLVED]
    flags = _flag_rows(user, where, (_HIGH_FIRST, Flag.updated_at.desc(), Flag.id), SHOWN)
    total = db.session.scalar(_count(user, where))
    return {"title": title, "flags": flags, "total": total}


def _progress(session_ids: list[int], user: User | None = None) -> tuple[dict, dict]:
    """Cases per session, and each human rater's labels per session (or the one user's)."""
    if not session_ids:
        return {}, {}
    cases = dict(
        db.session.execute(
            sa.select(Case.session_id, sa.func.count())
            .where(Case.session_id.in_(session_ids))
            .group_by(Case.session_id)
        ).all()
    )
    statement = (
        sa.select(
            Rater.session_id,
            Rater.id,
            User.name,
            Vendor.name.label("vendor"),
            sa.func.count(Label.id).label("labelled"),
        )
        .join(User, User.id == Rater.user_id)
        .outerjoin(Vendor, Vendor.id == Rater.vendor_id)
        .outerjoin(Label, Label.rater_id == Rater.id)
        .where(Rater.session_id.in_(session_ids), Rater.kind == RaterKind.HUMAN)
        .group_by(Rater.session_id, Rater.id, User.name, Vendor.name)
        .order_by(Rater.session_id, sa.func.count(Label.id), User.name)
    )
    if user is not None:
        statement = statement.where(Rater.user_id == user.id)
    raters: dict[int, list] = {}
    for row in db.session.execute(statement):
        raters.setdefault(row.session_id, []).append(row)
    return cases, raters


def sessions_closing(user: User) -> dict | None:
    """A POM's open sessions closing in the next 48 hours, with each rater's progress
    (least done first)."""
    if not (may(user, Action.MANAGE_CALIBRATION) and may(user, Action.OWN_VENDORS)):
        return None
    now = utcnow()
    sessions = db.session.execute(
        sa.select(CalibrationSession.id, CalibrationSession.title, CalibrationSession.closes_at)
        .where(
            CalibrationSession.status == SessionStatus.OPEN,
            CalibrationSession.created_by_id == user.id,
            CalibrationSession.closes_at.is_not(None),
            CalibrationSession.closes_at <= now + timedelta(hours=48),
        )
        .order_by(CalibrationSession.closes_at, CalibrationSession.id)
        .limit(SHOWN)
    ).all()
    cases, raters = _progress([session.id for session in sessions])
    return {
        "title": "Sessions closing in the next 48 hours",
        "sessions": sessions,
        "cases": cases,
        "raters": raters,
        "raters_shown": RATERS_SHOWN,
    }


def sessions_to_label(user: User) -> dict | None:
    """A QA lead's open sessions, soonest closing first, with their own progress."""
    if not may(user, Action.LABEL_CASES):
        return None
    sessions = db.session.execute(
        sa.select(CalibrationSession.id, CalibrationSession.title, CalibrationSession.closes_at)
        .join(Rater, Rater.session_id == CalibrationSession.id)
        .where(CalibrationSession.status == SessionStatus.OPEN, Rater.user_id == user.id)
        .order_by(CalibrationSession.closes_at.is_(None), CalibrationSession.closes_at)
        .limit(SHOWN)
    ).all()
    cases, raters = _progress([session.id for session in sessions], user)
    return {
        "title": "Sessions to label",
        "sessions": sessions,
        "cases": cases,
        "mine": {session_id: rows[0] for session_id, rows in raters.items()},
    }


def my_latest_results(user: User) -> dict | None:
    """A QA lead's accuracy against golden in their latest revealed session, and their
    vendor's accuracy over its latest sessions."""
    if not may(user, Action.LABEL_CASES):
        return None
    latest = db.session.execute(
        sa.select(CalibrationSession.id, CalibrationSession.title, Rater.id.label("rater_id"))
        .join(Rater, Rater.session_id == CalibrationSession.id)
        .where(CalibrationSession.status == SessionStatus.REVEALED, Rater.user_id == user.id)
        .order_by(CalibrationSession.revealed_at.desc(), CalibrationSession.id.desc())
        .limit(1)
    ).first()
    mine = None
    if latest is not None:
        right, golden = db.session.execute(
            sa.select(
                sa.func.sum(sa.case((Label.option_key == Case.golden_label, 1), else_=0)),
                sa.func.count(),
            )
            .join(Case, Case.id == Label.case_id)
            .where(Label.rater_id == latest.rater_id, Case.golden_label.is_not(None))
        ).one()
        mine = {"right": right or 0, "golden": golden}
    trend = []
    if bound_to_vendor(user):
        trend = list(
            reversed(
                db.session.execute(
                    sa.select(
                        QualityPoint.accuracy, QualityPoint.revealed_at, CalibrationSession.title
                    )
                    .join(CalibrationSession, CalibrationSession.id == QualityPoint.session_id)
                    .where(
                        vendor_scope(user, QualityPoint.vendor_id),
                        QualityPoint.site_id.is_(None),
                        QualityPoint.market_id.is_(None),
                        CalibrationSession.status == SessionStatus.REVEALED,
                    )
                    .order_by(QualityPoint.revealed_at.desc())
                    .limit(TREND_POINTS)
                ).all()
            )
        )
    return {"title": "Your latest results", "latest": latest, "mine": mine, "trend": trend}


PANELS = (
    HomePanel("sessions_to_label", "calibration/home/sessions_to_label.html", sessions_to_label, 5),
    HomePanel("sessions_closing", "calibration/home/sessions_closing.html", sessions_closing, 35),
    HomePanel("findings", "calibration/home/findings.html", findings_on_my_vendors, 40),
    HomePanel("drift", "calibration/home/drift.html", drift_alerts, 45),
    HomePanel("my_results", "calibration/home/my_results.html", my_latest_results, 50),
)
