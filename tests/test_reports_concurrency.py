"""Reports and sign-off when several people or processes act at the same instant, on
PostgreSQL: a worker killed mid-render is taken over by another, and competing sign-off
requests and decisions give one outcome.

The competitors are threads started together by a barrier (or a real ``rollcal worker``
process), each with its own app context and database connection, against committed data
— so this module has a database of its own, created and dropped here, rather than the
rolled-back ``db`` fixture. SQLite is skipped: there every transaction takes the write
lock when it begins, so nothing runs concurrently to race.
"""

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from itertools import count
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.security import generate_password_hash

from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.audit import AuditEvent
from rollcal.extensions import db
from rollcal.notifications.models import Kind, Notification
from rollcal.org.models import LineOfBusiness, Market, Site, Vendor
from rollcal.reports.queue import LEASE, RenderStatus, ReportFile, render_queued
from rollcal.types import utcnow
from rollout import services as rollout_services
from rollout import signoff
from rollout.models import Rollout, RolloutStatus, SignOff, SignOffRequest, SignOffStatus
from tests.conftest import DATABASE, PG_SERVER

pytestmark = pytest.mark.skipif(
    DATABASE != "postgresql", reason="SQLite runs one writer at a time: nothing to race"
)

_serial = count(1)


@pytest.fixture(scope="module")
def race_database():
    """A migrated PostgreSQL database of this module's own: ``(url, app)``."""
    name = f"rollcal_reports_race_{os.getpid()}_{secrets.token_hex(3)}"
    server = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "race",
            "WTF_CSRF_ENABLED": False,
            "ROLLCAL_LOGIN_LIMIT": "1000 per minute",
        }
    )
    try:
        with app.app_context():
            upgrade()
        yield url, app
    finally:
        with app.app_context():
            db.engine.dispose()
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture
def race_app(race_database):
    return race_database[1]


def _ready_rollout(stakeholders: int = 2) -> dict:
    """A POM, stakeholders and a rollout whose every site is ready (overridden); committed."""
    n = next(_serial)
    password = generate_password_hash("x", method="pbkdf2:sha256:1")

    def person(role):
        user = User(
            email=f"{role.value}{n}.{next(_serial)}@race.example",
            name=f"{role.value} {n}",
            role=role,
            password_hash=password,
        )
        db.session.add(user)
        return user

    line = LineOfBusiness(name=f"Race line {n}")
    market = Market(code=f"R{n}"[:8], name=f"Race {n}", region="APAC")
    vendor = Vendor(name=f"Race vendor {n}", slug=f"race-vendor-{n}")
    site = Site(vendor=vendor, name=f"Race site {n}", city="Manila", markets=[market])
    poms = [person(Role.POM), person(Role.POM)]
    people = [person(Role.STAKEHOLDER) for _ in range(stakeholders)]
    db.session.add_all([line, market, vendor, site])
    db.session.commit()
    policy = rollout_services.create_policy(
        poms[0], code=f"RACE-{n}", title="Race", area="Race", line_of_business_id=line.id
    )
    version = rollout_services.create_version(
        poms[0],
        policy,
        version_label="v1",
        change_summary="x",
        effective_date=date.today(),
        document_url=None,
        label_options="a\nb",
    )
    rollout = rollout_services.create_rollout(
        poms[0],
        policy_version_id=version.id,
        template_id=1,
        site_ids=[site.id],
        go_live_date=date.today() + timedelta(days=20),
    )
    rollout_services.override_site(
        poms[0], rollout, site.id, "Identical rule already live at this site since June"
    )
    db.session.commit()
    return {
        "rollout_id": rollout.id,
        "pom_ids": [pom.id for pom in poms],
        "stakeholder_ids": [person.id for person in people],
    }


def _requested(app, world: dict) -> int:
    """Sign-off requested from every stakeholder, its report frozen; the request's id."""
    with app.app_context():
        rollout = db.session.get(Rollout, world["rollout_id"])
        pom = db.session.get(User, world["pom_ids"][0])
        request = signoff.request_signoff(pom, rollout, stakeholder_ids=world["stakeholder_ids"])
        db.session.commit()
        request_id = request.id
    assert render_queued(app) == 1
    return request_id


