"""The demo's scheduler story: a short calibration session that closes by itself a few
minutes after the demo starts, so a visitor sees the scheduler close it, the flags
appear, and the POM's bell and the outbox fill. Loading twice changes nothing (the
session is found by its title).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from calibration import services
from calibration.models import CalibrationSession
from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.org.models import Site, Vendor
from rollcal.types import utcnow

TITLE = "Disclosed replicas — quick check (closes by itself)"
CLOSES_AFTER = timedelta(minutes=3)
OPTIONS = (
    "violating | Violating: counterfeit | Sells a fake of a protected brand\n"
    "disclosed_replica | Violating: disclosed replica | Says replica, AAA, 1:1\n"
    "authentic | Not violating | Genuine or unbranded goods"
)
# (listing, golden label)
LISTINGS = [
    ("Lunaro tote, 1:1 mirror quality, replica", "disclosed_replica"),
    ("AAA grade Veltra sneakers, not authentic", "disclosed_replica"),
    ("Original Oru wallet with receipt, bought in Singapore", "authentic"),
    ("Brisa watch, 95% off, brand new sealed, genuine!!", "violating"),
    ("Replica Tidewell belt, please read: not original", "disclosed_replica"),
    ("Kestrel & Co logo phone cases wholesale, factory price", "violating"),
    ("Unbranded canvas tote, plain", "authentic"),
    ("Super copy Maison Ardent sunglasses in branded box", "disclosed_replica"),
    ("Vintage Lunaro scarf, authenticity card", "authentic"),
    ("Veltra handbag, authentic, ships from overseas warehouse", "violating"),
    ("Oru-style bracelet, 'replica design', clearly marked", "disclosed_replica"),
    ("Pre-loved Brisa perfume, batch code visible", "authentic"),
]
# Each demo QA lead, the site they label for, and how they label: Bogotá still applies
# the old policy (a disclosed replica is allowed), Kuala Lumpur slips on two cases, and
# Meridian has not finished, so the scheduler reminds them before the session closes.
RATERS = [
    ("qa@meridian-cx.example.com", "Cebu", "golden", 8),
    ("qa@lumen-ops.example.com", "Kuala Lumpur", "slips", 12),
    ("qa@tessera-global.example.com", "Bogotá", "old_policy", 12),
    ("qa@baobab-moderation.example.com", "Kigali", "golden", 12),
]


def _answer(style: str, index: int, golden: str) -> str:
    if style == "old_policy" and golden == "disclosed_replica":
        return "authentic"
    if style == "slips" and index in (3, 9):
        return "disclosed_replica"
    return golden


def seed() -> None:
    """A session, open now, that the scheduler closes ``CLOSES_AFTER`` from now."""
    if db.session.scalar(sa.select(CalibrationSession.id).where(CalibrationSession.title == TITLE)):
        return
    pom = db.session.scalar(sa.select(User).where(User.email == "pom@example.com"))
    raters = []
    for email, site_name, style, count in RATERS:
        user = db.session.scalar(sa.select(User).where(User.email == email))
        site = db.session.scalar(
            sa.select(Site).join(Vendor).where(Site.name == site_name, Vendor.id == user.vendor_id)
        )
        raters.append((user, site, style, count))
    session = services.create_session(
        pom,
        title=TITLE,
        description="A short round to show the scheduler at work: it closes a few minutes "
        "after the demo starts, the results and flags are computed, and the POM is told.",
        label_options=OPTIONS,
        closes_at=utcnow() + CLOSES_AFTER,
    )
    for user, site, _, _ in raters:
        services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
    lines = ["reference,text,golden"]
    lines += [f'QC-{n + 1:02d},"{text}",{golden}' for n, (text, golden) in enumerate(LISTINGS)]
    services.import_cases(pom, session, ("\n".join(lines) + "\n").encode())
    services.open_session(pom, session)
    for user, _, style, count in raters:
        services.save_labels(
            user,
            session,
            [
                services.LabelInput(option=_answer(style, n, golden), reference=f"QC-{n + 1:02d}")
                for n, (_, golden) in enumerate(LISTINGS[:count])
            ],
        )
