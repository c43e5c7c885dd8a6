"""What calibration tells people: its kinds of notification, who gets each and why, and
the subscribers that tell of high flags (connected by the domain's ``init_app``; the
services only send signals)."""

from __future__ import annotations

import sqlalchemy as sa

from rollcal import events, permissions
from rollcal.accounts.models import Role, User
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.notifications.models import MANAGERS, Kind, KindInfo
from rollcal.notifications.services import notify_each, path_for

NOTIFICATION_KINDS: dict[Kind, KindInfo] = {
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
    Kind.FLAG_RAISED: KindInfo(
        "High flags",
        "When results raise a new high-severity flag: in a session you run, or about "
        "your vendor once the session's results are revealed.",
        frozenset({Role.ADMIN, Role.POM, Role.QA_LEAD}),
    ),
    Kind.SESSION_PROBLEM: KindInfo(
        "A session could not open",
        "When a session you run reaches its start time but cannot open, and why.",
        MANAGERS,
    ),
}


def _vendor_leads(flag) -> list[User]:
    """The active QA leads of the flag's vendor who may open it now (after reveal only)."""
    from calibration import queries

    if flag.vendor_id is None:
        return []
    leads = db.session.scalars(
        sa.select(User)
        .where(permissions.vendor_members([flag.vendor_id]), User.active)
        .order_by(User.id)
    ).all()
    visible = []
    for lead in leads:
        try:
            queries.get_flag(lead, flag.id)
        except NotFound:
            continue
        visible.append(lead)
    return visible


def _tell_of_flag(session, flag, people) -> None:
    notify_each(
        people,
        Kind.FLAG_RAISED,
        # One per flag and person: raised before reveal, a vendor's QA leads hear of it
        # at reveal; the session's POM heard when it was raised.
        about=f"flag:{flag.id}",
        title=f"High flag: {flag.scope_title} in {session.title}",
        body=flag.message,
        link=path_for("calibration.flag", flag_id=flag.id),
    )


def tell_of_new_flags(session, flags=(), **_facts) -> None:
    """A new high flag tells the session's POM at once, and the QA leads of the vendor it
    is about only once the results are revealed (before, it would leak them)."""
    from calibration.models import Severity

    for flag in sorted(flags, key=lambda flag: flag.id):
        if flag.severity != Severity.HIGH:
            continue
        people = [session.created_by]
        if session.is_revealed:
            people += _vendor_leads(flag)
        _tell_of_flag(session, flag, people)


def tell_vendors_at_reveal(session, **_facts) -> None:
    """Revealing results tells each vendor's QA leads of the open high flags about their
    vendor (each flag once, however often results are computed again)."""
    from calibration.models import Flag, FlagStatus, Severity

    if not session.is_revealed:
        return
    flags = db.session.scalars(
        sa.select(Flag)
        .where(
            Flag.session_id == session.id,
            Flag.severity == Severity.HIGH,
            Flag.status != FlagStatus.RESOLVED,
            Flag.vendor_id.is_not(None),
        )
        .order_by(Flag.id)
    ).all()
    for flag in flags:
        _tell_of_flag(session, flag, _vendor_leads(flag))


def subscribe() -> None:
    """Tell people what the calibration services signal (called by ``calibration.init_app``)."""
    events.flags_raised.connect(tell_of_new_flags)
    events.session_results_changed.connect(tell_vendors_at_reveal)
