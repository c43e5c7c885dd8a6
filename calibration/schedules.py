"""Recurring calibration: schedules that create a round every so many days, and the
extra round a drift flag asks for.

A schedule names a policy version, the sites whose QA leads rate, a cadence, how long a
round stays open and where the cases come from. The ``calibration_rounds`` job creates
each round as a draft session a day before it opens; the session deadline job then
opens it at its start, tells its raters once, and closes it after the open period.

Exactly once: a round is a ``CalibrationRound`` row, unique per (schedule, round time)
and per flag. Two schedulers that reach the same round at the same instant both try
to insert it; the database keeps one, and the other's insert fails inside a savepoint
and creates nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from calibration import imports, quality, queries, services
from calibration.models import (
    CalibrationRound,
    CalibrationSchedule,
    CalibrationSession,
    Case,
    CaseSource,
    Flag,
    QualityPoint,
    SessionStatus,
)
from rollcal import uow
from rollcal.accounts.models import User
from rollcal.audit import record
from rollcal.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from rollcal.events import calibration_subjects
from rollcal.extensions import db
from rollcal.jobs.scheduler import claim_rows
from rollcal.notifications.models import Kind
from rollcal.notifications.services import notify, path_for
from rollcal.org.models import Market, Site
from rollcal.permissions import Action, holders_of, may_schedule_extra_round, require
from rollcal.types import utcnow

log = logging.getLogger("rollcal.jobs")

# A round is created as a draft this long before it opens, so its POM can look it over.
CREATE_AHEAD = timedelta(days=1)
MAX_CADENCE_DAYS = 366
MAX_OPEN_DAYS = 60
MAX_CONTESTED = 200
MAX_ROUNDS = 20
# The extra round a drift flag asks for: the most contested cases of the latest rounds.
EXTRA_ROUND_CASES = 20
EXTRA_ROUND_ROUNDS = 3
EXTRA_ROUND_OPEN_DAYS = 7


def _manager(actor: User | None) -> None:
    if actor is not None:
        require(actor, Action.SCHEDULE_CALIBRATION)


def _whole(value, field: str, low: int, high: int, what: str) -> int:
    if value is None or value == "":
        raise ValidationError.field(field, f"give {what}.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError.field(field, f"give {what} as a whole number.") from None
    if not low <= number <= high:
        raise ValidationError.field(field, f"must be between {low} and {high}.")
    return number


def _facts(schedule: CalibrationSchedule) -> dict:
    return {
        "name": schedule.name,
        "policy_version_id": schedule.policy_version_id,
        "site_ids": list(schedule.site_ids or []),
        "cadence_days": schedule.cadence_days,
        "open_days": schedule.open_days,
        "next_run_at": schedule.next_run_at.isoformat() if schedule.next_run_at else None,
        "source": schedule.source.value if schedule.source else None,
        "source_session_id": schedule.source_session_id,
        "contested_count": schedule.contested_count,
        "contested_rounds": schedule.contested_rounds,
        "active": schedule.active,
    }


def _apply(
    schedule: CalibrationSchedule,
    *,
    name: str,
    policy_version_id: int | None,
    site_ids: Sequence[int],
    cadence_days,
    open_days,
    next_run_at: datetime | None,
    source: str | None,
    source_session_id: int | None,
    contested_count,
    contested_rounds,
    cases_csv: bytes | None,
) -> None:
    """Check every field and set it on the schedule, or raise naming the first wrong one."""
    name = (name or "").strip()
    if not name:
        raise ValidationError.field("name", "is required.")
    if len(name) > 200:
        raise ValidationError.field("name", "is longer than 200 characters.")
    version = (
        calibration_subjects().policy_version(policy_version_id) if policy_version_id else None
    )
    if version is None:
        raise ValidationError.field("policy_version", "choose the policy version to calibrate.")
    if len(version.label_options or []) < 2:
        raise ValidationError.field(
            "policy_version", "this policy version has no label options to calibrate with."
        )
    ids = sorted({int(site_id) for site_id in site_ids or []})
    if not ids:
        raise ValidationError.field("sites", "choose at least one site whose QA leads rate.")
    known = set(db.session.scalars(sa.select(Site.id).where(Site.id.in_(ids))))
    if known != set(ids):
        raise ValidationError.field("sites", "choose sites from the list.")
    cadence = _whole(cadence_days, "cadence_days", 1, MAX_CADENCE_DAYS, "the days between rounds")
    open_for = _whole(open_days, "open_days", 1, MAX_OPEN_DAYS, "how many days a round is open")
    if open_for > cadence:
        raise ValidationError.field(
            "open_days", "a round cannot stay open longer than the days between rounds."
        )
    if next_run_at is None:
        raise ValidationError.field("next_run_at", "give the time the next round opens.")
    try:
        chosen = CaseSource(source or "")
    except ValueError:
        raise ValidationError.field("source", "choose where the cases come from.") from None
    schedule.source_session_id = None
    schedule.contested_count = schedule.contested_rounds = None
    if chosen == CaseSource.SESSION:
        previous = db.session.get(CalibrationSession, source_session_id or 0)
        if previous is None:
            raise ValidationError.field("source_session", "choose the session to copy cases from.")
        if queries.case_count(previous) == 0:
            raise ValidationError.field("source_session", "that session has no cases to copy.")
        schedule.source_session_id = previous.id
    elif chosen == CaseSource.CONTESTED:
        schedule.contested_count = _whole(
            contested_count, "contested_count", 1, MAX_CONTESTED, "how many cases to take"
        )
        schedule.contested_rounds = _whole(
            contested_rounds, "contested_rounds", 1, MAX_ROUNDS, "how many past rounds to read"
        )
    if chosen == CaseSource.CSV:
        if cases_csv:
            markets = db.session.scalars(sa.select(Market.code)).all()
            rows = imports.read_cases_csv(
                cases_csv,
                option_keys=[o["key"] for o in version.label_options],
                market_codes=markets,
            )
            if not rows:
                raise ValidationError.field("cases_file", "the file has no cases.")
            schedule.cases_csv = cases_csv.decode("utf-8-sig")
        elif not schedule.cases_csv:
            raise ValidationError.field("cases_file", "upload the CSV of cases the rounds use.")
    else:
        schedule.cases_csv = None
    schedule.name = name
    schedule.policy_version_id = version.id
    schedule.site_ids = ids
    schedule.cadence_days, schedule.open_days = cadence, open_for
    schedule.next_run_at = next_run_at
    schedule.source = chosen


def create_schedule(actor: User, **fields) -> CalibrationSchedule:
    """Create an active schedule; its first round opens at ``next_run_at``."""
    _manager(actor)
    schedule = CalibrationSchedule(active=True, created_by=actor)
    _apply(schedule, **fields)
    if schedule.next_run_at <= utcnow():
        raise ValidationError.field("next_run_at", "choose a time still to come.")
    db.session.add(schedule)
    db.session.flush()
    record(
        actor,
        "calibration.schedule_created",
        schedule,
        f"Scheduled “{schedule.name}” every {schedule.cadence_days} days",
        after=_facts(schedule),
    )
    db.session.flush()
    return schedule


def update_schedule(
    actor: User, schedule: CalibrationSchedule, *, version: int | None = None, **fields
) -> CalibrationSchedule:
    """Change a schedule; rounds already created keep what they were made with.

    ``version`` is the one the form was read at: if someone (or the scheduler) changed
    the schedule since, the change is refused rather than overwriting theirs."""
    _manager(actor)
    if version is not None and version != schedule.version:
        raise Conflict(
            "Someone else changed this schedule since you opened it (or a round was "
            "created). Reload it and make your change again."
        )
    before = _facts(schedule)
    moved = fields.get("next_run_at") != schedule.next_run_at
    _apply(schedule, **fields)
    if moved and schedule.next_run_at <= utcnow():
        raise ValidationError.field("next_run_at", "choose a time still to come.")
    record(
        actor,
        "calibration.schedule_updated",
        schedule,
        f"Edited the schedule “{schedule.name}”",
        before=before,
        after=_facts(schedule),
    )
    services._flush("schedule")
    return schedule


def set_active(actor: User, schedule: CalibrationSchedule, active: bool) -> CalibrationSchedule:
    """Pause a schedule (no rounds are created) or resume it; resuming after its next
    round time has passed moves it on to the next round still to come."""
    _manager(actor)
    if schedule.active == active:
        return schedule
    schedule.active = active
    if active:
        now, step = utcnow(), timedelta(days=schedule.cadence_days)
        while schedule.next_run_at <= now:
            schedule.next_run_at += step
    record(
        actor,
        "calibration.schedule_resumed" if active else "calibration.schedule_paused",
        schedule,
        f"{'Resumed' if active else 'Paused'} the schedule “{schedule.name}”",
        after={"active": active},
    )
    services._flush("schedule")
    return schedule


def delete_schedule(actor: User, schedule: CalibrationSchedule) -> None:
    """Delete a schedule; the sessions of its past rounds stay."""
    _manager(actor)
    record(
        actor,
        "calibration.schedule_deleted",
        schedule,
        f"Deleted the schedule “{schedule.name}”",
        before=_facts(schedule),
    )
    db.session.delete(schedule)
    services._flush("schedule")


# Reading ------------------------------------------------------------------------------


def get_schedule(schedule_id: int) -> CalibrationSchedule:
    """One schedule, or ``NotFound``."""
    schedule = db.session.get(CalibrationSchedule, schedule_id)
    if schedule is None:
        raise NotFound("Schedule was not found.")
    return schedule


def all_schedules() -> list[CalibrationSchedule]:
    """Every schedule, the next to run first."""
    return list(
        db.session.scalars(
            sa.select(CalibrationSchedule)
            .options(
                selectinload(CalibrationSchedule.created_by),
                selectinload(CalibrationSchedule.source_session),
            )
            .order_by(CalibrationSchedule.active.desc(), CalibrationSchedule.next_run_at)
        )
    )


def latest_rounds(schedule_ids: Sequence[int]) -> dict[int, CalibrationRound]:
    """Each schedule's latest round, with its session."""
    if not schedule_ids:
        return {}
    newest = (
        sa.select(sa.func.max(CalibrationRound.id))
        .where(CalibrationRound.schedule_id.in_(schedule_ids))
        .group_by(CalibrationRound.schedule_id)
        .scalar_subquery()
    )
    rounds = db.session.scalars(
        sa.select(CalibrationRound)
        .where(CalibrationRound.id.in_(newest))
        .options(selectinload(CalibrationRound.session))
    )
    return {r.schedule_id: r for r in rounds}


