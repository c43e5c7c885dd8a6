"""The admin's home panel for the organisation: vendors nobody can act for."""

from __future__ import annotations

import sqlalchemy as sa

from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.org.models import Vendor, vendor_owners
from rollcal.permissions import Action, may, vendor_members
from rollcal.registry import HomePanel

SHOWN = 8


def people_gaps(user: User) -> dict | None:
    """Active vendors with no active QA lead (nobody can label or close their items) or no
    owning POM (nobody gets their digest)."""
    if not may(user, Action.MANAGE_USERS):
        return None
    has_lead = sa.exists(
        sa.select(User.id).where(vendor_members([Vendor.id]), User.active.is_(True))
    )
    has_owner = sa.exists(
        sa.select(vendor_owners.c.user_id)
        .join(User, User.id == vendor_owners.c.user_id)
        .where(vendor_owners.c.vendor_id == Vendor.id, User.active.is_(True))
    )
    missing = sa.and_(Vendor.active.is_(True), sa.or_(~has_lead, ~has_owner))
    gaps = db.session.execute(
        sa.select(Vendor.id, Vendor.name, has_lead.label("has_lead"), has_owner.label("has_owner"))
        .where(missing)
        .order_by(Vendor.name)
        .limit(SHOWN)
    ).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Vendor).where(missing))
    return {"title": "People missing", "gaps": gaps, "total": total}


PANELS = (HomePanel("people_gaps", "org/home/people_gaps.html", people_gaps, 70),)
