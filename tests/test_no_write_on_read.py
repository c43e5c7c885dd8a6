"""A read never commits; an API token's use is recorded once a minute at most, after the
answer is sent."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rollcal.accounts.models import ApiToken
from rollcal.types import utcnow


@contextmanager
def counting_commits():
    """How many sessions committed inside the block."""
    commits = []

    def after_commit(session):
        commits.append(session)

    sa.event.listen(Session, "after_commit", after_commit)
    try:
        yield commits
    finally:
        sa.event.remove(Session, "after_commit", after_commit)


def test_reading_pages_and_the_api_commits_nothing(client, auth, rollout_world, token_for):
    pom, rollout = rollout_world["pom"], rollout_world["rollout"]
    headers = token_for(pom)
    auth.login(pom)
    pages = [
        "/",
        "/rollouts",
        f"/rollouts/{rollout.id}",
        f"/rollouts/{rollout.id}/activity",
        "/my-items",
        "/calibration/sessions",
        "/notifications",
    ]
    api = ["/api/v1/me", "/api/v1/rollouts", f"/api/v1/rollouts/{rollout.id}", "/api/v1/sessions"]
    with counting_commits() as commits:
        for path in pages:
            assert client.get(path).status_code == 200, path
        for path in api:
            assert client.get(path, headers=headers).status_code == 200, path
    assert commits == []


def test_a_write_request_still_commits(client, auth, rollout_world):
    rollout = rollout_world["rollout"]
    auth.login(rollout_world["pom"])
    with counting_commits() as commits:
        client.post(f"/rollouts/{rollout.id}/cancel", data={"cancel-reason": "Withdrawn"})
    assert len(commits) == 1


def _last_used(db, token_id: int):
    db.session.expire_all()
    return db.session.get(ApiToken, token_id).last_used_at


def test_token_use_is_recorded_after_the_answer_once_a_minute_at_most(
    client, db, rollout_world, token_for, time_machine
):
    time_machine.move_to(utcnow(), tick=False)
    headers = token_for(rollout_world["pom"])
    token_id = db.session.scalar(sa.select(ApiToken.id).order_by(ApiToken.id.desc()))

    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert _last_used(db, token_id) is None  # not while the answer is on its way
    response.close()  # the server has sent it
    first = _last_used(db, token_id)
    assert first == utcnow()

    time_machine.move_to(utcnow() + timedelta(seconds=30), tick=False)
    with counting_commits() as commits:
        client.get("/api/v1/me", headers=headers).close()
    assert commits == [] and _last_used(db, token_id) == first

    time_machine.move_to(utcnow() + timedelta(seconds=31), tick=False)
    client.get("/api/v1/rollouts", headers=headers).close()
    assert _last_used(db, token_id) == utcnow()