def extra_round_of(flag: Flag) -> CalibrationRound | None:
    """The extra round a flag already asked for, if any."""
    return db.session.scalar(sa.select(CalibrationRound).where(CalibrationRound.flag_id == flag.id))


def site_names(found: Sequence[CalibrationSchedule]) -> dict[int, list[str]]:
    """Each schedule's sites by label, sorted, read in one statement for them all."""
    ids = {site_id for schedule in found for site_id in schedule.site_ids or []}
    sites = db.session.scalars(
        sa.select(Site).where(Site.id.in_(ids)).options(selectinload(Site.vendor))
    )
    labels = {site.id: site.label for site in sites}
    return {
        schedule.id: sorted(labels[i] for i in schedule.site_ids or [] if i in labels)
        for schedule in found
    }


def raters_for_sites(site_ids: Sequence[int]) -> list[tuple[User, Site]]:
    """The QA leads who rate for these sites, as the raters page proposes them for a
    rollout's sites: every active QA lead of each site's vendor, each for one site only
    (the first of their vendor's sites chosen)."""
    rows = db.session.execute(
        sa.select(User, Site)
        .join(Site, Site.vendor_id == User.vendor_id)
        .where(
            Site.id.in_(list(site_ids)),
            Site.active.is_(True),
            holders_of(Action.LABEL_CASES),
            User.active.is_(True),
        )
        .order_by(Site.id, User.id)
    ).all()
    chosen: dict[int, tuple[User, Site]] = {}
    for user, site in rows:
        chosen.setdefault(user.id, (user, site))
    return list(chosen.values())


