"""``rollcal agreement FILE.csv``: offline agreement analysis of a long CSV of labels.

The file has one row per label with the columns ``item``, ``rater`` and ``label``, and
optionally ``golden`` (the same for every row of an item, blank where unknown),
``vendor`` and ``site`` (the same for every row of a rater). Other columns are ignored.
UTF-8, with or without a byte-order mark.

The command needs no application context and no database: ``rollcal agreement`` runs it
through :mod:`calibration.console` without importing the web application, and the
``rollcal`` CLI group also registers :data:`agreement_command` as it is. Bad input ends with
exit status 2 and a one-line message naming the line and column on standard error, and
nothing on standard output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from calibration.agreement import (
    LEVELS,
    AgreementInputError,
    AgreementReport,
    Rating,
    compute_report,
)

REQUIRED_COLUMNS = ("item", "rater", "label")
OPTIONAL_COLUMNS = ("golden", "vendor", "site")

# How many of the most contested cases the readable report lists.
CONTESTED_SHOWN = 10

# Bytes that are not UTF-8 become lone surrogates when decoded with "surrogateescape";
# real text never contains those, so finding one pins the bad byte to a line and column.
_UNDECODABLE = re.compile("[\udc80-\udcff]")

_SIGNED = re.compile(r"[+-]\d+\.\d+")


class RatingsFileError(Exception):
    """The CSV cannot be analysed; the message names the line and column."""


@dataclass
class RatingsFile:
    """What a ratings CSV says, ready for :func:`calibration.agreement.compute_report`."""

    ratings: list[Rating]
    categories: list[str]
    golden: dict[str, str] = field(default_factory=dict)
    rater_groups: dict[str, str] = field(default_factory=dict)
    rater_sites: dict[str, str] = field(default_factory=dict)


@dataclass
class _Place:
    """Where a value was first seen, for error messages."""

    line: int
    column: int
    name: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column} ({self.name})"


def read_ratings_csv(
    content: bytes, *, level: str = "nominal", labels: Sequence[str] | None = None
) -> RatingsFile:
    """Parse a ratings CSV (raw bytes) into ratings, label domain, golden and membership.

    ``labels`` is the ordered domain from ``--labels``; without it the domain is the
    labels in the file, sorted numerically when all are numbers and otherwise in order
    of first appearance. Raises :class:`RatingsFileError` with a one-line message.
    """
    text = content.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    undecodable = _UNDECODABLE.search(text) is not None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header, header_line = _next_row(reader, 0)
        if header is None:
            raise RatingsFileError("line 1: the file is empty; expected a header item,rater,label")
        columns = _columns(header, header_line, undecodable)
        return _read_rows(reader, header_line, columns, len(header), undecodable, level, labels)
    except csv.Error as error:
        hint = "; is a quote left open?" if "unexpected end of data" in str(error) else ""
        raise RatingsFileError(f"line {reader.line_num}: {error}{hint}") from None


def _next_row(reader: Any, last_line: int) -> tuple[list[str] | None, int]:
    """The next non-blank row and the line it starts on (csv counts physical lines)."""
    for row in reader:
        start = last_line + 1
        last_line = reader.line_num
        if any(value.strip() for value in row):
            return row, start
    return None, last_line


def _columns(header: list[str], line: int, undecodable: bool) -> dict[str, int]:
    """Positions of the known columns, checking the header for gaps and repeats."""
    names = [name.strip().lower() for name in header]
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        if undecodable and _UNDECODABLE.search(name):
            raise RatingsFileError(f"line {line}, column {position + 1}: not valid UTF-8")
        if name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            if name in positions:
                raise RatingsFileError(
                    f"line {line}, column {position + 1} ({name}): the column appears twice "
                    f"(first as column {positions[name] + 1})"
                )
            positions[name] = position
    for name in REQUIRED_COLUMNS:
        if name not in positions:
            raise RatingsFileError(
                f"line {line}: missing column {name!r}; the header needs item, rater and label"
            )
    return positions


def _read_rows(
    reader: Any,
    header_line: int,
    columns: dict[str, int],
    width: int,
    undecodable: bool,
    level: str,
    labels: Sequence[str] | None,
) -> RatingsFile:
    """Read every row after the header, checking each value where it stands."""
    ratings: list[Rating] = []
    rated: dict[tuple[str, str], int] = {}
    golden: dict[str, tuple[str, int]] = {}
    memberships: dict[str, dict[str, tuple[str, int]]] = {"vendor": {}, "site": {}}
    first_seen: dict[str, _Place] = {}
    last_line = header_line
    known_columns = list(columns.items())
    # This loop sees every row of files with a million labels: the common row (as wide
    # as the header, valid UTF-8, no required value empty) takes a path with no checks
    # per value; anything else goes through _row_values, which names what is wrong.
    for row in reader:
        line = last_line + 1
        last_line = reader.line_num
        if len(row) == width and not undecodable:
            values = {name: row[position].strip() for name, position in known_columns}
            if not (values["item"] and values["rater"] and values["label"]):
                if not any(map(str.strip, row)):
                    continue
                values = _row_values(row, line, width, columns, undecodable)
        else:
            if not any(map(str.strip, row)):
                continue
            values = _row_values(row, line, width, columns, undecodable)
        item, rater, label = values["item"], values["rater"], values["label"]
        if (item, rater) in rated:
            raise RatingsFileError(
                f"{_place(line, columns, 'rater')}: rater {rater!r} already labelled item "
                f"{item!r} on line {rated[item, rater]}"
            )
        rated[item, rater] = line
        if label not in first_seen:
            first_seen[label] = _place(line, columns, "label")
        ratings.append(Rating(item, rater, label))
        expected = values.get("golden")
        if expected:
            if expected not in first_seen:
                first_seen[expected] = _place(line, columns, "golden")
            known = golden.setdefault(item, (expected, line))
            if known[0] != expected:
                raise RatingsFileError(
                    f"{_place(line, columns, 'golden')}: item {item!r} has golden {expected!r} "
                    f"here but {known[0]!r} on line {known[1]}"
                )
        for kind, membership in memberships.items():
            if values.get(kind):
                known = membership.setdefault(rater, (values[kind], line))
                if known[0] != values[kind]:
                    raise RatingsFileError(
                        f"{_place(line, columns, kind)}: rater {rater!r} has {kind} "
                        f"{values[kind]!r} here but {known[0]!r} on line {known[1]}"
                    )
    if not ratings:
        raise RatingsFileError(f"line {last_line + 1}: no ratings below the header")
    return RatingsFile(
        ratings=ratings,
        categories=_domain(first_seen, level, labels),
        golden={item: label for item, (label, _) in golden.items()},
        rater_groups={rater: name for rater, (name, _) in memberships["vendor"].items()},
        rater_sites={rater: name for rater, (name, _) in memberships["site"].items()},
    )


def _place(line: int, columns: dict[str, int], name: str) -> _Place:
    return _Place(line, columns[name] + 1, name)


def _row_values(
    row: list[str], line: int, width: int, columns: dict[str, int], undecodable: bool
) -> dict[str, str]:
    """The known columns' values of one row, stripped, with the row's shape checked."""
    if len(row) > width:
        raise RatingsFileError(
            f"line {line}, column {width + 1}: the row has {len(row)} values but the header "
            f"names {width} columns; quote values that contain commas"
        )
    values = {}
    for name, position in columns.items():
        if position >= len(row):
            raise RatingsFileError(
                f"line {line}, column {position + 1} ({name}): missing; the row has "
                f"{len(row)} values but the header names {width} columns"
            )
        value = row[position].strip()
        if undecodable and _UNDECODABLE.search(value):
            raise RatingsFileError(f"line {line}, column {position + 1} ({name}): not valid UTF-8")
        if name in REQUIRED_COLUMNS and not value:
            raise RatingsFileError(f"line {line}, column {position + 1} ({name}): empty")
        values[name] = value
    return values


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _domain(first_seen: dict[str, _Place], level: str, labels: Sequence[str] | None) -> list[str]:
    """The ordered label domain: ``--labels``, or numeric order, or order of appearance."""
    needs_numbers = level in ("interval", "ratio")
    if labels is not None:
        for label, place in first_seen.items():
            if label not in labels:
                raise RatingsFileError(
                    f"{place}: {label!r} is not one of --labels ({', '.join(labels)})"
                )
        if needs_numbers:
            for label in labels:
                if _number(label) is None:
                    raise RatingsFileError(
                        f"--labels: {label!r} is not a number, and --level {level} needs "
                        "numeric labels"
                    )
        return list(labels)
    numbers: dict[float, str] = {}
    for label, place in first_seen.items():
        number = _number(label)
        if number is None:
            if level == "nominal":
                return list(first_seen)
            wanted = "numeric labels" if needs_numbers else "numeric labels or --labels in order"
            raise RatingsFileError(
                f"{place}: {label!r} is not a number, and --level {level} needs {wanted}"
            )
        if number in numbers:
            raise RatingsFileError(
                f"{place}: {label!r} is the same number as {numbers[number]!r}; write each "
                "label one way"
            )
        numbers[number] = label
    return [numbers[number] for number in sorted(numbers)]


def _parse_labels_option(option: str | None) -> list[str] | None:
    if option is None:
        return None
    labels = [label.strip() for label in option.split(",")]
    if any(not label for label in labels):
        raise RatingsFileError("--labels: empty label; give the labels as a,b,c")
    repeated = [label for position, label in enumerate(labels) if label in labels[:position]]
    if repeated:
        raise RatingsFileError(f"--labels: {repeated[0]!r} is given twice")
    return labels


@click.command("agreement")
@click.argument("csv_path", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="nominal",
    show_default=True,
    help="Level of measurement of the labels.",
)
@click.option(
    "--labels",
    "labels_option",
    metavar="A,B,C",
    help="The ordered label domain (default: numeric labels sorted, else order of appearance).",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Resamples of cases for alpha's 95% interval; 0 turns the interval off.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Seed (0 or more) for repeatable resamples.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def agreement_command(
    csv_path: Path,
    level: str,
    labels_option: str | None,
    bootstrap: int,
    seed: int | None,
    as_json: bool,
) -> None:
    """Measure how far raters agree on the labels in FILE.csv.

    FILE.csv has the columns item, rater and label, and optionally golden, vendor and site.
    """
    try:
        content = csv_path.read_bytes()
    except OSError as error:
        _fail(f"{csv_path}: cannot read the file: {error.strerror or error}")
    try:
        ratings_file = read_ratings_csv(
            content, level=level, labels=_parse_labels_option(labels_option)
        )
        report = compute_report(
            ratings_file.ratings,
            categories=ratings_file.categories,
            level=level,
            golden=ratings_file.golden,
            rater_groups=ratings_file.rater_groups,
            rater_sites=ratings_file.rater_sites,
            bootstrap=bootstrap,
            seed=seed,
        )
    except (RatingsFileError, AgreementInputError) as error:
        _fail(f"{csv_path.name}: {error}")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_report(report))


def _fail(message: str) -> NoReturn:
    """One line on standard error and exit status 2, as for any other usage error."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(2)


