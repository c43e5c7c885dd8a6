"""A vendor cannot waive its own required step: not applicable from a QA lead is a request
that a POM approves or refuses, and until approved readiness counts the step as not done."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from rollcal.accounts.models import Role
from rollcal.errors import Conflict, Forbidden
from rollcal.types import utcnow
from rollcal.uow import unit_of_work
from rollout import queries, services
from rollout.models import ChecklistItem, ItemStatus, Rollout
from rollout.readiness import NA_REQUESTED, Gate, GateState, Item, State, site_readiness
from tests.test_stored_readiness import assert_stored_is_fresh

STEP = "Trainers upskilled"
AWAITING = f"Awaiting POM approval: {STEP} marked not applicable by the vendor"


def _item(db, world, title=STEP, site="cebu") -> ChecklistItem:
    return db.session.scalar(
        sa.select(ChecklistItem).where(
            ChecklistItem.rollout_id == world["rollout"].id,
            ChecklistItem.site_id == world[site].id,
            ChecklistItem.title.startswith(title),
        )
    )


def _request(db, world) -> ChecklistItem:
    item = _item(db, world)
    services.update_item(
        world["maria"],
        item,
        version=item.version,
        status="not_applicable",
        reason="Cebu trainers were upskilled for the previous version",
    )
    return item


def _readiness(db, world, site="cebu"):
    db.session.expire_all()
    board = queries.build_board(None, db.session.get(Rollout, world["rollout"].id), date.today())
    return next(row for row in board.rows if row.site.id == world[site].id)


def test_a_pending_request_keeps_an_otherwise_ready_site_from_being_ready():
    today = date(2026, 11, 21)
    items = [
        Item("Documentation QA'd", "done", today + timedelta(days=5)),
        Item(STEP, NA_REQUESTED, today + timedelta(days=5)),
    ]
    result = site_readiness(items, Gate(GateState.PASS), today)
    assert result.state == State.ON_TRACK
    assert AWAITING in result.reasons
    assert result.headline == "On track · 1 awaiting approval"


def test_vendor_not_applicable_on_a_required_step_is_pending_and_not_satisfied(db, rollout_world):
    item = _request(db, rollout_world)
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.TODO and item.na_requested
    assert item.na_requested_by.id == rollout_world["maria"].id
    row = _readiness(db, rollout_world)
    assert AWAITING in row.readiness.reasons
    closed, _ = row.progress
    assert closed == 0
    assert_stored_is_fresh(db, rollout_world["rollout"].id)


def test_pom_approval_makes_the_step_satisfied(db, rollout_world):
    item = _request(db, rollout_world)
    services.decide_not_applicable(rollout_world["pom"], item, version=item.version, approve=True)
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.NOT_APPLICABLE and not item.na_requested
    assert item.status_reason == "Cebu trainers were upskilled for the previous version"
    row = _readiness(db, rollout_world)
    assert AWAITING not in row.readiness.reasons
    assert row.progress[0] == 1
    assert_stored_is_fresh(db, rollout_world["rollout"].id)


def test_refusal_returns_the_step_to_open_with_the_reason_in_its_history(
    client, auth, db, rollout_world
):
    item = _request(db, rollout_world)
    services.update_item(
        rollout_world["maria"], item, version=item.version, evidence_note="Attendance sheet"
    )
    auth.login(rollout_world["pom"])
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "Approve: not applicable" in page and "Refuse: the step applies" in page
    response = client.post(
        f"/items/{item.id}/not-applicable",
        data={
            "na-version": item.version,
            "na-reason": "The new policy changes the counterfeit rule; retrain",
            "na-refuse": "Refuse",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.TODO and not item.na_requested
    assert item.evidence_note == "Attendance sheet"
    assert AWAITING not in _readiness(db, rollout_world).readiness.reasons
    assert_stored_is_fresh(db, rollout_world["rollout"].id)
    auth.login(rollout_world["maria"])
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "The new policy changes the counterfeit rule; retrain" in page
    assert "Approve: not applicable" not in page


def test_a_refusal_needs_a_reason_and_writes_nothing_without_one(client, auth, db, rollout_world):
    item = _request(db, rollout_world)
    auth.login(rollout_world["pom"])
    response = client.post(
        f"/items/{item.id}/not-applicable",
        data={"na-version": item.version, "na-reason": " ", "na-refuse": "Refuse"},
        follow_redirects=True,
    )
    assert "Say why the step still applies" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ChecklistItem, item.id).na_requested


def test_a_qa_lead_cannot_approve_a_request(client, auth, db, rollout_world):
    item = _request(db, rollout_world)
    with pytest.raises(Forbidden):
        services.decide_not_applicable(
            rollout_world["maria"], item, version=item.version, approve=True
        )
    auth.login(rollout_world["maria"])
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "Approve: not applicable" not in page
    response = client.post(
        f"/items/{item.id}/not-applicable",
        data={"na-version": item.version, "na-approve": "Approve"},
    )
    assert response.status_code == 403
    assert client.get("/not-applicable-requests").status_code == 403
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.TODO and item.na_requested


def test_approve_and_refuse_of_the_same_version_give_one_decision_and_a_conflict(
    db, rollout_world, create_user
):
    item = _request(db, rollout_world)
    seen = item.version
    other_pom = create_user(Role.POM, name="Sam Okafor")
    services.decide_not_applicable(rollout_world["pom"], item, version=seen, approve=True)
    with pytest.raises(Conflict):
        services.decide_not_applicable(
            other_pom, item, version=seen, approve=False, reason="It still applies"
        )
    db.session.expire_all()
    assert db.session.get(ChecklistItem, item.id).status == ItemStatus.NOT_APPLICABLE


def test_a_decision_racing_another_behind_the_orm_is_a_conflict_not_both(db, rollout_world):
    item = _request(db, rollout_world)
    db.session.commit()
    seen = item.version
    # Another POM refuses and commits between our read and our approval...
    db.session.execute(
        sa.update(ChecklistItem.__table__)
        .where(ChecklistItem.__table__.c.id == item.id)
        .values(version=seen + 1, na_requested_at=None, na_request_reason=None)
    )
    db.session.commit()
    # ...while our copy of the row is still the one we read.
    set_committed_value(item, "version", seen)
    set_committed_value(item, "na_requested_at", utcnow())
    set_committed_value(item, "na_request_reason", "Upskilled already")
    with pytest.raises(Conflict), unit_of_work():
        services.decide_not_applicable(rollout_world["pom"], item, version=seen, approve=True)
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.TODO and not item.na_requested


def test_pom_marks_a_required_step_not_applicable_directly(db, rollout_world):
    item = _item(db, rollout_world)
    services.update_item(
        rollout_world["pom"],
        item,
        version=item.version,
        status="not_applicable",
        reason="Covered by the vendor's own rule",
    )
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.NOT_APPLICABLE and not item.na_requested


def test_vendor_marks_an_optional_step_not_applicable_directly(db, rollout_world):
    item = _item(db, rollout_world)
    item.required = False
    db.session.flush()
    services.update_item(
        rollout_world["maria"], item, version=item.version, status="not_applicable", reason="n/a"
    )
    db.session.expire_all()
    assert db.session.get(ChecklistItem, item.id).status == ItemStatus.NOT_APPLICABLE


def test_vendor_choosing_another_status_withdraws_its_request(db, rollout_world):
    item = _request(db, rollout_world)
    services.update_item(rollout_world["maria"], item, version=item.version, status="in_progress")
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.IN_PROGRESS and not item.na_requested
    assert_stored_is_fresh(db, rollout_world["rollout"].id)


def test_the_board_and_the_pending_list_show_the_request_to_the_pom(
    client, auth, db, rollout_world
):
    item = _request(db, rollout_world)
    db.session.commit()
    auth.login(rollout_world["pom"])
    rollout_id = rollout_world["rollout"].id
    board = client.get(f"/rollouts/{rollout_id}").get_data(as_text=True)
    assert "N/A requested" in board and "1 step awaiting your approval" in board
    assert "na_requested" in client.get(f"/rollouts/{rollout_id}/board.csv").get_data(as_text=True)
    listing = client.get(f"/not-applicable-requests?rollout={rollout_id}")
    text = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert f"/items/{item.id}" in text and "Cebu trainers were upskilled" in text
    services.decide_not_applicable(rollout_world["pom"], item, version=item.version, approve=True)
    db.session.commit()
    text = client.get("/not-applicable-requests").get_data(as_text=True)
    assert "No request is waiting for an answer." in text


def test_the_api_says_a_vendor_not_applicable_is_a_pending_request(
    client, db, rollout_world, token_for
):
    item = _item(db, rollout_world)
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}",
        json={"version": item.version, "status": "not_applicable", "reason": "Done last year"},
        headers=token_for(rollout_world["maria"]),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "todo" and body["not_applicable_requested"] is True


def test_the_readiness_report_lists_the_step_as_awaiting_approval(db, rollout_world):
    from rollout.report import readiness_source

    _request(db, rollout_world)
    rollout = db.session.get(Rollout, rollout_world["rollout"].id)
    html = readiness_source(rollout, None, date.today()).html
    assert "Marked not applicable by the vendor, awaiting POM approval" in html
