"""Demo calibration sessions: one revealed (linked to a rollout when the demo has one),
one open for labelling, one draft waiting for its start time. Loading twice changes
nothing: each session is found by its title first.

The revealed session tells a story a POM would recognise: most sites apply v3.0, but
one site still treats disclosed replicas as allowed (the old policy), so its accuracy
falls and flags are raised. Eight monthly rounds before it give the scorecards a
history: the same site slides month by month, and its drift is flagged.
"""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from calibration import model_services, quality, services
from calibration.models import (
    AgreementSnapshot,
    CalibrationSession,
    Case,
    Flag,
    FlagStatus,
    Label,
    Rater,
)
from rollcal.accounts.models import Role, User
from rollcal.events import RolloutFacts, calibration_subjects
from rollcal.extensions import db
from rollcal.org.models import Market, Site, Vendor
from rollcal.types import utcnow

ROUND_1 = "Counterfeit listings — calibration round 1"
ROUND_2 = "Counterfeit listings — round 2: disclosed replicas"
DRAFT = "Dangerous stunts in live — calibration"

# Used when the demo has no counterfeit policy version to copy from.
COUNTERFEIT_OPTIONS = (
    "violating | Violating: counterfeit | Sells a fake of a protected brand\n"
    "disclosed_replica | Violating: disclosed replica | Says replica, AAA, 1:1\n"
    "authentic | Not violating | Genuine or unbranded goods\n"
    "needs_review | Escalate to IPR | Brand owner complaint needed"
)
STUNT_OPTIONS = "end_stream | End stream\nage_restrict | Age-restrict\nno_action | No action"

BRANDS = ["Lunaro", "Veltra", "Kestrel & Co", "Maison Ardent", "Oru", "Tidewell", "Brisa"]

# (listing text, golden label, how hard the case is: 0 easy … 1 very hard)
LISTINGS = [
    (
        "{brand} Classic tote, 1:1 mirror quality, replica — ships in 3 days",
        "disclosed_replica",
        0.1,
    ),
    (
        "AAA grade {brand} sneakers, same factory as original, not authentic",
        "disclosed_replica",
        0.2,
    ),
    ("Inspired by {brand}: quilted bag, 'designer style', no logo", "authentic", 0.5),
    (
        "Original {brand} wallet, receipt and dust bag included, bought in Singapore",
        "authentic",
        0.3,
    ),
    ("{brand} watch, 95% off, brand new sealed, genuine!!", "violating", 0.3),
    ("{brand} perfume tester 100ml, batch code visible, pre-loved", "authentic", 0.4),
    ("Replica {brand} belt, buckle stamped, please read: not original", "disclosed_replica", 0.1),
    ("{brand} logo phone cases wholesale, 500 pcs, factory price", "violating", 0.4),
    ("Vintage {brand} scarf from my mother, some wear, authenticity card", "authentic", 0.5),
    ("{brand} x streetwear collab hoodie, 'unofficial', print on demand", "needs_review", 0.7),
    ("Super copy {brand} sunglasses, UV400, comes in branded box", "disclosed_replica", 0.2),
    ("{brand}-style charm bracelet, 'compatible with' {brand} beads", "needs_review", 0.8),
    (
        "{brand} handbag, authentic, price firm, no returns, ships from overseas warehouse",
        "violating",
        0.6,
    ),
    ("Unbranded canvas tote, plain, eco-friendly", "authentic", 0.05),
]

# Extra QA leads so each demo site has more than one rater (agreement needs company).
SITE_RATERS = {
    "Cebu": ["Joy Villanueva", "Paolo Garcia"],
    "Manila North": ["Bea Mendoza", "Carlo Reyes"],
    "Kuala Lumpur": ["Aisyah Rahman", "Daniel Lim"],
    "Jakarta": ["Putri Wulandari", "Rizky Pratama"],
    "Bogotá": ["Andrés Gómez", "Valentina Ruiz"],
    "Austin": ["Jordan Lee", "Taylor Brooks"],
    "Kigali": ["Aline Uwase", "Eric Mugabo"],
    "Nairobi": ["Brian Otieno", "Faith Njeri"],
    "Dublin": ["Siobhan Walsh", "Conor Doyle"],
    "Lisbon": ["Inês Costa", "Tiago Ferreira"],
}
FALLBACK_SITES = [
    ("Meridian CX", "Cebu"),
    ("Lumen Ops", "Kuala Lumpur"),
    ("Tessera Global", "Bogotá"),
]

