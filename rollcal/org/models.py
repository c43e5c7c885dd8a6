"""The organisation: markets, lines of business, vendors and their sites."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollcal.extensions import db
from rollcal.types import enum_type

if TYPE_CHECKING:
    from rollcal.accounts.models import User


class Region(StrEnum):
    """Regions markets are grouped into."""

    APAC = "APAC"
    EMEA = "EMEA"
    AMER = "AMER"


site_markets = sa.Table(
    "site_markets",
    db.metadata,
    sa.Column("site_id", sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("market_id", sa.ForeignKey("markets.id", ondelete="CASCADE"), primary_key=True),
)

site_lines_of_business = sa.Table(
    "site_lines_of_business",
    db.metadata,
    sa.Column("site_id", sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "line_of_business_id",
        sa.ForeignKey("lines_of_business.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

vendor_owners = sa.Table(
    "vendor_owners",
    db.metadata,
    sa.Column("vendor_id", sa.ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Market(db.Model):
    """A country or market a site moderates for, such as ``ID`` or ``GB``."""

    __tablename__ = "markets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(8), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    region: Mapped[Region] = mapped_column(enum_type(Region, "region"))
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class LineOfBusiness(db.Model):
    """A product surface with its own queues: Live, Short video, Shop: seller …"""

    __tablename__ = "lines_of_business"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.name


class Vendor(db.Model):
    """A BPO partner that moderates from one or more sites."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    sites: Mapped[list[Site]] = relationship(
        back_populates="vendor", order_by="Site.name", cascade="all, delete-orphan"
    )
    owners: Mapped[list[User]] = relationship(secondary=vendor_owners, order_by="User.name")

    def __str__(self) -> str:
        return self.name


class Site(db.Model):
    """A vendor's delivery centre, serving some markets and lines of business."""

    __tablename__ = "sites"
    __table_args__ = (sa.UniqueConstraint("vendor_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    city: Mapped[str] = mapped_column(sa.String(120))
    active: Mapped[bool] = mapped_column(default=True)

    vendor: Mapped[Vendor] = relationship(back_populates="sites")
    markets: Mapped[list[Market]] = relationship(secondary=site_markets, order_by="Market.code")
    lines_of_business: Mapped[list[LineOfBusiness]] = relationship(
        secondary=site_lines_of_business, order_by="LineOfBusiness.name"
    )

    @property
    def label(self) -> str:
        """Vendor and site, as people name a site."""
        return f"{self.vendor.name} · {self.name}"

    def __str__(self) -> str:
        return self.label
