"""Readiness of one site for go-live: a pure function of its checklist and its gate.

No Flask, no SQLAlchemy: callers pass plain values, so the rule can be read, tested and
reused (board, API, reports, digests) without a database.

The rule (DESIGN.md):

* ``blocked``  — any required item is blocked;
* ``ready``    — every required item is done or not applicable, and the calibration gate
  passes;
* ``at_risk``  — a required item is overdue, or due within two days and not started, or
  the calibration gate fails;
* ``on_track`` — otherwise (including a gate still pending).

A required vendor step the vendor's QA lead marked not applicable is ``na_requested``
until a POM approves the request: it is still open (a vendor cannot waive its own
required step), and the reasons say whose approval it awaits.

A POM's override makes a site ``ready`` whatever else holds; the reasons it overrode
stay in the answer so every page can show them beside the justification.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

DUE_SOON_DAYS = 2
CLOSED = frozenset({"done", "not_applicable"})
# A required step the vendor marked not applicable, awaiting the POM's approval.
NA_REQUESTED = "na_requested"


class State(StrEnum):
    """A site's readiness, worst first."""

    BLOCKED = "blocked"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    READY = "ready"

    @property
    def title(self) -> str:
        """The state as people read it."""
        return {
            "blocked": "Blocked",
            "at_risk": "At risk",
            "on_track": "On track",
            "ready": "Ready",
        }[self.value]


class GateState(StrEnum):
    """The calibration gate of one site."""

    PASS = "pass"
    FAIL = "fail"
    PENDING = "pending"


@dataclass(frozen=True)
class Item:
    """What readiness needs to know of one checklist item."""

    title: str
    status: str
    due_date: date
    required: bool = True
    reason: str | None = None


@dataclass(frozen=True)
class Gate:
    """The calibration gate's outcome for a site, with the sentences that explain it."""

    state: GateState
    reasons: tuple[str, ...] = ()

    @classmethod
    def pending(cls, reason: str = "no revealed calibration session") -> Gate:
        """A gate with nothing yet to judge by."""
        return cls(GateState.PENDING, (f"gate pending: {reason}",))


@dataclass(frozen=True)
class Override:
    """A POM marked the site ready anyway, and wrote why."""

    justification: str
    by: str


@dataclass(frozen=True)
class Readiness:
    """A site's state, the reasons a person reads, and any override."""

    state: State
    reasons: tuple[str, ...] = field(default_factory=tuple)
    override: Override | None = None
    # What weighs most, in counts, for a one-line summary beside the state: "3 overdue".
    summary: str = field(default="", compare=False)

    @property
    def overridden(self) -> bool:
        """Whether the state is ``ready`` only because a POM said so."""
        return self.override is not None

    @property
    def headline(self) -> str:
        """The state and its main counts on one line: "At risk · 3 overdue"."""
        return f"{self.state.title} · {self.summary}" if self.summary else self.state.title


def _titles(items: Sequence[Item]) -> str:
    return ", ".join(item.title for item in items)


def _count(items: Sequence[Item], what: str) -> str:
    noun = "item" if len(items) == 1 else "items"
    return f"{len(items)} required {noun} {what}: {_titles(items)}"


def _summary(parts: Sequence[str], override: Override | None) -> str:
    """What a one-line summary says beside the state: "3 overdue, 1 due soon" (at most
    two counts, worst first)."""
    if override is not None:
        return "by override"
    return ", ".join(parts[:2])


def site_readiness(
    items: Iterable[Item], gate: Gate, today: date, override: Override | None = None
) -> Readiness:
    """The readiness of one site on ``today``, with reasons, worst first."""
    required = [item for item in items if item.required]
    blocked = [item for item in required if item.status == "blocked"]
    open_items = [item for item in required if item.status not in CLOSED]
    awaiting = [item for item in open_items if item.status == NA_REQUESTED]
    overdue = [item for item in open_items if item.due_date < today]
    due_soon = [
        item
        for item in open_items
        if item.status == "todo"
        and today <= item.due_date
        and (item.due_date - today).days <= DUE_SOON_DAYS
    ]

    reasons: list[str] = []
    if blocked:
        blocked_reasons = "; ".join(
            f"{item.title}" + (f" ({item.reason})" if item.reason else "") for item in blocked
        )
        noun = "item" if len(blocked) == 1 else "items"
        reasons.append(f"{len(blocked)} required {noun} blocked: {blocked_reasons}")
    if overdue:
        reasons.append(_count(overdue, "overdue"))
    if due_soon:
        reasons.append(_count(due_soon, f"due within {DUE_SOON_DAYS} days and not started"))
    if awaiting:
        reasons.append(
            f"Awaiting POM approval: {_titles(awaiting)} marked not applicable by the vendor"
        )
    reasons.extend(gate.reasons)

    remaining: list[Item] = []
    if blocked:
        state = State.BLOCKED
    elif overdue or due_soon or gate.state == GateState.FAIL:
        state = State.AT_RISK
    elif not open_items and gate.state == GateState.PASS:
        state = State.READY
    else:
        state = State.ON_TRACK
        remaining = [item for item in open_items if item not in overdue and item not in awaiting]
        if remaining:
            noun = "item" if len(remaining) == 1 else "items"
            reasons.append(f"{len(remaining)} required {noun} open")
    counts = [
        f"{n} {what}"
        for n, what in (
            (len(blocked), "blocked"),
            (len(overdue), "overdue"),
            (len(due_soon), "due soon"),
            (len(awaiting), "awaiting approval"),
        )
        if n
    ]
    if gate.state == GateState.FAIL:
        counts.append("gate failing")
    if remaining:
        counts.append(f"{len(remaining)} open")

    if override is not None and state != State.READY:
        reasons.insert(0, f"marked ready by {override.by}: {override.justification}")
        return Readiness(State.READY, tuple(reasons), override, _summary(counts, override))
    if state == State.READY and not reasons:
        reasons.append("all required items closed and calibration gate passed")
    return Readiness(state, tuple(reasons), summary=_summary(counts, None))


