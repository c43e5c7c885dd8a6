"""People: their role, sign-in details and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollcal.extensions import db
from rollcal.types import UTCDateTime, enum_type, utcnow

if TYPE_CHECKING:
    from rollcal.org.models import Vendor


class Role(StrEnum):
    """What a person does in rollcal; one per person."""

    ADMIN = "admin"
    POM = "pom"
    QA_LEAD = "qa_lead"
    STAKEHOLDER = "stakeholder"

    @property
    def title(self) -> str:
        """The role as people say it."""
        return {
            "admin": "Admin",
            "pom": "Partner Operations Manager",
            "qa_lead": "QA lead",
            "stakeholder": "Stakeholder",
        }[self.value]


class User(UserMixin, db.Model):
    """A person who signs in: admin, POM, vendor QA lead or stakeholder."""

    __tablename__ = "users"
    __table_args__ = (
        # A QA lead always belongs to exactly one vendor, and nobody else belongs to one.
        sa.CheckConstraint(
            "(role = 'qa_lead' AND vendor_id IS NOT NULL) "
            "OR (role <> 'qa_lead' AND vendor_id IS NULL)",
            name="vendor_only_for_qa_leads",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vendors.id"), index=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    active: Mapped[bool] = mapped_column(default=True)
    # Empty until the person chooses a password through their invitation: no password
    # matches it, so nobody signs in as a person who has not accepted yet.
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    # Part of every sign-in cookie; counted up to end the sessions issued before.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    vendor: Mapped[Vendor | None] = relationship()
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", order_by="ApiToken.created_at.desc()"
    )

    @property
    def has_password(self) -> bool:
        """Whether the person has chosen a password (an invited person has not, yet)."""
        return bool(self.password_hash)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sessions of inactive users
        return self.active

    def get_id(self) -> str:
        """What a sign-in cookie holds: the id and the session generation it was issued in
        (see ``rollcal.accounts.sessions``)."""
        return f"{self.id}:{self.session_generation}"

    def __str__(self) -> str:
        return self.name


class ApiToken(db.Model):
    """A personal API token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def is_revoked(self) -> bool:
        """Whether the token no longer authenticates."""
        return self.revoked_at is not None


class LinkPurpose(StrEnum):
    """What a one-time link e-mailed to a person lets them do."""

    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"


class AccountLink(db.Model):
    """A one-time link e-mailed to a person: an invitation to choose their first password,
    or a password reset. Only the SHA-256 of its token is stored; the token itself is in
    the e-mail alone.

    A link works once, until ``expires_at``, and only while ``revoked_at`` is empty (a
    newer link of the same purpose, or a new password, revokes the older ones).
    """

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[LinkPurpose] = mapped_column(enum_type(LinkPurpose, "link_purpose"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
