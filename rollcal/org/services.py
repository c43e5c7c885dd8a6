"""The only code that writes organisation and user data.

Every function takes the acting person, checks the rule, changes state and commits, or
raises a domain error and writes nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from zoneinfo import available_timezones

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from rollcal.errors import NotFound, ValidationError
from rollcal.extensions import db
from rollcal.org.models import ApiToken, LineOfBusiness, Market, Region, Role, Site, User, Vendor
from rollcal.permissions import Action, require
from rollcal.types import utcnow

TOKEN_PREFIX = "rc_"
MIN_PASSWORD_LENGTH = 10
_TIMEZONES = frozenset(available_timezones()) | {"UTC"}


def _unique(model, column, value, current_id: int | None, field: str, what: str) -> None:
    """Refuse a value another row of ``model`` already has (case-insensitively)."""
    clash = db.session.scalar(
        sa.select(model.id).where(sa.func.lower(column) == value.lower(), model.id != current_id)
    )
    if clash is not None:
        raise ValidationError.field(field, f"another {what} already uses “{value}”.")


def _required(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError.field(field, "is required.")
    return value


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
    db.session.commit()
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
    db.session.commit()
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
    owners = _users_with_role(owner_ids or [], Role.POM, "owners")
    vendor = vendor or Vendor()
    vendor.name, vendor.slug, vendor.active, vendor.owners = name, slug, active, owners
    db.session.add(vendor)
    db.session.commit()
    return vendor


def _users_with_role(user_ids: list[int], role: Role, field: str) -> list[User]:
    users = list(db.session.scalars(sa.select(User).where(User.id.in_(user_ids))))
    if len(users) != len(set(user_ids)) or any(user.role != role for user in users):
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
    db.session.commit()
    return site


# People ------------------------------------------------------------------------------


def _check_password(password: str, field: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError.field(field, f"use at least {MIN_PASSWORD_LENGTH} characters.")


def _check_user_fields(
    email: str, role: str, vendor_id: int | None, timezone: str, current_id: int | None
) -> tuple[str, Role, Vendor | None]:
    email = _required(email, "email").lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ValidationError.field("email", "is not an e-mail address.")
    _unique(User, User.email, email, current_id, "email", "person")
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError.field("role", "choose admin, pom, qa_lead or stakeholder.") from None
    vendor = db.session.get(Vendor, vendor_id) if vendor_id else None
    if role == Role.QA_LEAD and vendor is None:
        raise ValidationError.field("vendor", "a QA lead belongs to exactly one vendor.")
    if role != Role.QA_LEAD and vendor is not None:
        raise ValidationError.field("vendor", "only QA leads belong to a vendor.")
    if timezone not in _TIMEZONES:
        raise ValidationError.field("timezone", f"“{timezone}” is not a known time zone.")
    return email, role, vendor


def create_user(
    actor: User | None,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    vendor_id: int | None = None,
    timezone: str = "UTC",
) -> User:
    """Create a person. ``actor`` is None only for the command line, run by an operator."""
    if actor is not None:
        require(actor, Action.MANAGE_USERS)
    name = _required(name, "name")
    email, role, vendor = _check_user_fields(email, role, vendor_id, timezone, None)
    _check_password(password)
    user = User(
        email=email,
        name=name,
        role=role,
        vendor=vendor,
        timezone=timezone,
        password_hash=generate_password_hash(password),
    )
    db.session.add(user)
    db.session.commit()
    return user


def update_user(
    actor: User,
    user: User,
    *,
    email: str,
    name: str,
    role: str,
    vendor_id: int | None,
    timezone: str,
    active: bool,
) -> User:
    """Change a person's details, role, vendor or whether they may sign in."""
    require(actor, Action.MANAGE_USERS)
    name = _required(name, "name")
    email, role, vendor = _check_user_fields(email, role, vendor_id, timezone, user.id)
    if user.id == actor.id and (not active or role != Role.ADMIN):
        raise ValidationError.field("role", "you cannot remove your own admin access.")
    user.email, user.name, user.role, user.vendor = email, name, role, vendor
    user.timezone, user.active = timezone, active
    db.session.commit()
    return user


def update_profile(actor: User, *, name: str, timezone: str) -> User:
    """A person changes their own name and time zone."""
    actor.name = _required(name, "name")
    if timezone not in _TIMEZONES:
        raise ValidationError.field("timezone", f"“{timezone}” is not a known time zone.")
    actor.timezone = timezone
    db.session.commit()
    return actor


def authenticate(email: str, password: str) -> User | None:
    """The active person with this e-mail and password, or None."""
    user = db.session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def change_password(actor: User, *, current: str, new: str) -> None:
    """A person changes their own password, proving they know the current one."""
    if not check_password_hash(actor.password_hash, current or ""):
        raise ValidationError.field("current_password", "is not your current password.")
    _check_password(new, "new_password")
    actor.password_hash = generate_password_hash(new)
    db.session.commit()


def set_password(user: User, password: str) -> None:
    """Set a password from the command line (an operator, not a signed-in person)."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    db.session.commit()


# API tokens --------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "API token") -> tuple[ApiToken, str]:
    """Create a personal API token; returns the row and the token, shown only once."""
    name = _required(name, "name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, name=name, token_hash=_token_digest(token), prefix=token[:10])
    db.session.add(row)
    db.session.commit()
    return row, token


def revoke_token(actor: User, token_id: int) -> ApiToken:
    """Revoke one of the person's own tokens."""
    token = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == actor.id)
    )
    if token is None:
        raise NotFound("Token was not found.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The active person a bearer token belongs to, or None if unknown or revoked."""
    row = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == _token_digest(token or ""))
    )
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user
