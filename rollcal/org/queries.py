"""What the home page reads of the organisation: a page of vendors with their first
sites, as plain rows (the page writes nothing), in a fixed number of statements."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from rollcal import permissions
from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.org.models import (
    LineOfBusiness,
    Market,
    Site,
    Vendor,
    site_lines_of_business,
    site_markets,
    vendor_owners,
)
from rollcal.paging import RowsPage, rows_page


@dataclass
class HomeVendor:
    """A vendor as the home page shows it, with its owners' names."""

    id: int
    name: str
    active: bool
    owners: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HomeMarket:
    """A market as a site's row names it."""

    code: str


@dataclass
class HomeSite:
    """A site as the home page shows it: its markets (by code) and lines of business."""

    id: int
    vendor_id: int
    name: str
    city: str
    active: bool
    markets: list[HomeMarket] = field(default_factory=list)
    lines_of_business: list[str] = field(default_factory=list)


def home_vendors(user: User, page: int, per_page: int) -> RowsPage:
    """A page of the vendors the person may see, by name, with their owners: three
    statements."""
    statement = permissions.visible_vendors(user).with_only_columns(
        Vendor.id, Vendor.name, Vendor.active
    )
    rows, total = rows_page(statement, page, per_page)
    vendors = {vendor_id: HomeVendor(vendor_id, name, active) for vendor_id, name, active in rows}
    if vendors:
        owners = db.session.execute(
            sa.select(vendor_owners.c.vendor_id, User.name)
            .join(User, User.id == vendor_owners.c.user_id)
            .where(vendor_owners.c.vendor_id.in_(vendors))
            .order_by(User.name)
        )
        for vendor_id, name in owners:
            vendors[vendor_id].owners.append(name)
    return RowsPage(list(vendors.values()), page, per_page, total)


def first_sites(
    vendor_ids: list[int], shown: int
) -> tuple[dict[int, list[HomeSite]], dict[int, int]]:
    """The first ``shown`` sites of each vendor by name, with their markets and lines of
    business, and each vendor's number of sites: four statements (the IN lists hold a
    page's sites at most)."""
    counts = dict(
        db.session.execute(
            sa.select(Site.vendor_id, sa.func.count(Site.id))
            .where(Site.vendor_id.in_(vendor_ids))
            .group_by(Site.vendor_id)
        ).all()
    )
    place = (
        sa.func.row_number()
        .over(partition_by=Site.vendor_id, order_by=(Site.name, Site.id))
        .label("place")
    )
    ranked = sa.select(Site.id, place).where(Site.vendor_id.in_(vendor_ids)).subquery()
    first = sa.select(ranked.c.id).where(ranked.c.place <= shown)
    sites = {
        row.id: HomeSite(row.id, row.vendor_id, row.name, row.city, row.active)
        for row in db.session.execute(
            sa.select(Site.id, Site.vendor_id, Site.name, Site.city, Site.active)
            .where(Site.id.in_(first))
            .order_by(Site.name, Site.id)
        )
    }
    markets = db.session.execute(
        sa.select(site_markets.c.site_id, Market.code)
        .join(Market, Market.id == site_markets.c.market_id)
        .where(site_markets.c.site_id.in_(list(sites)))
        .order_by(Market.code)
    )
    for site_id, code in markets:
        sites[site_id].markets.append(HomeMarket(code))
    lines = db.session.execute(
        sa.select(site_lines_of_business.c.site_id, LineOfBusiness.name)
        .join(LineOfBusiness, LineOfBusiness.id == site_lines_of_business.c.line_of_business_id)
        .where(site_lines_of_business.c.site_id.in_(list(sites)))
        .order_by(LineOfBusiness.name)
    )
    for site_id, name in lines:
        sites[site_id].lines_of_business.append(name)
    by_vendor: dict[int, list[HomeSite]] = {vendor_id: [] for vendor_id in vendor_ids}
    for site in sites.values():
        by_vendor[site.vendor_id].append(site)
    return by_vendor, counts


def active_site_choices() -> list[tuple[int, str]]:
    """Every active site as a form offers it, (id, "Vendor · Site"), by vendor and name."""
    rows = db.session.execute(
        sa.select(Site.id, Vendor.name, Site.name)
        .join(Vendor, Vendor.id == Site.vendor_id)
        .where(Site.active.is_(True))
        .order_by(Vendor.name, Site.name)
    )
    return [(site_id, f"{vendor} · {name}") for site_id, vendor, name in rows]
