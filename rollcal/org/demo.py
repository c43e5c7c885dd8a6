"""A realistic, fictional demo organisation; loading it twice changes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from rollcal.accounts.models import Role, User
from rollcal.demo import DEMO_PASSWORD
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Market, Region, Site, Vendor

MARKETS = [
    ("ID", "Indonesia", Region.APAC),
    ("MY", "Malaysia", Region.APAC),
    ("PH", "Philippines", Region.APAC),
    ("GB", "United Kingdom", Region.EMEA),
    ("DE", "Germany", Region.EMEA),
    ("KE", "Kenya", Region.EMEA),
    ("US", "United States", Region.AMER),
    ("BR", "Brazil", Region.AMER),
]

LINES_OF_BUSINESS = [
    "Live",
    "Short video",
    "Shop: product listing",
    "Shop: seller",
    "Shop: creator content",
    "IPR",
]

# vendor, its QA lead (name, time zone), and its sites: (name, city, markets, lines)
VENDORS = [
    (
        "Meridian CX",
        "pom@example.com",
        ("Maria Santos", "Asia/Manila"),
        [
            ("Manila North", "Manila", ["PH", "ID"], ["Live", "Short video"]),
            ("Cebu", "Cebu City", ["PH", "MY"], ["Shop: product listing", "Shop: seller"]),
        ],
    ),
    (
        "Lumen Ops",
        "pom@example.com",
        ("Farah Aziz", "Asia/Kuala_Lumpur"),
        [
            ("Kuala Lumpur", "Kuala Lumpur", ["MY", "ID"], ["Shop: product listing", "IPR"]),
            ("Jakarta", "Jakarta", ["ID"], ["Shop: product listing", "Shop: creator content"]),
        ],
    ),
    (
        "Harbor Review",
        "pom2@example.com",
        ("Liam Byrne", "Europe/Dublin"),
        [
            ("Dublin", "Dublin", ["GB", "DE"], ["Live", "Shop: product listing"]),
            ("Lisbon", "Lisbon", ["GB", "DE"], ["Short video", "Shop: seller"]),
        ],
    ),
    (
        "Tessera Global",
        "pom2@example.com",
        ("Camila Rojas", "America/Bogota"),
        [
            ("Bogotá", "Bogotá", ["US", "BR"], ["Shop: product listing", "Shop: seller"]),
            ("Austin", "Austin", ["US"], ["Live", "IPR"]),
        ],
    ),
    (
        "Baobab Moderation",
        "pom@example.com",
        ("Wanjiru Kamau", "Africa/Nairobi"),
        [
            ("Nairobi", "Nairobi", ["KE", "GB"], ["Short video", "Shop: creator content"]),
            ("Kigali", "Kigali", ["KE"], ["Shop: product listing", "Live"]),
        ],
    ),
]

STAFF = [
    ("admin@example.com", "Alex Morgan", Role.ADMIN, "Europe/London"),
    ("pom@example.com", "Dana Whitfield", Role.POM, "Asia/Singapore"),
    ("pom2@example.com", "Mateo Ruiz", Role.POM, "America/New_York"),
    ("stakeholder@example.com", "Sam Okafor", Role.STAKEHOLDER, "Europe/London"),
]


def _get_or_create(model, lookup: dict, **values):
    found = db.session.scalar(sa.select(model).filter_by(**lookup))
    if found is None:
        found = model(**lookup, **values)
        db.session.add(found)
    return found


def _slug(name: str) -> str:
    from rollcal.org.services import slugify

    return slugify(name)


def demo_logins() -> list[tuple[str, str]]:
    """(e-mail, role) of every demo log-in, staff first, then a QA lead per vendor."""
    logins = [(email, role.value) for email, _, role, _ in STAFF]
    logins += [(f"qa@{_slug(vendor)}.example.com", Role.QA_LEAD.value) for vendor, *_ in VENDORS]
    return logins


def seed_organisation() -> None:
    """Markets, lines of business, vendors with sites, staff and one QA lead per vendor."""
    # One hash for every demo log-in: hashing is deliberately slow, and it is the same word.
    password_hash = generate_password_hash(DEMO_PASSWORD)
    markets = {
        code: _get_or_create(Market, {"code": code}, name=name, region=region)
        for code, name, region in MARKETS
    }
    lines = {name: _get_or_create(LineOfBusiness, {"name": name}) for name in LINES_OF_BUSINESS}
    staff = {
        email: _get_or_create(
            User, {"email": email}, name=name, role=role, timezone=zone, password_hash=password_hash
        )
        for email, name, role, zone in STAFF
    }
    db.session.flush()
    for vendor_name, owner_email, (lead_name, lead_zone), sites in VENDORS:
        slug = _slug(vendor_name)
        vendor = _get_or_create(Vendor, {"slug": slug}, name=vendor_name)
        if not vendor.owners:
            vendor.owners = [staff[owner_email]]
        db.session.flush()
        for site_name, city, market_codes, line_names in sites:
            site = _get_or_create(Site, {"vendor_id": vendor.id, "name": site_name}, city=city)
            if not site.markets:
                site.markets = [markets[code] for code in market_codes]
                site.lines_of_business = [lines[name] for name in line_names]
        _get_or_create(
            User,
            {"email": f"qa@{slug}.example.com"},
            name=lead_name,
            role=Role.QA_LEAD,
            vendor=vendor,
            timezone=lead_zone,
            password_hash=password_hash,
        )
    db.session.flush()
