"""The application shell: configuration, security headers, error answers."""

from pathlib import Path

from rollcal import create_app
from rollcal.accounts.models import Role
from rollcal.config import from_environment, normalise_database_url


def test_environment_overrides_defaults_and_test_mapping_overrides_environment(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("ROLLCAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("ROLLCAL_PAGE_SIZE", "7")
    monkeypatch.setenv("ROLLCAL_ALPHA_THRESHOLD", "0.7")
    app = create_app({"ROLLCAL_PAGE_SIZE": 9})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite")
    assert app.config["ROLLCAL_ALPHA_THRESHOLD"] == 0.7
    assert app.config["ROLLCAL_PAGE_SIZE"] == 9


def test_secret_key_is_generated_into_instance_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("ROLLCAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = create_app().config["SECRET_KEY"]
    assert (tmp_path / "secret_key").read_text() == first
    assert len(first) == 64
    assert create_app().config["SECRET_KEY"] == first
    assert create_app().config["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{Path(tmp_path) / 'rollcal.sqlite'}"
    )


def test_postgres_urls_use_psycopg_three():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_https_setting_marks_cookies_secure():
    settings = from_environment({"ROLLCAL_HTTPS": "true"})
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_and_samesite_lax(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_pages_have_no_inline_script(client, auth, create_user):
    auth.login(create_user(Role.ADMIN))
    for path in ["/login", "/", "/admin/users", "/account/tokens"]:
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "onclick=" not in html


def test_unknown_page_is_a_404_page(client, auth, create_user):
    auth.login(create_user(Role.POM))
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def test_unknown_api_path_answers_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code in (401, 404)
    assert response.is_json and response.json["error"]["status"] == response.status_code


def test_form_post_without_csrf_token_is_refused_with_400(app, db, create_user):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        response = client.post("/login", data={"email": "a@example.com", "password": "x"})
        assert response.status_code == 400
        assert "expired or was not sent from rollcal" in response.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_static_css_and_script_are_served_from_the_app(client):
    for path in ("/static/rollcal.css", "/static/rollcal.js"):
        with client.get(path) as response:
            assert response.status_code == 200 and response.data
