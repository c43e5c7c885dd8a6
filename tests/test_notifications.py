"""Notifications: told once, as each person chose; the bell, the list, preferences, e-mail
over a real SMTP server on loopback, and the outbox when SMTP is not configured."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from rollcal.accounts.models import Role
from rollcal.notifications import services as notifications
from rollcal.notifications.models import (
    Delivery,
    EmailMessage,
    EmailStatus,
    Kind,
    Notification,
    NotificationPreference,
)
from rollcal.notifications.services import deliver_queued, notify

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _tell(user, about="1", kind=Kind.CHECKLIST_DUE, **extra):
    from rollcal.extensions import db

    notification = notify(
        user,
        kind,
        about=about,
        title=extra.pop("title", "Due tomorrow: Capacity confirmed"),
        body=extra.pop("body", "Cebu · SHOP-CF v3.0"),
        link=extra.pop("link", "/my-items"),
        **extra,
    )
    db.session.commit()
    return notification


def _emails(db, user=None) -> list[EmailMessage]:
    statement = sa.select(EmailMessage).order_by(EmailMessage.id)
    if user is not None:
        statement = statement.where(EmailMessage.user_id == user.id)
    return list(db.session.scalars(statement))


def _prefer(db, user, kind: Kind, delivery: Delivery) -> None:
    db.session.add(NotificationPreference(user_id=user.id, kind=kind, delivery=delivery))
    db.session.commit()


def test_the_same_notification_is_made_once_however_often_it_is_sent(db, create_user):
    maria = create_user(Role.QA_LEAD)
    first = _tell(maria, about="42:2026-03-02")
    again = _tell(maria, about="42:2026-03-02")
    assert first is not None and again is None
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 1
    assert len(_emails(db, maria)) == 1


def test_the_same_subject_is_told_to_each_person_separately(db, create_user):
    maria, liam = create_user(Role.QA_LEAD), create_user(Role.QA_LEAD)
    assert _tell(maria, about="42") is not None
    assert _tell(liam, about="42") is not None


def test_without_smtp_the_email_is_held_in_the_outbox_with_both_bodies(db, create_user):
    maria = create_user(Role.QA_LEAD, name="Maria Santos")
    _tell(maria)
    [message] = _emails(db, maria)
    assert message.status == EmailStatus.HELD
    assert message.to_address == maria.email
    assert message.subject == "Due tomorrow: Capacity confirmed"
    assert "Hello Maria Santos" in message.text_body
    assert "http://127.0.0.1:5000/my-items" in message.text_body
    assert "<h1>Due tomorrow: Capacity confirmed</h1>" in message.html_body
    assert "notifications/preferences" in message.html_body


def test_held_emails_are_never_sent_even_once_smtp_is_configured(db, create_user, smtp):
    # Held mail was made while nobody could receive it; sending it later would be stale.
    from flask import current_app

    host = current_app.config["ROLLCAL_SMTP_HOST"]
    current_app.config["ROLLCAL_SMTP_HOST"] = None
    _tell(create_user(Role.QA_LEAD))
    current_app.config["ROLLCAL_SMTP_HOST"] = host
    assert "sent 0 e-mails" in deliver_queued()
    assert smtp.messages == []


def test_off_means_no_notification_and_no_email(db, create_user):
    maria = create_user(Role.QA_LEAD)
    _prefer(db, maria, Kind.CHECKLIST_DUE, Delivery.OFF)
    assert _tell(maria) is None
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 0
    assert _emails(db) == []


def test_digest_means_the_bell_now_and_no_email_until_the_digest(db, create_user):
    maria = create_user(Role.QA_LEAD)
    _prefer(db, maria, Kind.CHECKLIST_DUE, Delivery.DIGEST)
    notification = _tell(maria)
    assert notification.delivery == Delivery.DIGEST
    assert _emails(db) == []
    assert notifications.pending_digest(maria) == [notification]


def test_inactive_people_are_not_notified(db, create_user):
    assert _tell(create_user(Role.QA_LEAD, active=False)) is None


def test_email_goes_through_smtp_with_plain_text_and_html(db, create_user, smtp):
    maria = create_user(Role.QA_LEAD, name="Maria Santos")
    _tell(maria, body="Cebu · SHOP-CF v3.0 & more")
    [queued] = _emails(db, maria)
    assert queued.status == EmailStatus.QUEUED

    assert deliver_queued() == "sent 1 e-mail"

    [received] = smtp.messages
    assert received["To"] == maria.email
    assert received["From"] == "rollcal@localhost"
    assert received["Subject"] == "Due tomorrow: Capacity confirmed"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["X-Rollcal-Email"] == str(queued.id)
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "Cebu · SHOP-CF v3.0 & more" in text
    assert "Cebu · SHOP-CF v3.0 &amp; more" in html
    db.session.refresh(queued)
    assert queued.status == EmailStatus.SENT and queued.sent_at is not None


def test_sent_email_is_not_sent_again(db, create_user, smtp):
    _tell(create_user(Role.QA_LEAD))
    deliver_queued()
    assert deliver_queued() == "sent 0 e-mails"
    assert len(smtp.messages) == 1


def test_an_unreachable_smtp_server_is_retried_later_then_given_up(
    db, create_user, app, monkeypatch, time_machine
):
    from tests.conftest import free_port

    time_machine.move_to(NOON, tick=False)
    monkeypatch.setitem(app.config, "ROLLCAL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "ROLLCAL_SMTP_PORT", free_port())
    _tell(create_user(Role.QA_LEAD))
    [message] = _emails(db)

    summary = deliver_queued()

    assert "sent 0 e-mails; stopped after a failure: ConnectionRefusedError" in summary
    db.session.refresh(message)
    assert message.status == EmailStatus.QUEUED
    assert message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    assert message.next_attempt_at == NOON + timedelta(minutes=2)
    assert deliver_queued() == "sent 0 e-mails"  # not due again yet
    for _ in range(notifications.MAX_ATTEMPTS - 1):
        time_machine.move_to(message.next_attempt_at, tick=False)
        deliver_queued()
        db.session.refresh(message)
    assert message.status == EmailStatus.FAILED
    assert message.attempts == notifications.MAX_ATTEMPTS


def test_email_times_are_in_the_recipients_time_zone(db, create_user):
    from rollcal.notifications.services import local_time

    # Manila by city and offset: its tz abbreviation "PST" would read as Pacific time.
    assert "Mon 2 Mar" in local_time(NOON, "Asia/Manila")
    assert local_time(NOON, "Asia/Manila").endswith(", 20:00 (Manila, UTC+8)")
    assert local_time(NOON, "Europe/London").endswith(", 12:00 (London, UTC)")


# Pages -------------------------------------------------------------------------------


def test_the_bell_shows_the_unread_count_on_every_page(client, auth, db, create_user):
    maria = auth.login(create_user(Role.QA_LEAD))
    page = client.get("/my-items").get_data(as_text=True)
    assert 'aria-label="Notifications: 0 unread"' in page
    assert "bell-count" not in page
    _tell(maria, about="1")
    _tell(maria, about="2")
    page = client.get("/my-items").get_data(as_text=True)
    assert 'aria-label="Notifications: 2 unread"' in page
    assert '<span class="bell-count" aria-hidden="true">2</span>' in page


def test_the_bell_asks_htmx_to_refresh_it_every_minute_and_on_return_to_the_tab(
    client, auth, db, create_user
):
    auth.login(create_user(Role.QA_LEAD))
    page = client.get("/notifications").get_data(as_text=True)
    bell = page[page.index('id="bell"') - 30 : page.index("</span>", page.index('id="bell"'))]
    assert 'hx-get="/notifications/bell"' in bell
    assert 'hx-trigger="every 60s, visibilitychange from:document"' in bell
    assert 'hx-swap="outerHTML"' in bell
    # Without JavaScript the bell is a plain link with its count rendered by the server.
    assert '<a class="bell" href="/notifications"' in bell


def test_the_bell_fragment_is_the_bell_alone_with_the_current_count(client, auth, db, create_user):
    maria = auth.login(create_user(Role.QA_LEAD))
    _tell(maria, about="1")
    response = client.get("/notifications/bell")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith("<span") and "<html" not in fragment
    assert 'aria-label="Notifications: 1 unread"' in fragment
    assert '<span class="bell-count" aria-hidden="true">1</span>' in fragment
    assert 'hx-get="/notifications/bell"' in fragment  # it keeps refreshing itself
    _tell(maria, about="2")
    assert 'aria-label="Notifications: 2 unread"' in client.get("/notifications/bell").get_data(
        as_text=True
    )


def test_the_bell_fragment_never_commits(client, auth, db, create_user):
    from tests.test_no_write_on_read import counting_commits

    maria = auth.login(create_user(Role.QA_LEAD))
    _tell(maria)
    with counting_commits() as commits:
        assert client.get("/notifications/bell").status_code == 200
    assert commits == []


def test_a_signed_out_browser_gets_an_empty_answer_not_the_sign_in_page(client, db):
    response = client.get("/notifications/bell")
    assert response.status_code == 204
    assert response.get_data() == b""


def test_the_bell_uses_no_inline_style_or_script(client, auth, db, create_user):
    auth.login(create_user(Role.POM))
    page = client.get("/notifications").get_data(as_text=True)
    assert "style=" not in page and "<style" not in page
    assert "<script>" not in page and "onclick" not in page


def test_the_list_shows_unread_first_in_the_persons_time_zone(
    client, auth, db, create_user, time_machine
):
    # Time moves first: a session cookie signed "later" would not be accepted.
    time_machine.move_to(NOON, tick=False)
    maria = auth.login(create_user(Role.QA_LEAD, timezone="Asia/Manila"))
    read = _tell(maria, about="1", title="Old news")
    notifications.mark_read(maria, read)
    time_machine.move_to(NOON + timedelta(hours=1), tick=False)
    _tell(maria, about="2", title="Fresh news")
    page = client.get("/notifications").get_data(as_text=True)
    assert page.index("Fresh news") < page.index("Old news")
    assert "Mon 2 Mar, 21:00 (Manila, UTC+8)" in page
    assert page.count("Mark read") == 1
    # Titles are plain links: they open in a new tab and can be copied.
    assert re.search(
        r'<a class="notification-title" href="/notifications/\d+/open">Fresh news</a>', page
    )


def test_opening_a_notification_marks_it_read_and_goes_to_the_thing(client, auth, db, create_user):
    maria = auth.login(create_user(Role.QA_LEAD))
    notification = _tell(maria, link="/my-items")
    response = client.get(f"/notifications/{notification.id}/open")
    assert response.status_code == 302
    assert response.headers["Location"] == "/my-items"
    db.session.refresh(notification)
    assert notification.is_read
    assert notifications.unread_count(maria) == 0


def test_a_link_to_another_site_is_never_followed(client, auth, db, create_user):
    maria = auth.login(create_user(Role.QA_LEAD))
    notification = _tell(maria, link="//evil.example.com/")
    response = client.get(f"/notifications/{notification.id}/open")
    assert response.headers["Location"] == "/notifications"


def test_mark_read_and_mark_all_read(client, auth, db, create_user):
    maria = auth.login(create_user(Role.QA_LEAD))
    first, _, _ = (_tell(maria, about=str(n)) for n in range(3))
    client.post(f"/notifications/{first.id}/read", data={"next": "/notifications"})
    assert notifications.unread_count(maria) == 2
    response = client.post("/notifications/read-all", follow_redirects=True)
    assert "Marked 2 notifications read." in response.get_data(as_text=True)
    assert notifications.unread_count(maria) == 0


def test_nobody_reads_or_opens_someone_elses_notification(client, auth, db, create_user):
    maria, liam = create_user(Role.QA_LEAD), create_user(Role.QA_LEAD)
    notification = _tell(maria)
    auth.login(liam)
    assert client.post(f"/notifications/{notification.id}/read").status_code == 404
    assert client.get(f"/notifications/{notification.id}/open").status_code == 404
    assert "Due tomorrow" not in client.get("/notifications").get_data(as_text=True)
    db.session.refresh(notification)
    assert not notification.is_read


def test_preferences_list_the_kinds_a_role_receives(client, auth, db, create_user):
    auth.login(create_user(Role.QA_LEAD))
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Cases left to label" in page
    assert "Weekly summary" not in page
    auth.login(create_user(Role.STAKEHOLDER))
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Weekly summary" in page
    assert "Cases left to label" not in page


def test_saving_preferences_changes_how_notifications_arrive(client, auth, db, create_user):
    maria = auth.login(create_user(Role.QA_LEAD))
    choices = {kind.value: "immediately" for kind in notifications.kinds_for(maria)}
    choices[Kind.CHECKLIST_DUE.value] = "digest"
    choices[Kind.SESSION_OPENED.value] = "off"
    response = client.post("/notifications/preferences", data=choices, follow_redirects=True)
    assert "Your notification preferences are saved." in response.get_data(as_text=True)
    assert notifications.delivery_for(maria, Kind.CHECKLIST_DUE) == Delivery.DIGEST
    assert notifications.delivery_for(maria, Kind.SESSION_OPENED) == Delivery.OFF
    assert notifications.delivery_for(maria, Kind.SESSION_CLOSING) == Delivery.IMMEDIATELY


def test_a_missing_or_impossible_choice_saves_nothing_and_says_which(client, auth, db, create_user):
    maria = auth.login(create_user(Role.POM))
    choices = {kind.value: "off" for kind in notifications.kinds_for(maria)}
    choices[Kind.DAILY_DIGEST.value] = "digest"  # a digest cannot go in the digest
    response = client.post("/notifications/preferences", data=choices)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.count('<tr class="has-error">') == 1
    digest_row = page[page.index('<tr class="has-error">') :]
    assert "Daily digest" in digest_row.split("</tr>")[0]
    assert "that choice is not available here." in digest_row.split("</tr>")[0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NotificationPreference)) == 0


@pytest.mark.parametrize("role", [Role.POM, Role.QA_LEAD, Role.STAKEHOLDER])
def test_only_admins_read_the_outbox(client, auth, db, create_user, role):
    auth.login(create_user(role))
    assert client.get("/admin/outbox").status_code == 403


def test_admins_read_each_email_in_the_outbox(client, auth, db, create_user):
    maria = create_user(Role.QA_LEAD, name="Maria Santos")
    _tell(maria, title="Due tomorrow: Tooling UAT")
    [message] = _emails(db)
    auth.login(create_user(Role.ADMIN))
    listing = client.get("/admin/outbox").get_data(as_text=True)
    assert "No e-mail server is configured" in listing
    assert "Due tomorrow: Tooling UAT" in listing
    assert maria.email in listing
    page = client.get(f"/admin/outbox/{message.id}").get_data(as_text=True)
    assert "In the outbox (SMTP not configured)" in page
    assert f'src="/admin/outbox/{message.id}/html"' in page
    assert "sandbox" in page
    assert "Hello Maria Santos" in page  # the plain text


def test_the_email_html_is_shown_in_a_frame_with_a_policy_of_its_own(client, auth, db, create_user):
    _tell(create_user(Role.QA_LEAD))
    [message] = _emails(db)
    auth.login(create_user(Role.ADMIN))
    response = client.get(f"/admin/outbox/{message.id}/html")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
    )
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "<h1>Due tomorrow: Capacity confirmed</h1>" in response.get_data(as_text=True)
