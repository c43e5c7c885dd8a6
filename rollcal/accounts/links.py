"""Invitations and password resets: one-time links e-mailed to a person.

An admin invites a person instead of choosing their password; anyone may ask for a reset
link to the address they type, and the answer never says whether an account uses it.
Both kinds of link are random tokens of 256 bits; only their SHA-256 is stored
(``AccountLink``), so a copy of the database opens no account. A link works once and
until it expires; a newer link of the same purpose, and choosing a new password, revoke
the older ones. The e-mails leave through the notifications outbox, queued in the same
unit of work as the link they carry.

Like ``rollcal.accounts.services`` this module only flushes; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import generate_password_hash

from rollcal.accounts.models import AccountLink, LinkPurpose, User
from rollcal.accounts.services import check_password_rules, check_user_fields, revoke_open_links
from rollcal.errors import DomainError, ValidationError
from rollcal.extensions import db
from rollcal.notifications.services import absolute_url, local_time, path_for, queue_email
from rollcal.permissions import Action, require
from rollcal.types import utcnow
from rollcal.validation import required as _required


class LinkUnusable(DomainError):
    """A one-time link that no longer (or never did) open anything; ``reason`` says why:
    ``unknown``, ``used``, ``replaced`` or ``expired``."""

    status = 410

    def __init__(self, purpose: LinkPurpose, reason: str):
        self.purpose = purpose
        self.reason = reason
        if reason == "unknown":
            self.status = 404
        super().__init__(_UNUSABLE[reason])


_UNUSABLE = {
    "unknown": "This link is not valid. Check that it was copied whole from the e-mail.",
    "used": "This link was used already: each link works once.",
    "replaced": "A newer link was sent after this one, so this one no longer works.",
    "expired": "This link has expired.",
}


@dataclass(frozen=True)
class IssuedLink:
    """A link just made: its row, and the address to e-mail (known only now)."""

    link: AccountLink
    url: str


def _digest(token: str) -> str:
    # 256 random bits: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def _lifetime(purpose: LinkPurpose) -> timedelta:
    config = current_app.config
    if purpose == LinkPurpose.INVITATION:
        return timedelta(hours=int(config["ROLLCAL_INVITATION_HOURS"]))
    return timedelta(minutes=int(config["ROLLCAL_RESET_MINUTES"]))


_ENDPOINTS = {
    LinkPurpose.INVITATION: "auth.accept_invitation",
    LinkPurpose.PASSWORD_RESET: "auth.reset_password",
}


def _issue(user: User, purpose: LinkPurpose) -> IssuedLink:
    """A new link for ``user``; the older ones of the same purpose stop working.

    The person's row is locked first, so two links issued at the same moment (two admins
    resending, two reset requests) take turns: the second revokes the first, and one link
    stays open. (SQLite has one writer at a time anyway.)"""
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    now = utcnow()
    revoke_open_links(user, purpose, now)
    token = secrets.token_urlsafe(32)
    link = AccountLink(
        user_id=user.id,
        purpose=purpose,
        token_hash=_digest(token),
        created_at=now,
        expires_at=now + _lifetime(purpose),
    )
    db.session.add(link)
    db.session.flush()
    return IssuedLink(link, absolute_url(path_for(_ENDPOINTS[purpose], token=token)))


# Invitations --------------------------------------------------------------------------


def invite_user(
    actor: User, *, email: str, name: str, role: str, vendor_id: int | None, timezone: str
) -> User:
    """An admin adds a person, who gets an e-mail with a link to choose their password.

    The admin never sees or types the password; until the person accepts, they have none
    and cannot sign in."""
    require(actor, Action.MANAGE_USERS)
    name = _required(name, "name")
    email, role, vendor = check_user_fields(email, role, vendor_id, timezone, None)
    user = User(
        email=email, name=name, role=role, vendor=vendor, timezone=timezone, password_hash=""
    )
    db.session.add(user)
    db.session.flush()
    _send_invitation(actor, user)
    return user


def resend_invitation(actor: User, user: User) -> AccountLink:
    """Send a person a new invitation; the link of any earlier one stops working."""
    require(actor, Action.MANAGE_USERS)
    if user.has_password:
        raise ValidationError.field(
            "invitation", f"{user.name} has accepted their invitation already."
        )
    if not user.active:
        raise ValidationError.field(
            "invitation", f"{user.name} may not sign in: allow them to first, then resend."
        )
    return _send_invitation(actor, user)


def _send_invitation(actor: User, user: User) -> AccountLink:
    issued = _issue(user, LinkPurpose.INVITATION)
    queue_email(
        user,
        "invitation",
        subject="You are invited to rollcal",
        template="invitation",
        inviter=actor,
        link_url=issued.url,
        expires=local_time(issued.link.expires_at, user.timezone),
    )
    return issued.link


def pending_invitations(user_ids: list[int]) -> dict[int, AccountLink]:
    """The latest invitation of each of these people who has not accepted yet."""
    if not user_ids:
        return {}
    latest = (
        sa.select(AccountLink.user_id, sa.func.max(AccountLink.id).label("id"))
        .join(User, User.id == AccountLink.user_id)
        .where(
            AccountLink.user_id.in_(user_ids),
            AccountLink.purpose == LinkPurpose.INVITATION,
            User.password_hash == "",
        )
        .group_by(AccountLink.user_id)
        .subquery()
    )
    links = db.session.scalars(sa.select(AccountLink).join(latest, latest.c.id == AccountLink.id))
    return {link.user_id: link for link in links}


# Password resets ---------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """E-mail a reset link to the active person with this address, if there is one.

    Says nothing either way: the page answers the same whether or not an account uses
    the address. A person who has not accepted their invitation gets nothing (their
    invitation is the way in), nor does one who may not sign in."""
    address = (email or "").strip().lower()
    user = db.session.scalar(sa.select(User).where(User.email == address))
    if user is None or not user.active or not user.has_password:
        return
    issued = _issue(user, LinkPurpose.PASSWORD_RESET)
    queue_email(
        user,
        "password_reset",
        subject="Choose a new rollcal password",
        template="password_reset",
        link_url=issued.url,
        expires=local_time(issued.link.expires_at, user.timezone),
        minutes=int(current_app.config["ROLLCAL_RESET_MINUTES"]),
    )


# Opening a link ----------------------------------------------------------------------


def open_link(token: str, purpose: LinkPurpose) -> AccountLink:
    """The working link a token names, or ``LinkUnusable`` saying why it does not work.
    Reads only: opening the page of a link does not use it (mail scanners open links)."""
    link = db.session.scalar(
        sa.select(AccountLink).where(
            AccountLink.token_hash == _digest(token or ""), AccountLink.purpose == purpose
        )
    )
    if link is None or not link.user.active:
        raise LinkUnusable(purpose, "unknown")
    if link.used_at is not None:
        raise LinkUnusable(purpose, "used")
    if link.revoked_at is not None:
        raise LinkUnusable(purpose, "replaced")
    if link.expires_at <= utcnow():
        raise LinkUnusable(purpose, "expired")
    return link


def choose_password(token: str, purpose: LinkPurpose, password: str) -> User:
    """Set the password of the person a working link belongs to, and use the link up.

    The link is marked used by one conditional UPDATE, so of two requests racing with
    the same link exactly one sets the password; the other gets ``LinkUnusable``. Every
    session of the person ends (someone who knew the old password may hold one) and
    every other link of theirs stops working; the caller signs this browser in."""
    link = open_link(token, purpose)
    check_password_rules(password)
    now = utcnow()
    claimed = db.session.execute(
        sa.update(AccountLink)
        .where(
            AccountLink.id == link.id,
            AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None),
        )
        .values(used_at=now),
        execution_options={"synchronize_session": False},
    )
    if claimed.rowcount != 1:
        raise LinkUnusable(purpose, "used")
    user = link.user
    revoke_open_links(user, None, now)
    user.password_hash = generate_password_hash(password)
    user.session_generation += 1
    db.session.flush()
    db.session.refresh(link)
    return user
