"""The only code that writes people, passwords and API tokens (with
``rollcal.accounts.links``, which writes invitations and password resets).

Every function takes the acting person, checks the rule, changes state and flushes, or
raises a domain error and writes nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from zoneinfo import available_timezones

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from rollcal.accounts.models import AccountLink, ApiToken, LinkPurpose, Role, User
from rollcal.errors import NotFound, ValidationError
from rollcal.extensions import db
from rollcal.org.models import Vendor
from rollcal.permissions import Action, belongs_to_vendor, require, role_may
from rollcal.types import utcnow
from rollcal.validation import required as _required
from rollcal.validation import unique as _unique

TOKEN_PREFIX = "rc_"
# A token's last use is shown to its owner to the minute; recording it more often would
# make every API read a write.
TOKEN_USE_EVERY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 10
_TIMEZONES = frozenset(available_timezones()) | {"UTC"}


def check_password_rules(password: str, field: str = "password") -> None:
    """Refuse a password too short to keep (the same rule wherever one is chosen)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError.field(field, f"use at least {MIN_PASSWORD_LENGTH} characters.")


def check_user_fields(
    email: str, role: str, vendor_id: int | None, timezone: str, current_id: int | None
) -> tuple[str, Role, Vendor | None]:
    """The e-mail (lower-cased), role and vendor of a person being created or changed, or
    a ``ValidationError`` naming the field that is wrong."""
    email = _required(email, "email").lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ValidationError.field("email", "is not an e-mail address.")
    _unique(User, User.email, email, current_id, "email", "person")
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError.field("role", "choose admin, pom, qa_lead or stakeholder.") from None
    vendor = db.session.get(Vendor, vendor_id) if vendor_id else None
    if belongs_to_vendor(role) and vendor is None:
        raise ValidationError.field("vendor", "a QA lead belongs to exactly one vendor.")
    if not belongs_to_vendor(role) and vendor is not None:
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
    email, role, vendor = check_user_fields(email, role, vendor_id, timezone, None)
    check_password_rules(password)
    user = User(
        email=email,
        name=name,
        role=role,
        vendor=vendor,
        timezone=timezone,
        password_hash=generate_password_hash(password),
    )
    db.session.add(user)
    db.session.flush()
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
    email, role, vendor = check_user_fields(email, role, vendor_id, timezone, user.id)
    if user.id == actor.id and (not active or not role_may(role, Action.MANAGE_USERS)):
        raise ValidationError.field("role", "you cannot remove your own admin access.")
    if email != user.email:
        # Links e-mailed to the old address must not open the account any more.
        revoke_open_links(user, None, utcnow())
    user.email, user.name, user.role, user.vendor = email, name, role, vendor
    user.timezone, user.active = timezone, active
    db.session.flush()
    return user


def update_profile(actor: User, *, name: str, timezone: str) -> User:
    """A person changes their own name and time zone."""
    actor.name = _required(name, "name")
    if timezone not in _TIMEZONES:
        raise ValidationError.field("timezone", f"“{timezone}” is not a known time zone.")
    actor.timezone = timezone
    db.session.flush()
    return actor


def authenticate(email: str, password: str) -> User | None:
    """The active person with this e-mail and password, or None."""
    user = db.session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def change_password(actor: User, *, current: str, new: str) -> None:
    """A person changes their own password, proving they know the current one.

    Every sign-in session of theirs ends (someone who knew the old password may hold
    one); the caller signs the current browser in again.
    """
    if not check_password_hash(actor.password_hash, current or ""):
        raise ValidationError.field("current_password", "is not your current password.")
    check_password_rules(new, "new_password")
    # A reset link asked for earlier would undo the password just chosen.
    revoke_open_links(actor, None, utcnow())
    actor.password_hash = generate_password_hash(new)
    actor.session_generation += 1
    db.session.flush()


def revoke_open_links(user: User, purpose: LinkPurpose | None, now: datetime) -> None:
    """Revoke the person's e-mailed links that still work (of one purpose, or all)."""
    statement = sa.update(AccountLink).where(
        AccountLink.user_id == user.id,
        AccountLink.used_at.is_(None),
        AccountLink.revoked_at.is_(None),
    )
    if purpose is not None:
        statement = statement.where(AccountLink.purpose == purpose)
    db.session.execute(
        statement.values(revoked_at=now), execution_options={"synchronize_session": False}
    )


def end_sessions(user: User) -> None:
    """Sign a person out everywhere: every session cookie issued so far stops working."""
    user.session_generation += 1
    db.session.flush()


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
    db.session.flush()
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
        db.session.flush()
    return token


def token_for(token: str) -> ApiToken | None:
    """The live token row a bearer token names (its person active), or None. Reads only:
    recording the use is ``record_token_use``'s, after the answer is sent."""
    # The person in the same statement: every API request reads both.
    row = db.session.scalar(
        sa.select(ApiToken)
        .where(ApiToken.token_hash == _token_digest(token or ""))
        .options(joinedload(ApiToken.user))
    )
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row


def user_for_token(token: str) -> User | None:
    """The active person a bearer token belongs to, or None if unknown or revoked."""
    row = token_for(token)
    return row.user if row is not None else None


def token_use_due(row: ApiToken, now: datetime) -> bool:
    """Whether this use of a token is worth recording: at most once a minute per token."""
    return row.last_used_at is None or row.last_used_at <= now - TOKEN_USE_EVERY


def record_token_use(token_id: int, now: datetime) -> None:
    """Note a token's use, unless another request noted one within the minute (two
    processes may both find it due; the condition lets one write)."""
    db.session.execute(
        sa.update(ApiToken)
        .where(
            ApiToken.id == token_id,
            sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOKEN_USE_EVERY),
        )
        .values(last_used_at=now)
    )