def most_contested(
    policy_id: int | None, policy_version_id: int | None, count: int, rounds: int
) -> list[Case]:
    """The ``count`` most contested cases (highest label entropy, from the stored per-case
    figures) of the last ``rounds`` revealed sessions of the policy; a reference met in
    several rounds counts once, at its latest. Cases everyone agreed on are left out."""
    if policy_id is not None:
        recent = (
            sa.select(QualityPoint.session_id, sa.func.max(QualityPoint.revealed_at).label("at"))
            .where(QualityPoint.policy_id == policy_id)
            .group_by(QualityPoint.session_id)
            .order_by(sa.desc("at"), QualityPoint.session_id.desc())
            .limit(rounds)
        )
        session_ids = [row.session_id for row in db.session.execute(recent)]
    elif policy_version_id is not None:
        session_ids = list(
            db.session.scalars(
                sa.select(CalibrationSession.id)
                .where(
                    CalibrationSession.policy_version_id == policy_version_id,
                    CalibrationSession.status == SessionStatus.REVEALED,
                )
                .order_by(CalibrationSession.revealed_at.desc(), CalibrationSession.id.desc())
                .limit(rounds)
            )
        )
    else:
        return []
    ranked: dict[str, tuple[float, int]] = {}
    for order, session_id in enumerate(session_ids):
        session = db.session.get(CalibrationSession, session_id)
        snapshot = queries.latest_snapshot(session) if session is not None else None
        report = snapshot.report if snapshot is not None else None
        for item in (report or {}).get("items", []):
            entropy = item.get("entropy") or 0
            if entropy > 0 and item["item"] not in ranked:
                ranked[item["item"]] = (entropy, order, session_id)
    best = sorted(ranked.items(), key=lambda pair: (-pair[1][0], pair[1][1], pair[0]))[:count]
    if not best:
        return []
    wanted = {(session_id, reference) for reference, (_, _, session_id) in best}
    cases = db.session.scalars(
        sa.select(Case).where(
            Case.session_id.in_({session_id for session_id, _ in wanted}),
            Case.reference.in_([reference for _, reference in wanted]),
        )
    ).all()
    by_key = {(case.session_id, case.reference): case for case in cases}
    return [
        by_key[(session_id, reference)]
        for reference, (_, _, session_id) in best
        if (session_id, reference) in by_key
    ]


