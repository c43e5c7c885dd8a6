"""Who may do what, and what each person may see — answered here and nowhere else.

Two kinds of answer live here:

* ``may(user, action)`` / ``require(user, action)``: role rules for actions.
* object rules (``may_read_report``) that ask of one object what the scoped queries
  ask of many.
* scoped queries (``visible_sites`` …) and ``vendor_scope``: every listing and every
  lookup by id goes through them, so a QA lead's view of the data is limited where it
  is queried, not remembered page by page. An object outside a person's scope is
  reported as missing (404), never as forbidden, so ids do not leak.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from rollcal.accounts.models import Role, User
from rollcal.errors import Forbidden, NotFound
from rollcal.extensions import db
from rollcal.org.models import Site, Vendor


class Action(StrEnum):
    """Things people do; each maps to the roles allowed to do it."""

    VIEW_ORGANISATION = "view_organisation"
    MANAGE_ORGANISATION = "manage_organisation"
    MANAGE_USERS = "manage_users"
    MANAGE_ROLLOUTS = "manage_rollouts"
    VIEW_POLICIES = "view_policies"
    EDIT_VENDOR_ITEMS = "edit_vendor_items"
    MANAGE_TEMPLATES = "manage_templates"
    MANAGE_CALIBRATION = "manage_calibration"
    LABEL_CASES = "label_cases"
    VIEW_RESULTS = "view_results"
    SIGN_OFF = "sign_off"
    MANAGE_JOBS = "manage_jobs"
    READ_OUTBOX = "read_outbox"


EVERYONE = frozenset(Role)

ROLE_ACTIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW_ORGANISATION: EVERYONE,
    Action.MANAGE_ORGANISATION: frozenset({Role.ADMIN}),
    Action.MANAGE_USERS: frozenset({Role.ADMIN}),
    Action.MANAGE_ROLLOUTS: frozenset({Role.ADMIN, Role.POM}),
    Action.VIEW_POLICIES: frozenset({Role.ADMIN, Role.POM, Role.STAKEHOLDER}),
    Action.EDIT_VENDOR_ITEMS: frozenset({Role.ADMIN, Role.POM, Role.QA_LEAD}),
    Action.MANAGE_TEMPLATES: frozenset({Role.ADMIN}),
    Action.MANAGE_CALIBRATION: frozenset({Role.ADMIN, Role.POM}),
    Action.LABEL_CASES: frozenset({Role.QA_LEAD}),
    Action.VIEW_RESULTS: EVERYONE,
    Action.SIGN_OFF: frozenset({Role.STAKEHOLDER}),
    Action.MANAGE_JOBS: frozenset({Role.ADMIN}),
    Action.READ_OUTBOX: frozenset({Role.ADMIN}),
}


def may(user: User, action: Action) -> bool:
    """Whether the person's role allows the action at all."""
    return bool(user and user.is_authenticated and user.role in ROLE_ACTIONS[action])


def require(user: User, action: Action) -> None:
    """Raise ``Forbidden`` unless the person's role allows the action."""
    if not may(user, action):
        raise Forbidden()


def requires(action: Action) -> Callable:
    """View decorator: the signed-in person must be allowed ``action`` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not may(current_user, action):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def vendor_scope(user: User, vendor_id_column) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting rows to what the person may see by vendor.

    QA leads see their own vendor only; everyone else sees every vendor.
    """
    if user.role == Role.QA_LEAD:
        return vendor_id_column == user.vendor_id
    return sa.true()


def visible_vendors(user: User) -> sa.Select:
    """Vendors the person may see, by name."""
    return sa.select(Vendor).where(vendor_scope(user, Vendor.id)).order_by(Vendor.name)


def visible_sites(user: User) -> sa.Select:
    """Sites the person may see, by vendor and name."""
    return (
        sa.select(Site)
        .join(Site.vendor)
        .where(vendor_scope(user, Site.vendor_id))
        .order_by(Vendor.name, Site.name)
    )


def get_visible(user: User, statement: sa.Select, object_id: int, what: str = "That"):
    """One object of a scoped statement by id, or ``NotFound`` if outside the scope."""
    entity = statement.column_descriptions[0]["entity"]
    found = db.session.scalars(statement.where(entity.id == object_id)).first()
    if found is None:
        raise NotFound(f"{what} was not found.")
    return found


def visible_site(user: User, site_id: int) -> Site:
    """A site the person may see, or ``NotFound``."""
    return get_visible(user, visible_sites(user), site_id, "Site")


def visible_vendor(user: User, vendor_id: int) -> Vendor:
    """A vendor the person may see, or ``NotFound``."""
    return get_visible(user, visible_vendors(user), vendor_id, "Vendor")


# Reports ------------------------------------------------------------------------------

# kind of report -> whether a person may see its subject (a rollout, a session's results).
# Each domain registers the rule for its own reports.
ReportSubjectRule = Callable[[User, int], bool]
REPORT_SUBJECT_RULES: dict[str, ReportSubjectRule] = {}


def register_report_subject(kind: str, rule: ReportSubjectRule) -> None:
    """Say who may read reports of ``kind``: ``rule(user, subject_id)``."""
    REPORT_SUBJECT_RULES[kind] = rule


def report_audience(user: User | None) -> str:
    """Which copy of a report a person reads: their vendor's for QA leads, else the whole
    (``None``, the frozen copy, is the whole too)."""
    if user is not None and user.role == Role.QA_LEAD:
        return f"vendor:{user.vendor_id}"
    return "all"


def may_read_report(user: User, report) -> bool:
    """Whether the person may read this rendered report: it is their audience's copy and
    they may, now, see what it is about. Asked on every page, download and verification
    of a report, since both answers can change after it was made (a session not yet
    revealed, a vendor leaving a rollout)."""
    if not (user and user.is_authenticated) or report.audience != report_audience(user):
        return False
    rule = REPORT_SUBJECT_RULES.get(report.kind)
    return rule is not None and rule(user, report.subject_id)
