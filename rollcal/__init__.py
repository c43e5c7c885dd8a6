"""rollcal: policy rollout readiness and moderation calibration.

``create_app`` builds the Flask application: defaults, then the environment, then the
mapping a test passes in.
"""

from __future__ import annotations

import os
from datetime import datetime
from importlib import import_module
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_login import current_user

from rollcal import pagecache, uow
from rollcal.config import (
    ALPHA_RELIABLE,
    POSTGRESQL_POOL,
    Config,
    from_environment,
    instance_secret_key,
)
from rollcal.uow import Application

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Where ``templates`` or ``migrations`` live: beside the package in a checkout or an
    editable install, inside it (as ``_templates``/``_migrations``) in a wheel."""
    installed = PACKAGE_DIR / f"_{name}"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / name


def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` overrides everything else (tests)."""
    instance_path = os.environ.get("ROLLCAL_INSTANCE_PATH")
    app = Application(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(resource_dir("templates")),
    )
    app.config.from_object(Config)
    # Any Flask or extension setting as FLASK_<NAME> (values read as JSON where they
    # parse: FLASK_RATELIMIT_STORAGE_URI=redis://…, FLASK_MAX_CONTENT_LENGTH=2000000);
    # then rollcal's own names, read as the type of their default.
    app.config.from_prefixed_env()
    app.config.update(from_environment(os.environ))
    app.config.update(config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'rollcal.sqlite'}"
        )
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)

    from rollcal import inputs

    inputs.init_app(app)
    _init_extensions(app)
    _init_rooms(app)
    pagecache.init_app(app)
    _init_templates(app)

    from rollcal import errors
    from rollcal.cli import register_commands
    from rollcal.jobs import scheduler

    errors.init_app(app)
    register_commands(app)
    if app.config["ROLLCAL_RUN_SCHEDULER"]:
        # Off by default: every web worker would otherwise run every job (see scheduler.py).
        scheduler.start(app)
    return app


def _init_extensions(app: Flask) -> None:
    from rollcal import audit  # noqa: F401
    from rollcal.accounts.sessions import load_user
    from rollcal.extensions import csrf, db, limiter, login_manager, migrate

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **POSTGRESQL_POOL,
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        }
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(resource_dir("migrations")), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"

    login_manager.user_loader(load_user)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)


def _configure_sqlite(engine: sa.Engine) -> None:
    """SQLite for several threads at once (web requests and the demo's scheduler).

    WAL lets readers and a writer work side by side. A read (a request that never
    commits, ``uow.reads_only``) begins an ordinary transaction: it reads a snapshot and
    never waits for the writer. A unit of work that writes begins with ``BEGIN
    IMMEDIATE``: it takes the write lock up front, so a second writer waits
    (``busy_timeout``) instead of failing with "database is locked", as a read
    transaction that tried to become a write one would. Foreign keys are enforced.
    """

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # pysqlite's own BEGIN handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN" if uow.reads_only() else "BEGIN IMMEDIATE")


def _init_rooms(app: Flask) -> None:
    """The shell's rooms, then each domain package named in ``ROLLCAL_DOMAINS``: every
    one registers its own blueprints, jobs, notification kinds, commands and demo data
    (rollcal/registry.py), and imports its models, so all are known before migrations run.

    Domains are named in configuration and imported here, the one place the shell reaches
    them: a list in configuration says in plain sight which domains an app has and in
    which order they load, which entry points would leave to whatever is installed.
    """
    from rollcal import accounts, api, jobs, notifications, org, reports

    for room in (accounts, org, notifications, jobs, reports, api):
        room.init_app(app)
    for name in app.config["ROLLCAL_DOMAINS"]:
        import_module(name).init_app(app)


def _init_templates(app: Flask) -> None:
    from rollcal.forms import ConfirmForm
    from rollcal.permissions import Action, may
    from rollcal.reports.charts import data_uri
    from rollcal.timefmt import format_day, format_moment, zone_label

    def reader_zone(zone: str | None) -> str:
        if zone is not None:
            return zone
        return current_user.timezone if current_user.is_authenticated else "UTC"

    def localtime(value: datetime | None, zone: str | None = None, seconds: bool = False) -> str:
        """A UTC time in the reader's zone (or ``zone``: e-mails have no signed-in
        person), named by city and offset: "Tue 2 Dec, 14:00 (Manila, UTC+8)"."""
        return format_moment(value, reader_zone(zone), seconds=seconds)

    def localdate(value, zone: str | None = None) -> str:
        """The reader's calendar day of a time, or a date as it is: "Tue 2 Dec 2026"."""
        if isinstance(value, datetime):
            return format_day(value, reader_zone(zone))
        return format_day(value)

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.globals["zone_label"] = zone_label
    app.jinja_env.filters["svg_data_uri"] = data_uri
    # Templates ask may(...); no Role here, so no template compares roles.
    app.jinja_env.globals.update(
        may=may, Action=Action, ConfirmForm=ConfirmForm, ALPHA_RELIABLE=ALPHA_RELIABLE
    )
