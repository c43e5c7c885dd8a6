"""A day's checklist reminders: one notification per person listing every item due or
overdue, one e-mail listing them too, a page of its own, and exactly one however many
schedulers run."""

from __future__ import annotations

import os
import re
import secrets
import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from markupsafe import escape

from rollcal.accounts.models import Role
from rollcal.notifications.models import (
    Delivery,
    EmailMessage,
    Kind,
    Notification,
    NotificationPreference,
)
from rollout import jobs as rollout_jobs
from rollout import services as rollout_services
from tests.conftest import DATABASE, PG_SERVER

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GO_LIVE = NOON.date() + timedelta(days=30)
# Eleven days before go-live the POM's steps due at T-21 and T-14 are overdue.
REMINDER_DAY = datetime.combine(GO_LIVE - timedelta(days=11), time(12), tzinfo=UTC)


@pytest.fixture
def at_noon(time_machine):
    """Time stands at ``NOON`` (asked for first, so the world is built then)."""
    time_machine.move_to(NOON, tick=False)
    return time_machine


@pytest.fixture
def six_items(at_noon, db, rollout_world, make_version):
    """The POM has six overdue steps: four on the rollout to Cebu and Dublin, two on a
    second rollout to Cebu alone."""
    pom = rollout_world["pom"]
    second = rollout_services.create_rollout(
        pom,
        policy_version_id=make_version(pom, code="SHOP-IP").id,
        template_id=1,
        site_ids=[rollout_world["cebu"].id],
        go_live_date=GO_LIVE,
    )
    db.session.commit()
    at_noon.move_to(REMINDER_DAY, tick=False)
    return {**rollout_world, "second": second}


def _reminders(db, user=None) -> list[Notification]:
    statement = sa.select(Notification).where(Notification.kind == Kind.CHECKLIST_DUE)
    if user is not None:
        statement = statement.where(Notification.user_id == user.id)
    return list(db.session.scalars(statement.order_by(Notification.id)))


def _emails(db, user) -> list[EmailMessage]:
    return list(
        db.session.scalars(
            sa.select(EmailMessage).where(
                EmailMessage.user_id == user.id, EmailMessage.kind == Kind.CHECKLIST_DUE.value
            )
        )
    )


def test_six_items_due_make_one_notification_listing_the_six(db, six_items):
    pom, first, second = six_items["pom"], six_items["rollout"], six_items["second"]

    rollout_jobs.remind_assignees()

    [reminder] = _reminders(db, pom)
    assert reminder.title == "6 items overdue on 2 rollouts"
    assert len(reminder.entries) == 6
    assert reminder.body.count("\n") == 5
    assert {entry["rollout"] for entry in reminder.entries} == {first.title, second.title}
    assert {entry["rollout_link"] for entry in reminder.entries} == {
        f"/rollouts/{first.id}",
        f"/rollouts/{second.id}",
    }
    assert {entry["site"] for entry in reminder.entries} == {
        "Meridian CX · Cebu",
        "Harbor Review · Dublin",
    }
    assert all(re.fullmatch(r"/items/\d+", entry["link"]) for entry in reminder.entries)
    assert {entry["site_link"] for entry in reminder.entries} == {
        f"/sites/{six_items['cebu'].id}",
        f"/sites/{six_items['dublin'].id}",
    }
    # Most overdue first.
    assert reminder.entries[0]["when"] == "Overdue by 10 days"
    assert reminder.entries[-1]["when"] == "Overdue by 3 days"
    assert reminder.link == f"/notifications/{reminder.id}"


def test_the_reminders_email_lists_every_item_with_its_link(db, six_items):
    pom = six_items["pom"]
    rollout_jobs.remind_assignees()
    [reminder] = _reminders(db, pom)
    [email] = _emails(db, pom)
    assert reminder.email_id == email.id
    assert email.subject == "6 items overdue on 2 rollouts"
    assert email.text_body.count("Overdue by") == 6
    for entry in reminder.entries:
        assert f"http://127.0.0.1:5000{entry['link']}" in email.text_body
        assert f'href="http://127.0.0.1:5000{entry["link"]}"' in email.html_body
    assert f"http://127.0.0.1:5000/notifications/{reminder.id}" in email.text_body


