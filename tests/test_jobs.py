"""What the scheduled jobs do, with time moved by time-machine: sessions open and close by
themselves, reminders go out once per day (each person's day), rollouts go live, digests
arrive after 08:00 in each person's time zone — and running a job again changes nothing."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from calibration import jobs as calibration_jobs
from calibration import services as calibration_services
from calibration.models import AgreementSnapshot, CalibrationSession, SessionStatus
from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from rollcal.notifications.models import (
    Delivery,
    Digest,
    DigestKind,
    EmailMessage,
    Kind,
    Notification,
    NotificationPreference,
)
from rollcal.notifications.services import notify
from rollout import jobs as rollout_jobs
from rollout import services as rollout_services
from rollout.models import ChecklistItem, ItemStatus, RolloutSite, RolloutStatus
from rollout.readiness import State
from tests.calibration_factories import flags_of, label_all, make_session, split_answers

# A Monday in winter: New York is UTC-5, London UTC+0, Singapore UTC+8.
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GO_LIVE = NOON.date() + timedelta(days=30)


@pytest.fixture
def at_noon(time_machine):
    """Time stands at ``NOON`` (asked for first, so fixtures build the world then)."""
    time_machine.move_to(NOON, tick=False)
    return time_machine


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _notifications(db, user=None, kind: Kind | None = None) -> list[Notification]:
    statement = sa.select(Notification).order_by(Notification.id)
    if user is not None:
        statement = statement.where(Notification.user_id == user.id)
    if kind is not None:
        statement = statement.where(Notification.kind == kind)
    return list(db.session.scalars(statement))


def _emails(db, user=None, kind: str | None = None) -> list[EmailMessage]:
    statement = sa.select(EmailMessage).order_by(EmailMessage.id)
    if user is not None:
        statement = statement.where(EmailMessage.user_id == user.id)
    if kind is not None:
        statement = statement.where(EmailMessage.kind == kind)
    return list(db.session.scalars(statement))


def _count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.fixture
def calibration_world(at_noon, db, create_user, create_site):
    """A POM in Singapore and two QA leads at one site, one of them in Manila."""
    pom = create_user(Role.POM, name="Dana Whitfield", timezone="Asia/Singapore")
    site = create_site()
    maria = create_user(Role.QA_LEAD, vendor=site.vendor, timezone="Asia/Manila")
    farah = create_user(Role.QA_LEAD, vendor=site.vendor)
    return {"pom": pom, "site": site, "raters": [maria, farah], "maria": maria, "farah": farah}


def _session(world, **times):
    raters = [(user, world["site"]) for user in world["raters"]]
    return make_session(world["pom"], raters, cases=6, **times)


# Sessions ----------------------------------------------------------------------------


def test_a_session_opens_by_itself_when_its_start_time_passes(db, calibration_world, at_noon):
    session = _session(
        calibration_world, opens_at=NOON + timedelta(hours=1), closes_at=NOON + timedelta(days=2)
    )
    assert calibration_jobs.session_deadlines().startswith("opened 0")
    assert session.status == SessionStatus.DRAFT

    at_noon.move_to(NOON + timedelta(hours=1), tick=False)
    assert calibration_jobs.session_deadlines() == "opened 1, closed 0, 2 notifications"

    db.session.refresh(session)
    assert session.status == SessionStatus.OPEN
    [told] = _notifications(db, calibration_world["maria"], Kind.SESSION_OPENED)
    assert told.title == "Calibration open: “Counterfeit listings — round 1”"
    # Maria reads the closing time in Manila's time: 4 Mar 12:00 UTC is 20:00 there.
    assert told.body == "6 cases to label, blind. It closes Wed 4 Mar, 20:00 (Manila, UTC+8)."
    assert told.link == f"/calibration/sessions/{session.id}/label"


def test_raters_hear_of_a_session_opened_by_its_pom_too(db, calibration_world):
    session = _session(calibration_world)
    calibration_services.open_session(calibration_world["pom"], session)
    calibration_jobs.session_deadlines()
    assert len(_notifications(db, kind=Kind.SESSION_OPENED)) == 2


def test_a_session_that_cannot_open_stays_a_draft_and_its_pom_hears_why_once(
    db, calibration_world, at_noon
):
    pom = calibration_world["pom"]
    session = calibration_services.create_session(
        pom, title="No cases yet", label_options="remove\nallow", opens_at=NOON
    )
    db.session.commit()
    assert calibration_jobs.session_deadlines().endswith("could not open 1")
    calibration_jobs.session_deadlines()

    db.session.refresh(session)
    assert session.status == SessionStatus.DRAFT
    [told] = _notifications(db, pom, Kind.SESSION_PROBLEM)
    assert told.title == "“No cases yet” could not open"
    assert "import the cases before opening the session" in told.body


def _labelled_open_session(world, at_noon):
    session = _session(world, closes_at=NOON + timedelta(days=2))
    calibration_services.open_session(world["pom"], session)
    label_all(session, world["raters"], split_answers)
    return session


def test_a_session_closes_by_itself_with_results_flags_and_its_pom_told(
    db, calibration_world, at_noon
):
    session = _labelled_open_session(calibration_world, at_noon)
    at_noon.move_to(NOON + timedelta(days=2, minutes=1), tick=False)

    assert calibration_jobs.session_deadlines().startswith("opened 0, closed 1")

    db.session.refresh(session)
    assert session.status == SessionStatus.CLOSED
    assert _count(db, AgreementSnapshot, AgreementSnapshot.session_id == session.id) == 1
    flags = flags_of(session)
    assert flags
    [told] = _notifications(db, calibration_world["pom"], Kind.SESSION_CLOSED)
    assert told.title == f"“{session.title}” closed: {len(flags)} flags"
    assert "12 labels frozen." in told.body
    assert "Review the results, then reveal them to the raters." in told.body
    assert told.link == f"/calibration/sessions/{session.id}/results"
    [email] = _emails(db, calibration_world["pom"])
    assert email.subject == told.title


def test_closing_again_changes_nothing(db, calibration_world, at_noon):
    session = _labelled_open_session(calibration_world, at_noon)
    at_noon.move_to(NOON + timedelta(days=3), tick=False)
    calibration_jobs.session_deadlines()
    assert calibration_jobs.session_deadlines().startswith("opened 0, closed 0")
    assert _count(db, AgreementSnapshot, AgreementSnapshot.session_id == session.id) == 1
    closed_events = _count(
        db,
        AuditEvent,
        AuditEvent.session_id == session.id,
        AuditEvent.action == "calibration.session_closed",
    )
    assert closed_events == 1
    assert len(_notifications(db, kind=Kind.SESSION_CLOSED)) == 1


def test_raters_are_told_once_when_results_are_revealed(db, calibration_world, at_noon):
    session = _labelled_open_session(calibration_world, at_noon)
    at_noon.move_to(NOON + timedelta(days=3), tick=False)
    calibration_jobs.session_deadlines()
    assert _notifications(db, kind=Kind.SESSION_REVEALED) == []
    calibration_services.reveal_session(calibration_world["pom"], session)
    calibration_jobs.session_deadlines()
    calibration_jobs.session_deadlines()
    told = _notifications(db, kind=Kind.SESSION_REVEALED)
    assert sorted(n.user_id for n in told) == sorted(u.id for u in calibration_world["raters"])
    assert told[0].link == f"/calibration/sessions/{session.id}/results"


def test_raters_with_cases_left_are_reminded_once_a_day_before_close(
    db, calibration_world, at_noon
):
    maria, farah = calibration_world["maria"], calibration_world["farah"]
    closes = NOON + timedelta(days=2)
    session = _session(calibration_world, closes_at=closes)
    calibration_services.open_session(calibration_world["pom"], session)
    label_all(session, [maria], split_answers)
    label_all(session, [farah], lambda rater, case: "remove" if case < 2 else None)

    at_noon.move_to(closes - timedelta(hours=25), tick=False)
    assert calibration_jobs.remind_raters() == "reminded 0 raters in 0 closing sessions"

    at_noon.move_to(closes - timedelta(hours=23), tick=False)
    assert calibration_jobs.remind_raters() == "reminded 1 rater in 1 closing session"
    assert calibration_jobs.remind_raters() == "reminded 0 raters in 1 closing session"

    [told] = _notifications(db, kind=Kind.SESSION_CLOSING)
    assert told.user_id == farah.id
    assert told.title == f"4 cases left to label in “{session.title}”"
    assert re.search(r"closes Wed 4 Mar( 2026)?, 12:00 \(UTC\)", told.body)


# Checklist reminders -----------------------------------------------------------------


def _items(db, rollout, title: str) -> list[ChecklistItem]:
    return list(
        db.session.scalars(
            sa.select(ChecklistItem).where(
                ChecklistItem.rollout_id == rollout.id, ChecklistItem.title == title
            )
        )
    )


def test_items_due_within_two_days_or_overdue_are_reminded_once_a_day(db, at_noon, rollout_world):
    pom, maria, liam = rollout_world["pom"], rollout_world["maria"], rollout_world["liam"]
    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 12), tick=False)

    assert rollout_jobs.remind_assignees() == "3 reminders listing 6 items"
    assert rollout_jobs.remind_assignees() == "no reminders"

    # POM steps T-21 and T-14 at both sites are overdue; the vendor step T-10 is due
    # tomorrow. The POM gets one notification listing the four.
    [pom_told] = _notifications(db, pom)
    assert pom_told.title == "4 items overdue on SHOP-CF v3.0 — Counterfeit goods"
    assert [entry["when"] for entry in pom_told.entries] == [
        "Overdue by 10 days",
        "Overdue by 10 days",
        "Overdue by 3 days",
        "Overdue by 3 days",
    ]
    assert pom_told.link == f"/notifications/{pom_told.id}"
    [maria_told] = _notifications(db, maria)
    assert maria_told.title == "Due tomorrow: Trainers upskilled"
    assert maria_told.body.startswith("Due tomorrow: Trainers upskilled — Meridian CX · Cebu")
    assert maria_told.link.startswith("/items/")
    [liam_told] = _notifications(db, liam)
    assert "Harbor Review · Dublin" in liam_told.body

    # One e-mail a person, listing every item.
    [pom_email] = _emails(db, pom)
    assert pom_email.subject == pom_told.title
    assert pom_email.text_body.count("Overdue by") == 4
    [maria_email] = _emails(db, maria)
    assert maria_email.subject == "Due tomorrow: Trainers upskilled"

    at_noon.move_to(_at(GO_LIVE - timedelta(days=10), 12), tick=False)
    assert rollout_jobs.remind_assignees() == "3 reminders listing 6 items"
    assert [n.title for n in _notifications(db, maria)][-1] == "Due today: Trainers upskilled"


def test_items_three_days_away_closed_or_in_other_rollouts_states_are_not_reminded(
    db, at_noon, rollout_world
):
    rollout = rollout_world["rollout"]
    at_noon.move_to(_at(GO_LIVE - timedelta(days=13), 12), tick=False)
    for item in _items(db, rollout, "Documentation QA'd") + _items(
        db, rollout, "Training materials delivered"
    ):
        item.status = ItemStatus.DONE
    db.session.commit()
    # T-10 is three days away: not yet.
    assert rollout_jobs.remind_assignees() == "no reminders"
    at_noon.move_to(_at(GO_LIVE - timedelta(days=12), 12), tick=False)
    assert rollout_jobs.remind_assignees() == "2 reminders listing 2 items"
    rollout.status = RolloutStatus.CANCELLED
    db.session.commit()
    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 12), tick=False)
    assert rollout_jobs.remind_assignees() == "no reminders"


def test_a_day_is_each_persons_own_day(db, at_noon, rollout_world):
    maria, pom = rollout_world["maria"], rollout_world["pom"]
    maria.timezone = "America/Los_Angeles"
    db.session.commit()
    day = GO_LIVE - timedelta(days=11)
    at_noon.move_to(_at(day, 23), tick=False)
    rollout_jobs.remind_assignees()
    # 01:00 UTC is a new day for the POM (UTC) but still the same afternoon in Los Angeles.
    at_noon.move_to(_at(day + timedelta(days=1), 1), tick=False)
    rollout_jobs.remind_assignees()
    assert len(_notifications(db, maria)) == 1
    assert len(_notifications(db, pom)) == 2


def test_unassigned_vendor_items_go_to_the_vendors_qa_leads(db, at_noon, rollout_world):
    rollout, maria = rollout_world["rollout"], rollout_world["maria"]
    for item in _items(db, rollout, "Trainers upskilled"):
        item.assignee_id = None
    db.session.commit()
    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 12), tick=False)
    rollout_jobs.remind_assignees()
    [told] = _notifications(db, maria)
    assert "Cebu" in told.body


# Go-live ----------------------------------------------------------------------------


def test_a_signed_off_rollout_goes_live_on_its_go_live_date_in_the_owners_zone(
    db, at_noon, rollout_world, create_user
):
    rollout, pom = rollout_world["rollout"], rollout_world["pom"]
    stakeholder = create_user(Role.STAKEHOLDER)
    pom.timezone = "Asia/Singapore"
    rollout.status = RolloutStatus.SIGNED_OFF
    db.session.commit()

    at_noon.move_to(_at(GO_LIVE - timedelta(days=1), 15, 59), tick=False)  # 23:59 in Singapore
    assert rollout_jobs.take_rollouts_live() == "0 rollouts went live"
    at_noon.move_to(_at(GO_LIVE - timedelta(days=1), 16, 0), tick=False)  # midnight there
    assert rollout_jobs.take_rollouts_live() == "1 rollout went live"
    assert rollout_jobs.take_rollouts_live() == "0 rollouts went live"

    db.session.refresh(rollout)
    assert rollout.status == RolloutStatus.LIVE
    [event] = [
        event
        for event in db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.rollout_id == rollout.id, AuditEvent.action == "rollout.status"
            )
        )
        if event.after == {"status": "live"}
    ]
    assert event.actor_id is None
    assert event.summary.startswith("Status Signed off → Live")
    told = {n.user_id for n in _notifications(db, kind=Kind.ROLLOUT_LIVE)}
    assert told == {pom.id, stakeholder.id}


def test_rollouts_not_signed_off_stay_as_they_are_after_go_live(db, at_noon, rollout_world):
    at_noon.move_to(_at(GO_LIVE + timedelta(days=3), 12), tick=False)
    assert rollout_jobs.take_rollouts_live() == "0 rollouts went live"
    db.session.refresh(rollout_world["rollout"])
    assert rollout_world["rollout"].status == RolloutStatus.PLANNING


# Daily digest -----------------------------------------------------------------------


def _digests(db, user, kind=DigestKind.DAILY) -> list[Digest]:
    return list(
        db.session.scalars(
            sa.select(Digest)
            .where(Digest.user_id == user.id, Digest.kind == kind)
            .order_by(Digest.period)
        )
    )


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # 08:00 in Singapore is midnight UTC; in New York, on summer time by 21 March, 12:00.
        ("Asia/Singapore", _at(date(2026, 3, 31), 23, 55), _at(date(2026, 4, 1), 0, 5)),
        ("America/New_York", _at(date(2026, 3, 21), 11, 55), _at(date(2026, 3, 21), 12, 5)),
    ],
)
def test_a_poms_digest_goes_out_after_0800_in_their_time_zone_once_a_day(
    db, at_noon, rollout_world, zone, before, after
):
    pom = rollout_world["pom"]
    pom.timezone = zone
    db.session.commit()
    local_day = after.astimezone(ZoneInfo(zone)).date()

    at_noon.move_to(before, tick=False)  # 07:55 there: yesterday's digest at most
    rollout_jobs.send_daily_digests()
    made_before = [digest.period for digest in _digests(db, pom)]
    assert local_day not in made_before

    at_noon.move_to(after, tick=False)
    rollout_jobs.send_daily_digests()
    at_noon.move_to(after + timedelta(hours=3), tick=False)
    rollout_jobs.send_daily_digests()

    digests = _digests(db, pom)
    assert [digest.period for digest in digests] == [*made_before, local_day]
    assert digests[-1].email.subject == f"rollcal daily digest — {local_day:%a %d %b %Y}"


def test_the_digest_tells_rollouts_at_risk_overdue_items_and_new_flags(
    db, at_noon, rollout_world, create_user
):
    pom, maria, liam = rollout_world["pom"], rollout_world["maria"], rollout_world["liam"]
    session = make_session(
        pom, [(maria, rollout_world["cebu"]), (liam, rollout_world["dublin"])], cases=6
    )
    calibration_services.open_session(pom, session)
    label_all(session, [maria, liam], split_answers)
    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 7), tick=False)
    calibration_services.close_session(pom, session)
    flags = flags_of(session)

    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 8, 30), tick=False)
    # The digest reads readiness as stored, which the daily job brought to the date.
    rollout_jobs.refresh_readiness()
    assert rollout_jobs.send_daily_digests() == "made 1 digest, e-mailed 1"

    [digest] = _digests(db, pom)
    assert digest.summary == f"1 rollout at risk, 4 overdue items, {len(flags)} new flags"
    text = digest.email.text_body
    assert "ROLLOUTS AT RISK (1)" in text
    assert "At risk — Meridian CX · Cebu: 2 required items overdue" in text
    assert "OVERDUE ITEMS (4)" in text
    assert "Documentation QA'd — Harbor Review · Dublin (Dana Whitfield)" in text
    assert f"NEW FLAGS ({len(flags)})" in text
    assert session.title in text
    assert "Rollouts at risk (1)" in digest.email.html_body

    # The next day only flags raised since this digest count as new.
    at_noon.move_to(_at(GO_LIVE - timedelta(days=10), 8, 30), tick=False)
    rollout_jobs.send_daily_digests()
    assert _digests(db, pom)[-1].summary.endswith("0 new flags")


def test_the_digest_lists_sites_drifting_at_the_poms_vendors_while_they_drift(
    db, at_noon, rollout_world
):
    from calibration.models import Flag, Severity

    pom, cebu, dublin = rollout_world["pom"], rollout_world["cebu"], rollout_world["dublin"]
    cebu.vendor.owners.append(pom)
    session = make_session(pom, title="Round 9")
    for site, status in ((cebu, "open"), (dublin, "open")):
        db.session.add(
            Flag(
                session_id=session.id,
                scope="site",
                subject=site.label,
                kind="accuracy_drift",
                cause=f"site|{site.id}|drift|accuracy|-",
                severity=Severity.HIGH,
                message=f"{site.label}'s accuracy against golden fell from 93% to 76%.",
                vendor_id=site.vendor_id,
                site_id=site.id,
                status=status,
            )
        )
    db.session.commit()
    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 8, 30), tick=False)

    rollout_jobs.send_daily_digests()

    text = _digests(db, pom)[-1].email.text_body
    assert "SITES DRIFTING (1)" in text  # Dublin's vendor is not Dana's
    assert "Meridian CX · Cebu's accuracy against golden fell from 93% to 76%." in text
    assert f"/scorecards/sites/{cebu.id}" in text
    assert "Sites drifting (1)" in _digests(db, pom)[-1].email.html_body


def test_notifications_chosen_for_the_digest_arrive_in_it_and_only_once(db, at_noon, create_user):
    maria = create_user(Role.QA_LEAD, timezone="Europe/London")
    db.session.add(
        NotificationPreference(user_id=maria.id, kind=Kind.CHECKLIST_DUE, delivery=Delivery.DIGEST)
    )
    db.session.commit()
    notify(maria, Kind.CHECKLIST_DUE, about="1", title="Due today: Tooling UAT", link="/my-items")
    db.session.commit()
    assert _emails(db, maria) == []

    at_noon.move_to(_at(NOON.date() + timedelta(days=1), 8, 0), tick=False)
    assert rollout_jobs.send_daily_digests() == "made 1 digest, e-mailed 1"
    [email] = _emails(db, maria)
    assert "YOUR NOTIFICATIONS (1)" in email.text_body
    assert "Due today: Tooling UAT" in email.text_body
    [notification] = _notifications(db, maria)
    assert notification.digested_at is not None and notification.email_id == email.id

    at_noon.move_to(_at(NOON.date() + timedelta(days=2), 8, 0), tick=False)
    assert rollout_jobs.send_daily_digests() == "made 0 digests, e-mailed 0"


def test_an_empty_digest_is_recorded_but_not_sent(db, at_noon, create_user):
    pom = create_user(Role.POM)
    assert rollout_jobs.send_daily_digests() == "made 1 digest, e-mailed 0"
    [digest] = _digests(db, pom)
    assert digest.summary == "0 rollouts at risk, 0 overdue items, 0 new flags"
    assert digest.email is None


def test_a_pom_who_turned_the_digest_off_gets_none(db, at_noon, rollout_world):
    pom = rollout_world["pom"]
    db.session.add(
        NotificationPreference(user_id=pom.id, kind=Kind.DAILY_DIGEST, delivery=Delivery.OFF)
    )
    db.session.commit()
    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 9), tick=False)
    assert rollout_jobs.send_daily_digests() == "made 1 digest, e-mailed 0"


# Weekly summary ---------------------------------------------------------------------


def test_stakeholders_get_the_weekly_summary_after_0800_on_monday_once_a_week(
    db, at_noon, rollout_world, create_user
):
    stakeholder = create_user(Role.STAKEHOLDER, timezone="Europe/London")
    monday = NOON.date()
    at_noon.move_to(_at(monday, 7, 55), tick=False)
    assert rollout_jobs.send_weekly_summaries() == "made 0 weekly summaries, e-mailed 0"
    at_noon.move_to(_at(monday, 8, 5), tick=False)
    assert rollout_jobs.send_weekly_summaries() == "made 1 weekly summary, e-mailed 1"
    at_noon.move_to(_at(monday + timedelta(days=1), 9), tick=False)
    assert rollout_jobs.send_weekly_summaries() == "made 0 weekly summaries, e-mailed 0"
    at_noon.move_to(_at(monday + timedelta(days=7), 8, 5), tick=False)
    assert rollout_jobs.send_weekly_summaries() == "made 1 weekly summary, e-mailed 1"

    first, _ = _emails(db, stakeholder)
    assert first.subject == "rollcal weekly summary — week of 02 Mar 2026"
    assert "ROLLOUTS UNDER WAY (1)" in first.text_body
    assert "SHOP-CF v3.0 — Counterfeit goods — Planning, go-live Wed 1 Apr 2026" in first.text_body


def test_a_scheduler_down_on_monday_sends_the_summary_later_that_week(db, at_noon, create_user):
    create_user(Role.STAKEHOLDER)
    at_noon.move_to(_at(NOON.date() + timedelta(days=3), 10), tick=False)
    assert rollout_jobs.send_weekly_summaries() == "made 1 weekly summary, e-mailed 1"


# Idempotence -----------------------------------------------------------------------


def test_running_every_job_twice_has_the_effect_of_running_it_once(
    app, db, at_noon, rollout_world, create_user
):
    from rollcal.jobs import scheduler

    pom, maria, liam = rollout_world["pom"], rollout_world["maria"], rollout_world["liam"]
    create_user(Role.STAKEHOLDER)
    session = make_session(
        pom,
        [(maria, rollout_world["cebu"]), (liam, rollout_world["dublin"])],
        cases=6,
        closes_at=NOON + timedelta(days=1),
    )
    calibration_services.open_session(pom, session)
    label_all(session, [maria], split_answers)
    db.session.commit()
    at_noon.move_to(_at(GO_LIVE - timedelta(days=11), 9), tick=False)
    counted = (Notification, EmailMessage, Digest, AgreementSnapshot, AuditEvent)

    for job in scheduler.registered_jobs(app):
        scheduler.run_job(app, job.id)
    once = {model.__name__: _count(db, model) for model in counted}
    for job in scheduler.registered_jobs(app):
        scheduler.run_job(app, job.id)
    twice = {model.__name__: _count(db, model) for model in counted}

    assert once == twice
    assert once["Notification"] > 0 and once["Digest"] > 0
    assert db.session.get(CalibrationSession, session.id).status == SessionStatus.CLOSED


def test_the_demo_session_closes_by_itself_minutes_after_the_demo_starts(db, at_noon):
    from calibration import quick_demo as scheduler_demo
    from rollcal.demo import seed_demo

    seed_demo()
    session = db.session.scalar(
        sa.select(CalibrationSession).where(CalibrationSession.title == scheduler_demo.TITLE)
    )
    assert session.status == SessionStatus.OPEN
    calibration_jobs.session_deadlines()
    assert session.status == SessionStatus.OPEN

    at_noon.move_to(NOON + scheduler_demo.CLOSES_AFTER, tick=False)
    calibration_jobs.session_deadlines()

    db.session.refresh(session)
    assert session.status == SessionStatus.CLOSED
    flags = flags_of(session)
    assert any(flag.subject == "Tessera Global · Bogotá" for flag in flags)
    [told] = _notifications(db, session.created_by, Kind.SESSION_CLOSED)
    assert told.title == f"“{scheduler_demo.TITLE}” closed: {len(flags)} flags"
    [email] = _emails(db, session.created_by, Kind.SESSION_CLOSED.value)
    assert email.status == "held"


def test_the_digest_lists_the_first_sites_at_risk_of_a_rollout_and_counts_the_rest(
    db, create_user, create_vendor, create_site, make_version
):
    pom = create_user(Role.POM)
    vendor = create_vendor("Meridian CX")
    sites = [
        create_site(vendor, f"Site {n:02d}") for n in range(rollout_jobs.DIGEST_LIST_LIMIT + 3)
    ]
    rollout = rollout_services.create_rollout(
        pom,
        policy_version_id=make_version(pom).id,
        template_id=1,
        site_ids=[site.id for site in sites],
        go_live_date=date.today() + timedelta(days=30),
    )
    db.session.execute(
        sa.update(RolloutSite)
        .where(RolloutSite.rollout_id == rollout.id)
        .values(readiness_state=State.AT_RISK.value, readiness_reasons=["Training overdue"])
    )
    db.session.commit()

    now = datetime.now(UTC)
    [risk] = rollout_jobs.pom_report(pom, now.date(), now - timedelta(days=1)).at_risk

    assert [site.site for site in risk.sites] == [
        f"Meridian CX · Site {n:02d}" for n in range(rollout_jobs.DIGEST_LIST_LIMIT)
    ]
    assert risk.sites_total == rollout_jobs.DIGEST_LIST_LIMIT + 3 and risk.more == 3
