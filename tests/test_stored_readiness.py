"""Each rollout site's readiness is stored when what it depends on changes, and listings
read it: stored and freshly computed readiness stay equal after every kind of change."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from calibration import services as calibration_services
from calibration.models import Case
from rollcal.accounts.models import Role
from rollcal.types import utcnow
from rollout import jobs, queries, services
from rollout.models import ChecklistItem, Rollout, RolloutSite
from tests.calibration_factories import run_session

GOLDEN = ("violating", "authentic")


def fresh_and_stored(db, rollout_id: int) -> tuple[dict, dict]:
    """Every site's readiness as the rule computes it now, and as stored."""
    db.session.expire_all()
    rollout = db.session.get(Rollout, rollout_id)
    board = queries.build_board(None, rollout, utcnow().date())
    fresh = {
        row.site.id: (
            row.readiness.state.value,
            list(row.readiness.reasons),
            row.progress,
            utcnow().date(),
        )
        for row in board.rows
    }
    stored = {
        rs.site_id: (
            rs.readiness_state,
            rs.readiness_reasons,
            (rs.required_closed, rs.required_total),
            rs.readiness_on,
        )
        for rs in db.session.scalars(
            sa.select(RolloutSite).where(RolloutSite.rollout_id == rollout_id)
        )
    }
    return fresh, stored


def assert_stored_is_fresh(db, rollout_id: int) -> None:
    fresh, stored = fresh_and_stored(db, rollout_id)
    assert stored == fresh


@pytest.fixture
def world(rollout_world, create_user):
    world = dict(rollout_world)
    maria2 = create_user(Role.QA_LEAD, vendor=world["maria"].vendor, name="Ana Reyes")
    liam2 = create_user(Role.QA_LEAD, vendor=world["liam"].vendor, name="Niamh Kelly")
    world["raters"] = [
        (world["maria"], world["cebu"]),
        (maria2, world["cebu"]),
        (world["liam"], world["dublin"]),
        (liam2, world["dublin"]),
    ]
    return world


def _item(db, rollout_id, site, title):
    return db.session.scalar(
        sa.select(ChecklistItem).where(
            ChecklistItem.rollout_id == rollout_id,
            ChecklistItem.site_id == site.id,
            ChecklistItem.title.startswith(title),
        )
    )


def test_stored_readiness_equals_the_rule_after_every_kind_of_change(
    db, world, time_machine, client, token_for
):
    pom, rollout_id = world["pom"], world["rollout"].id
    cebu, dublin = world["cebu"], world["dublin"]
    assert_stored_is_fresh(db, rollout_id)  # made with the rollout

    item = _item(db, rollout_id, cebu, "Trainers upskilled")
    services.update_item(pom, item, version=item.version, status="blocked", reason="On leave")
    assert_stored_is_fresh(db, rollout_id)

    item = _item(db, rollout_id, dublin, "Trainers upskilled")
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}",
        json={"version": item.version, "status": "in_progress"},
        headers=token_for(world["liam"]),
    )
    assert response.status_code == 200
    assert_stored_is_fresh(db, rollout_id)

    rollout = db.session.get(Rollout, rollout_id)
    documentation = _item(db, rollout_id, cebu, "Documentation")
    services.bulk_complete(
        pom,
        rollout,
        template_item_id=documentation.template_item_id,
        site_ids=[cebu.id, dublin.id],
        evidence_note="Reviewed",
    )
    assert_stored_is_fresh(db, rollout_id)

    rollout = db.session.get(Rollout, rollout_id)
    services.move_go_live(
        pom, rollout, rollout.go_live_date - timedelta(days=25), reason="Launch brought forward"
    )
    assert_stored_is_fresh(db, rollout_id)

    rollout = db.session.get(Rollout, rollout_id)
    services.override_site(pom, rollout, dublin.id, "Trained last quarter on the same rule.")
    assert_stored_is_fresh(db, rollout_id)
    rollout = db.session.get(Rollout, rollout_id)
    services.clear_override(pom, rollout, dublin.id)
    assert_stored_is_fresh(db, rollout_id)

    session = run_session(
        pom,
        world["raters"],
        # Enough shared and golden cases for the gate's evidence rule.
        cases=30,
        golden=lambda i: GOLDEN[i % 2],
        answer=lambda rater, case: GOLDEN[case % 2] if rater < 2 else GOLDEN[0],
        until="revealed",
        title="Gate round",
        rollout_id=rollout_id,
        label_options="",
    )
    assert_stored_is_fresh(db, rollout_id)  # the gate's session revealed

    for case in db.session.scalars(sa.select(Case).where(Case.session_id == session.id)):
        calibration_services.set_golden(pom, case, golden_label=GOLDEN[0])
    calibration_services.recompute_results(pom, session)
    assert_stored_is_fresh(db, rollout_id)  # the gate's session recomputed
    db.session.commit()

    # The date: a week on, items fall overdue; the daily job catches the stored rows up.
    time_machine.move_to(utcnow() + timedelta(days=7), tick=False)
    fresh, stored = fresh_and_stored(db, rollout_id)
    assert stored != fresh
    assert jobs.refresh_readiness() == "recomputed the readiness of 1 rollout"
    assert_stored_is_fresh(db, rollout_id)
    assert jobs.refresh_readiness() == "recomputed the readiness of 0 rollouts"


def test_listings_read_the_stored_readiness_of_the_sites_a_person_sees(
    db, world, client, auth, token_for
):
    rollout = world["rollout"]
    item = _item(db, rollout.id, world["cebu"], "Trainers upskilled")
    services.update_item(world["pom"], item, version=item.version, status="blocked", reason="x")
    db.session.commit()
    [everyone] = client.get("/api/v1/rollouts", headers=token_for(world["pom"])).get_json()[
        "rollouts"
    ]
    assert everyone["sites"] == 2
    assert everyone["readiness"]["blocked"] == 1
    [meridian] = client.get("/api/v1/rollouts", headers=token_for(world["liam"])).get_json()[
        "rollouts"
    ]
    assert meridian["sites"] == 1 and meridian["readiness"]["blocked"] == 0

    # What the listing shows is what is stored, not a recount.
    db.session.execute(
        sa.update(RolloutSite).values(readiness_state="ready", required_closed=9, required_total=9)
    )
    db.session.commit()
    [stored] = client.get("/api/v1/rollouts", headers=token_for(world["pom"])).get_json()[
        "rollouts"
    ]
    assert stored["readiness"]["ready"] == 2
    auth.login(world["pom"])
    page = client.get("/rollouts").get_data(as_text=True)
    assert "18/18" in page  # 9 + 9 required items closed of 9 + 9, in the progress bar
