"""Fixtures: an app on a fresh database (SQLite or PostgreSQL), rolled back per test.

``ROLLCAL_TEST_DATABASE`` chooses the database: ``sqlite`` (default) or ``postgresql``
(a new database on ``ROLLCAL_TEST_PG_URL``'s server, dropped after the run).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from itertools import count

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from werkzeug.security import generate_password_hash

from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.extensions import db as _db
from rollcal.org.models import LineOfBusiness, Market, Region, Site, Vendor
from rollout import services as rollout_services

DATABASE = os.environ.get("ROLLCAL_TEST_DATABASE", "sqlite")
PG_SERVER = os.environ.get(
    "ROLLCAL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "correct-horse-battery"
# Hashing is slow on purpose; one cheap hash for every test person keeps the suite quick.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A fresh, empty database for this test run."""
    with fresh_database(tmp_path_factory, "rollcal_test") as url:
        yield url


@contextmanager
def fresh_database(tmp_path_factory, prefix: str) -> Iterator[str]:
    """An empty database of the kind ``ROLLCAL_TEST_DATABASE`` names, dropped afterwards."""
    if DATABASE == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(prefix) / 'rollcal.sqlite'}"
        return
    if DATABASE != "postgresql":
        raise RuntimeError(f"ROLLCAL_TEST_DATABASE must be sqlite or postgresql, not {DATABASE}")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    server = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The application, its schema built by the real migrations."""
    os.environ["ROLLCAL_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "ROLLCAL_LOGIN_LIMIT": "1000 per minute",
            "SERVER_NAME": "rollcal.test",
        }
    )
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def db(app) -> Iterator:
    """The database inside a transaction that is rolled back after the test.

    Commits release a savepoint instead of committing, so each test starts from the
    migrated, empty schema. Each request gets a session of its own on the same
    connection; factories commit, so that requests see what the test set up.
    """
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        _db.session = _db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": _ConnectionBoundSession,
            }
        )
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()


class _RequestPerContextClient(FlaskClient):
    """Runs each request in an app context of its own, as a server does.

    Without it a request would reuse the test's app context, sharing ``g`` (and so the
    signed-in person) and the database session with the test and with other requests.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app, db):
    """A test client whose requests see the test's rolled-back transaction."""
    app.test_client_class = _RequestPerContextClient
    return app.test_client()


@pytest.fixture
def render_reports(app, db):
    """Render the reports waiting, as a worker does: ``render_reports()`` claims and
    renders until none is left and returns how many it rendered."""
    from rollcal.reports.queue import render_queued

    def render(now=None) -> int:
        return render_queued(app, now)

    return render


@pytest.fixture
def runner(app, db):
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


