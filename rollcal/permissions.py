"""Who may do what, and what each person may see — answered here and nowhere else.

Two kinds of answer live here:

* ``may(user, action)`` / ``require(user, action)``: role rules for actions.
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

from rollcal.errors import Forbidden, NotFound
from rollcal.extensions import db
from rollcal.org.models import Role, Site, User, Vendor


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
