"""A rollout site's calibration gate reads the rollout's latest revealed session."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from calibration import services
from rollcal.accounts.models import Role
from rollcal.extensions import db as _db
from rollout import services as rollout_services
from rollout.gate import site_gates
from rollout.models import Rollout
from rollout.readiness import GateState
from tests.calibration_factories import run_session

GOLDEN = ("violating", "authentic")


@pytest.fixture
def gate_world(rollout_world, create_user):
    """The rollout world with a second QA lead at each site."""
    world = dict(rollout_world)
    world["maria2"] = create_user(Role.QA_LEAD, vendor=world["maria"].vendor, name="Ana Reyes")
    world["liam2"] = create_user(Role.QA_LEAD, vendor=world["liam"].vendor, name="Niamh Kelly")
    world["raters"] = [
        (world["maria"], world["cebu"]),
        (world["maria2"], world["cebu"]),
        (world["liam"], world["dublin"]),
        (world["liam2"], world["dublin"]),
    ]
    return world


def _cebu_right_dublin_split(rater: int, case: int) -> str:
    if rater < 2:
        return GOLDEN[case % 2]
    return GOLDEN[(case * (rater + 1) // 2) % 2]


def _calibrate(world, title="Gate round", until="revealed", answer=_cebu_right_dublin_split, **kw):
    return run_session(
        world["pom"],
        kw.pop("raters", world["raters"]),
        cases=kw.pop("cases", 30),
        golden=lambda i: GOLDEN[i % 2],
        answer=answer,
        until=until,
        title=title,
        rollout_id=world["rollout"].id,
        label_options="",
        **kw,
    )


def _gates(world):
    rollout = world["rollout"]
    gates = site_gates([rollout])
    return gates[(rollout.id, world["cebu"].id)], gates[(rollout.id, world["dublin"].id)]


def test_every_site_is_pending_until_a_linked_session_is_revealed(db, gate_world):
    assert all(g.state == GateState.PENDING for g in _gates(gate_world))
    session = _calibrate(gate_world, until="closed")
    assert all(g.state == GateState.PENDING for g in _gates(gate_world))
    services.reveal_session(gate_world["pom"], session)
    assert any(g.state != GateState.PENDING for g in _gates(gate_world))


def test_a_site_passes_or_fails_on_its_own_raters_figures(db, gate_world):
    _calibrate(gate_world)
    cebu, dublin = _gates(gate_world)
    assert cebu.state == GateState.PASS
    assert dublin.state == GateState.FAIL
    assert dublin.reasons == (
        "calibration gate failed: alpha -0.311 is below the threshold 0.667 by 0.978",
        "calibration gate failed: accuracy 51.7% is below the target 90% by 38.3 points",
    )


def test_a_site_without_raters_in_the_session_stays_pending(db, gate_world):
    _calibrate(gate_world, raters=gate_world["raters"][:2])
    cebu, dublin = _gates(gate_world)
    assert cebu.state == GateState.PASS
    assert dublin.state == GateState.PENDING
    assert dublin.reasons == ("gate pending: no rater of this site took part in “Gate round”",)


def test_the_latest_revealed_session_decides(db, gate_world):
    _calibrate(gate_world, title="Round 1")
    assert _gates(gate_world)[1].state == GateState.FAIL
    _calibrate(gate_world, title="Round 2", answer=lambda rater, case: GOLDEN[case % 2])
    assert [g.state for g in _gates(gate_world)] == [GateState.PASS, GateState.PASS]
    _calibrate(gate_world, title="Round 3 (still open)", until="open")
    assert [g.state for g in _gates(gate_world)] == [GateState.PASS, GateState.PASS]


def test_the_gate_uses_the_rollouts_thresholds(db, gate_world):
    _calibrate(gate_world)
    rollout = gate_world["rollout"]
    rollout.accuracy_target = 0.2
    rollout.alpha_threshold = -1.0
    _db.session.commit()
    assert _gates(gate_world)[1].state == GateState.PASS


def test_gates_of_many_rollouts_take_one_statement(db, gate_world):
    _calibrate(gate_world)
    world = gate_world
    for _ in range(3):
        rollout_services.create_rollout(
            world["pom"],
            policy_version_id=world["version"].id,
            template_id=1,
            site_ids=[world["cebu"].id, world["dublin"].id],
            go_live_date=date.today() + timedelta(days=40),
        )
    rollouts = _db.session.scalars(
        sa.select(Rollout).options(selectinload(Rollout.rollout_sites))
    ).all()
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", count)
    try:
        gates = site_gates(rollouts[:1])
        one = len(statements)
        gates = site_gates(rollouts)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", count)
    assert one == 1 and len(statements) == 2
    assert len(gates) == 2 * len(rollouts)


def test_a_one_rater_site_fails_the_gate_saying_a_second_qa_lead_is_needed(db, gate_world):
    raters = gate_world["raters"]
    _calibrate(gate_world, raters=raters[:3], answer=lambda rater, case: GOLDEN[case % 2])
    cebu, dublin = _gates(gate_world)
    assert cebu.state == GateState.PASS
    assert dublin.state == GateState.FAIL
    assert dublin.reasons == (
        "calibration gate failed: Harbor Review · Dublin has one rater: add a second QA lead, "
        "since agreement needs two",
    )


def test_an_eight_case_site_in_perfect_agreement_fails_for_want_of_cases(db, gate_world):
    rollout = gate_world["rollout"]
    rollout.gate_uses_lower_bound = True
    _db.session.commit()
    _calibrate(gate_world, cases=8, answer=lambda rater, case: GOLDEN[case % 2])
    cebu, _ = _gates(gate_world)
    assert cebu.state == GateState.FAIL
    assert cebu.reasons[0] == (
        "calibration gate failed: Meridian CX · Cebu has 8 cases labelled by two of its "
        "raters: label 22 more shared cases (at least 30)"
    )


def test_raters_page_and_opening_warn_about_rollout_sites_with_fewer_than_two_raters(
    client, auth, db, gate_world
):
    world = gate_world
    session = _calibrate(world, raters=world["raters"][:3], until="draft")
    auth.login(world["pom"])

    page = client.get(f"/calibration/sessions/{session.id}/raters").get_data(as_text=True)
    assert "Harbor Review · Dublin has one rater: add a second QA lead" in page
    assert "Meridian CX · Cebu has" not in page

    opened = client.post(f"/calibration/sessions/{session.id}/open", follow_redirects=True)
    assert "is open for labelling" in opened.get_data(as_text=True)
    assert "Harbor Review · Dublin has one rater" in opened.get_data(as_text=True)


def test_an_archived_session_keeps_counting_for_the_gate(db, gate_world):
    session = _calibrate(gate_world)
    before = _gates(gate_world)
    services.archive_session(gate_world["pom"], session)
    db.session.commit()
    assert _gates(gate_world) == before
    assert before[0].state == GateState.PASS