class _ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session, but always on the test's connection.

    Its own ``get_bind`` would pick the engine and step outside the test transaction.
    """

    def get_bind(self, *args, **kwargs):
        return self.bind


_serial = count(1)


@pytest.fixture
def create_market(db):
    """Make a market: ``create_market(code="ID")``."""

    def make(code: str | None = None, name: str | None = None, region: Region = Region.APAC):
        n = next(_serial)
        market = Market(
            code=code or f"M{n}X"[:8].upper(), name=name or f"Market {n}", region=region
        )
        db.session.add(market)
        db.session.commit()
        return market

    return make


@pytest.fixture
def create_line(db):
    """Make a line of business."""

    def make(name: str | None = None):
        line = LineOfBusiness(name=name or f"Line {next(_serial)}")
        db.session.add(line)
        db.session.commit()
        return line

    return make


@pytest.fixture
def create_vendor(db):
    """Make a vendor: ``create_vendor("Meridian CX")``."""

    def make(name: str | None = None, owners: list[User] | None = None):
        name = name or f"Vendor {next(_serial)}"
        vendor = Vendor(name=name, slug=name.lower().replace(" ", "-"), owners=owners or [])
        db.session.add(vendor)
        db.session.commit()
        return vendor

    return make


@pytest.fixture
def create_site(db, create_vendor, create_market, create_line):
    """Make a site, with a vendor, market and line of business unless given."""

    def make(vendor: Vendor | None = None, name: str | None = None, markets=None, lines=None):
        site = Site(
            vendor=vendor or create_vendor(),
            name=name or f"Site {next(_serial)}",
            city="Manila",
            markets=markets or [create_market()],
            lines_of_business=lines or [create_line()],
        )
        db.session.add(site)
        db.session.commit()
        return site

    return make


@pytest.fixture
def create_user(db, create_vendor):
    """Make a person: ``create_user(Role.QA_LEAD, vendor=v)``; the password is PASSWORD."""

    def make(
        role: Role = Role.POM,
        vendor: Vendor | None = None,
        email: str | None = None,
        name: str | None = None,
        timezone: str = "UTC",
        active: bool = True,
    ):
        n = next(_serial)
        if role == Role.QA_LEAD and vendor is None:
            vendor = create_vendor()
        user = User(
            email=email or f"person{n}@example.com",
            name=name or f"Person {n}",
            role=role,
            vendor=vendor if role == Role.QA_LEAD else None,
            timezone=timezone,
            active=active,
            password_hash=PASSWORD_HASH,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


class AuthActions:
    """Sign a test client in and out."""

    def __init__(self, client):
        self._client = client

    def login(self, user: User):
        """Sign in as ``user`` without the password round trip."""
        # The cookie names the session generation the database holds now (signing out in
        # an earlier request counted it up behind this object's back).
        if sa.inspect(user).persistent:
            _db.session.refresh(user)
        with self._client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return user

    def logout(self):
        """Forget the signed-in person."""
        with self._client.session_transaction() as session:
            session.clear()


@pytest.fixture
def auth(client) -> AuthActions:
    """Sign the test client in as someone: ``auth.login(user)``."""
    return AuthActions(client)


@pytest.fixture
def token_for(db):
    """An API bearer token for a person: ``token_for(user)``."""
    from rollcal.accounts.services import create_token

    def make(user: User) -> dict:
        _, token = create_token(user, "test")
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def make_version(db, create_user, create_line):
    """A policy version ready to roll out."""

    def make(pom=None, code="SHOP-CF"):
        pom = pom or create_user(Role.POM)
        policy = rollout_services.create_policy(
            pom,
            code=code,
            title="Counterfeit goods",
            area="Counterfeit",
            line_of_business_id=create_line().id,
        )
        return rollout_services.create_version(
            pom,
            policy,
            version_label="v3.0",
            change_summary="Disclosed replicas violate",
            effective_date=date.today(),
            document_url="https://policy.example.com/cf",
            label_options="violating | Violating\nauthentic | Not violating",
        )

    return make


@pytest.fixture
def rollout_world(db, create_user, create_site, create_vendor, make_version):
    """Two vendors with a site and a QA lead each, a POM, and a rollout to both sites."""
    pom = create_user(Role.POM, name="Dana Whitfield")
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    maria = create_user(Role.QA_LEAD, vendor=meridian, name="Maria Santos")
    liam = create_user(Role.QA_LEAD, vendor=harbor, name="Liam Byrne")
    version = make_version(pom)
    rollout = rollout_services.create_rollout(
        pom,
        policy_version_id=version.id,
        template_id=1,
        site_ids=[cebu.id, dublin.id],
        go_live_date=date.today() + timedelta(days=30),
    )
    return {
        "pom": pom,
        "maria": maria,
        "liam": liam,
        "cebu": cebu,
        "dublin": dublin,
        "rollout": rollout,
        "version": version,
    }


class Inbox:
    """An aiosmtpd handler keeping every message it receives, parsed."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        """Keep the message; answer as a mail server does."""
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd): ``(inbox, port)``."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp(app, smtp_server, monkeypatch) -> Inbox:
    """The app sends e-mail to the loopback SMTP server; returns its inbox."""
    inbox, port = smtp_server
    monkeypatch.setitem(app.config, "ROLLCAL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "ROLLCAL_SMTP_PORT", port)
    return inbox


@pytest.fixture
def pages_drawn(app, monkeypatch):
    """Every page drawn on every request, as with ``ROLLCAL_PAGE_CACHE_BYTES=0``: for tests
    that count what drawing a page costs rather than serving it again."""
    monkeypatch.setattr(app.extensions["rollcal.pagecache"], "budget", 0)