def _at_once(app, calls: list[tuple[int, str, dict]]) -> list[int]:
    """POST each ``(user_id, url, form)`` from its own signed-in client, all released at
    the same instant; the status codes, in order."""
    barrier = threading.Barrier(len(calls), timeout=60)
    statuses: list[int | None] = [None] * len(calls)
    errors: list[BaseException] = []

    with app.app_context():
        # The session cookie names the person and their sign-in generation.
        logins = [db.session.get(User, user_id).get_id() for user_id, _, _ in calls]

    def post(index: int, login: str, url: str, form: dict) -> None:
        try:
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"], session["_fresh"] = login, True
            barrier.wait()
            response = client.post(url, data=form)
            assert "/login" not in response.headers.get("Location", ""), "not signed in"
            statuses[index] = response.status_code
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    threads = [
        threading.Thread(target=post, args=(index, login, url, form))
        for index, (login, (_, url, form)) in enumerate(zip(logins, calls, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return statuses


def _sign_off_ids(app, request_id: int) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(SignOff.stakeholder_id, SignOff.id).where(SignOff.request_id == request_id)
        )
        return dict(rows.all())


def test_two_stakeholders_approving_at_once_sign_the_rollout_off(race_app):
    with race_app.app_context():
        world = _ready_rollout(stakeholders=2)
    request_id = _requested(race_app, world)
    sign_offs = _sign_off_ids(race_app, request_id)
    statuses = _at_once(
        race_app,
        [
            (person, f"/signoffs/{sign_offs[person]}", {"decision": "approve", "comment": "Go"})
            for person in world["stakeholder_ids"]
        ],
    )
    assert statuses == [302, 302]
    with race_app.app_context():
        request = db.session.get(SignOffRequest, request_id)
        assert request.status == SignOffStatus.APPROVED
        assert [s.decision.value for s in request.sign_offs] == ["approve", "approve"]
        assert db.session.get(Rollout, world["rollout_id"]).status == RolloutStatus.SIGNED_OFF


def test_two_poms_requesting_at_once_make_one_pending_request(race_app):
    with race_app.app_context():
        world = _ready_rollout(stakeholders=1)
    form = {"stakeholders": world["stakeholder_ids"], "message": "Please sign"}
    url = f"/rollouts/{world['rollout_id']}/signoff"
    statuses = _at_once(race_app, [(pom, url, form) for pom in world["pom_ids"]])
    assert sorted(statuses) == [302, 409]
    with race_app.app_context():
        pending = db.session.scalars(
            sa.select(SignOffRequest).where(
                SignOffRequest.rollout_id == world["rollout_id"],
                SignOffRequest.status == SignOffStatus.PENDING,
            )
        ).all()
        assert len(pending) == 1
        assert (
            db.session.scalar(
                sa.select(sa.func.count(SignOffRequest.id)).where(
                    SignOffRequest.rollout_id == world["rollout_id"]
                )
            )
            == 1
        )
        requested = db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.rollout_id == world["rollout_id"],
                AuditEvent.action == "signoff.requested",
            )
        )
        assert requested == 1
    assert render_queued(race_app) == 1  # one frozen report, too


def test_one_stakeholder_approving_and_rejecting_at_once_records_one_decision(race_app):
    with race_app.app_context():
        world = _ready_rollout(stakeholders=1)
    request_id = _requested(race_app, world)
    (person,) = world["stakeholder_ids"]
    url = f"/signoffs/{_sign_off_ids(race_app, request_id)[person]}"
    statuses = _at_once(
        race_app,
        [
            (person, url, {"decision": "approve", "comment": "Go"}),
            (person, url, {"decision": "reject", "comment": "UAT evidence missing"}),
        ],
    )
    assert sorted(statuses) == [302, 409]
    with race_app.app_context():
        request = db.session.get(SignOffRequest, request_id)
        decision = request.sign_offs[0].decision
        assert request.status == (
            SignOffStatus.APPROVED if decision.value == "approve" else SignOffStatus.REJECTED
        )
        told = db.session.scalars(
            sa.select(Notification).where(
                Notification.user_id == world["pom_ids"][0],
                Notification.kind == Kind.SIGNOFF_DECIDED,
            )
        ).all()
        assert len(told) == 1
        decided = db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.rollout_id == world["rollout_id"],
                AuditEvent.action.in_(["signoff.approved", "signoff.rejected"]),
            )
        ).all()
        assert decided == [{"approve": "signoff.approved", "reject": "signoff.rejected"}[decision]]


# A worker killed mid-render -----------------------------------------------------------


def _slow_report() -> int:
    """A queued report long enough to render for a few seconds (some twenty pages)."""
    paragraphs = "".join(
        f"<p>Site {n}: {'moderators trained and signed off; ' * 4}</p>" for n in range(400)
    )
    report = ReportFile(
        kind="readiness",
        subject_id=0,
        audience="all",
        title="A long report",
        content_key=secrets.token_hex(32),
        status=RenderStatus.PREPARING,
        html=f"<html><body><h1>Long</h1>{paragraphs}</body></html>",
        attachments=[],
    )
    db.session.add(report)
    db.session.commit()
    return report.id


def _wait_for(condition, what: str, limit: float = 120):
    """Poll ``condition`` until it returns something true (a deadline, not a measurement)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_worker_killed_mid_render_is_taken_over_by_another(race_database, tmp_path):
    url, app = race_database
    with app.app_context():
        report_id = _slow_report()
    rollcal = Path(sys.executable).with_name("rollcal")
    environment = {**os.environ, "DATABASE_URL": url, "ROLLCAL_INSTANCE_PATH": str(tmp_path)}
    # A session of its own, so that the kill takes the worker's render child with it.
    worker = subprocess.Popen(
        [rollcal, "worker", "--renders", "1"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def claimed():
        with app.app_context():
            return db.session.scalar(
                sa.select(ReportFile.claimed_by).where(ReportFile.id == report_id)
            )

    try:
        dead_worker = _wait_for(claimed, "the worker to claim the report")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    with app.app_context():
        report = db.session.get(ReportFile, report_id)
        assert report.status == RenderStatus.PREPARING and report.claimed_by == dead_worker
        # Its lease still holds: nobody takes the report over yet.
        assert render_queued(app) == 0

    # Once the lease has run out, the next worker to look renders it.
    assert render_queued(app, now=utcnow() + LEASE + timedelta(seconds=1)) == 1
    with app.app_context():
        report = db.session.get(ReportFile, report_id)
        assert report.status == RenderStatus.READY and report.pdf.startswith(b"%PDF-")
        assert report.attempts == 2 and report.claimed_by is None
