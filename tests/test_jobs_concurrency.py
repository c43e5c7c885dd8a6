"""Two schedulers running the same jobs at the same moment, on PostgreSQL: every session
opens and closes once, every reminder and digest is made once, every rollout goes live
once and every e-mail reaches the SMTP server once.

Each "scheduler" is a thread with its own app context and database connection, and both
run each job at the same instant (a barrier) against committed data — so this test has a
database of its own, created and dropped here, rather than the rolled-back ``db`` fixture.
SQLite is skipped: rollcal assumes a single scheduler process there (rollcal/jobs/scheduler.py).
"""

import os
import secrets
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.security import generate_password_hash

from calibration import services as calibration_services
from calibration.models import AgreementSnapshot, CalibrationSession, SessionStatus
from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.audit import AuditEvent
from rollcal.extensions import db
from rollcal.jobs import scheduler
from rollcal.jobs.models import JobRun
from rollcal.notifications.models import Digest, EmailMessage, EmailStatus, Kind, Notification
from rollcal.org.models import LineOfBusiness, Market, Site, Vendor
from rollout import services as rollout_services
from rollout.models import Rollout, RolloutStatus
from tests.calibration_factories import label_all, make_session, split_answers
from tests.conftest import DATABASE, PG_SERVER

pytestmark = pytest.mark.skipif(
    DATABASE != "postgresql",
    reason="SQLite assumes one scheduler process (rollcal/jobs/scheduler.py)",
)

# Monday 2 March 2026, 10:00 UTC: 18:00 in Singapore (after the POM's 08:00 digest hour)
# and 10:00 in London (after the stakeholders' Monday 08:00 summary hour).
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOW = START + timedelta(hours=2)
ROUNDS = 2


@pytest.fixture(scope="module")
def race_app():
    """The app on a PostgreSQL database of its own, migrated, dropped afterwards."""
    name = f"rollcal_race_{os.getpid()}_{secrets.token_hex(3)}"
    server = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "race"})
    try:
        with app.app_context():
            upgrade()
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def _build_world() -> dict:
    """Sessions to open, to close and to remind about; a rollout with items due; signed-off
    rollouts past go-live; a POM, QA leads and stakeholders."""
    password = generate_password_hash("x", method="pbkdf2:sha256:1")

    def person(email, role, zone="UTC", vendor=None):
        user = User(
            email=email,
            name=email.split("@")[0],
            role=role,
            timezone=zone,
            vendor=vendor,
            password_hash=password,
        )
        db.session.add(user)
        return user

    market = Market(code="RC", name="Race", region="APAC")
    line = LineOfBusiness(name="Race line")
    db.session.add_all([market, line])
    pom = person("pom@race.example", Role.POM, "Asia/Singapore")
    for n in range(2):
        person(f"stakeholder{n}@race.example", Role.STAKEHOLDER, "Europe/London")
    sites, leads = [], []
    for v in range(2):
        vendor = Vendor(name=f"Vendor {v}", slug=f"vendor-{v}", owners=[pom])
        db.session.add(vendor)
        for s in range(2):
            sites.append(Site(vendor=vendor, name=f"Site {v}{s}", city="Manila", markets=[market]))
            db.session.add(sites[-1])
            leads.append(person(f"lead{v}{s}@race.example", Role.QA_LEAD, "Asia/Manila", vendor))
    db.session.commit()
    raters = list(zip(leads, sites, strict=True))

    closing = []
    for n in range(5):
        session = make_session(
            pom, raters, cases=8, title=f"Closing {n}", closes_at=START + timedelta(hours=1)
        )
        calibration_services.open_session(pom, session)
        label_all(session, leads, split_answers)
        closing.append(session.id)
    reminding = []
    for n in range(3):
        session = make_session(
            pom, raters, cases=8, title=f"Reminding {n}", closes_at=NOW + timedelta(hours=12)
        )
        calibration_services.open_session(pom, session)
        label_all(session, leads[:2], split_answers)
        reminding.append(session.id)
    opening = [
        make_session(
            pom,
            raters,
            cases=8,
            title=f"Opening {n}",
            opens_at=START + timedelta(minutes=30),
            closes_at=NOW + timedelta(days=3),
        ).id
        for n in range(2)
    ]

    rollouts = []
    for n in range(4):
        policy = rollout_services.create_policy(
            pom, code=f"RACE-{n}", title="Race", area="Race", line_of_business_id=line.id
        )
        version = rollout_services.create_version(
            pom,
            policy,
            version_label="v1",
            change_summary="x",
            effective_date=START.date(),
            document_url=None,
            label_options="a\nb",
        )
        rollouts.append(
            rollout_services.create_rollout(
                pom,
                policy_version_id=version.id,
                template_id=1,
                site_ids=[site.id for site in sites],
                go_live_date=START.date() + timedelta(days=10 if n == 0 else -1),
            )
        )
    for rollout in rollouts[1:]:
        rollout.status = RolloutStatus.SIGNED_OFF
    db.session.commit()
    world = {
        "pom_id": pom.id,
        "closing": closing,
        "reminding": reminding,
        "opening": opening,
        "live": [rollout.id for rollout in rollouts[1:]],
        "lead_ids": [lead.id for lead in leads],
    }
    db.session.close()
    return world


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _audits(action: str, session_id: int | None = None, rollout_id: int | None = None) -> int:
    where = [AuditEvent.action == action]
    if session_id is not None:
        where.append(AuditEvent.session_id == session_id)
    if rollout_id is not None:
        where.append(AuditEvent.rollout_id == rollout_id)
    return _count(AuditEvent, *where)


