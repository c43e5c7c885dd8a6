"""Findings as work: an owner and a due date, action items, and causes that recur.

A flag is triaged open → acknowledged → resolved (``services.triage_flag``); while it is
open someone owns it, by a date, with action items ticked off as they are done. Resolving
records the root cause from ``RootCause``; the same cause resolved earlier at the same
vendor is a recurrence, and the flag's page links to those earlier findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from calibration.models import ActionStatus, Flag, FlagAction, FlagStatus, RootCause
from rollcal.accounts.models import User
from rollcal.audit import record
from rollcal.errors import Conflict, Forbidden, NotFound, ValidationError
from rollcal.extensions import db
from rollcal.permissions import Action, flag_owners, may_work_on_flag, require
from rollcal.types import utcnow

ACTION_TEXT = 500
RECURRENCES_SHOWN = 5


def _check_version(flag: Flag, version: int | None) -> None:
    if version is not None and version != flag.version:
        raise Conflict(
            "Someone else updated this flag while you were editing it. Your changes were not "
            "saved; here is the flag as it is now.",
            current={"status": flag.status.value, "version": flag.version},
        )


def owner_choices(flag: Flag) -> list[tuple[int, str]]:
    """(id, name) of the people who may own ``flag``, by name."""
    rows = db.session.execute(
        sa.select(User.id, User.name).where(flag_owners(flag.vendor_id)).order_by(User.name)
    )
    return [(row.id, row.name) for row in rows]


def assign_flag(
    actor: User,
    flag: Flag,
    *,
    owner_id: int | None,
    due_date: date | None,
    version: int | None = None,
    today: date | None = None,
) -> Flag:
    """Give a finding an owner and a due date (either may be cleared)."""
    require(actor, Action.MANAGE_CALIBRATION)
    _check_version(flag, version)
    if flag.status == FlagStatus.RESOLVED:
        raise Conflict("This flag is resolved; reopen it to give it an owner.")
    owner = None
    if owner_id is not None:
        owner = db.session.scalar(
            sa.select(User).where(User.id == owner_id, flag_owners(flag.vendor_id))
        )
        if owner is None:
            raise ValidationError.field(
                "owner", "choose someone who runs calibration or a QA lead of this vendor."
            )
    if due_date is not None and due_date < (today or utcnow().date()):
        raise ValidationError.field("due_date", "must be today or later.")
    before = {"owner": flag.owner.name if flag.owner else None, "due_date": str(flag.due_date)}
    flag.owner, flag.due_date, flag.updated_at = owner, due_date, utcnow()
    record(
        actor,
        "calibration.flag_assigned",
        flag,
        f"Flag “{flag.scope_title}” owned by {owner.name if owner else 'nobody'}"
        + (f", due {due_date.isoformat()}" if due_date else ""),
        before=before,
        after={"owner": owner.name if owner else None, "due_date": str(due_date)},
        session_id=flag.session_id,
        vendor_id=flag.vendor_id,
    )
    _flush()
    return flag


def add_action(actor: User, flag: Flag, text: str) -> FlagAction:
    """Add an action item to a finding that is not resolved."""
    if not may_work_on_flag(actor, flag):
        raise Forbidden()
    text = (text or "").strip()
    if not text:
        raise ValidationError.field("text", "say what will be done.")
    if len(text) > ACTION_TEXT:
        raise ValidationError.field("text", f"must be at most {ACTION_TEXT} characters.")
    if flag.status == FlagStatus.RESOLVED:
        raise Conflict("This flag is resolved; reopen it to add an action.")
    item = FlagAction(flag=flag, text=text, created_by_id=actor.id)
    db.session.add(item)
    flag.updated_at = utcnow()
    record(
        actor,
        "calibration.flag_action_added",
        flag,
        f"Action on “{flag.scope_title}”: {text[:120]}",
        after={"text": text},
        session_id=flag.session_id,
        vendor_id=flag.vendor_id,
    )
    _flush()
    return item


def set_action_status(actor: User, item: FlagAction, status: str) -> FlagAction:
    """Tick an action item off (``done``) or open it again."""
    if not may_work_on_flag(actor, item.flag):
        raise Forbidden()
    try:
        new = ActionStatus(status)
    except ValueError:
        raise ValidationError.field("status", "choose open or done.") from None
    if item.status == new:
        return item
    item.status = new
    item.done_by_id, item.done_at = (
        (actor.id, utcnow()) if new == ActionStatus.DONE else (None, None)
    )
    word = "done" if new == ActionStatus.DONE else "reopened"
    record(
        actor,
        f"calibration.flag_action_{word}",
        item.flag,
        f"Action on “{item.flag.scope_title}” {word}: {item.text[:120]}",
        session_id=item.flag.session_id,
        vendor_id=item.flag.vendor_id,
    )
    _flush()
    return item


def get_action(flag: Flag, action_id: int) -> FlagAction:
    item = db.session.get(FlagAction, action_id)
    if item is None or item.flag_id != flag.id:
        raise NotFound("That action was not found.")
    return item


@dataclass
class Recurrence:
    """Earlier findings at the same vendor resolved with the same root cause."""

    cause: RootCause
    vendor: str
    flags: list[Flag]
    total: int


def recurrence_of(flag: Flag, cause: RootCause | None = None) -> Recurrence | None:
    """Whether ``flag``'s root cause (or ``cause``, when deciding one) recurs at its
    vendor: the earlier findings resolved with it there, newest first."""
    cause = cause or flag.cause_category
    if cause is None or flag.vendor_id is None:
        return None
    earlier = sa.select(Flag).where(
        Flag.vendor_id == flag.vendor_id,
        Flag.cause_category == cause,
        Flag.status == FlagStatus.RESOLVED,
        Flag.id != flag.id,
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(earlier.subquery()))
    if not total:
        return None
    flags = db.session.scalars(
        earlier.order_by(Flag.resolved_at.desc(), Flag.id.desc()).limit(RECURRENCES_SHOWN)
    ).all()
    return Recurrence(cause, flag.vendor.name if flag.vendor else "", list(flags), total)


def _flush() -> None:
    from calibration.services import _flush as flush

    flush("flag")