# The confusions raters make, by golden label; Bogotá's raters still apply v2.
CONFUSIONS = {
    "violating": ["disclosed_replica", "needs_review"],
    "disclosed_replica": ["violating", "authentic"],
    "authentic": ["needs_review", "violating"],
    "needs_review": ["authentic", "violating"],
}

# How often each site's raters give the golden answer on an easy case.
SKILL = {"Cebu": 1.0, "Kuala Lumpur": 0.995, "Kigali": 0.995, "Jakarta": 0.95, "Bogotá": 0.97}


def _rollout_for(code: str) -> RolloutFacts | None:
    """The demo rollout of a policy (by code) if the rollout demo made one."""
    return calibration_subjects().first_rollout_of_policy(code)


def _sites_of(rollout: RolloutFacts | None) -> list[Site]:
    if rollout is not None:
        sites = db.session.scalars(
            sa.select(Site)
            .join(Vendor)
            .where(Site.id.in_(rollout.site_ids))
            .order_by(Vendor.name, Site.name)
        ).all()
        if sites:
            return list(sites)
    return [
        db.session.scalar(sa.select(Site).join(Vendor).where(Vendor.name == v, Site.name == s))
        for v, s in FALLBACK_SITES
    ]


def _site_raters(site: Site, password_hash: str) -> list[User]:
    """The vendor's main demo QA lead (first site only) and two more per site."""
    main = db.session.scalar(
        sa.select(User).where(User.email == f"qa@{site.vendor.slug}.example.com")
    )
    raters = []
    if main is not None and min(site.vendor.sites, key=lambda s: s.name).id == site.id:
        raters.append(main)
    for name in SITE_RATERS.get(site.name, [f"{site.name} QA 1", f"{site.name} QA 2"]):
        email = f"{name.split()[0].lower()}.{site.id}@{site.vendor.slug}.example.com"
        email = email.encode("ascii", "ignore").decode()
        person = db.session.scalar(sa.select(User).where(User.email == email))
        if person is None:
            person = User(
                email=email,
                name=name,
                role=Role.QA_LEAD,
                vendor=site.vendor,
                timezone=main.timezone if main else "UTC",
                password_hash=password_hash,
            )
            db.session.add(person)
            db.session.flush()
        raters.append(person)
    return raters


def _cases_csv(count: int, markets: list[str]) -> bytes:
    lines = ["reference,text,market,policy_area,golden,rationale"]
    for index in range(count):
        text, golden, _ = LISTINGS[index % len(LISTINGS)]
        brand = BRANDS[(index * 3) % len(BRANDS)]
        text = text.format(brand=brand).replace('"', "'")
        market = markets[index % len(markets)] if markets else ""
        rationale = {
            "disclosed_replica": "v3.0: a disclosed replica is still violating",
            "violating": "Price and wording point to a fake sold as genuine",
            "authentic": "No sign of a counterfeit",
            "needs_review": "Possible licensing question for the brand owner",
        }[golden]
        lines.append(
            f'SHOP-{index + 1:04d},"{text}",{market},Counterfeit goods,{golden},{rationale}'
        )
    return ("\n".join(lines) + "\n").encode()


def _answer(rng: random.Random, golden: str, difficulty: float, skill: float, v2: float) -> str:
    """One believable label: mostly right, wrong more often on hard cases; ``v2`` is how
    often the rater still reads a disclosed replica under the old policy."""
    if v2 and golden == "disclosed_replica" and rng.random() < v2:
        return "authentic"  # still applying the old policy
    if rng.random() < skill - 0.15 * difficulty:
        return golden
    return rng.choice(CONFUSIONS[golden])


