"""The only code that writes organisation data: markets, lines of business, vendors, sites.

Every function takes the acting person, checks the rule, changes state and commits, or
raises a domain error and writes nothing.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from rollcal.accounts.models import Role, User
from rollcal.errors import ValidationError
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Market, Region, Site, Vendor
from rollcal.permissions import Action, require, role_may
from rollcal.validation import required as _required
from rollcal.validation import unique as _unique


def slugify(name: str) -> str:
    """A lower-case, hyphenated form of a name, for e-mail domains and URLs."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# Organisation ------------------------------------------------------------------------


def save_market(
    actor: User,
    *,
    code: str,
    name: str,
    region: str,
    market: Market | None = None,
    active: bool = True,
) -> Market:
    """Create a market, or update ``market``."""
    require(actor, Action.MANAGE_ORGANISATION)
    code = _required(code, "code").upper()
    if not re.fullmatch(r"[A-Z]{2,8}", code):
        raise ValidationError.field("code", "use 2 to 8 letters, such as ID or GB.")
    name = _required(name, "name")
    if region not in {r.value for r in Region}:
        raise ValidationError.field("region", "choose APAC, EMEA or AMER.")
    _unique(Market, Market.code, code, market.id if market else None, "code", "market")
    market = market or Market()
    market.code, market.name, market.region, market.active = code, name, Region(region), active
    db.session.add(market)
    db.session.flush()
    return market


def save_line_of_business(
    actor: User, *, name: str, line: LineOfBusiness | None = None, active: bool = True
) -> LineOfBusiness:
    """Create a line of business, or update ``line``."""
    require(actor, Action.MANAGE_ORGANISATION)
    name = _required(name, "name")
    _unique(
        LineOfBusiness,
        LineOfBusiness.name,
        name,
        line.id if line else None,
        "name",
        "line of business",
    )
    line = line or LineOfBusiness()
    line.name, line.active = name, active
    db.session.add(line)
    db.session.flush()
    return line


def save_vendor(
    actor: User,
    *,
    name: str,
    owner_ids: list[int] | None = None,
    vendor: Vendor | None = None,
    active: bool = True,
) -> Vendor:
    """Create a vendor, or update ``vendor``; owners must be POMs."""
    require(actor, Action.MANAGE_ORGANISATION)
    name = _required(name, "name")
    current_id = vendor.id if vendor else None
    _unique(Vendor, Vendor.name, name, current_id, "name", "vendor")
    slug = slugify(name)
    if not slug:
        raise ValidationError.field("name", "needs at least one letter or digit.")
    _unique(Vendor, Vendor.slug, slug, current_id, "name", "vendor (by its short name)")
    owners = _people_who_may(owner_ids or [], Action.OWN_VENDORS, "owners", Role.POM)
    vendor = vendor or Vendor()
    vendor.name, vendor.slug, vendor.active, vendor.owners = name, slug, active, owners
    db.session.add(vendor)
    db.session.flush()
    return vendor


def _people_who_may(user_ids: list[int], action: Action, field: str, role: Role) -> list[User]:
    users = list(db.session.scalars(sa.select(User).where(User.id.in_(user_ids))))
    if len(users) != len(set(user_ids)) or not all(role_may(user.role, action) for user in users):
        raise ValidationError.field(field, f"choose people whose role is {role.title}.")
    return users


def save_site(
    actor: User,
    *,
    vendor_id: int,
    name: str,
    city: str,
    market_ids: list[int],
    line_ids: list[int],
    site: Site | None = None,
    active: bool = True,
) -> Site:
    """Create a site of a vendor, or update ``site``."""
    require(actor, Action.MANAGE_ORGANISATION)
    vendor = db.session.get(Vendor, vendor_id)
    if vendor is None:
        raise ValidationError.field("vendor", "choose a vendor.")
    name = _required(name, "name")
    city = _required(city, "city")
    clash = db.session.scalar(
        sa.select(Site.id).where(
            Site.vendor_id == vendor.id,
            sa.func.lower(Site.name) == name.lower(),
            Site.id != (site.id if site else None),
        )
    )
    if clash is not None:
        raise ValidationError.field("name", f"{vendor.name} already has a site called “{name}”.")
    markets = list(db.session.scalars(sa.select(Market).where(Market.id.in_(market_ids))))
    if not markets:
        raise ValidationError.field("markets", "choose at least one market the site serves.")
    lines = list(
        db.session.scalars(sa.select(LineOfBusiness).where(LineOfBusiness.id.in_(line_ids)))
    )
    if not lines:
        raise ValidationError.field("lines_of_business", "choose at least one line of business.")
    site = site or Site()
    site.vendor, site.name, site.city, site.active = vendor, name, city, active
    site.markets, site.lines_of_business = markets, lines
    db.session.add(site)
    db.session.flush()
    return site
