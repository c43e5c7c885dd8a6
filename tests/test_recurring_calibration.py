"""Recurring calibration: schedules, the rounds the scheduler creates from them, and the
extra round a drift flag asks for."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from calibration import jobs, schedules
from calibration.models import (
    CalibrationRound,
    CalibrationSchedule,
    CalibrationSession,
    Case,
    Flag,
    Rater,
    SessionStatus,
    Severity,
)
from rollcal.accounts.models import Role
from rollcal.errors import ValidationError
from rollcal.notifications.models import Kind, Notification
from rollcal.types import utcnow
from tests.calibration_factories import make_session, run_session


def _answers(rater_index: int, case_index: int) -> str:
    # Cases 0-3 split the raters; the rest everyone agrees on.
    if case_index < 4 and rater_index == 1:
        return "authentic"
    return "violating"


def _fields(world, **changes) -> dict:
    fields = {
        "name": "Counterfeit fortnightly",
        "policy_version_id": world["version"].id,
        "site_ids": [world["cebu"].id, world["dublin"].id],
        "cadence_days": 14,
        "open_days": 3,
        "next_run_at": utcnow() + timedelta(hours=2),
        "source": "session",
        "source_session_id": None,
        "contested_count": None,
        "contested_rounds": None,
        "cases_csv": None,
    }
    fields.update(changes)
    return fields


@pytest.fixture
def previous(rollout_world):
    """A revealed round of the policy: 10 cases, the first four contested."""
    world = rollout_world
    return run_session(
        world["pom"],
        [(world["maria"], world["cebu"]), (world["liam"], world["dublin"])],
        cases=10,
        answer=_answers,
        golden=lambda i: "violating",
        label_options="",
        policy_version_id=world["version"].id,
        title="Counterfeit — round 1",
    )


def _rounds(schedule) -> list[CalibrationSession]:
    from rollcal.extensions import db

    return list(
        db.session.scalars(
            sa.select(CalibrationSession)
            .join(CalibrationRound, CalibrationRound.session_id == CalibrationSession.id)
            .where(CalibrationRound.schedule_id == schedule.id)
        )
    )


def test_due_round_is_created_once_as_a_draft_with_raters_and_copied_cases(
    db, rollout_world, previous
):
    world = rollout_world
    schedule = schedules.create_schedule(
        world["pom"], **_fields(world, source_session_id=previous.id)
    )
    first_at = schedule.next_run_at
    db.session.commit()

    assert "created 1 round" in jobs.calibration_rounds()
    assert "created 0 rounds" in jobs.calibration_rounds()

    [session] = _rounds(schedule)
    assert session.status == SessionStatus.DRAFT
    assert session.opens_at == first_at
    assert session.closes_at == first_at + timedelta(days=3)
    assert session.created_by == world["pom"]
    assert session.policy_version_id == world["version"].id
    raters = {(r.user_id, r.site_id) for r in session.raters}
    assert raters == {(world["maria"].id, world["cebu"].id), (world["liam"].id, world["dublin"].id)}
    cases = db.session.scalars(sa.select(Case).where(Case.session_id == session.id)).all()
    assert len(cases) == 10 and all(c.golden_label == "violating" for c in cases)
    assert schedule.next_run_at == first_at + timedelta(days=14)


def test_round_opens_at_its_start_and_raters_are_told_once(db, rollout_world, previous):
    world = rollout_world
    schedule = schedules.create_schedule(
        world["pom"], **_fields(world, source_session_id=previous.id)
    )
    db.session.commit()
    jobs.calibration_rounds()
    [session] = _rounds(schedule)
    # Its start time comes.
    session.opens_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    jobs.session_deadlines()
    jobs.session_deadlines()

    assert session.status == SessionStatus.OPEN
    told = db.session.scalars(
        sa.select(Notification.user_id).where(
            Notification.kind == Kind.SESSION_OPENED,
            Notification.link.contains(f"/sessions/{session.id}/"),
        )
    ).all()
    assert sorted(told) == sorted([world["maria"].id, world["liam"].id])


def test_contested_source_takes_the_most_split_cases_of_revealed_rounds(
    db, rollout_world, previous
):
    world = rollout_world
    schedule = schedules.create_schedule(
        world["pom"],
        **_fields(world, source="contested", contested_count=3, contested_rounds=2),
    )
    db.session.commit()
    jobs.calibration_rounds()
    [session] = _rounds(schedule)
    references = db.session.scalars(
        sa.select(Case.reference).where(Case.session_id == session.id)
    ).all()
    assert len(references) == 3
    assert set(references) <= {"C-1", "C-2", "C-3", "C-4"}


def test_csv_source_is_checked_when_uploaded_and_imported_each_round(db, rollout_world):
    world = rollout_world
    with pytest.raises(ValidationError) as refused:
        schedules.create_schedule(
            world["pom"],
            **_fields(world, source="csv", cases_csv=b"reference,text,golden\nA,x,remove\n"),
        )
    assert "golden" in refused.value.message.lower()
    assert db.session.scalar(sa.select(sa.func.count(CalibrationSchedule.id))) == 0

    csv = b"reference,text,golden\nA-1,First listing,violating\nA-2,Second listing,\n"
    schedule = schedules.create_schedule(
        world["pom"], **_fields(world, source="csv", cases_csv=csv)
    )
    db.session.commit()
    jobs.calibration_rounds()
    [session] = _rounds(schedule)
    references = db.session.scalars(
        sa.select(Case.reference).where(Case.session_id == session.id).order_by(Case.position)
    ).all()
    assert references == ["A-1", "A-2"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"policy_version_id": None}, "policy_version"),
        ({"site_ids": []}, "sites"),
        ({"cadence_days": 0}, "cadence_days"),
        ({"cadence_days": "two weeks"}, "cadence_days"),
        ({"open_days": 20}, "open_days"),
        ({"source_session_id": None}, "source_session"),
        ({"source": "contested", "contested_count": None}, "contested_count"),
        ({"source": "csv"}, "cases_file"),
        ({"source": "other"}, "source"),
    ],
)
def test_bad_schedule_input_names_the_field_and_writes_nothing(db, rollout_world, changes, field):
    with pytest.raises(ValidationError) as refused:
        schedules.create_schedule(rollout_world["pom"], **_fields(rollout_world, **changes))
    assert refused.value.errors[0]["field"] == field
    assert refused.value.message[0].isupper()


def test_schedule_form_shows_a_clear_error_and_saves_nothing(client, auth, db, rollout_world):
    auth.login(rollout_world["pom"])
    answer = client.post(
        "/calibration/schedules/new",
        data={
            "name": "Counterfeit fortnightly",
            "policy_version": rollout_world["version"].id,
            "sites": [rollout_world["cebu"].id],
            "cadence_days": "14",
            "open_days": "30",
            "next_run_at": "2099-01-05T09:00",
            "source": "contested",
            "source_session": "0",
            "contested_count": "20",
            "contested_rounds": "3",
        },
    )
    assert answer.status_code == 200
    assert "cannot stay open longer than the days between rounds" in answer.text
    assert db.session.scalar(sa.select(sa.func.count(CalibrationSchedule.id))) == 0


def test_pom_creates_pauses_resumes_and_deletes_a_schedule_from_the_pages(
    client, auth, db, rollout_world
):
    auth.login(rollout_world["pom"])
    assert "Recurring" in client.get("/calibration/sessions").text
    answer = client.post(
        "/calibration/schedules/new",
        data={
            "name": "Counterfeit fortnightly",
            "policy_version": rollout_world["version"].id,
            "sites": [rollout_world["cebu"].id, rollout_world["dublin"].id],
            "cadence_days": "14",
            "open_days": "3",
            "next_run_at": "2099-01-05T09:00",
            "source": "contested",
            "source_session": "0",
            "contested_count": "20",
            "contested_rounds": "3",
        },
    )
    assert answer.status_code == 302
    schedule = db.session.scalar(sa.select(CalibrationSchedule))
    page = client.get("/calibration/schedules").text
    assert "Counterfeit fortnightly" in page and "Every 14 days" in page

    client.post(f"/calibration/schedules/{schedule.id}/pause")
    db.session.refresh(schedule)
    assert not schedule.active
    assert "created 0 rounds" in jobs.calibration_rounds()
    client.post(f"/calibration/schedules/{schedule.id}/resume")
    db.session.refresh(schedule)
    assert schedule.active

    client.post(f"/calibration/schedules/{schedule.id}/delete")
    assert db.session.scalar(sa.select(sa.func.count(CalibrationSchedule.id))) == 0


def test_paused_schedule_creates_no_round_and_resumes_at_a_time_to_come(db, rollout_world):
    world = rollout_world
    schedule = schedules.create_schedule(
        world["pom"], **_fields(world, source="contested", contested_count=5, contested_rounds=2)
    )
    schedules.set_active(world["pom"], schedule, False)
    schedule.next_run_at = utcnow() - timedelta(days=30)
    db.session.commit()
    assert "created 0 rounds" in jobs.calibration_rounds()
    schedules.set_active(world["pom"], schedule, True)
    assert schedule.next_run_at > utcnow()


def test_qa_lead_cannot_see_or_change_schedules(client, auth, db, rollout_world):
    auth.login(rollout_world["maria"])
    assert client.get("/calibration/schedules").status_code == 403
    assert client.get("/calibration/schedules/new").status_code == 403


def _drift_flag(db, session, site) -> Flag:
    flag = Flag(
        session_id=session.id,
        scope="site",
        subject=site.label,
        kind="accuracy_drift",
        cause=f"site|{site.id}|drift|accuracy|-",
        severity=Severity.HIGH,
        message=f"{site.label}'s accuracy fell below its own history.",
        vendor_id=site.vendor_id,
        site_id=site.id,
    )
    db.session.add(flag)
    db.session.commit()
    return flag


def test_drift_flag_schedules_one_extra_round_for_its_site(
    client, auth, db, rollout_world, create_user, previous
):
    world = rollout_world
    second = create_user(Role.QA_LEAD, vendor=world["cebu"].vendor, name="Ana Reyes")
    flag = _drift_flag(db, previous, world["cebu"])
    auth.login(world["pom"])
    page = client.get(f"/calibration/flags/{flag.id}").text
    assert "Schedule an extra round for this site" in page

    answer = client.post(f"/calibration/flags/{flag.id}/extra-round")
    assert answer.status_code == 302
    session_id = int(answer.headers["Location"].rstrip("/").split("/")[-1])
    session = db.session.get(CalibrationSession, session_id)
    assert session.status == SessionStatus.DRAFT
    assert {r.user_id for r in session.raters} == {world["maria"].id, second.id}
    assert {r.site_id for r in session.raters} == {world["cebu"].id}
    references = set(
        db.session.scalars(sa.select(Case.reference).where(Case.session_id == session.id))
    )
    assert references == {"C-1", "C-2", "C-3", "C-4"}

    again = client.post(f"/calibration/flags/{flag.id}/extra-round")
    assert again.headers["Location"].endswith(f"/calibration/sessions/{session_id}")
    assert (
        db.session.scalar(
            sa.select(sa.func.count(CalibrationRound.id)).where(CalibrationRound.flag_id == flag.id)
        )
        == 1
    )
    assert "An extra round for this site exists" in client.get(f"/calibration/flags/{flag.id}").text
    assert "Schedule an extra round" not in client.get(f"/scorecards/sites/{world['cebu'].id}").text


def test_extra_round_is_refused_with_a_message_for_a_flag_that_is_not_drift(
    client, auth, db, rollout_world, previous
):
    flag = _drift_flag(db, previous, rollout_world["cebu"])
    flag.kind = "low_accuracy"
    db.session.commit()
    auth.login(rollout_world["pom"])
    answer = client.post(f"/calibration/flags/{flag.id}/extra-round", follow_redirects=True)
    assert "Only a drift flag about one site can ask for an extra round." in answer.text
    assert db.session.scalar(sa.select(sa.func.count(CalibrationRound.id))) == 0


def test_qa_lead_cannot_ask_for_an_extra_round(client, auth, db, rollout_world, previous):
    flag = _drift_flag(db, previous, rollout_world["cebu"])
    auth.login(rollout_world["maria"])
    assert client.post(f"/calibration/flags/{flag.id}/extra-round").status_code == 403
    assert "Schedule an extra round" not in client.get(f"/calibration/flags/{flag.id}").text


def test_round_that_cannot_be_made_is_skipped_and_its_pom_told(db, rollout_world):
    world = rollout_world
    draft = make_session(
        world["pom"], cases=3, label_options="", policy_version_id=world["version"].id
    )
    schedule = schedules.create_schedule(world["pom"], **_fields(world, source_session_id=draft.id))
    db.session.commit()
    schedule.source_session_id = None
    db.session.commit()
    jobs.calibration_rounds()
    assert _rounds(schedule) == []
    assert schedule.next_run_at > utcnow() + timedelta(days=13)
    told = db.session.scalar(
        sa.select(Notification).where(Notification.kind == Kind.SESSION_PROBLEM)
    )
    assert told.user_id == world["pom"].id and "skipped a round" in told.title
    others = sa.select(sa.func.count(Rater.id)).where(Rater.session_id != draft.id)
    assert db.session.scalar(others) == 0


def test_demo_has_a_fortnightly_schedule_on_the_counterfeit_policy(runner, db):
    from calibration.demo import SCHEDULE

    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    [schedule] = db.session.scalars(
        sa.select(CalibrationSchedule).where(CalibrationSchedule.name == SCHEDULE)
    ).all()
    assert schedule.cadence_days == 14 and schedule.active
    assert schedule.source == "contested" and len(schedule.site_ids) >= 2


def test_the_same_round_asked_for_twice_is_created_once(db, rollout_world, previous):
    world = rollout_world
    schedule = schedules.create_schedule(
        world["pom"], **_fields(world, source_session_id=previous.id)
    )
    round_at = schedule.next_run_at
    assert schedules.create_round(schedule, round_at) is not None
    assert schedules.create_round(schedule, round_at) is None
    assert len(_rounds(schedule)) == 1
    assert (
        db.session.scalar(
            sa.select(sa.func.count(CalibrationRound.id)).where(
                CalibrationRound.schedule_id == schedule.id
            )
        )
        == 1
    )


def test_editing_a_schedule_changes_its_cadence_and_keeps_its_csv(client, auth, db, rollout_world):
    world = rollout_world
    csv = b"reference,text\nA-1,First listing\nA-2,Second listing\n"
    schedule = schedules.create_schedule(
        world["pom"], **_fields(world, source="csv", cases_csv=csv)
    )
    db.session.commit()
    auth.login(world["pom"])
    form = client.get(f"/calibration/schedules/{schedule.id}/edit").text
    assert "A CSV is uploaded already" in form
    answer = client.post(
        f"/calibration/schedules/{schedule.id}/edit",
        data={
            "name": "Counterfeit weekly",
            "policy_version": world["version"].id,
            "sites": [world["cebu"].id],
            "cadence_days": "7",
            "open_days": "2",
            "next_run_at": "2099-01-05T09:00",
            "source": "csv",
            "source_session": "0",
        },
    )
    assert answer.status_code == 302
    db.session.refresh(schedule)
    assert (schedule.name, schedule.cadence_days, schedule.site_ids) == (
        "Counterfeit weekly",
        7,
        [world["cebu"].id],
    )
    assert "A-2" in schedule.cases_csv


def test_site_scorecard_offers_the_extra_round_on_its_drift_flag(
    client, auth, db, rollout_world, previous
):
    flag = _drift_flag(db, previous, rollout_world["cebu"])
    auth.login(rollout_world["pom"])
    page = client.get(f"/scorecards/sites/{rollout_world['cebu'].id}").text
    assert f"/calibration/flags/{flag.id}/extra-round" in page


def test_schedules_page_runs_as_many_statements_for_eight_schedules_as_for_one(
    client, auth, db, rollout_world, create_site, previous
):
    from tests.test_statement_counts import _statements

    world = rollout_world
    auth.login(world["pom"])

    def add(count: int) -> None:
        for number in range(count):
            site = create_site(world["cebu"].vendor, f"Extra {count}-{number}")
            schedule = schedules.create_schedule(
                world["pom"],
                **_fields(
                    world,
                    name=f"Schedule {number}",
                    site_ids=[site.id, world["dublin"].id],
                    source_session_id=previous.id,
                ),
            )
            schedules.create_round(schedule, schedule.next_run_at)
        db.session.commit()

    add(1)
    with _statements() as few:
        assert client.get("/calibration/schedules").status_code == 200
    db.session.execute(sa.delete(CalibrationSchedule))
    add(8)
    with _statements() as many:
        page = client.get("/calibration/schedules")
    assert page.status_code == 200 and "Schedule 7" in page.text
    assert len(many) == len(few)


def test_editing_a_schedule_someone_changed_since_is_refused_with_a_message(
    client, auth, db, rollout_world
):
    world = rollout_world
    schedule = schedules.create_schedule(
        world["pom"], **_fields(world, source="contested", contested_count=5, contested_rounds=2)
    )
    db.session.commit()
    read_at = schedule.version
    schedules.set_active(world["pom"], schedule, False)
    db.session.commit()
    auth.login(world["pom"])
    answer = client.post(
        f"/calibration/schedules/{schedule.id}/edit",
        data={
            "name": "Renamed",
            "policy_version": world["version"].id,
            "sites": [world["cebu"].id],
            "cadence_days": "7",
            "open_days": "2",
            "next_run_at": "2099-01-05T09:00",
            "source": "contested",
            "source_session": "0",
            "contested_count": "5",
            "contested_rounds": "2",
            "version": str(read_at),
        },
        follow_redirects=True,
    )
    assert "Someone else changed this schedule since you opened it" in answer.text
    db.session.refresh(schedule)
    assert schedule.name == "Counterfeit fortnightly" and schedule.cadence_days == 14