# ---------------------------------------------------------------------------------------
# The readable report
# ---------------------------------------------------------------------------------------


def format_report(report: AgreementReport) -> str:
    """The report as plain text: headline figures, then raters, labels, vendors, sites,
    the most contested cases, flags and notes."""
    sections = [_headline(report)]
    sections.append(
        _table(
            "Raters, the ones who pull agreement down most first",
            [
                "rater",
                "vendor",
                "site",
                "cases",
                "agreement",
                "accuracy",
                "kappa vs golden",
                "alpha without",
                "change",
            ],
            [
                [
                    r.rater,
                    r.group,
                    r.site,
                    r.n,
                    r.agreement,
                    r.accuracy,
                    r.kappa_vs_golden,
                    r.alpha_without,
                    _signed(r.loo_delta),
                ]
                for r in report.raters
            ],
        )
    )
    sections.append(
        _table(
            "Labels",
            [
                "label",
                "times given",
                "golden cases",
                "alpha 1-vs-rest",
                "precision",
                "recall",
                "F1",
                "FPR",
                "FNR",
            ],
            [
                [
                    x.label,
                    x.support,
                    x.n_golden,
                    x.alpha_one_vs_rest,
                    x.precision,
                    x.recall,
                    x.f1,
                    x.fpr,
                    x.fnr,
                ]
                for x in report.labels
            ],
        )
    )
    vendors = [(vendor.group, vendor) for vendor in report.groups]
    sites = [(site.site, site) for site in report.sites]
    for title, kind, named in (("Vendors", "vendor", vendors), ("Sites", "site", sites)):
        if named:
            sections.append(
                _table(
                    title,
                    [
                        kind,
                        "raters",
                        "cases",
                        "alpha",
                        "95% interval",
                        "agreement",
                        "accuracy",
                        "majority deviation",
                        "evidence",
                    ],
                    [
                        [
                            name,
                            figures.n_raters,
                            figures.n_items,
                            figures.alpha,
                            _interval(figures.alpha_ci),
                            figures.percent_agreement,
                            figures.accuracy,
                            figures.majority_deviation,
                            figures.evidence,
                        ]
                        for name, figures in named
                    ],
                )
            )
    contested = report.items[:CONTESTED_SHOWN]
    sections.append(
        _table(
            f"Most contested cases ({len(contested)} of {report.n_items})",
            ["item", "labels", "majority", "share", "entropy", "golden"],
            [
                [
                    c.item,
                    " ".join(f"{k}:{v}" for k, v in c.labels.items()),
                    c.majority,
                    c.majority_share,
                    c.entropy,
                    c.golden,
                ]
                for c in contested
            ],
        )
    )
    flag_lines = [f"Flags ({len(report.flags)})"]
    flag_lines += [
        f"  {flag.severity.upper():<6}  {flag.scope}{' ' + flag.subject if flag.subject else ''}"
        f" ({flag.kind}): {flag.message}"
        for flag in report.flags
    ] or ["  none"]
    sections.append("\n".join(flag_lines))
    if report.notes:
        sections.append("\n".join(["Notes", *(f"  - {note}" for note in report.notes)]))
    return "\n\n".join(sections)


