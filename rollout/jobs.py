"""What the scheduler runs for rollouts: reminders, go-live, daily digests, weekly summary.

Each function runs inside an app context (``rollcal.jobs.scheduler`` wraps it), returns a
one-line summary, and is safe to run twice or in two schedulers at once: rollouts are
claimed with ``FOR UPDATE SKIP LOCKED`` before they change state, every notification has
a unique key, and every digest a unique (person, kind, period) record, inserted in the
same transaction as its e-mail (see ``rollcal.notifications``).

"Today" is each person's own day, in their time zone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from calibration import queries as calibration_queries
from calibration.models import AgreementSnapshot, CalibrationSession, Flag, FlagStatus
from calibration.quality import DRIFT_KINDS
from rollcal import permissions, uow
from rollcal.accounts.models import User
from rollcal.errors import Conflict
from rollcal.extensions import db
from rollcal.jobs.scheduler import EVERY_QUARTER, Job, claim_rows
from rollcal.notifications.models import DIGEST_HOUR, Delivery, DigestKind, Kind, Notification
from rollcal.notifications.services import (
    already_notified,
    claim_digest,
    delivery_for,
    notification_key,
    notify,
    path_for,
    pending_digest,
    previous_digest,
    queue_email,
)
from rollcal.org.models import Site, Vendor, vendor_owners
from rollcal.permissions import Action
from rollcal.types import utcnow
from rollout import readiness, services
from rollout.models import (
    ChecklistItem,
    ItemStatus,
    PolicyVersion,
    Rollout,
    RolloutSite,
    RolloutStatus,
    Side,
)
from rollout.queries import summaries

log = logging.getLogger("rollcal.jobs")

REMIND_WITHIN_DAYS = readiness.DUE_SOON_DAYS
UNDER_WAY = (RolloutStatus.PLANNING, RolloutStatus.IN_PROGRESS, RolloutStatus.AWAITING_SIGNOFF)
OPEN_ITEM = (ItemStatus.TODO, ItemStatus.IN_PROGRESS, ItemStatus.BLOCKED)
SEVERITY_ORDER = sa.case({"high": 0, "medium": 1, "low": 2}, value=Flag.severity, else_=3)
# Digests list this many overdue items and flags; the rest are counted and linked.
DIGEST_LIST_LIMIT = 10


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def local_now(user: User, now: datetime) -> datetime:
    """``now`` in the person's time zone."""
    return now.astimezone(ZoneInfo(user.timezone))


# Checklist reminders ----------------------------------------------------------------


def remind_assignees() -> str:
    """Remind people of open checklist items due within two days or overdue: one
    notification per person per day of theirs, listing every such item, with one e-mail.
    Unassigned vendor items go to the vendor's QA leads, unassigned POM items to the
    rollout's owner."""
    now = utcnow()
    # The furthest "today + 2" anywhere on Earth is at most a day past UTC's.
    horizon = now.date() + timedelta(days=REMIND_WITHIN_DAYS + 1)
    items = db.session.scalars(
        sa.select(ChecklistItem)
        .join(Rollout, Rollout.id == ChecklistItem.rollout_id)
        .where(
            ChecklistItem.status.in_(OPEN_ITEM),
            ChecklistItem.gate.is_(False),
            ChecklistItem.due_date <= horizon,
            # After sign-off an item left open is history, not work: no more nagging.
            Rollout.status.in_(UNDER_WAY),
        )
        .options(
            selectinload(ChecklistItem.site).selectinload(Site.vendor),
            selectinload(ChecklistItem.assignee),
            selectinload(ChecklistItem.rollout).selectinload(Rollout.owner),
            selectinload(ChecklistItem.rollout)
            .selectinload(Rollout.policy_version)
            .selectinload(PolicyVersion.policy),
        )
        .order_by(ChecklistItem.id)
    ).all()
    qa_leads = _qa_leads_by_vendor({item.site.vendor_id for item in items})
    by_person: dict[int, tuple[User, list[ChecklistItem]]] = {}
    for item in items:
        if item.assignee is not None:
            people = [item.assignee]
        elif item.side == Side.VENDOR:
            people = qa_leads.get(item.site.vendor_id, [])
        else:
            people = [item.rollout.owner]
        for person in people:
            by_person.setdefault(person.id, (person, []))[1].append(item)
    listed = people_told = 0
    # Person id order: two schedulers insert the same keys in the same order, so the
    # second waits on the first rather than deadlocking with it.
    for person_id in sorted(by_person):
        person, candidates = by_person[person_id]
        told = _remind(person, candidates, now)
        listed += told
        people_told += bool(told)
    return (
        f"{_plural(people_told, 'reminder')} listing {_plural(listed, 'item')}"
        if people_told
        else "no reminders"
    )


