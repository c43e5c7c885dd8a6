"""The ``rollcal`` console script: ``rollcal agreement`` without the web application.

``rollcal agreement FILE.csv`` is an offline analysis; importing Flask, SQLAlchemy and
WeasyPrint (what ``rollcal.cli`` needs for every other command) took ten times longer
than the analysis of a 2,000-case file. So the script looks at its first argument:
``agreement`` runs :data:`calibration.agreement_cli.agreement_command` directly, and
anything else goes to the Flask CLI group in :mod:`rollcal.cli`, which also lists
``agreement`` in its help. Nothing in this module imports the web application.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``rollcal``: the lean agreement command, or the Flask CLI group."""
    arguments = sys.argv[1:]
    if arguments[:1] == ["agreement"]:
        from calibration.agreement_cli import agreement_command

        agreement_command.main(args=arguments[1:], prog_name="rollcal agreement")
        return
    from rollcal.cli import main as flask_main

    flask_main()
