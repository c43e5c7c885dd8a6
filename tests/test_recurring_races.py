"""Two schedulers creating the same recurring round at the same instant, on PostgreSQL:
one round, one session, one set of raters and cases, and no error in either.

Each scheduler is a thread with its own app context and connection, released together by
a barrier against committed data (the rolled-back ``db`` fixture cannot be shared by two
connections); the test removes what it made. SQLite is skipped: rollcal assumes one
scheduler process there (rollcal/jobs/scheduler.py).
"""

import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from calibration import jobs, schedules, services
from calibration.models import (
    CalibrationRound,
    CalibrationSchedule,
    CalibrationSession,
    Case,
    Flag,
    Rater,
    Severity,
)
from rollcal.accounts.models import Role, User
from rollcal.audit import AuditEvent
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Site, Vendor
from rollcal.types import utcnow
from rollcal.uow import unit_of_work
from rollout import services as rollout_services
from rollout.models import Policy, PolicyVersion
from tests.conftest import DATABASE

pytestmark = pytest.mark.skipif(
    DATABASE != "postgresql",
    reason="SQLite assumes one scheduler process (rollcal/jobs/scheduler.py)",
)

SCHEDULERS = 2


def _build_world() -> dict:
    password = generate_password_hash("x", method="pbkdf2:sha256:1")
    vendor = Vendor(name="Cadence Vendor", slug="cadence-vendor")
    site = Site(vendor=vendor, name="Cadence Street", city="Manila")
    pom = User(email="cadence-pom@example.com", name="POM", role=Role.POM, password_hash=password)
    leads = [
        User(
            email=f"cadence-{n}@example.com",
            name=f"Lead {n}",
            role=Role.QA_LEAD,
            vendor=vendor,
            password_hash=password,
        )
        for n in range(2)
    ]
    line = LineOfBusiness(name="Cadence line")
    db.session.add_all([vendor, site, pom, *leads, line])
    db.session.commit()
    lines = ["reference,text"] + [f"C-{i},case {i}" for i in range(6)]
    with unit_of_work():
        policy = rollout_services.create_policy(
            pom, code="CADENCE", title="Cadence", area="Cadence", line_of_business_id=line.id
        )
        version = rollout_services.create_version(
            pom,
            policy,
            version_label="v1",
            change_summary="Cadence",
            effective_date=date.today(),
            document_url="https://policy.example.com/cadence",
            label_options="a | A\nb | B",
        )
        source = services.create_session(pom, title="Cadence source", policy_version_id=version.id)
        services.import_cases(pom, source, ("\n".join(lines) + "\n").encode())
    with unit_of_work():
        schedule = schedules.create_schedule(
            pom,
            name="Cadence race",
            policy_version_id=version.id,
            site_ids=[site.id],
            cadence_days=14,
            open_days=3,
            next_run_at=utcnow() + timedelta(hours=2),
            source="session",
            source_session_id=source.id,
            contested_count=None,
            contested_rounds=None,
            cases_csv=None,
        )
    world = {
        "schedule_id": schedule.id,
        "source_id": source.id,
        "user_ids": [pom.id, *(lead.id for lead in leads)],
        "site_id": site.id,
        "vendor_id": vendor.id,
        "line_id": line.id,
        "policy_id": policy.id,
        "version_id": version.id,
    }
    db.session.close()
    return world


def _sessions_made(world) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(CalibrationSession.id).where(
                CalibrationSession.id != world["source_id"],
                sa.or_(
                    CalibrationSession.title.like("Cadence race%"),
                    CalibrationSession.title.like("Extra round:%Cadence source"),
                ),
            )
        )
    )