def summarise(readiness: Iterable[Readiness]) -> dict[State, int]:
    """How many sites are in each state, worst first, zeros included."""
    return count_states(site.state for site in readiness)


def count_states(states: Iterable[State]) -> dict[State, int]:
    """How many of ``states`` are each state, worst first, zeros included."""
    counts = {state: 0 for state in State}
    for state in states:
        counts[state] += 1
    return counts


def calibration_gate(
    *,
    alpha: float | None,
    alpha_lower: float | None,
    accuracy: float | None,
    alpha_threshold: float,
    accuracy_target: float,
    use_lower_bound: bool = False,
    session_title: str = "the latest revealed session",
    evidence: str | None = None,
    evidence_missing: Sequence[str] = (),
) -> Gate:
    """Judge a site's calibration figures against the rollout's gate.

    ``alpha_lower`` is the lower end of alpha's 95% interval; with ``use_lower_bound`` the
    gate asks that the evidence, not just the estimate, reach the threshold. A figure that
    could not be computed fails the gate, saying why, rather than passing by default.
    ``evidence`` is the engine's verdict on the site's figures; ``insufficient`` fails the
    gate with ``evidence_missing``, the sentences saying what to add (a second rater, more
    shared or golden cases), since figures on too little evidence prove nothing either way.
    """
    if evidence == "insufficient":
        missing = list(evidence_missing) or [f"too little evidence on {session_title}"]
        return Gate(
            GateState.FAIL,
            tuple(f"calibration gate failed: {sentence.rstrip('.')}" for sentence in missing),
        )
    failures: list[str] = []
    measured = alpha_lower if use_lower_bound else alpha
    what = "alpha (lower 95% bound)" if use_lower_bound else "alpha"
    if measured is None:
        failures.append(f"{what} could not be computed on {session_title}")
    elif measured < alpha_threshold:
        failures.append(
            f"{what} {measured:.3f} is below the threshold {alpha_threshold:.3f} "
            f"by {alpha_threshold - measured:.3f}"
        )
    if accuracy is None:
        failures.append(f"accuracy against golden could not be computed on {session_title}")
    elif accuracy < accuracy_target:
        failures.append(
            f"accuracy {accuracy:.1%} is below the target {accuracy_target:.0%} "
            f"by {(accuracy_target - accuracy) * 100:.1f} points"
        )
    if failures:
        return Gate(GateState.FAIL, tuple(f"calibration gate failed: {text}" for text in failures))
    return Gate(GateState.PASS)


@dataclass(frozen=True)
class ModelGateStep:
    """What a checklist step bound to the model gate becomes: its status, the blocked
    reason (the gate's failures) and the note with the figures behind it."""

    status: str
    reason: str | None
    note: str


def model_gate_step(
    *,
    version: str,
    passes: bool | None,
    sentences: Sequence[str],
    session_title: str | None = None,
) -> ModelGateStep:
    """The state of a step bound to the model gate of ``version``.

    ``passes`` is None while the gate has nothing to judge by (``sentences`` then say
    why): the step stays to do. A passing gate closes the step, a failing one blocks it
    with the failures, so readiness shows them like the calibration gate's.
    """
    where = f"{version} on {session_title}" if session_title else version
    text = " ".join(sentence.rstrip(".") + "." for sentence in sentences)
    if passes is None:
        return ModelGateStep("todo", None, f"Model gate pending: {text}")
    if passes:
        return ModelGateStep("done", None, f"Model gate passed: {where}. {text}")
    failures = "; ".join(sentence.rstrip(".") for sentence in sentences)
    return ModelGateStep(
        "blocked", f"model gate failed: {where}: {failures}", f"Model gate failed: {where}."
    )