def _qa_leads_by_vendor(vendor_ids: set[int]) -> dict[int, list[User]]:
    leads: dict[int, list[User]] = defaultdict(list)
    if vendor_ids:
        for user in db.session.scalars(
            sa.select(User)
            .where(permissions.vendor_members(vendor_ids), User.active)
            .order_by(User.id)
        ):
            leads[user.vendor_id].append(user)
    return leads


def _due_words(due: date, today: date) -> str:
    days = (due - today).days
    if days < 0:
        return f"Overdue by {_plural(-days, 'day')}"
    return {0: "Due today", 1: "Due tomorrow"}.get(days, f"Due in {days} days")


def _due_group(due: date, today: date) -> str:
    """Which words the reminder's title uses for an item: overdue, today, tomorrow, soon."""
    days = (due - today).days
    if days < 0:
        return "overdue"
    return {0: "due today", 1: "due tomorrow"}.get(days, "due within two days")


def reminder_title(due: list[ChecklistItem], today: date) -> str:
    """The title of a day's reminder: the item itself when there is one, else how many
    items, how due, on how many rollouts ("6 items due today on 2 rollouts")."""
    if len(due) == 1:
        return f"{_due_words(due[0].due_date, today)}: {due[0].title}"
    groups = {_due_group(item.due_date, today) for item in due}
    how = groups.pop() if len(groups) == 1 else "due or overdue"
    rollouts = {item.rollout_id: item.rollout for item in due}
    where = (
        next(iter(rollouts.values())).title
        if len(rollouts) == 1
        else _plural(len(rollouts), "rollout")
    )
    return f"{len(due)} items {how} on {where}"


def _reminder_entry(item: ChecklistItem, today: date) -> dict:
    """One item as the reminder lists it, with links to the item, its site and rollout."""
    return {
        "title": item.title,
        "link": path_for("rollout.item", item_id=item.id),
        "when": _due_words(item.due_date, today),
        "overdue": item.due_date < today,
        "due": item.due_date.isoformat(),
        "status": item.status.title,
        "site": item.site.label,
        "site_link": path_for("org.site", site_id=item.site_id),
        "rollout": item.rollout.title,
        "rollout_link": path_for("rollout.board", rollout_id=item.rollout_id),
    }


def _remind(person: User, candidates: list[ChecklistItem], now: datetime) -> int:
    """Remind one person, once on their today, of every item of theirs due by today + 2,
    in one transaction; return how many items the reminder lists (0: none made).

    The notification's key is the person and their day: two schedulers make it once,
    and an item that falls due later that day is listed in the next day's reminder.
    """
    today = local_now(person, now).date()
    due = sorted(
        (item for item in candidates if item.due_date <= today + timedelta(REMIND_WITHIN_DAYS)),
        key=lambda item: (item.due_date, item.rollout_id, item.site.label, item.position, item.id),
    )
    about = today.isoformat()
    if not due or already_notified([notification_key(Kind.CHECKLIST_DUE, about, person)]):
        return 0
    entries = [_reminder_entry(item, today) for item in due]
    notification = notify(
        person,
        Kind.CHECKLIST_DUE,
        about=about,
        title=reminder_title(due, today),
        body="\n".join(
            f"{entry['when']}: {entry['title']} — {entry['site']} · {entry['rollout']}"
            for entry in entries
        ),
        link=entries[0]["link"] if len(due) == 1 else None,
        entries=entries,
        email=False,
    )
    if notification is None:
        uow.rollback()
        return 0
    if len(due) > 1:
        # The page of the notification lists its items; its id is known once inserted.
        notification.link = path_for("notifications.show", notification_id=notification.id)
    if notification.delivery == Delivery.IMMEDIATELY:
        message = queue_email(
            person,
            Kind.CHECKLIST_DUE.value,
            subject=notification.title,
            template="checklist_due",
            entries=[
                {"item": item, "when": entry["when"], "link": entry["link"]}
                for item, entry in zip(due, entries, strict=True)
            ],
            all_link=notification.link,
        )
        notification.email_id = message.id
    uow.commit()
    return len(due)


