"""Times as people read them: the reader's zone by city and offset, exports in ISO 8601."""

from __future__ import annotations

from datetime import UTC, date, datetime

from rollcal.timefmt import export_time, format_day, format_moment, zone_groups, zone_label

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_time_is_shown_in_the_readers_zone_named_by_city_and_offset():
    """Manila is UTC+8 and never "PST"; the tz database's "+08" never appears."""
    moment = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    assert format_moment(moment, "Asia/Manila", now=NOW) == "Wed 2 Dec, 14:00 (Manila, UTC+8)"
    assert format_moment(moment, "America/Bogota", now=NOW) == "Wed 2 Dec, 01:00 (Bogota, UTC-5)"
    assert format_moment(moment, "Asia/Kolkata", now=NOW) == "Wed 2 Dec, 11:30 (Kolkata, UTC+5:30)"
    assert format_moment(moment, "UTC", now=NOW) == "Wed 2 Dec, 06:00 (UTC)"


def test_summer_time_changes_the_offset_shown():
    """London in July is UTC+1; in December UTC."""
    assert zone_label("Europe/London", datetime(2026, 7, 1, tzinfo=UTC)) == "London, UTC+1"
    assert zone_label("Europe/London", datetime(2026, 12, 1, tzinfo=UTC)) == "London, UTC"


def test_another_years_time_carries_its_year():
    """A time from last year says so; this year's does not repeat it."""
    assert format_moment(datetime(2025, 3, 4, 10, 0, tzinfo=UTC), "UTC", now=NOW).startswith(
        "Tue 4 Mar 2025, 10:00"
    )


def test_a_day_is_the_readers_day_and_a_date_has_no_zone():
    """23:30 UTC is already the next day in Manila; a due date is the same day everywhere."""
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert format_day(late, "Asia/Manila") == "Wed 2 Dec 2026"
    assert format_day(late, "UTC") == "Tue 1 Dec 2026"
    assert format_day(date(2026, 12, 24)) == "Thu 24 Dec 2026"


def test_exports_use_iso_8601_with_offset_to_the_second():
    """No microseconds, always the offset."""
    value = datetime(2026, 12, 1, 9, 30, 5, 123456, tzinfo=UTC)
    assert export_time(value) == "2026-12-01T09:30:05+00:00"


def test_the_zone_picker_offers_common_zones_first_and_no_artefacts():
    """Common zones lead; "Factory", "localtime", "Etc/GMT+5" and "US/Pacific" are gone."""
    groups = dict(zone_groups())
    assert next(iter(groups)) == "Common"
    offered = {zone for options in groups.values() for zone, _ in options}
    assert {"UTC", "Asia/Manila", "America/Bogota", "Africa/Nairobi"} <= offered
    assert not offered & {"Factory", "localtime", "Etc/GMT+5", "US/Pacific", "EST5EDT"}
    assert ("Asia/Manila", "Manila (UTC+8)") in groups["Asia"]
