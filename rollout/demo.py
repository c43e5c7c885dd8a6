"""Demo policies and three rollouts in different states, with a believable history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from rollcal.accounts.models import User
from rollcal.audit import AuditEvent
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Site, Vendor
from rollout import services
from rollout.models import ChecklistItem, Policy, PolicyVersion, Rollout

POLICIES = [
    {
        "code": "SHOP-CF",
        "title": "Counterfeit goods on product listings",
        "area": "Counterfeit goods",
        "line": "Shop: product listing",
        "version": "v3.0",
        "summary": "Listings that offer replicas or 'inspired by' branded goods are violating "
        "even when the seller discloses it; new reason code for disclosed replicas.",
        "labels": "violating | Violating: counterfeit | Sells a fake of a protected brand\n"
        "disclosed_replica | Violating: disclosed replica | Says replica, AAA, 1:1\n"
        "authentic | Not violating | Genuine or unbranded goods\n"
        "needs_review | Escalate to IPR | Brand owner complaint needed",
    },
    {
        "code": "LIVE-DA",
        "title": "Dangerous activities in live streams",
        "area": "Dangerous activities",
        "line": "Live",
        "version": "v2.1",
        "summary": "Stunts with vehicles or heights move from age-restrict to stream end "
        "when a minor appears on camera.",
        "labels": "end_stream | End stream\nage_restrict | Age-restrict\nno_action | No action",
    },
    {
        "code": "SV-HM",
        "title": "Health misinformation in short video",
        "area": "Misinformation",
        "line": "Short video",
        "version": "v1.4",
        "summary": "Claims that a product cures a chronic disease are removed; testimonials "
        "without a cure claim get a label.",
        "labels": "remove | Remove\nlabel | Add information label\nno_action | No action",
    },
]


def _site(vendor: str, name: str) -> Site:
    return db.session.scalar(
        sa.select(Site).join(Vendor).where(Vendor.name == vendor, Site.name == name)
    )


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _version(code: str) -> PolicyVersion:
    return db.session.scalar(sa.select(PolicyVersion).join(Policy).where(Policy.code == code))


def _seed_policies(pom: User) -> None:
    for spec in POLICIES:
        policy = db.session.scalar(sa.select(Policy).where(Policy.code == spec["code"]))
        if policy is None:
            line = db.session.scalar(
                sa.select(LineOfBusiness).where(LineOfBusiness.name == spec["line"])
            )
            policy = services.create_policy(
                pom,
                code=spec["code"],
                title=spec["title"],
                area=spec["area"],
                line_of_business_id=line.id,
            )
        if not policy.versions:
            services.create_version(
                pom,
                policy,
                version_label=spec["version"],
                change_summary=spec["summary"],
                effective_date=date.today(),
                document_url=f"https://policy.example.com/{spec['code'].lower()}",
                label_options=spec["labels"],
            )


def _work(rollout: Rollout, actor_for, plan: dict[tuple[str, int], tuple[str, str | None]]) -> None:
    """Apply (site name, step position) → (status, reason) as the right person would."""
    for item in sorted(rollout.items, key=lambda i: (i.position, i.site_id)):
        key = (item.site.name, item.position)
        if key not in plan or item.gate:
            continue
        status, reason = plan[key]
        evidence = (
            "https://drive.example.com/evidence/" + str(item.id) if status == "done" else None
        )
        services.update_item(
            actor_for(item),
            item,
            version=item.version,
            status=status,
            reason=reason,
            evidence_url=evidence,
        )


def _spread_history(rollout: Rollout, start: datetime, end: datetime) -> None:
    """Space the rollout's audit events between ``start`` and ``end`` in their order, so the
    activity feed reads like two weeks of work rather than one second."""
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.rollout_id == rollout.id).order_by(AuditEvent.id)
    ).all()
    if not events:
        return
    step = (end - start) / max(len(events), 1)
    for index, event in enumerate(events):
        event.created_at = start + step * index
    for item in rollout.items:
        if item.completed_at is not None:
            item.completed_at = min(item.completed_at, end)
    db.session.flush()


def seed(today: date | None = None) -> None:
    """Policies and three rollouts: one nearly ready, one at risk, one with a blocked site."""
    today = today or date.today()
    pom, pom2 = _user("pom@example.com"), _user("pom2@example.com")
    _seed_policies(pom)
    leads = {
        u.vendor_id: u
        for u in db.session.scalars(sa.select(User).where(User.vendor_id.is_not(None)))
    }

    def actor_for(item: ChecklistItem) -> User:
        return leads[item.site.vendor_id] if item.side.value == "vendor" else item.rollout.owner

    now = datetime.combine(today, time(9, 0), tzinfo=UTC)
    specs = [
        (
            "SHOP-CF",
            pom,
            6,
            [
                ("Meridian CX", "Cebu"),
                ("Lumen Ops", "Kuala Lumpur"),
                ("Lumen Ops", "Jakarta"),
                ("Tessera Global", "Bogotá"),
                ("Baobab Moderation", "Kigali"),
            ],
        ),
        (
            "LIVE-DA",
            pom2,
            3,
            [
                ("Meridian CX", "Manila North"),
                ("Harbor Review", "Dublin"),
                ("Tessera Global", "Austin"),
                ("Baobab Moderation", "Kigali"),
            ],
        ),
        (
            "SV-HM",
            pom,
            15,
            [
                ("Harbor Review", "Lisbon"),
                ("Baobab Moderation", "Nairobi"),
                ("Meridian CX", "Manila North"),
            ],
        ),
    ]
    for code, owner, days_to_go_live, site_names in specs:
        version = _version(code)
        if db.session.scalar(sa.select(Rollout.id).where(Rollout.policy_version_id == version.id)):
            continue
        sites = [_site(vendor, name) for vendor, name in site_names]
        rollout = services.create_rollout(
            owner,
            policy_version_id=version.id,
            template_id=1,
            site_ids=[s.id for s in sites],
            go_live_date=today + timedelta(days=days_to_go_live),
        )
        names = [s.name for s in sites]
        if code == "SHOP-CF":
            # Nearly ready: everything but go-live approval done; Jakarta still on UAT.
            plan = {(n, p): ("done", None) for n in names for p in (1, 2, 3, 4, 6, 7, 8, 9)}
            plan[("Jakarta", 6)] = ("in_progress", None)
            plan[("Kigali", 9)] = ("not_applicable", "Kigali escalates through Nairobi's playbook")
        elif code == "LIVE-DA":
            # At risk: go-live in three days with training and capacity behind.
            plan = {(n, p): ("done", None) for n in names for p in (1, 2)}
            plan.update({(n, 3): ("done", None) for n in ("Manila North", "Dublin")})
            plan[("Austin", 3)] = ("in_progress", None)
            plan[("Dublin", 4)] = ("in_progress", None)
            plan[("Manila North", 4)] = ("done", None)
            plan[("Manila North", 6)] = ("done", None)
        else:
            # Blocked: Nairobi's tooling cannot apply the new label yet.
            plan = {(n, 1): ("done", None) for n in names}
            plan[("Lisbon", 2)] = ("in_progress", None)
            plan[("Nairobi", 6)] = (
                "blocked",
                "Labelling tool build 4.2 lacks the new "
                "'information label' action; vendor IT ticket "
                "INC-20431",
            )
        _work(rollout, actor_for, plan)
        if code == "SHOP-CF":
            item = next(i for i in rollout.items if i.site.name == "Cebu" and i.position == 4)
            services.add_comment(
                leads[item.site.vendor_id],
                item,
                "Headcount 212, trained 206 (97%). Roster attached.",
            )
        _spread_history(rollout, now - timedelta(days=14), now - timedelta(hours=2))