def test_the_grouped_reminder_opens_a_page_listing_its_items(client, auth, db, six_items):
    pom = six_items["pom"]
    rollout_jobs.remind_assignees()
    [reminder] = _reminders(db, pom)
    auth.login(pom)

    listing = client.get("/notifications").get_data(as_text=True)
    assert f'href="/notifications/{reminder.id}/open">6 items overdue on 2 rollouts</a>' in listing
    for entry in reminder.entries:
        assert f'<a href="{entry["link"]}">{escape(entry["title"])}</a>' in listing

    response = client.get(f"/notifications/{reminder.id}/open")
    assert response.headers["Location"] == f"/notifications/{reminder.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<h1>6 items overdue on 2 rollouts</h1>" in page
    for entry in reminder.entries:
        assert f'<a href="{entry["link"]}">{escape(entry["title"])}</a>' in page
        assert f'<a href="{entry["rollout_link"]}">' in page
        assert f'<a href="{entry["site_link"]}">{escape(entry["site"])}</a>' in page
    assert 'href="/my-items"' in page
    db.session.refresh(reminder)
    assert reminder.is_read


def test_one_item_due_is_told_by_its_title_and_opens_the_item(db, six_items):
    liam = six_items["liam"]  # Dublin is on the first rollout only
    rollout_jobs.remind_assignees()
    [reminder] = _reminders(db, liam)
    assert reminder.title == "Due tomorrow: Trainers upskilled"
    [entry] = reminder.entries
    assert reminder.link == entry["link"]


def test_nobody_sees_anothers_grouped_reminder(client, auth, db, six_items):
    rollout_jobs.remind_assignees()
    [reminder] = _reminders(db, six_items["pom"])
    auth.login(six_items["maria"])
    assert client.get(f"/notifications/{reminder.id}").status_code == 404


def test_running_the_reminders_again_the_same_day_adds_nothing(db, six_items):
    assert rollout_jobs.remind_assignees() == "3 reminders listing 9 items"
    assert rollout_jobs.remind_assignees() == "no reminders"
    assert len(_reminders(db, six_items["pom"])) == 1
    assert len(_emails(db, six_items["pom"])) == 1


def test_a_scheduler_that_checked_before_the_other_committed_makes_no_second_reminder(
    db, six_items, monkeypatch
):
    # Two schedulers both find no reminder yet for the day, then both insert it: the
    # unique key lets one through; the other makes neither a notification nor an e-mail.
    rollout_jobs.remind_assignees()
    monkeypatch.setattr(rollout_jobs, "already_notified", lambda keys: set())
    assert rollout_jobs.remind_assignees() == "no reminders"
    assert len(_reminders(db, six_items["pom"])) == 1
    assert len(_emails(db, six_items["pom"])) == 1


def test_the_next_day_brings_the_next_reminder(db, six_items, time_machine):
    rollout_jobs.remind_assignees()
    time_machine.move_to(REMINDER_DAY + timedelta(days=1), tick=False)
    rollout_jobs.remind_assignees()
    later = _reminders(db, six_items["pom"])[-1]
    assert len(_reminders(db, six_items["pom"])) == 2
    assert later.entries[0]["when"] == "Overdue by 11 days"


def test_reminders_turned_off_make_nothing_and_digest_lists_the_items(db, six_items):
    pom, maria = six_items["pom"], six_items["maria"]
    db.session.add_all(
        [
            NotificationPreference(user_id=pom.id, kind=Kind.CHECKLIST_DUE, delivery=Delivery.OFF),
            NotificationPreference(
                user_id=maria.id, kind=Kind.CHECKLIST_DUE, delivery=Delivery.DIGEST
            ),
        ]
    )
    db.session.commit()
    rollout_jobs.remind_assignees()
    assert _reminders(db, pom) == [] and _emails(db, pom) == []
    [waiting] = _reminders(db, maria)
    assert waiting.delivery == Delivery.DIGEST and _emails(db, maria) == []

    rollout_jobs.send_daily_digests()
    digest = db.session.scalars(
        sa.select(EmailMessage).where(
            EmailMessage.user_id == maria.id, EmailMessage.kind == Kind.DAILY_DIGEST.value
        )
    ).one()
    assert waiting.title == "2 items due tomorrow on 2 rollouts"
    assert digest.text_body.count("Due tomorrow: Trainers upskilled (Meridian CX · Cebu") == 2
    assert f"http://127.0.0.1:5000{waiting.entries[0]['link']}" in digest.text_body


