"""Settings come from the environment; the gate's thresholds have one home and are the
defaults of every form, rollout and session."""

from datetime import date, timedelta

import pytest

from calibration import services as calibration_services
from rollcal import create_app
from rollcal.accounts.models import Role
from rollout import services as rollout_services


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """An environment of its own for ``create_app``: instance folder and database."""
    monkeypatch.setenv("ROLLCAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    return monkeypatch


def test_flask_and_extension_settings_come_from_flask_prefixed_variables(environment):
    environment.setenv("FLASK_RATELIMIT_STORAGE_URI", "memory://")
    environment.setenv("FLASK_RATELIMIT_HEADERS_ENABLED", "true")
    environment.setenv("FLASK_MAX_CONTENT_LENGTH", "2000000")
    environment.setenv("FLASK_SESSION_COOKIE_NAME", "rollcal_session")
    app = create_app()
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert app.config["RATELIMIT_HEADERS_ENABLED"] is True
    assert app.config["MAX_CONTENT_LENGTH"] == 2_000_000
    assert app.config["SESSION_COOKIE_NAME"] == "rollcal_session"


def test_rollcal_settings_and_the_test_mapping_win_over_flask_prefixed_ones(environment):
    environment.setenv("FLASK_ROLLCAL_PAGE_SIZE", "5")
    environment.setenv("ROLLCAL_PAGE_SIZE", "7")
    assert create_app().config["ROLLCAL_PAGE_SIZE"] == 7
    assert create_app({"ROLLCAL_PAGE_SIZE": 9}).config["ROLLCAL_PAGE_SIZE"] == 9


def test_thresholds_come_from_the_environment(environment):
    environment.setenv("ROLLCAL_ALPHA_THRESHOLD", "0.75")
    environment.setenv("ROLLCAL_ACCURACY_TARGET", "0.85")
    app = create_app()
    assert app.config["ROLLCAL_ALPHA_THRESHOLD"] == 0.75
    assert app.config["ROLLCAL_ACCURACY_TARGET"] == 0.85


@pytest.fixture
def configured(app, monkeypatch):
    """The app configured with an alpha threshold of 0.75 and an accuracy target of 0.85."""
    monkeypatch.setitem(app.config, "ROLLCAL_ALPHA_THRESHOLD", 0.75)
    monkeypatch.setitem(app.config, "ROLLCAL_ACCURACY_TARGET", 0.85)


def test_a_rollout_takes_the_configured_thresholds_unless_given(
    db, configured, create_user, create_site, make_version
):
    pom = create_user(Role.POM)
    rollout = rollout_services.create_rollout(
        pom,
        policy_version_id=make_version(pom).id,
        template_id=1,
        site_ids=[create_site().id],
        go_live_date=date.today() + timedelta(days=30),
    )
    assert (rollout.alpha_threshold, rollout.accuracy_target) == (0.75, 0.85)


def test_the_new_rollout_form_offers_the_configured_thresholds(
    client, auth, configured, create_user
):
    auth.login(create_user(Role.POM))
    page = client.get("/rollouts/new").get_data(as_text=True)
    assert 'name="alpha_threshold" required step="any" type="number" value="0.75"' in page
    assert 'name="accuracy_target" required step="any" type="number" value="0.85"' in page


def test_a_session_without_a_rollout_takes_the_configured_thresholds(db, configured, create_user):
    session = calibration_services.create_session(
        create_user(Role.POM), title="Round 1", label_options="remove | Remove\nallow | Allow"
    )
    assert (session.alpha_threshold, session.accuracy_target) == (0.75, 0.85)
