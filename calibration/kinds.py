"""Calibration's notification kinds: what it tells people, and whom."""

from __future__ import annotations

from rollcal.accounts.models import Role
from rollcal.notifications.models import MANAGERS, Kind, KindInfo

NOTIFICATION_KINDS: dict[Kind, KindInfo] = {
    Kind.SESSION_OPENED: KindInfo(
        "Calibration session opened",
        "When a session you label in opens.",
        frozenset({Role.QA_LEAD}),
    ),
    Kind.SESSION_CLOSING: KindInfo(
        "Cases left to label",
        "24 hours before a session closes, if you still have cases to label.",
        frozenset({Role.QA_LEAD}),
    ),
    Kind.SESSION_REVEALED: KindInfo(
        "Calibration results revealed",
        "When you can see your labels against the golden answers and the group.",
        frozenset({Role.QA_LEAD}),
    ),
    Kind.SESSION_CLOSED: KindInfo(
        "Calibration session closed",
        "When a session you run closes by itself: its results and the flags raised.",
        MANAGERS,
    ),
    Kind.SESSION_PROBLEM: KindInfo(
        "A session could not open",
        "When a session you run reaches its start time but cannot open, and why.",
        MANAGERS,
    ),
}