def _label(
    session: CalibrationSession,
    raters: list[tuple[User, Site]],
    share: float,
    seed: int,
    old_reading: dict[str, float] | None = None,
    local_reading: bool = False,
):
    """Each rater labels ``share`` of the cases (all of them at 1.0); ``old_reading`` says
    how often each site's raters still apply v2 to disclosed replicas. With
    ``local_reading``, raters read Indonesian listings of genuine goods as fakes
    (``LOCAL_READING``), whichever site they work at."""
    old_reading = {"Bogotá": 0.8} if old_reading is None else old_reading
    rng = random.Random(seed)
    cases = db.session.scalars(
        sa.select(Case).where(Case.session_id == session.id).order_by(Case.position)
    ).all()
    local = db.session.scalar(sa.select(Market.id).where(Market.code == LOCAL_READING[0]))
    for number, (user, site) in enumerate(raters):
        skill = SKILL.get(site.name, 0.99)
        v2 = old_reading.get(site.name, 0.0)
        entries = []
        count = len(cases) if share >= 1 else max(1, round(len(cases) * share))
        for case in cases[:count]:
            difficulty = LISTINGS[case.position % len(LISTINGS)][2]
            option = _answer(rng, case.golden_label, difficulty, skill - 0.01 * (number % 3), v2)
            _, misread, read_as, how_often = LOCAL_READING
            if local_reading and case.market_id == local and case.golden_label == misread:
                option = read_as if rng.random() < how_often else option
            comment = None
            if option != case.golden_label and rng.random() < 0.3:
                comment = "Seller says replica, so I treated it as disclosed" if v2 else None
            entries.append(services.LabelInput(option=option, case_id=case.id, comment=comment))
        services.save_labels(user, session, entries)


def _session(title: str) -> CalibrationSession | None:
    return db.session.scalar(sa.select(CalibrationSession).where(CalibrationSession.title == title))


# Monthly rounds before round 1, oldest first: how often Bogotá's raters read a disclosed
# replica under v2. New hires trained on the old deck make the site drift after the
# change; every other site holds, so the scorecards show one site drifting.
HISTORY_OLD_READING = (0.0, 0.0, 0.0, 0.0, 0.3, 0.5, 0.7, 0.85)
# A market that reads one label differently: on Indonesian cases, genuine or unbranded
# goods are taken for counterfeits by most raters, wherever they
# work; the alignment page names it.
LOCAL_READING = ("ID", "authentic", "violating", 0.7)


def _seed_history(pom: User, password_hash: str) -> None:
    """Eight revealed monthly rounds before round 1, for the scorecards' trends."""
    linked = _rollout_for("SHOP-CF")
    facts = linked and calibration_subjects().policy_version(linked.policy_version_id)
    sites = _sites_of(linked)
    raters = [(user, site) for site in sites for user in _site_raters(site, password_hash)]
    markets = sorted({m.code for site in sites for m in site.markets})
    now = utcnow()
    count = len(HISTORY_OLD_READING)
    for number, share in enumerate(HISTORY_OLD_READING):
        # Revealed on the 20th of each of the eight months before this one.
        months_back = count - number
        year, month = divmod(now.year * 12 + now.month - 1 - months_back, 12)
        day = now.replace(year=year, month=month + 1, day=20)
        revealed = (now - day).days
        title = f"Counterfeit listings — monthly calibration, {day:%B %Y}"
        if _session(title) is not None:
            continue
        session = services.create_session(
            pom,
            title=title,
            description="The monthly calibration round on counterfeit listings.",
            policy_version_id=facts.id if facts else None,
            label_options="" if facts else COUNTERFEIT_OPTIONS,
        )
        for user, site in raters:
            services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
        services.import_cases(pom, session, _cases_csv(40, markets))
        services.open_session(pom, session)
        _label(
            session,
            raters,
            1.0,
            seed=2000 + number,
            old_reading={"Bogotá": share},
            local_reading=True,
        )
        services.close_session(pom, session)
        services.reveal_session(pom, session)
        _backdate(session, opened=revealed + 6, closed=revealed + 1, revealed=revealed)
        quality.follow_results(session)
        _triage_history(pom, session)


def _triage_history(pom: User, session: CalibrationSession) -> None:
    """Flags of past rounds were worked through at the time: each resolved with a cause."""
    for flag in db.session.scalars(
        sa.select(Flag).where(
            Flag.session_id == session.id,
            Flag.kind.not_in(quality.DRIFT_KINDS.values()),
            Flag.status != FlagStatus.RESOLVED,
        )
    ):
        services.triage_flag(
            pom,
            flag,
            status="resolved",
            cause="individual_rater",
            root_cause="Went through the misses with the site's QA lead in the weekly huddle.",
            action="Misses reviewed case by case; the rater re-read the guideline examples.",
        )


