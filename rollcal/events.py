"""What one domain tells another: blinker signals, and providers registered at start-up.

A domain sends a signal when something others may care about has happened, inside the
unit of work that made the change; subscribers (connected by each domain's ``init_app``)
change their own state in the same unit of work, so both commit or neither does. No
domain imports another to tell it something.

Signals (the sender is the object named; keyword arguments as listed):

* ``session_results_changed`` — a calibration session was revealed, or its stored
  results were computed again (sender: the session).
* ``checklist_changed`` — a rollout's checklist, overrides or go-live date changed
  (sender: the rollout).
* ``signoff_decided`` — a sign-off request was decided (sender: the rollout;
  ``outcome``: ``"approved"`` or ``"rejected"``).
* ``item_commented`` — someone commented on a checklist item (sender: the item;
  ``comment``, ``actor``).
* ``item_reassigned`` — a checklist item was given to someone else (sender: the item;
  ``actor``; ``previous``: who had it, or None).
* ``go_live_moved`` — a rollout's go-live date moved (sender: the rollout; ``actor``,
  ``old_date``, ``new_date``, ``reason``).
* ``flags_raised`` — computing a session's results raised flags it had not raised before
  (sender: the session; ``flags``: the new flags; ``actor``: who computed, or None).

Providers answer a question a domain cannot answer from its own tables: calibration asks
``calibration_subjects()`` for the policy versions and rollouts a session may calibrate,
and for the rollouts (with their stored readiness and sign-offs) a quality review
covers, which rollout provides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from blinker import Namespace
from flask import Flask, current_app

_signals = Namespace()

session_results_changed = _signals.signal("session-results-changed")
checklist_changed = _signals.signal("checklist-changed")
signoff_decided = _signals.signal("signoff-decided")
item_commented = _signals.signal("item-commented")
item_reassigned = _signals.signal("item-reassigned")
go_live_moved = _signals.signal("go-live-moved")
flags_raised = _signals.signal("flags-raised")
# Sender: the calibration session whose model raters were measured again (on its close,
# a recompute, or a replay's labels); the humans' results did not change.
model_results_changed = _signals.signal("model-results-changed")


@dataclass(frozen=True)
class PolicyVersionFacts:
    """What a calibration session needs of a policy version."""

    id: int
    name: str
    label_options: list[dict]
    label_level: str
    # The policy the version belongs to: scorecards and drift follow a policy across its
    # versions.
    policy_id: int | None = None
    policy_name: str | None = None
    # Archived versions are no longer offered to new sessions (a rollout's keeps its own).
    archived: bool = False
    # The model gate the version requires (both None: none).
    model_gate_min_severity: float | None = None
    model_gate_fnr_target: float | None = None


@dataclass(frozen=True)
class RolloutFacts:
    """What a calibration session needs of the rollout whose gate it feeds."""

    id: int
    name: str
    policy_version_id: int
    alpha_threshold: float
    accuracy_target: float
    site_ids: frozenset[int]


@dataclass(frozen=True)
class SiteReadinessFacts:
    """One site of a rollout with its stored readiness, as a quality review shows it."""

    site_id: int
    vendor_id: int
    site: str
    state: str
    reasons: tuple[str, ...]
    required_closed: int
    required_total: int
    overridden: bool


@dataclass(frozen=True)
class SignOffFacts:
    """One stakeholder's answer (or pending answer) to a sign-off request."""

    stakeholder_id: int
    stakeholder: str
    requested_at: datetime
    decision: str | None
    decided_at: datetime | None
    comment: str | None


@dataclass(frozen=True)
class RolloutReviewFacts:
    """A rollout as a quality review reads it: its sites' stored readiness and its
    sign-offs."""

    id: int
    name: str
    status: str
    go_live_date: date
    sites: tuple[SiteReadinessFacts, ...]
    sign_offs: tuple[SignOffFacts, ...]


class CalibrationSubjects(Protocol):
    """What calibration may be about, as the domain that owns policies answers it."""

    def policy_version_choices(self) -> list[tuple[int, str]]:
        """(id, name) of every policy version a new session may calibrate."""

    def rollout_choices(self) -> list[tuple[int, str]]:
        """(id, name) of every rollout a new session may feed the gate of."""

    def policy_version(self, version_id: int) -> PolicyVersionFacts | None:
        """One policy version, or None."""

    def rollout(self, rollout_id: int) -> RolloutFacts | None:
        """One rollout, or None."""

    def first_rollout_of_policy(self, code: str) -> RolloutFacts | None:
        """The oldest rollout of a policy (by its code), or None."""

    def policy_choices(self) -> list[tuple[int, str]]:
        """(id, "CODE — title") of every policy, for filters that follow a policy."""

    def rollouts_for_review(
        self, vendor_ids: list[int] | None, since: date, until: date | None
    ) -> list[RolloutReviewFacts]:
        """Rollouts with a site of these vendors (None: any vendor) whose go-live falls in
        the period or that are not live yet, each with only those vendors' sites."""


class NoSubjects:
    """Calibration on its own: no policy versions or rollouts to link a session to."""

    def policy_version_choices(self) -> list[tuple[int, str]]:
        """None to choose from."""
        return []

    def rollout_choices(self) -> list[tuple[int, str]]:
        """None to choose from."""
        return []

    def policy_version(self, version_id: int) -> PolicyVersionFacts | None:
        """None is known."""
        return None

    def rollout(self, rollout_id: int) -> RolloutFacts | None:
        """None is known."""
        return None

    def first_rollout_of_policy(self, code: str) -> RolloutFacts | None:
        """None is known."""
        return None

    def policy_choices(self) -> list[tuple[int, str]]:
        """None to choose from."""
        return []

    def rollouts_for_review(
        self, vendor_ids: list[int] | None, since: date, until: date | None
    ) -> list[RolloutReviewFacts]:
        """No rollouts."""
        return []


_SUBJECTS = "rollcal.calibration_subjects"


def provide_calibration_subjects(app: Flask, subjects: CalibrationSubjects) -> None:
    """Register, at start-up, what calibration sessions may be about."""
    app.extensions[_SUBJECTS] = subjects


def calibration_subjects() -> CalibrationSubjects:
    """What calibration sessions may be about, in the current app."""
    return current_app.extensions.get(_SUBJECTS) or NoSubjects()
