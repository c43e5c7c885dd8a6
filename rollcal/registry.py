"""What each domain adds to the shell.

The shell (``rollcal/``) imports no domain package. ``create_app`` imports every package
named in the ``ROLLCAL_DOMAINS`` setting and calls its ``init_app(app)``. That function
registers blueprints and commands of its own with Flask (``app.register_blueprint``,
``app.cli.add_command``), connects its signal subscribers, and adds to this registry what
the shell runs or shows on its behalf: scheduled jobs, notification kinds, ``rollcal
report`` subcommands, demo data and the panels of people's home pages. The shell's own
rooms register the same way, so a job or a kind looks alike wherever it comes from.

The registry lives in ``app.extensions``: two apps (as in the tests) never share one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app

if TYPE_CHECKING:
    from rollcal.jobs.scheduler import Job
    from rollcal.notifications.models import Kind, KindInfo

EXTENSION = "rollcal.registry"


@dataclass(frozen=True)
class HomePanel:
    """A section of the home page: what needs a person's attention in one domain.

    ``build(user)`` returns the template's context, or None when the panel is not for
    this person (their role has no use for it). The context's ``title`` heads the panel;
    ``template`` renders it with the context as ``panel``. Panels show a bounded number
    of rows and link to the filtered page behind them. Lower ``order`` comes first.
    """

    id: str
    template: str
    build: Callable[[object], dict | None]
    order: int = 100


@dataclass
class Registry:
    """Everything registered with one app, in the order it was registered."""

    jobs: dict[str, Job] = field(default_factory=dict)
    notification_kinds: dict[Kind, KindInfo] = field(default_factory=dict)
    report_commands: dict[str, click.Command] = field(default_factory=dict)
    demo_data: list[Callable[[], None]] = field(default_factory=list)
    home_panels: dict[str, HomePanel] = field(default_factory=dict)


def registry(app: Flask | None = None) -> Registry:
    """The registry of ``app`` (the current app when not given)."""
    app = app if app is not None else current_app
    return app.extensions.setdefault(EXTENSION, Registry())


def _add_once(entries: dict, key, value, what: str) -> None:
    if key in entries and entries[key] is not value:
        raise ValueError(f"Two {what} are registered as {key!r}.")
    entries[key] = value


def add_job(app: Flask, job: Job) -> None:
    """Have the scheduler run ``job`` on its schedule (and list it on the jobs page)."""
    _add_once(registry(app).jobs, job.id, job, "jobs")


def add_notification_kind(app: Flask, kind: Kind, info: KindInfo) -> None:
    """Say what a kind of notification is about and who may choose to get it."""
    _add_once(registry(app).notification_kinds, kind, info, "notification kinds")


def add_report_command(app: Flask, command: click.Command) -> None:
    """Add a ``rollcal report <name>`` subcommand."""
    _add_once(registry(app).report_commands, command.name, command, "report commands")


def add_demo_data(app: Flask, load: Callable[[], None]) -> None:
    """Have ``rollcal demo`` call ``load`` (in registration order; it must be safe to run
    twice)."""
    if load not in registry(app).demo_data:
        registry(app).demo_data.append(load)


def add_home_panel(app: Flask, panel: HomePanel) -> None:
    """Show ``panel`` on the home page of the people it builds for."""
    _add_once(registry(app).home_panels, panel.id, panel, "home panels")


def home_panels(user) -> list[tuple[HomePanel, dict]]:
    """The panels for ``user``, in order, each with its context."""
    shown = []
    for panel in sorted(registry().home_panels.values(), key=lambda p: (p.order, p.id)):
        context = panel.build(user)
        if context is not None:
            shown.append((panel, context))
    return shown