def _seed_revealed(pom: User, password_hash: str) -> None:
    if _session(ROUND_1) is not None:
        return
    linked = _rollout_for("SHOP-CF")
    sites = _sites_of(linked)
    session = services.create_session(
        pom,
        title=ROUND_1,
        description="Label each listing as you would in production under policy v3.0. "
        "Do not look up the seller.",
        rollout_id=linked.id if linked else None,
        label_options="" if linked else COUNTERFEIT_OPTIONS,
    )
    raters = [(user, site) for site in sites for user in _site_raters(site, password_hash)]
    for user, site in raters:
        services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
    guard = model_services.create_model(
        pom,
        name="ListingGuard",
        owner="Trust & Safety ML",
        description="Flags counterfeit listings before a person sees them.",
    )
    older = model_services.add_version(pom, guard, version="2.4", notes="In production.")
    newer = model_services.add_version(
        pom, guard, version="2.5", notes="Retrained on the v3.0 policy: disclosed replicas."
    )
    model = model_services.add_version_rater(pom, session, older)
    markets = sorted({m.code for site in sites for m in site.markets})
    services.import_cases(pom, session, _cases_csv(40, markets))
    services.open_session(pom, session)
    _label(session, raters, 1.0, seed=2026)
    model_rng = random.Random(7)
    cases = db.session.scalars(sa.select(Case).where(Case.session_id == session.id)).all()
    model_csv = ["reference,rater,label"] + [
        f"{case.reference},{model.name},{_answer(model_rng, case.golden_label, 0.3, 0.92, v2=0.0)}"
        for case in cases
    ]
    services.import_model_labels(pom, session, ("\n".join(model_csv) + "\n").encode())
    services.close_session(pom, session)
    _triage_examples(pom, session)
    services.reveal_session(pom, session)
    _backdate(session, opened=9, closed=4, revealed=3)
    quality.follow_results(session)
    # The newer version replays the revealed round: better on disclosed replicas, but it
    # lets more plain counterfeits through. The humans' results stay as they were.
    replay = model_services.add_version_rater(pom, session, newer)
    replay_rng = random.Random(8)
    replay_csv = ["reference,rater,label"] + [
        f"{case.reference},{replay.name},{_replay_answer(replay_rng, case.golden_label)}"
        for case in cases
    ]
    services.import_model_labels(pom, session, ("\n".join(replay_csv) + "\n").encode())


def _replay_answer(rng: random.Random, golden: str) -> str:
    """ListingGuard 2.5: right on disclosed replicas, misses a third of plain fakes."""
    if golden == "violating" and rng.random() < 0.35:
        return "authentic"
    if golden == "disclosed_replica" or rng.random() < 0.95:
        return golden
    return rng.choice(CONFUSIONS[golden])


def _triage_examples(pom: User, session: CalibrationSession) -> None:
    """A POM has already worked on two flags, as in a real week."""
    flags = db.session.scalars(
        sa.select(Flag).where(Flag.session_id == session.id).order_by(Flag.id)
    ).all()
    bogota = next((f for f in flags if f.scope == "site" and "Bogotá" in (f.subject or "")), None)
    if bogota is not None:
        services.triage_flag(pom, bogota, status="acknowledged")
    label_flag = next((f for f in flags if f.scope == "label"), None)
    if label_flag is not None:
        services.triage_flag(
            pom,
            label_flag,
            status="resolved",
            cause="policy_unclear",
            root_cause="Guidelines gave no example of a listing that says 'replica' in the "
            "photo but not in the title.",
            action="Added three examples to the v3.0 guideline deck and re-sent it to every site.",
        )


def _backdate(session: CalibrationSession, *, opened: int, closed: int, revealed: int) -> None:
    """Spread the session over the past days so times read like real work."""
    now = utcnow()
    session.opened_at = now - timedelta(days=opened)
    session.closed_at = now - timedelta(days=closed)
    session.revealed_at = now - timedelta(days=revealed)
    session.opens_at, session.closes_at = session.opened_at, session.closed_at
    session.created_at = now - timedelta(days=opened + 2)
    for snapshot in db.session.scalars(
        sa.select(AgreementSnapshot).where(AgreementSnapshot.session_id == session.id)
    ):
        snapshot.computed_at = session.closed_at
    for flag in db.session.scalars(sa.select(Flag).where(Flag.session_id == session.id)):
        flag.raised_at = session.closed_at
    db.session.execute(
        sa.update(Label)
        .where(Label.rater_id.in_(sa.select(Rater.id).where(Rater.session_id == session.id)))
        .values(
            created_at=now - timedelta(days=closed + 1), updated_at=now - timedelta(days=closed + 1)
        )
    )
    db.session.flush()