# Go-live -----------------------------------------------------------------------------


def take_rollouts_live() -> str:
    """Move signed-off rollouts to live once the go-live date has come in the owner's time
    zone; tell the owner and the stakeholders."""
    now = utcnow()
    went_live = 0
    skipped: set[int] = set()
    # No time zone is more than 14 hours ahead of UTC: tomorrow (UTC) bounds every owner's today.
    due = sa.select(Rollout).where(
        Rollout.status == RolloutStatus.SIGNED_OFF,
        Rollout.go_live_date <= now.date() + timedelta(days=1),
    )
    while True:
        statement = due.where(Rollout.id.not_in(skipped)) if skipped else due
        rollout = db.session.scalars(claim_rows(statement.order_by(Rollout.id).limit(1))).first()
        if rollout is None:
            break
        if rollout.go_live_date > local_now(rollout.owner, now).date():
            skipped.add(rollout.id)
            uow.rollback()
            continue
        rollout_id = rollout.id
        try:
            # The versioned UPDATE first: if someone changed the rollout meanwhile (it is
            # locked only on PostgreSQL), nothing else of this rollout is written.
            services.mark_live(rollout)
            _tell_live(rollout)
            uow.commit()
        except (StaleDataError, Conflict):
            uow.rollback()
            skipped.add(rollout_id)
            continue
        went_live += 1
        log.info("Rollout %s is live", rollout_id)
    return f"{_plural(went_live, 'rollout')} went live"


# Stored readiness ---------------------------------------------------------------------


def refresh_readiness() -> str:
    """Recompute the stored readiness of rollouts under way whose sites were last computed
    before today: the rule depends on the date (items fall due, then overdue). Changes of
    items, sessions and overrides recompute it at once; this catches up on the calendar."""
    today = utcnow().date()
    refreshed = 0
    skipped: set[int] = set()
    stale_sites = sa.select(RolloutSite.rollout_id).where(
        sa.or_(RolloutSite.readiness_on.is_(None), RolloutSite.readiness_on < today)
    )
    due = sa.select(Rollout).where(
        Rollout.status.not_in([RolloutStatus.CANCELLED, RolloutStatus.LIVE]),
        Rollout.id.in_(stale_sites),
    )
    while True:
        statement = due.where(Rollout.id.not_in(skipped)) if skipped else due
        rollout = db.session.scalars(claim_rows(statement.order_by(Rollout.id).limit(1))).first()
        if rollout is None:
            break
        rollout_id = rollout.id
        try:
            services.refresh_rollout_status(rollout, today)
            uow.commit()
        except (StaleDataError, Conflict):
            # Someone changed the rollout meanwhile; their change recomputed it.
            uow.rollback()
            skipped.add(rollout_id)
            continue
        refreshed += 1
    return f"recomputed the readiness of {_plural(refreshed, 'rollout')}"


