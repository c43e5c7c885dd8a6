"""Invitations and password resets: the admin never handles a password; one-time links
go out by e-mail (through the outbox and a real SMTP server on loopback), work once and
for a while, and a reset ends the person's other sessions."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from rollcal.accounts.models import AccountLink, LinkPurpose, Role, User
from rollcal.accounts.services import authenticate
from rollcal.extensions import limiter
from rollcal.notifications.models import EmailMessage
from rollcal.notifications.services import deliver_queued
from rollcal.types import utcnow
from tests.conftest import PASSWORD

CHOSEN = "a-password-of-my-own"
LINK = re.compile(r"https?://\S+/(?:invitation|reset-password)/[\w-]+")


@pytest.fixture(autouse=True)
def fresh_limits():
    """Every test starts with no request counted against any limit."""
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def mailbox(smtp):
    """Send what the outbox holds, as the e-mail job does, and read what arrived:
    ``mailbox()`` returns the messages received since the last call."""
    seen = 0

    def read() -> list:
        nonlocal seen
        deliver_queued()
        new = smtp.messages[seen:]
        seen = len(smtp.messages)
        return new

    return read


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _link_in(message) -> str:
    """The path of the one-time link an e-mail carries."""
    [url] = set(LINK.findall(_text(message)))
    html = message.get_body(preferencelist=("html",)).get_content()
    assert url in html
    return urlsplit(url).path


def _invite(client, vendor=None, **fields):
    data = {
        "email": "maria@meridian.example.com",
        "name": "Maria Santos",
        "role": "qa_lead" if vendor else "pom",
        "vendor": vendor.id if vendor else 0,
        "timezone": "Asia/Manila",
        **fields,
    }
    return client.post("/admin/users/new", data=data)


def _choose(client, path: str, password: str = CHOSEN, confirm: str | None = None):
    return client.post(path, data={"password": password, "confirm": confirm or password})


def _person(db, email: str = "maria@meridian.example.com") -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


@pytest.fixture
def admin(auth, create_user):
    return auth.login(create_user(Role.ADMIN, name="Alex Admin"))


# Invitations --------------------------------------------------------------------------


def test_the_admin_page_for_a_new_person_has_no_password_field(client, admin):
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "Invite a person" in page
    assert 'type="password"' not in page and 'name="password"' not in page


def test_the_page_for_editing_a_person_has_no_password_field(client, admin, create_user):
    person = create_user(Role.POM)
    page = client.get(f"/admin/users/{person.id}").get_data(as_text=True)
    assert 'type="password"' not in page


def test_an_invited_person_chooses_a_password_through_the_link_and_is_signed_in(
    app, client, db, admin, create_vendor, mailbox
):
    vendor = create_vendor("Meridian CX")
    response = _invite(client, vendor)
    assert response.status_code == 302
    person = _person(db)
    assert person.role == Role.QA_LEAD and person.vendor_id == vendor.id
    assert not person.has_password
    assert authenticate(person.email, "") is None

    [message] = mailbox()
    assert message["To"] == "maria@meridian.example.com"
    assert message["Subject"] == "You are invited to rollcal"
    assert "Alex Admin has added you to rollcal as QA lead at Meridian CX" in _text(message)
    assert "Times are in Asia/Manila." in _text(message)
    path = _link_in(message)

    # A fresh browser, as the person opening the e-mail has.
    invitee = app.test_client()
    page = invitee.get(path).get_data(as_text=True)
    assert "Welcome to rollcal, Maria Santos" in page
    response = _choose(invitee, path)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = invitee.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Welcome to rollcal. Your password is set." in home

    invitee.post("/logout")
    signed_in = invitee.post(
        "/login", data={"email": "maria@meridian.example.com", "password": CHOSEN}
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"


def test_an_invited_person_cannot_sign_in_before_choosing_a_password(client, db, admin):
    _invite(client)
    client.post("/logout")
    for password in ("", " ", PASSWORD):
        response = client.post(
            "/login", data={"email": "maria@meridian.example.com", "password": password}
        )
        assert response.status_code == 200


def test_the_role_has_no_default_and_a_qa_lead_needs_a_vendor(client, db, admin):
    page = client.get("/admin/users/new").get_data(as_text=True)
    role = re.search(r'<select id="role".*?</select>', page, re.S).group(0)
    assert "selected" not in role
    refused = _invite(client, role="")
    assert "Choose the person&#39;s role." in refused.get_data(as_text=True)
    refused = _invite(client, role="qa_lead")
    assert "a QA lead belongs to exactly one vendor" in refused.get_data(as_text=True)
    assert _person(db) is None
    assert db.session.scalar(sa.select(sa.func.count(EmailMessage.id))) == 0


def test_a_used_invitation_link_says_so_and_changes_nothing(app, client, db, admin, mailbox):
    _invite(client)
    path = _link_in(mailbox()[0])
    invitee = app.test_client()
    assert _choose(invitee, path).status_code == 302

    again = app.test_client()
    page = again.get(path)
    assert page.status_code == 410
    text = page.get_data(as_text=True)
    assert "This link was used already" in text and "send a new invitation" in text
    refused = _choose(again, path, "someone-elses-password")
    assert refused.status_code == 410
    assert authenticate("maria@meridian.example.com", CHOSEN) is not None
    assert authenticate("maria@meridian.example.com", "someone-elses-password") is None


def test_an_expired_invitation_link_says_so_and_what_to_do(app, client, db, admin, mailbox):
    _invite(client)
    path = _link_in(mailbox()[0])
    link = db.session.scalar(sa.select(AccountLink))
    assert link.expires_at - link.created_at == timedelta(hours=72)
    link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    invitee = app.test_client()
    page = invitee.get(path)
    assert page.status_code == 410
    text = page.get_data(as_text=True)
    assert "This link has expired." in text
    assert "Ask the admin who invited you to send a new invitation" in text
    assert _choose(invitee, path).status_code == 410
    assert not _person(db).has_password


def test_a_tampered_link_is_not_valid(app, client, db, admin, mailbox):
    _invite(client)
    path = _link_in(mailbox()[0])
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    invitee = app.test_client()
    page = invitee.get(tampered)
    assert page.status_code == 404
    assert "This link is not valid" in page.get_data(as_text=True)
    assert _choose(invitee, tampered).status_code == 404
    # An invitation's token does not open the reset page either.
    assert invitee.get(path.replace("/invitation/", "/reset-password/")).status_code == 404


def test_the_token_is_stored_only_as_its_hash(client, db, admin, mailbox):
    _invite(client)
    token = _link_in(mailbox()[0]).rsplit("/", 1)[1]
    link = db.session.scalar(sa.select(AccountLink))
    assert len(token) >= 43 and token not in link.token_hash and len(link.token_hash) == 64


def test_resending_an_invitation_kills_the_old_link(app, client, db, admin, mailbox):
    _invite(client)
    old = _link_in(mailbox()[0])
    person = _person(db)
    response = client.post(f"/admin/users/{person.id}/invitation", follow_redirects=True)
    assert "A new invitation is on its way to maria@meridian.example.com" in response.get_data(
        as_text=True
    )
    new = _link_in(mailbox()[0])
    assert new != old

    invitee = app.test_client()
    page = invitee.get(old)
    assert page.status_code == 410
    assert "A newer link was sent after this one" in page.get_data(as_text=True)
    assert _choose(invitee, old).status_code == 410
    assert _choose(invitee, new).status_code == 302


def test_the_people_list_shows_who_has_not_accepted_and_offers_a_resend(
    app, client, db, admin, mailbox
):
    _invite(client)
    path = _link_in(mailbox()[0])
    person = _person(db)
    listing = client.get("/admin/users").get_data(as_text=True)
    row = re.search(r"<tr><td><a[^>]*>Maria Santos</a>.*?</tr>", listing, re.S).group(0)
    assert "Invited, not accepted yet" in row
    assert f'action="/admin/users/{person.id}/invitation"' in row
    admin_row = re.search(r"<tr><td><a[^>]*>Alex Admin</a>.*?</tr>", listing, re.S).group(0)
    assert "Invited" not in admin_row and "Resend" not in admin_row

    link = db.session.scalar(sa.select(AccountLink))
    link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "Invitation expired" in listing

    client.post(f"/admin/users/{person.id}/invitation")
    _choose(app.test_client(), _link_in(mailbox()[0]))
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "Invited, not accepted yet" not in listing and "Invitation expired" not in listing
    assert path  # the first link was read from the e-mail above


def test_an_invitation_is_not_resent_to_someone_who_accepted(client, db, admin, create_user):
    person = create_user(Role.POM, name="Omar Haddad")
    response = client.post(f"/admin/users/{person.id}/invitation", follow_redirects=True)
    assert "Omar Haddad has accepted their invitation already." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AccountLink.id))) == 0


def test_only_admins_invite_or_resend(client, auth, db, create_user):
    auth.login(create_user(Role.POM))
    assert _invite(client).status_code == 403
    target = create_user(Role.POM)
    assert client.post(f"/admin/users/{target.id}/invitation").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(AccountLink.id))) == 0


def test_a_short_or_mistyped_password_is_refused_and_the_link_still_works(
    app, client, db, admin, mailbox
):
    _invite(client)
    path = _link_in(mailbox()[0])
    invitee = app.test_client()
    short = _choose(invitee, path, "short")
    assert short.status_code == 200
    assert "use at least 10 characters" in short.get_data(as_text=True)
    mistyped = _choose(invitee, path, CHOSEN, CHOSEN + "x")
    assert "Type the same password twice." in mistyped.get_data(as_text=True)
    assert not _person(db).has_password
    assert _choose(invitee, path).status_code == 302


def test_the_invitation_lifetime_comes_from_the_configuration(client, db, admin, monkeypatch, app):
    monkeypatch.setitem(app.config, "ROLLCAL_INVITATION_HOURS", 24)
    _invite(client)
    link = db.session.scalar(sa.select(AccountLink))
    assert link.purpose == LinkPurpose.INVITATION
    assert link.expires_at - link.created_at == timedelta(hours=24)


def test_the_command_line_still_creates_a_person_with_a_password(runner, db):
    result = runner.invoke(
        args=["users", "create", "ops@example.com", "--role", "admin"],
        input="an-operator-password\n",
    )
    assert result.exit_code == 0, result.output
    assert authenticate("ops@example.com", "an-operator-password") is not None
    assert db.session.scalar(sa.select(sa.func.count(AccountLink.id))) == 0


# Password resets ---------------------------------------------------------------------


def _forgot(client, email: str, address: str = "127.0.0.1"):
    return client.post(
        "/forgot-password", data={"email": email}, environ_base={"REMOTE_ADDR": address}
    )


def test_the_sign_in_page_offers_a_password_reset(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in page and "Forgot your password?" in page


def test_a_forgotten_password_is_reset_through_the_emailed_link(
    app, client, db, create_user, mailbox
):
    dana = create_user(Role.POM, email="dana@example.com", name="Dana Whitfield")
    response = _forgot(client, "Dana@Example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    [message] = mailbox()
    assert message["To"] == "dana@example.com"
    assert "Choose a new password here" in _text(message)
    path = _link_in(message)
    link = db.session.scalar(sa.select(AccountLink))
    assert link.purpose == LinkPurpose.PASSWORD_RESET
    assert link.expires_at - link.created_at == timedelta(minutes=60)

    page = client.get(path).get_data(as_text=True)
    assert "Choose a new password" in page and "dana@example.com" in page
    response = _choose(client, path)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert authenticate("dana@example.com", PASSWORD) is None
    assert authenticate("dana@example.com", CHOSEN).id == dana.id
    assert client.get(path).status_code == 410


def test_the_answer_is_the_same_whether_or_not_an_account_uses_the_address(
    client, db, create_user, mailbox
):
    create_user(Role.POM, email="dana@example.com")
    known = _forgot(client, "dana@example.com")
    known_page = client.get("/login").get_data(as_text=True)
    unknown = _forgot(client, "nobody@example.com")
    unknown_page = client.get("/login").get_data(as_text=True)
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    neutral = "If an account uses that address, a link to choose a new password is on its way"
    assert neutral in known_page and neutral in unknown_page
    assert [m["To"] for m in mailbox()] == ["dana@example.com"]


def test_nobody_who_may_not_sign_in_gets_a_reset_link(client, db, create_user, admin, mailbox):
    create_user(Role.POM, email="gone@example.com", active=False)
    _invite(client)
    mailbox()  # the invitation
    _forgot(client, "gone@example.com")
    _forgot(client, "maria@meridian.example.com")
    assert mailbox() == []


def test_asking_again_kills_the_earlier_reset_link(app, client, db, create_user, mailbox):
    create_user(Role.POM, email="dana@example.com")
    _forgot(client, "dana@example.com")
    first = _link_in(mailbox()[0])
    _forgot(client, "dana@example.com")
    second = _link_in(mailbox()[0])
    assert client.get(first).status_code == 410
    assert _choose(client, second).status_code == 302


def test_resetting_ends_the_persons_other_sessions(app, client, db, create_user, mailbox):
    create_user(Role.POM, email="dana@example.com")
    elsewhere = app.test_client()
    signed_in = elsewhere.post("/login", data={"email": "dana@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302 and elsewhere.get("/").status_code == 200

    _forgot(client, "dana@example.com")
    assert _choose(client, _link_in(mailbox()[0])).status_code == 302
    assert client.get("/").status_code == 200
    after = elsewhere.get("/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_a_reset_link_expires(app, client, db, create_user, mailbox):
    create_user(Role.POM, email="dana@example.com")
    _forgot(client, "dana@example.com")
    path = _link_in(mailbox()[0])
    link = db.session.scalar(sa.select(AccountLink))
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    page = client.get(path)
    assert page.status_code == 410
    text = page.get_data(as_text=True)
    assert "This link has expired." in text and 'href="/forgot-password"' in text
    assert _choose(client, path).status_code == 410
    assert authenticate("dana@example.com", PASSWORD) is not None


def test_reset_requests_are_limited_per_address_of_the_requester(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "ROLLCAL_RESET_LIMIT", "2 per minute")
    assert _forgot(client, "a@example.com", "10.1.0.1").status_code == 302
    assert _forgot(client, "b@example.com", "10.1.0.1").status_code == 302
    refused = _forgot(client, "c@example.com", "10.1.0.1")
    assert refused.status_code == 429
    assert "Too many requests from your address" in refused.get_data(as_text=True)
    assert _forgot(client, "c@example.com", "10.1.0.2").status_code == 302


def test_reset_requests_are_limited_per_email_from_any_address(
    app, client, db, create_user, monkeypatch, mailbox
):
    monkeypatch.setitem(app.config, "ROLLCAL_RESET_ACCOUNT_LIMIT", "2 per hour")
    create_user(Role.POM, email="dana@example.com")
    assert _forgot(client, "dana@example.com", "10.2.0.1").status_code == 302
    assert _forgot(client, "dana@example.com", "10.2.0.2").status_code == 302
    refused = _forgot(client, "DANA@example.com", "10.2.0.3")
    assert refused.status_code == 429
    assert "Too many links were asked for this address" in refused.get_data(as_text=True)
    # Unknown addresses count the same, so the limit tells nothing either.
    for n in range(2):
        assert _forgot(client, "nobody@example.com", f"10.2.1.{n}").status_code == 302
    assert _forgot(client, "nobody@example.com", "10.2.1.9").status_code == 429
    assert len(mailbox()) == 2


def test_links_in_the_emails_start_with_the_base_url(client, db, admin, monkeypatch, app, mailbox):
    monkeypatch.setitem(app.config, "ROLLCAL_BASE_URL", "https://rollcal.example.org/")
    _invite(client)
    [url] = LINK.findall(_text(mailbox()[0]))
    assert url.startswith("https://rollcal.example.org/invitation/")


def test_changing_ones_password_kills_an_open_reset_link(client, auth, db, create_user, mailbox):
    dana = create_user(Role.POM, email="dana@example.com")
    _forgot(client, "dana@example.com")
    path = _link_in(mailbox()[0])
    auth.login(dana)
    changed = client.post(
        "/account",
        data={
            "password-current_password": PASSWORD,
            "password-new_password": "dana-chose-another",
            "password-submit": "y",
        },
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)
    auth.logout()
    assert client.get(path).status_code == 410
    assert _choose(client, path).status_code == 410
    db.session.expire_all()  # the test's own copy of Dana predates the change
    assert authenticate("dana@example.com", "dana-chose-another") is not None


def test_an_invitation_sent_to_an_old_address_stops_working_when_it_changes(
    app, client, db, admin, mailbox
):
    _invite(client)
    path = _link_in(mailbox()[0])
    person = _person(db)
    client.post(
        f"/admin/users/{person.id}",
        data={
            "email": "maria.santos@meridian.example.com",
            "name": "Maria Santos",
            "role": "pom",
            "vendor": 0,
            "timezone": "Asia/Manila",
            "active": "y",
        },
    )
    assert app.test_client().get(path).status_code == 410
    client.post(f"/admin/users/{person.id}/invitation")
    [message] = mailbox()
    assert message["To"] == "maria.santos@meridian.example.com"
    assert _choose(app.test_client(), _link_in(message)).status_code == 302
