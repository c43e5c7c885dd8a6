"""One unit of work per request: a refused or conflicting action writes nothing, and the
database's refusals answer 409 / 422 / 404 with a message, in HTML and JSON alike."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from rollout import services
from rollout.models import ChecklistItem, Policy, Rollout, RolloutStatus


@contextmanager
def someone_else_writes_first(statement):
    """Run ``statement`` on the database just before the next flush of any session: as if
    another person's transaction committed between this request's read and its write."""
    done = []

    def before_flush(session, _context, _instances):
        if not done:
            done.append(True)
            session.connection().execute(statement)

    sa.event.listen(Session, "before_flush", before_flush)
    try:
        yield
    finally:
        sa.event.remove(Session, "before_flush", before_flush)


def bump(table, **where):
    """An UPDATE that gives the matching rows a new version, as another writer's save does."""
    condition = sa.and_(*(table.c[column] == value for column, value in where.items()))
    return sa.update(table).where(condition).values(version=table.c.version + 1)


def audit_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))


def test_moving_go_live_while_someone_else_changes_the_rollout_answers_409_and_writes_nothing(
    client, auth, rollout_world, db
):
    rollout = rollout_world["rollout"]
    go_live, events = rollout.go_live_date, audit_count(db)
    auth.login(rollout_world["pom"])
    with someone_else_writes_first(bump(Rollout.__table__, id=rollout.id)):
        response = client.post(
            f"/rollouts/{rollout.id}/go-live",
            data={
                "golive-go_live_date": (go_live + timedelta(days=7)).isoformat(),
                "golive-reason": "Vendor hiring delay",
            },
        )
    assert response.status_code == 409
    assert "Someone else changed this at the same moment" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Rollout, rollout.id).go_live_date == go_live
    assert audit_count(db) == events


def test_bulk_completion_racing_another_save_answers_409_and_completes_nothing(
    client, auth, rollout_world, db
):
    rollout = rollout_world["rollout"]
    documentation = next(i for i in rollout.items if i.title.startswith("Documentation"))
    events = audit_count(db)
    auth.login(rollout_world["pom"])
    with someone_else_writes_first(
        bump(ChecklistItem.__table__, template_item_id=documentation.template_item_id)
    ):
        response = client.post(
            f"/rollouts/{rollout.id}/bulk",
            data={
                "bulk-step": documentation.template_item_id,
                "bulk-sites": [rollout_world["cebu"].id, rollout_world["dublin"].id],
            },
        )
    assert response.status_code == 409
    db.session.expire_all()
    statuses = db.session.scalars(
        sa.select(ChecklistItem.status).where(
            ChecklistItem.template_item_id == documentation.template_item_id
        )
    ).all()
    assert {status.value for status in statuses} == {"todo"}
    assert audit_count(db) == events


def test_cancelling_a_rollout_someone_just_changed_answers_409_and_leaves_it_running(
    client, auth, rollout_world, db
):
    rollout = rollout_world["rollout"]
    auth.login(rollout_world["pom"])
    with someone_else_writes_first(bump(Rollout.__table__, id=rollout.id)):
        response = client.post(
            f"/rollouts/{rollout.id}/cancel", data={"cancel-reason": "Policy withdrawn"}
        )
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Rollout, rollout.id).status != RolloutStatus.CANCELLED


def test_requesting_sign_off_while_the_rollout_changes_answers_409_and_freezes_nothing(
    client, auth, rollout_world, db, create_user
):
    from rollout.models import SignOffRequest

    rollout, pom = rollout_world["rollout"], rollout_world["pom"]
    for site in (rollout_world["cebu"], rollout_world["dublin"]):
        services.override_site(pom, rollout, site.id, "Trained last quarter on the same rule.")
    # Still in progress, so the request moves the rollout on: a versioned UPDATE to lose.
    db.session.execute(
        sa.update(Rollout.__table__)
        .where(Rollout.__table__.c.id == rollout.id)
        .values(status=RolloutStatus.IN_PROGRESS.value)
    )
    db.session.commit()
    stakeholder = create_user(Role.STAKEHOLDER)
    auth.login(pom)
    with someone_else_writes_first(bump(Rollout.__table__, id=rollout.id)):
        response = client.post(
            f"/rollouts/{rollout.id}/signoff", data={"stakeholders": [stakeholder.id]}
        )
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(SignOffRequest.id))) == 0


def test_a_conflict_on_a_form_sent_from_a_page_goes_back_to_it_with_the_message(
    client, auth, rollout_world
):
    rollout = rollout_world["rollout"]
    board = f"http://rollcal.test/rollouts/{rollout.id}"
    auth.login(rollout_world["pom"])
    with someone_else_writes_first(bump(Rollout.__table__, id=rollout.id)):
        response = client.post(
            f"/rollouts/{rollout.id}/cancel",
            data={"cancel-reason": "Policy withdrawn"},
            headers={"Referer": board},
        )
    assert response.status_code == 303 and response.location == board
    page = client.get(board).get_data(as_text=True)
    assert "Someone else changed this at the same moment" in page


def test_a_refused_action_keeps_nothing_it_changed_before_the_refusal(
    client, auth, rollout_world, db
):
    # Cancelling needs a reason: the refusal comes after nothing, but a refused go-live
    # move comes after the date was set in memory; the board must show the stored one.
    rollout = rollout_world["rollout"]
    go_live = rollout.go_live_date
    auth.login(rollout_world["pom"])
    response = client.post(
        f"/rollouts/{rollout.id}/go-live",
        data={"golive-go_live_date": go_live.isoformat(), "golive-reason": "No change"},
        follow_redirects=True,
    )
    assert "is the current go-live date" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Rollout, rollout.id).go_live_date == go_live


def test_a_unique_rule_broken_by_a_concurrent_insert_answers_422_naming_the_field(
    client, auth, db, create_user, create_line
):
    line = create_line()
    auth.login(create_user(Role.POM))
    clash = sa.insert(Policy.__table__).values(
        code="RACE", title="Other", area="Other", line_of_business_id=line.id
    )
    with someone_else_writes_first(clash):
        response = client.post(
            "/policies/new",
            data={"code": "RACE", "title": "Race", "area": "Race", "line_of_business": line.id},
        )
    assert response.status_code == 422
    assert "Code: is already taken" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Policy.id))) == 0


def test_the_api_answers_a_conflict_found_at_flush_as_json_409_with_the_current_state(
    client, rollout_world, token_for
):
    item = next(i for i in rollout_world["rollout"].items if i.title.startswith("Trainers"))
    with someone_else_writes_first(bump(ChecklistItem.__table__, id=item.id)):
        response = client.patch(
            f"/api/v1/checklist-items/{item.id}",
            json={"version": item.version, "status": "in_progress"},
            headers=token_for(rollout_world["maria"]),
        )
    assert response.status_code == 409
    body = response.get_json()["error"]
    assert body["current"]["version"] == item.version + 1
    assert body["current"]["status"] == "todo"


def test_an_id_beyond_the_column_range_answers_404_in_html_and_json(
    client, auth, rollout_world, token_for
):
    # PostgreSQL refuses to compare an integer column with 99,999,999,999 (a DataError).
    auth.login(rollout_world["pom"])
    assert client.get("/rollouts/99999999999").status_code == 404
    response = client.get("/api/v1/rollouts/99999999999", headers=token_for(rollout_world["pom"]))
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404