def _tell_live(rollout: Rollout) -> None:
    stakeholders = db.session.scalars(
        sa.select(User)
        .where(permissions.holders_of(Action.SIGN_OFF), User.active)
        .order_by(User.id)
    ).all()
    people = {rollout.owner.id: rollout.owner} | {user.id: user for user in stakeholders}
    for person_id in sorted(people):
        notify(
            people[person_id],
            Kind.ROLLOUT_LIVE,
            about=str(rollout.id),
            title=f"Live: {rollout.title}",
            body=f"Signed off and live from {rollout.go_live_date:%d %b %Y} at "
            f"{_plural(len(rollout.rollout_sites), 'site')}.",
            link=path_for("rollout.board", rollout_id=rollout.id),
        )


# Daily digest ------------------------------------------------------------------------


@dataclass
class SiteRisk:
    """One site of a rollout that is at risk or blocked, and why."""

    site: str
    state: readiness.State
    reasons: tuple[str, ...]


@dataclass
class RolloutRisk:
    """A rollout with sites at risk or blocked."""

    rollout: Rollout
    link: str
    sites: list[SiteRisk]
    # How many sites are at risk or blocked in all; ``sites`` holds the first of them.
    sites_total: int = 0

    @property
    def more(self) -> int:
        """How many more sites are at risk or blocked than the digest lists."""
        return max(0, self.sites_total - len(self.sites))


@dataclass
class PomReport:
    """What a POM's daily digest tells: rollouts at risk, overdue items, new flags."""

    at_risk: list[RolloutRisk] = field(default_factory=list)
    overdue: list[ChecklistItem] = field(default_factory=list)
    overdue_total: int = 0
    new_flags: list[Flag] = field(default_factory=list)
    new_flags_total: int = 0
    # Sites drifting at the POM's vendors, however long ago it was found: told in every
    # digest while it lasts, though it alone does not make a digest worth sending.
    drifting: list[tuple[Flag, str]] = field(default_factory=list)

    @property
    def has_news(self) -> bool:
        """Whether there is anything to tell."""
        return bool(self.at_risk or self.overdue_total or self.new_flags_total)

    @property
    def summary(self) -> str:
        """One line for the admin's record of the digest."""
        return (
            f"{_plural(len(self.at_risk), 'rollout')} at risk, "
            f"{_plural(self.overdue_total, 'overdue item')}, "
            f"{_plural(self.new_flags_total, 'new flag')}"
        )