def _headline(report: AgreementReport) -> str:
    lines = [
        f"{report.n_items} cases ({report.n_pairable_items} labelled by two or more raters), "
        f"{report.n_raters} raters, {report.n_labels} labels, {report.level} level",
        "",
    ]
    interval = ""
    if report.alpha_ci is not None:
        interval = (
            f"   95% interval {_interval(report.alpha_ci)} ({report.bootstrap} resamples "
            f"of {report.n_pairable_items} cases)"
        )
    pairs = len(report.cohen_kappa)
    rows = [
        ("Krippendorff's alpha", report.alpha, interval),
        ("Percent agreement", report.percent_agreement, ""),
        ("Fleiss' kappa", report.fleiss_kappa, ""),
        ("Gwet's AC1", report.gwet_ac1, ""),
        ("Mean Cohen's kappa", report.mean_cohen_kappa, f"   ({pairs} rater pairs)"),
    ]
    lines += [f"{name:<22}{_cell(value):>7}{extra}" for name, value, extra in rows]
    return "\n".join(lines)


def _table(title: str, headers: list[str], rows: list[list[object]]) -> str:
    """A titled plain-text table; columns with no value at all (e.g. no golden) are left out."""
    if not rows:
        return f"{title}\n  none"
    shown = [i for i in range(len(headers)) if any(row[i] is not None for row in rows)]
    headers = [headers[i] for i in shown]
    rows = [[row[i] for i in shown] for row in rows]
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        return (
            "  "
            + "  ".join(
                value.rjust(width) if right else value.ljust(width)
                for value, width, right in zip(values, widths, numeric, strict=True)
            ).rstrip()
        )

    return "\n".join([title, line(headers), *(line(row) for row in cells)])


def _is_number(value: object) -> bool:
    """Whether a cell belongs in a right-aligned (numeric) column."""
    if isinstance(value, str):
        return _SIGNED.fullmatch(value) is not None
    return value is None or isinstance(value, int | float)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _signed(value: float | None) -> str | None:
    return None if value is None else f"{value:+.3f}"


def _interval(interval: tuple[float, float] | None) -> str | None:
    return None if interval is None else f"{interval[0]:.3f} to {interval[1]:.3f}"
