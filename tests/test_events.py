"""Domains tell each other through signals and providers: a revealed session moves the
rollouts it gates, one subscriber keeps rollout status, calibration reads no rollout table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from calibration import services as calibration_services
from calibration.models import Case
from rollcal.accounts.models import Role
from rollcal.errors import ValidationError
from rollcal.events import NoSubjects, checklist_changed
from rollout import services
from rollout.models import ItemStatus, Rollout, RolloutStatus
from tests.calibration_factories import run_session

GOLDEN = ("violating", "authentic")


@pytest.fixture
def gated(rollout_world, create_user):
    """The rollout world with two raters per site and every step but the gate done."""
    world = dict(rollout_world)
    maria2 = create_user(Role.QA_LEAD, vendor=world["maria"].vendor, name="Ana Reyes")
    liam2 = create_user(Role.QA_LEAD, vendor=world["liam"].vendor, name="Niamh Kelly")
    world["raters"] = [
        (world["maria"], world["cebu"]),
        (maria2, world["cebu"]),
        (world["liam"], world["dublin"]),
        (liam2, world["dublin"]),
    ]
    for item in world["rollout"].items:
        if not item.gate:
            services.update_item(
                world["pom"], item, version=item.version, status="done", evidence_note="Seen."
            )
    return world


def _reveal_a_session_everyone_gets_right(world, until="revealed"):
    return run_session(
        world["pom"],
        world["raters"],
        # Enough shared and golden cases for the gate's evidence rule.
        cases=30,
        golden=lambda i: GOLDEN[i % 2],
        answer=lambda rater, case: GOLDEN[case % 2],
        until=until,
        title="Gate round",
        rollout_id=world["rollout"].id,
        label_options="",
    )


def test_revealing_a_passing_session_moves_a_finished_rollout_to_awaiting_signoff(db, gated):
    rollout = gated["rollout"]
    assert rollout.status == RolloutStatus.IN_PROGRESS  # every step done, the gate pending
    _reveal_a_session_everyone_gets_right(gated)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Rollout, rollout.id).status == RolloutStatus.AWAITING_SIGNOFF


def test_closing_without_revealing_leaves_the_rollout_where_it_was(db, gated):
    _reveal_a_session_everyone_gets_right(gated, until="closed")
    assert gated["rollout"].status == RolloutStatus.IN_PROGRESS


def test_recomputing_results_after_a_golden_change_moves_the_rollout_back(db, gated):
    session = _reveal_a_session_everyone_gets_right(gated)
    rollout = gated["rollout"]
    assert rollout.status == RolloutStatus.AWAITING_SIGNOFF
    for case in db.session.scalars(sa.select(Case).where(Case.session_id == session.id)):
        flipped = GOLDEN[1 - GOLDEN.index(case.golden_label)]
        calibration_services.set_golden(gated["pom"], case, golden_label=flipped)
    calibration_services.recompute_results(gated["pom"], session)
    assert rollout.status == RolloutStatus.IN_PROGRESS


def test_a_checklist_change_moves_the_status_through_the_one_subscriber(db, rollout_world):
    rollout, pom = rollout_world["rollout"], rollout_world["pom"]
    heard = []

    def listener(sender, **_):
        heard.append(sender)

    checklist_changed.connect(listener)
    try:
        for site in (rollout_world["cebu"], rollout_world["dublin"]):
            services.override_site(pom, rollout, site.id, "Trained last quarter on this rule.")
    finally:
        checklist_changed.disconnect(listener)
    assert heard == [rollout, rollout]
    assert rollout.status == RolloutStatus.AWAITING_SIGNOFF


def test_an_item_started_moves_a_planned_rollout_in_progress(db, rollout_world):
    rollout = rollout_world["rollout"]
    item = next(i for i in rollout.items if not i.gate)
    assert rollout.status == RolloutStatus.PLANNING
    services.update_item(rollout_world["pom"], item, version=item.version, status="in_progress")
    assert item.status == ItemStatus.IN_PROGRESS
    assert rollout.status == RolloutStatus.IN_PROGRESS


def test_calibration_reads_no_table_of_rollout():
    package = Path(__file__).resolve().parent.parent / "calibration"
    for source in package.glob("*.py"):
        text = source.read_text()
        assert "sa.table(" not in text, source.name
        assert not re.search(r"^\s*(from|import) rollout\b", text, re.M), source.name


def test_calibration_without_rollout_links_sessions_to_nothing(app, db, create_user, monkeypatch):
    monkeypatch.setitem(app.extensions, "rollcal.calibration_subjects", NoSubjects())
    pom = create_user(Role.POM)
    session = calibration_services.create_session(pom, title="Alone", label_options="a\nb")
    assert session.option_keys == ["a", "b"]
    with pytest.raises(ValidationError, match="choose a policy version"):
        calibration_services.create_session(pom, title="Linked", policy_version_id=1)