def pom_report(pom: User, today: date, since: datetime) -> PomReport:
    """The POM's rollouts at risk and their overdue items today, and the flags raised
    since ``since`` in sessions they run, on their rollouts or at vendors they own."""
    report = PomReport()
    rollouts = list(
        db.session.scalars(
            sa.select(Rollout)
            .where(Rollout.owner_id == pom.id, Rollout.status.in_(UNDER_WAY))
            .order_by(Rollout.go_live_date, Rollout.id)
        )
    )
    # Readiness as stored (kept current by every change and by the daily job), not
    # recounted from every item of every rollout; the first sites of each rollout with
    # how many there are, as a rollout of 2,000 sites at risk would otherwise list them
    # all in one e-mail.
    by_rollout = dict(partition_by=RolloutSite.rollout_id)
    by_name = (Vendor.name, Site.name)
    ranked = (
        sa.select(
            RolloutSite.rollout_id,
            Vendor.name.label("vendor"),
            Site.name.label("site"),
            RolloutSite.readiness_state,
            RolloutSite.readiness_reasons,
            sa.func.row_number().over(**by_rollout, order_by=by_name).label("place"),
            sa.func.count().over(**by_rollout).label("in_all"),
        )
        .join(Site, Site.id == RolloutSite.site_id)
        .join(Vendor, Vendor.id == Site.vendor_id)
        .where(
            RolloutSite.rollout_id.in_([rollout.id for rollout in rollouts]),
            RolloutSite.readiness_state.in_([readiness.State.AT_RISK, readiness.State.BLOCKED]),
        )
        .subquery()
    )
    risky_sites = db.session.execute(
        sa.select(ranked).where(ranked.c.place <= DIGEST_LIST_LIMIT).order_by(ranked.c.place)
    )
    risks: dict[int, list[SiteRisk]] = defaultdict(list)
    risky_totals: dict[int, int] = {}
    for row in risky_sites:
        risks[row.rollout_id].append(
            SiteRisk(
                f"{row.vendor} · {row.site}",
                readiness.State(row.readiness_state),
                tuple(row.readiness_reasons or ()),
            )
        )
        risky_totals[row.rollout_id] = row.in_all
    for rollout in rollouts:
        if risks[rollout.id]:
            link = path_for("rollout.board", rollout_id=rollout.id)
            report.at_risk.append(
                RolloutRisk(rollout, link, risks[rollout.id], risky_totals[rollout.id])
            )
    overdue = sa.select(ChecklistItem).where(
        ChecklistItem.rollout_id.in_([rollout.id for rollout in rollouts]),
        ChecklistItem.required.is_(True),
        ChecklistItem.gate.is_(False),
        ChecklistItem.status.not_in([ItemStatus.DONE, ItemStatus.NOT_APPLICABLE]),
        ChecklistItem.due_date < today,
    )
    report.overdue_total = db.session.scalar(
        sa.select(sa.func.count()).select_from(overdue.subquery())
    )
    report.overdue = list(
        db.session.scalars(
            overdue.options(
                selectinload(ChecklistItem.site).selectinload(Site.vendor),
                selectinload(ChecklistItem.assignee),
            )
            .order_by(
                ChecklistItem.due_date,
                ChecklistItem.rollout_id,
                ChecklistItem.position,
                ChecklistItem.site_id,
            )
            .limit(DIGEST_LIST_LIMIT)
        )
    )
    owned_vendors = sa.select(vendor_owners.c.vendor_id).where(vendor_owners.c.user_id == pom.id)
    flags = (
        sa.select(Flag)
        .join(CalibrationSession, CalibrationSession.id == Flag.session_id)
        .where(
            Flag.status == FlagStatus.OPEN,
            Flag.raised_at >= since,
            sa.or_(
                CalibrationSession.created_by_id == pom.id,
                CalibrationSession.rollout_id.in_(
                    sa.select(Rollout.id).where(Rollout.owner_id == pom.id)
                ),
                Flag.vendor_id.in_(owned_vendors),
            ),
        )
    )
    report.new_flags_total = db.session.scalar(
        sa.select(sa.func.count()).select_from(flags.subquery())
    )
    report.new_flags = list(
        db.session.scalars(
            flags.options(selectinload(Flag.session))
            .order_by(SEVERITY_ORDER, Flag.raised_at.desc(), Flag.id)
            .limit(DIGEST_LIST_LIMIT)
        )
    )
    report.drifting = [
        (flag, path_for("scorecards.site", site_id=flag.site_id))
        for flag in db.session.scalars(
            sa.select(Flag)
            .where(
                Flag.kind.in_(DRIFT_KINDS.values()),
                Flag.status != FlagStatus.RESOLVED,
                Flag.vendor_id.in_(owned_vendors),
            )
            .order_by(SEVERITY_ORDER, Flag.updated_at.desc(), Flag.id)
            .limit(DIGEST_LIST_LIMIT)
        )
    ]
    return report


