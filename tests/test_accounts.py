"""Accounts: sessions end on the server, sign-in is throttled per account, ``next`` stays on
this site, and CSV exports cannot carry spreadsheet formulas."""

import pytest

from rollcal.accounts.models import Role
from rollcal.extensions import limiter
from rollcal.reports.downloads import neutralise
from tests.conftest import PASSWORD

NEW_PASSWORD = "another-long-passphrase"


def _sign_in(client, email: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _second_browser(app, cookie_from=None):
    browser = app.test_client()
    if cookie_from is not None:
        cookie = cookie_from.get_cookie("session", domain="rollcal.test")
        browser.set_cookie("session", cookie.value, domain="rollcal.test")
    return browser


def test_a_session_cookie_copied_before_sign_out_no_longer_works_after_it(app, client, create_user):
    create_user(Role.POM, email="dana@example.com")
    assert _sign_in(client, "dana@example.com").status_code == 302
    copy = _second_browser(app, cookie_from=client)
    assert copy.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302
    response = copy.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_signing_in_again_after_signing_out_works(client, create_user):
    create_user(Role.POM, email="dana@example.com")
    _sign_in(client, "dana@example.com")
    client.post("/logout")
    assert _sign_in(client, "dana@example.com").status_code == 302
    assert client.get("/").status_code == 200


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client, create_user):
    create_user(Role.POM, email="dana@example.com")
    other = _second_browser(app)
    _sign_in(client, "dana@example.com")
    _sign_in(other, "dana@example.com")
    assert other.get("/").status_code == 200
    response = client.post(
        "/account",
        data={
            "password-current_password": PASSWORD,
            "password-new_password": NEW_PASSWORD,
            "password-submit": "y",
        },
        follow_redirects=True,
    )
    assert "You are signed out everywhere else." in response.get_data(as_text=True)
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert _sign_in(other, "dana@example.com", NEW_PASSWORD).status_code == 302


def test_a_cookie_from_before_session_generations_signs_nobody_in(client, create_user):
    user = create_user(Role.POM)
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
    assert client.get("/").status_code == 302


@pytest.fixture
def account_limit(app):
    """Three failed sign-ins per account; the per-address limit out of the way."""
    limiter.reset()
    app.config["ROLLCAL_LOGIN_ACCOUNT_LIMIT"] = "3 per minute"
    yield
    app.config["ROLLCAL_LOGIN_ACCOUNT_LIMIT"] = "20 per hour"
    limiter.reset()


def test_failed_sign_ins_to_one_account_are_throttled_from_any_address(
    client, create_user, account_limit
):
    create_user(Role.POM, email="dana@example.com")
    for n in range(3):
        response = _sign_in(client, "dana@example.com", "wrong", address=f"10.0.0.{n}")
        assert response.status_code == 200
    response = _sign_in(client, "Dana@example.com", address="10.0.0.99")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts for this account" in response.get_data(as_text=True)


def test_the_account_throttle_leaves_other_accounts_alone(client, create_user, account_limit):
    create_user(Role.POM, email="dana@example.com")
    create_user(Role.POM, email="omar@example.com")
    for n in range(4):
        _sign_in(client, "dana@example.com", "wrong", address=f"10.0.1.{n}")
    assert _sign_in(client, "omar@example.com", address="10.0.1.9").status_code == 302


def test_successful_sign_ins_do_not_count_against_the_account(client, create_user, account_limit):
    create_user(Role.POM, email="dana@example.com")
    for n in range(5):
        assert _sign_in(client, "dana@example.com", address=f"10.0.2.{n}").status_code == 302
        client.post("/logout")


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0d%0a/evil.example",
        "/%5Cevil.example",
        "/\\evil.example",
        "//evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_sign_in_goes_home_instead_of_off_site(client, create_user, target):
    create_user(Role.POM, email="dana@example.com")
    response = client.post(
        f"/login?next={target}", data={"email": "dana@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_sign_in_keeps_a_local_next_path_with_its_query(client, create_user):
    create_user(Role.POM, email="dana@example.com")
    response = client.post(
        "/login?next=/rollouts%3Fstatus%3Dplanning",
        data={"email": "dana@example.com", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/rollouts?status=planning"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_would_start_a_formula_are_neutralised(start):
    assert neutralise(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"


@pytest.mark.parametrize("cell", ["-0.278", "+1", "12", -0.5, 3, None, "Cebu", "a=b"])
def test_csv_numbers_and_plain_text_stay_as_they_are(cell):
    assert neutralise(cell) == cell


def test_the_board_csv_carries_no_formula_from_a_site_name(client, auth, db, rollout_world):
    rollout_world["cebu"].name = '=HYPERLINK("https://evil.example","Cebu")'
    db.session.commit()
    auth.login(rollout_world["pom"])
    body = client.get(f"/rollouts/{rollout_world['rollout'].id}/board.csv").get_data(as_text=True)
    assert "'=HYPERLINK(" in body
    assert ",=HYPERLINK(" not in body and ',"=HYPERLINK(' not in body
