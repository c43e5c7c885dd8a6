"""How rollcal writes times for people: one style on pages, e-mails and PDFs.

"Tue 2 Dec, 14:00 (Manila, UTC+8)": the reader's own zone named by its city and its
offset from UTC. Zone abbreviations are avoided on purpose: the tz database has none for
many zones ("+08") and some it has mislead ("PST" is Philippine time in Manila and
Pacific time in Los Angeles). Exports use ISO 8601 with the offset, to the second.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

# The zones people pick most often, offered first in the picker.
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Africa/Nairobi",
    "Asia/Kolkata",
    "Asia/Jakarta",
    "Asia/Kuala_Lumpur",
    "Asia/Manila",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "America/Bogota",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
)

# Areas of the tz database that name real places; the rest ("Etc/GMT+5", "US/Pacific",
# "Factory", "localtime", "EST5EDT") are aliases or artefacts nobody should have to scroll.
REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


def zone_city(zone: str) -> str:
    """The place a zone is named after: "America/Argentina/Buenos_Aires" → "Buenos Aires"."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def utc_offset(moment: datetime) -> str:
    """The offset of an aware time from UTC: "UTC+8", "UTC+5:30", "UTC-5", "UTC"."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_label(zone: str, moment: datetime | None = None) -> str:
    """A zone as people read it, at a moment (offsets change with daylight saving):
    "Manila, UTC+8"; UTC itself is just "UTC"."""
    if zone == "UTC":
        return "UTC"
    moment = (moment or datetime.now(UTC)).astimezone(ZoneInfo(zone))
    return f"{zone_city(zone)}, {utc_offset(moment)}"


def format_moment(
    value: datetime | None,
    zone: str,
    *,
    seconds: bool = False,
    with_zone: bool = True,
    now: datetime | None = None,
) -> str:
    """A UTC time in ``zone``: "Tue 2 Dec, 14:00 (Manila, UTC+8)", with the year when it
    is not this year; "—" for no time."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(ZoneInfo(zone))
    this_year = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).year
    day = f"{local:%a} {local.day} {local:%b}" + (
        f" {local.year}" if local.year != this_year else ""
    )
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    text = f"{day}, {clock}"
    return f"{text} ({zone_label(zone, local)})" if with_zone else text


def format_day(value: date | datetime | None, zone: str | None = None) -> str:
    """A calendar day: "Tue 2 Dec 2026". A time is first moved into ``zone``, so the day
    is the reader's; a date (a due date, a go-live) is a day everywhere and has no zone."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(ZoneInfo(zone or "UTC")).date()
    return f"{value:%a} {value.day} {value:%b %Y}"


def export_time(value: datetime | None) -> str:
    """A time for a CSV or JSON export: ISO 8601 in UTC with its offset, to the second."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


@cache
def zone_groups() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The time-zone picker's groups: common zones first, then each region's zones by
    city, each labelled with its current offset ("Manila (UTC+8)")."""
    now = datetime.now(UTC)

    def option(zone: str) -> tuple[str, str]:
        if zone == "UTC":
            return zone, "UTC"
        return zone, f"{zone_city(zone)} ({utc_offset(now.astimezone(ZoneInfo(zone)))})"

    known = available_timezones()
    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = [
        ("Common", tuple(option(zone) for zone in COMMON_ZONES if zone in known or zone == "UTC"))
    ]
    for region in REGIONS:
        zones = sorted(
            (zone for zone in known if zone.split("/", 1)[0] == region and "/" in zone),
            key=zone_city,
        )
        groups.append((region, tuple(option(zone) for zone in zones)))
    return tuple(groups)


def zone_names() -> frozenset[str]:
    """Every zone the picker offers (and so every zone a person may choose)."""
    return frozenset(zone for _, options in zone_groups() for zone, _ in options)


def format_on_document(value: datetime | None, zone: str) -> str:
    """A time on a PDF, in ``zone``: "Tue 1 Dec 2026, 12:30 (Manila, UTC+8)". Always with
    the year, since a document is read long after the year it was made in."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(ZoneInfo(zone))
    return f"{format_day(local)}, {local:%H:%M} ({zone_label(zone, local)})"


def format_short_day(
    value: date | datetime | None, zone: str | None = None, *, today: date | None = None
) -> str:
    """A day in few characters, for dense tables: "2 Dec", with the year when it is not
    this year ("2 Dec 2027"). A time is first moved into ``zone``; a date has no zone."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(ZoneInfo(zone or "UTC")).date()
    this_year = (today or datetime.now(UTC).date()).year
    return f"{value.day} {value:%b}" + (f" {value.year}" if value.year != this_year else "")