def _remove_world(world: dict) -> None:
    db.session.rollback()
    sessions = [*_sessions_made(world), world["source_id"]]
    db.session.execute(
        sa.delete(AuditEvent).where(
            sa.or_(
                AuditEvent.session_id.in_(sessions),
                AuditEvent.actor_id.in_(world["user_ids"]),
            )
        )
    )
    db.session.execute(
        sa.delete(CalibrationSchedule).where(CalibrationSchedule.id == world["schedule_id"])
    )
    db.session.execute(sa.delete(CalibrationSession).where(CalibrationSession.id.in_(sessions)))
    db.session.execute(sa.delete(PolicyVersion).where(PolicyVersion.id == world["version_id"]))
    db.session.execute(sa.delete(Policy).where(Policy.id == world["policy_id"]))
    db.session.execute(sa.delete(LineOfBusiness).where(LineOfBusiness.id == world["line_id"]))
    db.session.execute(sa.delete(User).where(User.id.in_(world["user_ids"])))
    db.session.execute(sa.delete(Site).where(Site.id == world["site_id"]))
    db.session.execute(sa.delete(Vendor).where(Vendor.id == world["vendor_id"]))
    db.session.commit()


def _race(app, work) -> tuple[list, list[BaseException]]:
    """Run ``work()`` in two schedulers released at the same instant."""
    barrier = threading.Barrier(SCHEDULERS)
    results: list = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results.append(work())
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(SCHEDULERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def _assert_one_round(world) -> None:
    rounds = db.session.scalars(
        sa.select(CalibrationRound).where(CalibrationRound.schedule_id == world["schedule_id"])
    ).all()
    assert len(rounds) == 1 and rounds[0].session_id is not None
    [made] = _sessions_made(world)
    assert made == rounds[0].session_id
    raters = db.session.scalar(sa.select(sa.func.count(Rater.id)).where(Rater.session_id == made))
    cases = db.session.scalar(sa.select(sa.func.count(Case.id)).where(Case.session_id == made))
    assert (raters, cases) == (2, 6)


def test_two_schedulers_running_the_job_at_once_create_the_round_once(app):
    with app.app_context():
        world = _build_world()
        try:
            results, errors = _race(app, jobs.calibration_rounds)
            assert not errors, errors
            assert sorted(r.startswith("created 1 round") for r in results) == [False, True]
            _assert_one_round(world)
        finally:
            _remove_world(world)


def test_two_schedulers_creating_the_same_round_keep_one(app):
    """Past the row lock (a scheduler that read the schedule before the other committed),
    the unique rule on (schedule, round time) still keeps one round."""
    with app.app_context():
        world = _build_world()
        try:
            round_at = db.session.get(CalibrationSchedule, world["schedule_id"]).next_run_at
            db.session.rollback()

            def create() -> int | None:
                with unit_of_work():
                    schedule = db.session.get(CalibrationSchedule, world["schedule_id"])
                    session = schedules.create_round(schedule, round_at)
                    return session.id if session is not None else None

            results, errors = _race(app, create)
            assert not errors, errors
            assert sorted(result is None for result in results) == [False, True]
            _assert_one_round(world)
        finally:
            _remove_world(world)


def test_two_clicks_at_once_on_a_drift_flag_make_one_extra_round(app):
    with app.app_context():
        world = _build_world()
        try:
            site = db.session.get(Site, world["site_id"])
            with unit_of_work():
                flag = Flag(
                    session_id=world["source_id"],
                    scope="site",
                    subject=site.label,
                    kind="accuracy_drift",
                    cause=f"site|{site.id}|drift|accuracy|-",
                    severity=Severity.HIGH,
                    message="Accuracy fell below the site's own history.",
                    vendor_id=site.vendor_id,
                    site_id=site.id,
                )
                db.session.add(flag)
            flag_id = flag.id
            db.session.rollback()

            def click() -> tuple[int, bool]:
                with unit_of_work():
                    pom = db.session.get(User, world["user_ids"][0])
                    session, created = schedules.schedule_extra_round(
                        pom, db.session.get(Flag, flag_id)
                    )
                    return session.id, created

            results, errors = _race(app, click)
            assert not errors, errors
            assert sorted(created for _, created in results) == [False, True]
            assert len({session_id for session_id, _ in results}) == 1
            rounds = db.session.scalar(
                sa.select(sa.func.count(CalibrationRound.id)).where(
                    CalibrationRound.flag_id == flag_id
                )
            )
            assert rounds == 1
            extra = db.session.scalars(
                sa.select(CalibrationSession.id).where(
                    CalibrationSession.title.like("Extra round:%Cadence source")
                )
            ).all()
            assert extra == [results[0][0]]
        finally:
            _remove_world(world)