def send_daily_digests() -> str:
    """After 08:00 in each person's time zone, once a day, e-mail each POM their digest
    and anyone with notifications waiting for the digest their digest; an empty digest
    is recorded but not sent."""
    now = utcnow()
    waiting = sa.select(Notification.user_id).where(
        Notification.delivery == Delivery.DIGEST, Notification.digested_at.is_(None)
    )
    people = db.session.scalars(
        sa.select(User)
        .where(
            User.active, sa.or_(permissions.holders_of(Action.OWN_VENDORS), User.id.in_(waiting))
        )
        .order_by(User.id)
    ).all()
    made = emailed = 0
    for person in people:
        local = local_now(person, now)
        if local.hour < DIGEST_HOUR:
            continue
        digest = claim_digest(person, DigestKind.DAILY, local.date())
        if digest is None:
            uow.rollback()
            continue
        made += 1
        previous = previous_digest(person, DigestKind.DAILY, local.date())
        since = previous.created_at if previous else now - timedelta(days=1)
        report = (
            pom_report(person, local.date(), since)
            if permissions.may(person, Action.OWN_VENDORS)
            else None
        )
        pending = pending_digest(person)
        has_news = bool((report and report.has_news) or pending)
        parts = [report.summary] if report else []
        if pending:
            parts.append(_plural(len(pending), "waiting notification"))
        digest.summary = "; ".join(parts) or "nothing to tell"
        if has_news and delivery_for(person, Kind.DAILY_DIGEST) != Delivery.OFF:
            message = queue_email(
                person,
                Kind.DAILY_DIGEST.value,
                subject=f"rollcal daily digest — {local:%a %d %b %Y}",
                template="daily_digest",
                day=local.date(),
                report=report,
                pending=pending,
                flags_link=path_for("calibration.flags"),
                my_items_link=path_for("rollout.my_items"),
            )
            digest.email_id = message.id
            emailed += 1
        for notification in pending:
            notification.digested_at = now
            notification.email_id = digest.email_id
        uow.commit()
    return f"made {_plural(made, 'digest')}, e-mailed {emailed}"


# Weekly summary ----------------------------------------------------------------------


@dataclass
class RolloutLine:
    """One rollout in the weekly summary, with its sites counted by readiness."""

    rollout: Rollout
    link: str
    counts: dict


@dataclass
class SessionLine:
    """A session that closed this week, with its overall agreement."""

    session: CalibrationSession
    link: str
    alpha: float | None


@dataclass
class WeeklyReport:
    """The organisation's week: rollouts under way, awaiting sign-off, live; calibration."""

    under_way: list[RolloutLine] = field(default_factory=list)
    awaiting_signoff: list[RolloutLine] = field(default_factory=list)
    went_live: list[RolloutLine] = field(default_factory=list)
    sessions: list[SessionLine] = field(default_factory=list)
    open_flags: int = 0
    open_high_flags: int = 0


def weekly_report(today: date, now: datetime) -> WeeklyReport:
    """The week up to ``now``, rollout readiness as of ``today``."""
    report = WeeklyReport()
    week_ago = now - timedelta(days=7)
    rollouts = list(
        db.session.scalars(
            sa.select(Rollout)
            .where(
                sa.or_(
                    Rollout.status.in_([*UNDER_WAY, RolloutStatus.SIGNED_OFF]),
                    sa.and_(
                        Rollout.status == RolloutStatus.LIVE,
                        Rollout.go_live_date > today - timedelta(days=7),
                    ),
                )
            )
            .order_by(Rollout.go_live_date, Rollout.id)
        )
    )
    for summary in summaries(None, rollouts):
        rollout = summary.rollout
        line = RolloutLine(
            rollout, path_for("rollout.board", rollout_id=rollout.id), dict(summary.counts)
        )
        if rollout.status == RolloutStatus.LIVE:
            report.went_live.append(line)
        elif rollout.status == RolloutStatus.AWAITING_SIGNOFF:
            report.awaiting_signoff.append(line)
        else:
            report.under_way.append(line)
    closed = db.session.scalars(
        sa.select(CalibrationSession)
        .where(CalibrationSession.closed_at >= week_ago)
        .order_by(CalibrationSession.closed_at)
    ).all()
    latest = {}
    if closed:
        newest = (
            sa.select(sa.func.max(AgreementSnapshot.id))
            .where(AgreementSnapshot.session_id.in_([s.id for s in closed]))
            .group_by(AgreementSnapshot.session_id)
            .scalar_subquery()
        )
        latest = {
            snapshot.session_id: snapshot
            for snapshot in db.session.scalars(
                sa.select(AgreementSnapshot).where(AgreementSnapshot.id.in_(newest))
            )
        }
    for session in closed:
        snapshot = latest.get(session.id)
        alpha = calibration_queries.headline(snapshot).get("alpha") if snapshot else None
        link = path_for("calibration.session", session_id=session.id)
        report.sessions.append(SessionLine(session, link, alpha))
    counts = dict(
        db.session.execute(
            sa.select(Flag.severity, sa.func.count(Flag.id))
            .where(Flag.status == FlagStatus.OPEN)
            .group_by(Flag.severity)
        ).all()
    )
    report.open_flags = sum(counts.values())
    report.open_high_flags = counts.get("high", 0)
    return report