# Two schedulers at once ---------------------------------------------------------------


@pytest.fixture(scope="module")
def race_app():
    """The app on a PostgreSQL database of its own, migrated, dropped afterwards."""
    from flask_migrate import upgrade

    from rollcal import create_app
    from rollcal.extensions import db

    name = f"rollcal_remind_{os.getpid()}_{secrets.token_hex(3)}"
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


def _race_world() -> dict[str, int]:
    """A POM with two rollouts to two vendors' sites, each vendor with a QA lead."""
    from werkzeug.security import generate_password_hash

    from rollcal.accounts.models import User
    from rollcal.extensions import db
    from rollcal.org.models import LineOfBusiness, Market, Site, Vendor

    password = generate_password_hash("x", method="pbkdf2:sha256:1")
    market, line = Market(code="RM", name="Remind", region="APAC"), LineOfBusiness(name="Lin")
    pom = User(email="pom@remind.example", name="Pom", role=Role.POM, password_hash=password)
    db.session.add_all([market, line, pom])
    sites, leads = [], []
    for n in range(2):
        vendor = Vendor(name=f"Vendor {n}", slug=f"vendor-{n}")
        sites.append(Site(vendor=vendor, name=f"Site {n}", city="Manila", markets=[market]))
        leads.append(
            User(
                email=f"lead{n}@remind.example",
                name=f"Lead {n}",
                role=Role.QA_LEAD,
                vendor=vendor,
                password_hash=password,
            )
        )
    db.session.add_all([*sites, *leads])
    db.session.commit()
    for n in range(2):
        policy = rollout_services.create_policy(
            pom, code=f"REM-{n}", title="Remind", area="Remind", line_of_business_id=line.id
        )
        version = rollout_services.create_version(
            pom,
            policy,
            version_label="v1",
            change_summary="x",
            effective_date=date(2026, 3, 1),
            document_url=None,
            label_options="a\nb",
        )
        rollout_services.create_rollout(
            pom,
            policy_version_id=version.id,
            template_id=1,
            site_ids=[site.id for site in sites],
            go_live_date=GO_LIVE,
        )
    db.session.commit()
    world = {"pom": pom.id, "leads": [lead.id for lead in leads]}
    db.session.close()
    return world


@pytest.mark.skipif(
    DATABASE != "postgresql",
    reason="SQLite assumes one scheduler process (rollcal/jobs/scheduler.py)",
)
def test_two_schedulers_at_once_make_one_reminder_a_person(race_app, time_machine):
    from rollcal.extensions import db
    from rollcal.jobs import scheduler

    time_machine.move_to(NOON, tick=False)
    with race_app.app_context():
        world = _race_world()
    time_machine.move_to(REMINDER_DAY, tick=False)
    barrier = threading.Barrier(2, timeout=120)
    errors: list[BaseException] = []

    def run_scheduler() -> None:
        try:
            for _ in range(3):
                barrier.wait()  # both schedulers start the job at the same moment
                scheduler.run_job(race_app, "checklist_reminders")
        except BaseException as error:  # reported in the test's thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run_scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors

    with race_app.app_context():
        rows = db.session.execute(
            sa.select(Notification.user_id, Notification.entries, Notification.email_id).where(
                Notification.kind == Kind.CHECKLIST_DUE
            )
        ).all()
        by_person = {user_id: entries for user_id, entries, _ in rows}
        assert len(rows) == len(by_person) == 3
        # Two overdue steps at two sites on two rollouts for the POM.
        assert len(by_person[world["pom"]]) == 2 * 2 * 2
        emails = db.session.scalars(
            sa.select(EmailMessage.user_id).where(EmailMessage.kind == Kind.CHECKLIST_DUE.value)
        ).all()
        assert sorted(emails) == sorted(by_person)
        assert {email_id for _, _, email_id in rows} != {None}