def _copy_cases(actor: User | None, session: CalibrationSession, cases: Sequence[Case]) -> int:
    """Copy cases into a new session; golden answers come along when their label is one
    of the session's options."""
    keys = set(session.option_keys)
    now = utcnow()
    for position, case in enumerate(cases):
        golden = case.golden_label if case.golden_label in keys else None
        db.session.add(
            Case(
                session_id=session.id,
                position=position,
                reference=case.reference,
                content_text=case.content_text,
                content_url=case.content_url,
                market_id=case.market_id,
                policy_area=case.policy_area,
                golden_label=golden,
                golden_rationale=case.golden_rationale if golden else None,
                golden_set_by_id=case.golden_set_by_id if golden else None,
                golden_set_at=(case.golden_set_at or now) if golden else None,
            )
        )
    record(
        actor,
        "calibration.cases_imported",
        session,
        f"Copied {len(cases)} cases into the round",
        after={"cases": len(cases)},
        session_id=session.id,
    )
    db.session.flush()
    return len(cases)


def _schedule_cases(schedule: CalibrationSchedule) -> list[Case]:
    if schedule.source == CaseSource.SESSION:
        if schedule.source_session_id is None:
            raise ValidationError.field("source_session", "the session to copy was deleted.")
        return list(
            db.session.scalars(
                sa.select(Case)
                .where(Case.session_id == schedule.source_session_id)
                .order_by(Case.position)
            )
        )
    facts = calibration_subjects().policy_version(schedule.policy_version_id or 0)
    return most_contested(
        facts.policy_id if facts else None,
        schedule.policy_version_id,
        schedule.contested_count or EXTRA_ROUND_CASES,
        schedule.contested_rounds or EXTRA_ROUND_ROUNDS,
    )


def _fill_round(
    actor: User | None,
    session: CalibrationSession,
    schedule: CalibrationSchedule | None,
    raters: Sequence[tuple[User, Site]],
    cases: Sequence[Case] = (),
) -> None:
    for user, site in raters:
        services.add_human_rater(actor, session, user_id=user.id, site_id=site.id)
    if schedule is not None and schedule.source == CaseSource.CSV:
        services.import_cases(actor, session, (schedule.cases_csv or "").encode())
        return
    if not cases:
        raise ValidationError.field(
            "cases", "no revealed round of this policy has contested cases to take."
        )
    _copy_cases(actor, session, cases)


# The scheduler ------------------------------------------------------------------------


def _claim_round(**key) -> CalibrationRound | None:
    """Insert the round's row, or None if another scheduler (or click) already has."""
    marker = CalibrationRound(**key)
    try:
        with db.session.begin_nested():
            db.session.add(marker)
            db.session.flush()
    except IntegrityError:
        return None
    return marker


def create_round(schedule: CalibrationSchedule, round_at: datetime) -> CalibrationSession | None:
    """Create the schedule's round opening at ``round_at`` as a draft session with its
    raters and cases; None if that round exists already. A round that cannot be made
    (its source session deleted, no contested cases) is recorded without a session, and
    the schedule's POM is told why, once."""
    marker = _claim_round(schedule_id=schedule.id, round_at=round_at)
    if marker is None:
        return None
    try:
        with db.session.begin_nested():
            session = services.create_session(
                None,
                title=f"{schedule.name} — {round_at:%d %b %Y}",
                description=f"A round of the schedule “{schedule.name}”, every "
                f"{schedule.cadence_days} days.",
                policy_version_id=schedule.policy_version_id,
                opens_at=round_at,
                closes_at=round_at + timedelta(days=schedule.open_days),
            )
            session.created_by = schedule.created_by
            _fill_round(
                None,
                session,
                schedule,
                raters_for_sites(schedule.site_ids or []),
                _schedule_cases(schedule) if schedule.source != CaseSource.CSV else (),
            )
    except DomainError as error:
        log.warning("Schedule %s could not create its round: %s", schedule.id, error.message)
        if schedule.created_by is not None:
            notify(
                schedule.created_by,
                Kind.SESSION_PROBLEM,
                about=f"schedule{schedule.id}:{round_at.isoformat()}",
                title=f"“{schedule.name}” skipped a round",
                body=f"The round due {round_at:%d %b %Y} was not created: {error.message}",
                link=path_for("schedules.index"),
            )
        return None
    marker.session_id = session.id
    db.session.flush()
    return session