def send_weekly_summaries() -> str:
    """After 08:00 on Monday in each stakeholder's time zone, once a week, e-mail them the
    organisation's week. A scheduler that was down on Monday catches up later that week."""
    now = utcnow()
    stakeholders = db.session.scalars(
        sa.select(User)
        .where(User.active, permissions.holders_of(Action.SIGN_OFF))
        .order_by(User.id)
    ).all()
    reports: dict[date, WeeklyReport] = {}
    made = emailed = 0
    for person in stakeholders:
        local = local_now(person, now)
        monday = local.date() - timedelta(days=local.weekday())
        if local.weekday() == 0 and local.hour < DIGEST_HOUR:
            continue
        digest = claim_digest(person, DigestKind.WEEKLY, monday)
        if digest is None:
            uow.rollback()
            continue
        made += 1
        if local.date() not in reports:
            reports[local.date()] = weekly_report(local.date(), now)
        report = reports[local.date()]
        digest.summary = (
            f"{_plural(len(report.under_way), 'rollout')} under way, "
            f"{len(report.awaiting_signoff)} awaiting sign-off, {len(report.went_live)} live, "
            f"{_plural(len(report.sessions), 'session')} closed"
        )
        if delivery_for(person, Kind.WEEKLY_SUMMARY) != Delivery.OFF:
            message = queue_email(
                person,
                Kind.WEEKLY_SUMMARY.value,
                subject=f"rollcal weekly summary — week of {monday:%d %b %Y}",
                template="weekly_summary",
                monday=monday,
                report=report,
                flags_link=path_for("calibration.flags"),
                rollouts_link=path_for("rollout.rollouts"),
            )
            digest.email_id = message.id
            emailed += 1
        uow.commit()
    return f"made {_plural(made, 'weekly summary', 'weekly summaries')}, e-mailed {emailed}"


# What the scheduler runs of this module (registered by the domain's ``init_app``).
JOBS = (
    Job(
        "checklist_reminders",
        "Remind people of checklist items due",
        "Once a day (their day), one reminder per person listing their open items due "
        "within two days or overdue.",
        "Every 15 minutes",
        EVERY_QUARTER,
        remind_assignees,
    ),
    Job(
        "rollout_go_live",
        "Take signed-off rollouts live",
        "Moves signed-off rollouts to live once their go-live date has come, telling the "
        "owner and stakeholders.",
        "Every 15 minutes",
        EVERY_QUARTER,
        take_rollouts_live,
    ),
    Job(
        "rollout_readiness",
        "Recompute readiness for the date",
        "Once a day, recomputes the stored readiness of rollouts under way, as items fall "
        "due and become overdue (changes recompute it at once).",
        "Daily at 00:05 UTC",
        {"hour": 0, "minute": 5},
        refresh_readiness,
    ),
    Job(
        "daily_digest",
        "Daily digests",
        "After 08:00 in each person's time zone, once a day: each POM's rollouts at risk, "
        "overdue items and new flags, and what anyone chose to get in the digest.",
        "Every 15 minutes",
        EVERY_QUARTER,
        send_daily_digests,
    ),
    Job(
        "weekly_summary",
        "Weekly stakeholder summary",
        "After 08:00 on Monday in each stakeholder's time zone, once a week: rollouts, "
        "readiness, sign-offs and calibration.",
        "Every 15 minutes",
        EVERY_QUARTER,
        send_weekly_summaries,
    ),
)
