"""Browser journeys: rollcal served on a loopback port, driven by Debian's Chromium.

The app runs as it does in production — its own database (SQLite or PostgreSQL, as
``ROLLCAL_TEST_DATABASE`` says), built by the migrations, loaded with the demo
organisation, served by Werkzeug in a thread — and Playwright drives Chromium against it.
Nothing is rolled back: each module gets a database of its own.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import fresh_database

CHROMIUM = os.environ.get("ROLLCAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OUTPUT = Path(os.environ.get("ROLLCAL_TEST_OUTPUT", "test-output")) / "browser"
AXE = Path(__file__).resolve().parents[2] / "rollcal" / "static" / "vendor" / "axe-core"


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> Iterator[str]:
    """An empty database of this module's own."""
    with fresh_database(tmp_path_factory, "rollcal_browser") as url:
        yield url


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    """The application on that database, migrated and loaded with the demo organisation."""
    from flask_migrate import upgrade

    from rollcal import create_app
    from rollcal.demo import seed_demo
    from rollcal.extensions import db
    from rollcal.uow import unit_of_work

    previous = os.environ.get("ROLLCAL_INSTANCE_PATH")
    os.environ["ROLLCAL_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("browser-instance"))
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": live_database,
                "SECRET_KEY": secrets.token_hex(16),
                "ROLLCAL_LOGIN_LIMIT": "1000 per minute",
            }
        )
    finally:
        if previous is None:
            os.environ.pop("ROLLCAL_INSTANCE_PATH", None)
        else:
            os.environ["ROLLCAL_INSTANCE_PATH"] = previous
    with app.app_context():
        upgrade()
        with unit_of_work():  # as ``rollcal seed-demo`` loads it
            seed_demo()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_server(live_app) -> Iterator[str]:
    """The app served on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live_app.config["ROLLCAL_BASE_URL"] = f"http://127.0.0.1:{server.port}"
    try:
        yield live_app.config["ROLLCAL_BASE_URL"]
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the test item, for the screenshot on failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def new_page(chromium, live_server, request):
    """Open a page in a browser profile of its own (one per person): ``page = new_page()``.

    A failing test leaves a screenshot of every page it opened under the test output folder.
    """
    contexts = []

    def open_page():
        context = chromium.new_context(
            base_url=live_server, viewport={"width": 1366, "height": 900}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield open_page
    finally:
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            OUTPUT.mkdir(parents=True, exist_ok=True)
            for number, context in enumerate(contexts):
                for index, page in enumerate(context.pages):
                    name = f"{request.node.name}-{number}-{index}.png"
                    page.screenshot(path=str(OUTPUT / name), full_page=True)
        for context in contexts:
            context.close()


def sign_in(page, email: str, password: str | None = None) -> None:
    """Sign in through the log-in form with the keyboard, as a person does."""
    from rollcal.demo import DEMO_PASSWORD

    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password or DEMO_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"sign-in as {email} failed: {page.url}"


def check_accessibility(page) -> None:
    """Run axe-core (served from the app's own static files) and fail on serious or
    critical violations, naming each rule and the elements it found."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    results = page.evaluate("async () => await window.axe.run(document)")
    bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    described = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in bad
    ]
    assert not bad, f"axe on {page.url}:\n" + "\n".join(described)
