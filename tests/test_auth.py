"""Signing in and out, passwords, and who gets in."""

from rollcal.accounts.models import Role
from rollcal.accounts.services import authenticate
from tests.conftest import PASSWORD


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_person_signs_in_with_email_and_password_and_lands_where_they_were_going(
    client, create_user
):
    user = create_user(Role.POM, email="dana@example.com")
    response = client.post(
        "/login?next=/account", data={"email": "Dana@Example.com", "password": PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert user.name in page


def test_sign_in_refuses_an_offsite_next_address(client, create_user):
    create_user(Role.POM, email="dana@example.com")
    response = client.post(
        "/login?next=//evil.example/", data={"email": "dana@example.com", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_wrong_password_is_refused_with_a_message(client, create_user):
    create_user(Role.POM, email="dana@example.com")
    response = client.post("/login", data={"email": "dana@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "E-mail or password is not right." in response.get_data(as_text=True)


def test_deactivated_person_cannot_sign_in(client, create_user):
    create_user(Role.POM, email="gone@example.com", active=False)
    response = client.post("/login", data={"email": "gone@example.com", "password": PASSWORD})
    assert "This account is deactivated" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_deactivated_person_loses_an_open_session(client, auth, db, create_user):
    user = auth.login(create_user(Role.POM))
    assert client.get("/").status_code == 200
    user.active = False
    db.session.flush()
    assert client.get("/").status_code == 302


def test_sign_out_ends_the_session(client, auth, create_user):
    auth.login(create_user(Role.POM))
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_too_many_sign_in_attempts_are_slowed_with_a_clear_message(app, client, create_user):
    create_user(Role.POM, email="dana@example.com")
    from rollcal.extensions import limiter

    limiter.reset()
    app.config["ROLLCAL_LOGIN_LIMIT"] = "3 per minute"
    try:
        for _ in range(3):
            client.post("/login", data={"email": "dana@example.com", "password": "nope"})
        response = client.post("/login", data={"email": "dana@example.com", "password": PASSWORD})
        assert response.status_code == 429
        assert "Too many attempts" in response.get_data(as_text=True)
    finally:
        app.config["ROLLCAL_LOGIN_LIMIT"] = "1000 per minute"
        limiter.reset()


def test_person_changes_password_after_proving_the_current_one(client, auth, db, create_user):
    user = auth.login(create_user(Role.POM, email="dana@example.com"))
    refused = client.post(
        "/account",
        data={
            "password-current_password": "wrong",
            "password-new_password": "a-new-password-1",
            "password-submit": "1",
        },
    )
    assert "is not your current password" in refused.get_data(as_text=True)
    accepted = client.post(
        "/account",
        data={
            "password-current_password": PASSWORD,
            "password-new_password": "a-new-password-1",
            "password-submit": "1",
        },
    )
    assert accepted.status_code == 302
    db.session.expire_all()
    assert authenticate("dana@example.com", "a-new-password-1").id == user.id
    assert authenticate("dana@example.com", PASSWORD) is None


def test_passwords_are_stored_hashed_with_a_current_algorithm(app, db):
    from rollcal.accounts.services import create_user

    with app.test_request_context():
        user = create_user(
            None, email="new@example.com", name="New", role="pom", password="long-enough-password"
        )
    assert user.password_hash.startswith("scrypt:")
    assert "long-enough-password" not in user.password_hash


def test_person_sets_own_time_zone_and_times_show_in_it(client, auth, db, create_user):
    from rollcal.accounts.services import create_token

    user = auth.login(create_user(Role.POM))
    client.post(
        "/account",
        data={"profile-name": user.name, "profile-timezone": "Asia/Jakarta", "profile-submit": "1"},
    )
    create_token(user, "laptop")
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "(Jakarta, UTC+7)" in page  # the zone by city and offset, not UTC
