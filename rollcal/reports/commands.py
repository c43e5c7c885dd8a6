"""``rollcal report <name> ID -o FILE.pdf``: one command shape for every report a domain
registers (``rollcal.registry.add_report_command``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app

from rollcal.reports.pdf import ReportSource, render_source


def report_command(
    name: str, subject: str, source_of: Callable[[int], ReportSource | None], help: str
) -> click.Command:
    """A command that writes the report ``source_of(id)`` builds as a PDF; ``subject``
    names the id in messages ("rollout"), and ``source_of`` answers None for an unknown
    id."""

    @click.command(name, help=help)
    @click.argument("subject_id", metavar=f"{subject.split()[-1].upper()}_ID", type=int)
    @click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, writable=True),
        help="Where to write the PDF.",
    )
    def command(subject_id: int, output: str) -> None:
        source = source_of(subject_id)
        if source is None:
            raise click.ClickException(f"No {subject} has the id {subject_id}.")
        pdf = render_source(source, current_app.static_folder)
        Path(output).write_bytes(pdf)
        click.echo(f"Wrote {output} ({len(pdf):,} bytes).")

    return command
