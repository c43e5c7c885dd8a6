"""The ``rollcal`` command: a Flask CLI group with rollcal's own commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup
from werkzeug.serving import run_simple

from rollcal import uow
from rollcal.extensions import db
from rollcal.jobs.scheduler import scheduler_command
from rollcal.registry import registry


def _create_app():
    from rollcal import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, help="rollcal: rollout readiness and calibration.")


def register_commands(app: Flask) -> None:
    """Attach the shell's commands to the app's CLI, with ``rollcal report`` made of the
    report commands the domains registered (domains add their other commands
    themselves)."""
    app.cli.add_command(demo_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(users)
    app.cli.add_command(scheduler_command)
    report = click.Group("report", help="Write PDF reports.")
    for command in registry(app).report_commands.values():
        report.add_command(command)
    app.cli.add_command(report)


@click.command("seed-demo")
@uow.command
def seed_demo_command() -> None:
    """Load the demo organisation into the configured database (safe to run twice)."""
    from rollcal.demo import seed_demo

    seed_demo()
    click.echo("Demo data loaded.")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--fresh", is_flag=True, help="Start from an empty SQLite database.")
def demo_command(host: str, port: int, fresh: bool) -> None:
    """Migrate, load the demo organisation, and serve it with its log-ins printed."""
    from flask_migrate import upgrade

    from rollcal.demo import DEMO_PASSWORD, seed_demo
    from rollcal.org.demo import demo_logins

    app = current_app._get_current_object()
    if fresh:
        url = db.engine.url
        if url.get_backend_name() != "sqlite":
            raise click.UsageError("--fresh only resets the embedded SQLite database.")
        db.engine.dispose()
        Path(url.database).unlink(missing_ok=True)
    upgrade()
    # Committed before serving: on SQLite an open transaction would keep the server's
    # requests and scheduler from writing.
    with uow.unit_of_work():
        seed_demo()
    click.echo("")
    click.echo(
        f"rollcal demo on http://{host}:{port}/  (password for every log-in: {DEMO_PASSWORD})"
    )
    for email, role in demo_logins():
        click.echo(f"  {role:<12} {email}")
    click.echo("")
    # The demo is its own scheduler: sessions close and reminders go out while it serves.
    from rollcal.jobs import scheduler

    if "ROLLCAL_BASE_URL" not in os.environ:
        app.config["ROLLCAL_BASE_URL"] = f"http://{host}:{port}"
    scheduler.start(app)
    try:
        # app.run() refuses to start inside a Flask CLI command; serve with Werkzeug directly.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        scheduler.stop(app)


@click.group("users")
def users() -> None:
    """Create people and API tokens from the command line."""


@users.command("create")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "pom", "qa_lead", "stakeholder"])
)
@click.option("--vendor", "vendor_name", help="Vendor name (QA leads only).")
@click.option("--name", help="Full name; defaults to the part of the e-mail before @.")
@click.option("--timezone", default="UTC", show_default=True)
@uow.command
def users_create(
    email: str, role: str, vendor_name: str | None, name: str | None, timezone: str
) -> None:
    """Create a person; the password is read from standard input or prompted for."""
    from rollcal.accounts import services
    from rollcal.errors import ValidationError
    from rollcal.org.models import Vendor

    vendor_id = None
    if vendor_name:
        vendor_id = db.session.scalar(
            sa.select(Vendor.id).where(sa.func.lower(Vendor.name) == vendor_name.lower())
        )
        if vendor_id is None:
            raise click.BadParameter(f"no vendor is called “{vendor_name}”.", param_hint="--vendor")
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = services.create_user(
            None,
            email=email,
            name=name or email.split("@")[0],
            role=role,
            password=password,
            vendor_id=vendor_id,
            timezone=timezone,
        )
    except ValidationError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {user.email} ({user.role.title}).")


@users.command("token")
@click.argument("email")
@click.option("--name", default="command line", show_default=True)
@uow.command
def users_token(email: str, name: str) -> None:
    """Print a new API token for a person; it is shown only this once."""
    from rollcal.accounts import services
    from rollcal.accounts.models import User

    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No person has the e-mail {email}.")
    _, token = services.create_token(user, name)
    click.echo(token)
