"""The readiness rule, as DESIGN.md states it, on plain values."""

from datetime import date, timedelta

from rollout.readiness import (
    Gate,
    GateState,
    Item,
    Override,
    State,
    calibration_gate,
    site_readiness,
    summarise,
)

TODAY = date(2026, 11, 21)
PASS = Gate(GateState.PASS)


def item(title="Step", status="todo", due_in=10, required=True, reason=None):
    return Item(title, status, TODAY + timedelta(days=due_in), required, reason)


def test_site_is_ready_when_required_items_are_closed_and_the_gate_passes():
    result = site_readiness(
        [item(status="done"), item(status="not_applicable"), item(required=False)], PASS, TODAY
    )
    assert result.state == State.READY


def test_site_is_not_ready_while_the_gate_is_pending():
    result = site_readiness([item(status="done")], Gate.pending(), TODAY)
    assert result.state == State.ON_TRACK
    assert "gate pending: no revealed calibration session" in result.reasons


def test_a_blocked_required_item_blocks_the_site_and_says_why():
    result = site_readiness(
        [
            item("Tooling UAT", status="blocked", reason="build lacks new reason code"),
            item(status="done"),
        ],
        PASS,
        TODAY,
    )
    assert result.state == State.BLOCKED
    assert result.reasons[0] == "1 required item blocked: Tooling UAT (build lacks new reason code)"


def test_a_blocked_optional_item_does_not_block():
    result = site_readiness(
        [item(status="blocked", required=False), item(status="done")], PASS, TODAY
    )
    assert result.state == State.READY


def test_overdue_required_items_put_the_site_at_risk_and_are_named():
    result = site_readiness(
        [
            item("Moderators trained", due_in=-1, status="in_progress"),
            item("Capacity confirmed", due_in=-3),
        ],
        PASS,
        TODAY,
    )
    assert result.state == State.AT_RISK
    assert result.reasons[0] == ("2 required items overdue: Moderators trained, Capacity confirmed")


def test_due_within_two_days_and_not_started_is_at_risk_but_started_is_not():
    not_started = site_readiness([item("Go-live approved", due_in=2)], PASS, TODAY)
    assert not_started.state == State.AT_RISK
    assert "due within 2 days and not started: Go-live approved" in not_started.reasons[0]
    started = site_readiness([item(due_in=2, status="in_progress")], PASS, TODAY)
    assert started.state == State.ON_TRACK
    later = site_readiness([item(due_in=3)], PASS, TODAY)
    assert later.state == State.ON_TRACK


def test_a_failing_gate_puts_the_site_at_risk():
    gate = Gate(GateState.FAIL, ("calibration gate failed: alpha 0.600 is below 0.667",))
    result = site_readiness([item(status="done")], gate, TODAY)
    assert result.state == State.AT_RISK
    assert result.reasons == gate.reasons


def test_override_makes_a_site_ready_and_keeps_the_reasons_visible():
    override = Override("Vendor trained via recorded session; UAT waived by Product", "Dana")
    result = site_readiness(
        [item("Tooling UAT", status="blocked")], Gate.pending(), TODAY, override
    )
    assert result.state == State.READY and result.overridden
    assert result.reasons[0].startswith("marked ready by Dana: Vendor trained")
    assert any("blocked: Tooling UAT" in reason for reason in result.reasons)


def test_summary_counts_every_state():
    counts = summarise(
        [site_readiness([], PASS, TODAY), site_readiness([item(status="blocked")], PASS, TODAY)]
    )
    assert counts == {State.BLOCKED: 1, State.AT_RISK: 0, State.ON_TRACK: 0, State.READY: 1}


def test_gate_passes_when_alpha_and_accuracy_reach_their_targets():
    gate = calibration_gate(
        alpha=0.70, alpha_lower=0.60, accuracy=0.92, alpha_threshold=0.667, accuracy_target=0.90
    )
    assert gate.state == GateState.PASS


def test_gate_on_the_lower_bound_fails_and_says_by_how_much():
    gate = calibration_gate(
        alpha=0.70,
        alpha_lower=0.60,
        accuracy=0.92,
        alpha_threshold=0.667,
        accuracy_target=0.90,
        use_lower_bound=True,
    )
    assert gate.state == GateState.FAIL
    assert gate.reasons == (
        "calibration gate failed: alpha (lower 95% bound) 0.600 is below "
        "the threshold 0.667 by 0.067",
    )


def test_gate_names_accuracy_shortfall_in_points():
    gate = calibration_gate(
        alpha=0.80, alpha_lower=0.75, accuracy=0.85, alpha_threshold=0.667, accuracy_target=0.90
    )
    assert gate.reasons == (
        "calibration gate failed: accuracy 85.0% is below the target 90% by 5.0 points",
    )


def test_gate_fails_when_a_figure_could_not_be_computed():
    gate = calibration_gate(
        alpha=None, alpha_lower=None, accuracy=None, alpha_threshold=0.667, accuracy_target=0.90
    )
    assert gate.state == GateState.FAIL and len(gate.reasons) == 2


def test_gate_with_insufficient_evidence_fails_saying_what_is_missing():
    gate = calibration_gate(
        alpha=1.0,
        alpha_lower=None,
        accuracy=1.0,
        alpha_threshold=0.667,
        accuracy_target=0.90,
        evidence="insufficient",
        evidence_missing=["Bogotá has one rater: add a second QA lead, since agreement needs two."],
    )
    assert gate.state == GateState.FAIL
    assert gate.reasons == (
        "calibration gate failed: Bogotá has one rater: add a second QA lead, since agreement "
        "needs two",
    )