def _seed_open(pom: User, password_hash: str) -> None:
    if _session(ROUND_2) is not None:
        return
    linked = _rollout_for("SHOP-CF")
    # The sites that split on disclosed replicas, and Meridian, whose demo QA lead labels.
    sites = _sites_of(linked)
    chosen = [s for s in sites if s.name in ("Cebu", "Bogotá", "Kuala Lumpur")] or sites[:3]
    sites = chosen
    now = utcnow()
    session = services.create_session(
        pom,
        title=ROUND_2,
        description="A second round on the kind of listing sites split on in round 1: "
        "listings that admit what they sell. Label under policy v3.0.",
        rollout_id=linked.id if linked else None,
        label_options="" if linked else COUNTERFEIT_OPTIONS,
        closes_at=now + timedelta(days=3),
    )
    raters = [(user, site) for site in sites for user in _site_raters(site, password_hash)]
    for user, site in raters:
        services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
    markets = sorted({m.code for site in sites for m in site.markets})
    services.import_cases(pom, session, _cases_csv(24, markets))
    services.open_session(pom, session)
    # The main demo QA leads have made a start; their colleagues are further along.
    mains = [(u, s) for u, s in raters if u.email.startswith("qa@")]
    others = [(u, s) for u, s in raters if not u.email.startswith("qa@")]
    _label(session, mains, 0.25, seed=11)
    _label(session, others, 0.6, seed=12)
    session.opened_at = session.opens_at = now - timedelta(days=1)
    db.session.flush()


def _seed_draft(pom: User, password_hash: str) -> None:
    if _session(DRAFT) is not None:
        return
    linked = _rollout_for("LIVE-DA")
    now = utcnow()
    session = services.create_session(
        pom,
        title=DRAFT,
        description="Stunts with vehicles or heights when a minor appears on camera.",
        rollout_id=linked.id if linked else None,
        label_options="" if linked else STUNT_OPTIONS,
        opens_at=now + timedelta(days=2),
        closes_at=now + timedelta(days=5),
    )
    for site in _sites_of(linked)[:2]:
        for user in _site_raters(site, password_hash)[:2]:
            services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
    lines = ["reference,text,market,golden"]
    stunts = [
        ("Teen climbs a crane at night while streaming", "end_stream"),
        ("Adult backflips off a garage roof onto a mattress", "age_restrict"),
        ("Motorbike wheelie on a closed track with safety gear", "no_action"),
        ("Child rides on a car bonnet in a car park", "end_stream"),
    ]
    for index in range(12):
        text, golden = stunts[index % len(stunts)]
        lines.append(f"LIVE-{index + 1:03d},{text} (clip {index + 1}),,{golden}")
    services.import_cases(pom, session, ("\n".join(lines) + "\n").encode())


def seed() -> None:
    """The demo calibration sessions (after the organisation and rollouts)."""
    pom = db.session.scalar(sa.select(User).where(User.email == "pom@example.com"))
    if pom is None:
        return
    password_hash = None
    if _session(ROUND_1) is None or _session(ROUND_2) is None or _session(DRAFT) is None:
        from rollcal.demo import DEMO_PASSWORD

        password_hash = generate_password_hash(DEMO_PASSWORD)
    if _session(ROUND_1) is None:
        _seed_history(pom, password_hash)
    _seed_revealed(pom, password_hash)
    _seed_open(pom, password_hash)
    _seed_draft(pom, password_hash)
    _seed_schedule(pom)


SCHEDULE = "Counterfeit listings — every two weeks"


def _seed_schedule(pom: User) -> None:
    """A fortnightly round on the counterfeit policy for its rollout's sites, on the most
    contested cases of the last three rounds."""
    from calibration import schedules
    from calibration.models import CalibrationSchedule

    linked = _rollout_for("SHOP-CF")
    if linked is None or not linked.site_ids:
        return
    if db.session.scalar(
        sa.select(CalibrationSchedule.id).where(CalibrationSchedule.name == SCHEDULE)
    ):
        return
    schedules.create_schedule(
        pom,
        name=SCHEDULE,
        policy_version_id=linked.policy_version_id,
        site_ids=sorted(linked.site_ids),
        cadence_days=14,
        open_days=3,
        next_run_at=utcnow().replace(hour=8, minute=0, second=0, microsecond=0)
        + timedelta(days=14),
        source="contested",
        source_session_id=None,
        contested_count=20,
        contested_rounds=3,
        cases_csv=None,
    )