def test_two_schedulers_running_the_same_jobs_at_once_do_everything_exactly_once(
    race_app, smtp_server, time_machine
):
    inbox, port = smtp_server
    race_app.config.update(ROLLCAL_SMTP_HOST="127.0.0.1", ROLLCAL_SMTP_PORT=port)
    time_machine.move_to(START, tick=False)
    with race_app.app_context():
        world = _build_world()
    time_machine.move_to(NOW, tick=False)

    barrier = threading.Barrier(2, timeout=120)
    errors: list[BaseException] = []

    def run_scheduler() -> None:
        try:
            for _ in range(ROUNDS):
                for job in scheduler.registered_jobs(race_app):
                    barrier.wait()  # both schedulers start the job at the same moment
                    scheduler.run_job(race_app, job.id)
        except BaseException as error:  # reported in the test's thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run_scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors

    with race_app.app_context():
        runs = db.session.scalars(sa.select(JobRun)).all()
        assert len(runs) == 2 * ROUNDS * len(scheduler.registered_jobs(race_app))
        failures = [(run.job_id, run.error) for run in runs if run.outcome != "succeeded"]
        assert not failures, failures
        assert len({run.runner for run in runs}) == 1  # one process, two threads

        # Sessions: each opened once, each closed once with one snapshot.
        for session_id in world["opening"]:
            assert db.session.get(CalibrationSession, session_id).status == SessionStatus.OPEN
            assert _audits("calibration.session_opened", session_id=session_id) == 1
        for session_id in world["closing"]:
            assert db.session.get(CalibrationSession, session_id).status == SessionStatus.CLOSED
            assert _audits("calibration.session_closed", session_id=session_id) == 1
            assert _count(AgreementSnapshot, AgreementSnapshot.session_id == session_id) == 1

        def told(kind: Kind) -> Counter:
            rows = db.session.execute(
                sa.select(Notification.user_id, Notification.key).where(Notification.kind == kind)
            )
            return Counter(user_id for user_id, _ in rows)

        pom_id, leads = world["pom_id"], world["lead_ids"]
        assert told(Kind.SESSION_CLOSED) == {pom_id: len(world["closing"])}
        # Every rater hears of each session that opened while they were away (the
        # reminding ones and the two opened by the scheduler); the closing ones had
        # already closed when the schedulers first ran.
        opened = len(world["reminding"]) + len(world["opening"])
        assert told(Kind.SESSION_OPENED) == {lead: opened for lead in leads}
        # Only the two raters who left cases unlabelled are reminded, once per session.
        assert told(Kind.SESSION_CLOSING) == {lead: len(world["reminding"]) for lead in leads[2:]}
        # Checklist: T-21 and T-14 overdue and T-10 due today on the rollout under way,
        # told in one notification a person listing them all.
        reminders = told(Kind.CHECKLIST_DUE)
        assert reminders[pom_id] == 1
        [pom_reminder] = db.session.scalars(
            sa.select(Notification).where(
                Notification.kind == Kind.CHECKLIST_DUE, Notification.user_id == pom_id
            )
        ).all()
        assert len(pom_reminder.entries) == 2 * 4  # two POM steps at four sites
        keys = db.session.scalars(
            sa.select(Notification.key).where(Notification.kind == Kind.CHECKLIST_DUE)
        ).all()
        assert len(keys) == len(set(keys))

        # Rollouts: each went live once.
        for rollout_id in world["live"]:
            assert db.session.get(Rollout, rollout_id).status == RolloutStatus.LIVE
            changes = db.session.scalars(
                sa.select(AuditEvent.after).where(
                    AuditEvent.rollout_id == rollout_id, AuditEvent.action == "rollout.status"
                )
            ).all()
            assert changes.count({"status": "live"}) == 1
        assert sum(told(Kind.ROLLOUT_LIVE).values()) == 3 * len(world["live"])

        # Digests: one daily for the POM, one weekly summary per stakeholder.
        assert _count(Digest, Digest.kind == "daily") == 1
        assert _count(Digest, Digest.kind == "weekly") == 2

        # E-mail: one per person per reminder batch, each received exactly once over SMTP.
        emails = db.session.scalars(sa.select(EmailMessage)).all()
        checklist_emails = Counter(e.user_id for e in emails if e.kind == "checklist_due")
        assert all(count == 1 for count in checklist_emails.values())
        assert {e.status for e in emails} == {EmailStatus.SENT}
        received = Counter(message["X-Rollcal-Email"] for message in inbox.messages)
        assert received == Counter(str(e.id) for e in emails)
