"""``rollcal quality``: the stored history behind scorecards and drift."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from rollcal import uow


@click.group("quality")
def quality_command() -> None:
    """Scorecards' history and drift flags."""


@quality_command.command("rebuild")
@with_appcontext
@uow.command
def rebuild_command() -> None:
    """Write scorecard points and drift flags for every revealed session from its stored
    results (for sessions revealed before scorecards existed)."""
    from calibration import quality

    count = quality.rebuild()
    click.echo(f"Read the stored results of {count} revealed session{'s' if count != 1 else ''}.")