def _due_round(schedule: CalibrationSchedule, now: datetime) -> datetime:
    """The round to create now: the next one, or, after a scheduler was down past whole
    rounds, the first whose open period has not ended yet."""
    step = timedelta(days=schedule.cadence_days)
    round_at = schedule.next_run_at
    while round_at + timedelta(days=schedule.open_days) <= now:
        round_at += step
    return round_at


def run_due_rounds(now: datetime | None = None) -> tuple[int, int]:
    """Create every round due within ``CREATE_AHEAD``, one schedule at a time under a row
    lock, committing each; returns (rounds created, rounds another scheduler made)."""
    now = now or utcnow()
    created = already = 0
    skipped: set[int] = set()
    due = sa.select(CalibrationSchedule).where(
        CalibrationSchedule.active.is_(True),
        CalibrationSchedule.next_run_at <= now + CREATE_AHEAD,
    )
    while True:
        statement = due
        if skipped:
            statement = statement.where(CalibrationSchedule.id.not_in(skipped))
        schedule = db.session.scalars(
            claim_rows(statement.order_by(CalibrationSchedule.id).limit(1))
        ).first()
        if schedule is None:
            return created, already
        skipped.add(schedule.id)
        round_at = _due_round(schedule, now)
        session = create_round(schedule, round_at)
        if session is None:
            already += 1
        else:
            created += 1
            log.info("Schedule %s created session %s", schedule.id, session.id)
        schedule.next_run_at = round_at + timedelta(days=schedule.cadence_days)
        uow.commit()


# The extra round of a drift flag -------------------------------------------------------


def schedule_extra_round(actor: User, flag: Flag) -> tuple[CalibrationSession, bool]:
    """Create a draft session for the flagged site's QA leads on the flag's policy, with
    the most contested cases of its latest rounds; returns (session, created). A flag
    asks for one extra round: asking again returns the one it has."""
    if not may_schedule_extra_round(actor, flag):
        raise Forbidden("Only a drift flag about one site can ask for an extra round.")
    existing = extra_round_of(flag)
    if existing is not None and existing.session is not None:
        return existing.session, False
    flagged = flag.session
    site = db.session.get(Site, flag.site_id)
    raters = [
        (user, chosen) for user, chosen in raters_for_sites([site.id]) if chosen.id == site.id
    ]
    if not raters:
        raise ValidationError.field(
            "raters", f"{site.label} has no active QA lead to rate in an extra round."
        )
    policy_id = (flag.details or {}).get("policy_id") or quality.policy_of(flagged)
    cases = most_contested(
        policy_id, flagged.policy_version_id, EXTRA_ROUND_CASES, EXTRA_ROUND_ROUNDS
    )
    if not cases:
        cases = list(
            db.session.scalars(
                sa.select(Case).where(Case.session_id == flagged.id).order_by(Case.position)
            )
        )
    marker = _claim_round(flag_id=flag.id, round_at=utcnow())
    if marker is None:
        existing = extra_round_of(flag)
        if existing is not None and existing.session is not None:
            return existing.session, False
        raise ValidationError.field("flag", "an extra round for this flag is being created.")
    options = {} if flagged.policy_version_id else {"label_options": _options_text(flagged)}
    session = services.create_session(
        actor,
        title=f"Extra round: {site.label} — {flagged.title}"[:200],
        description=f"An extra round for {site.label} after its drift flag: "
        "the most contested cases of the latest rounds.",
        policy_version_id=flagged.policy_version_id,
        label_level=None if flagged.policy_version_id else flagged.label_level.value,
        **options,
    )
    _fill_round(actor, session, None, raters, cases)
    marker.session_id = session.id
    record(
        actor,
        "calibration.extra_round_created",
        flag,
        f"Created an extra round for {site.label}",
        after={"session_id": session.id},
        session_id=flag.session_id,
        vendor_id=flag.vendor_id,
    )
    db.session.flush()
    return session, True


def _options_text(session: CalibrationSession) -> str:
    return services.format_label_options(session.label_options)
