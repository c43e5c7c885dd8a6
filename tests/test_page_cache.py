"""Main pages are served again without being drawn while nothing has been written, and
never once anything has: whoever wrote, through whichever path, and never to anyone but
the person and request they were drawn for."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from calibration import services as calibration_services
from calibration.models import CalibrationSession
from rollcal.accounts import services as account_services
from rollcal.accounts.models import ApiToken, Role
from rollcal.extensions import db as _db
from rollcal.pagecache import PageCache, _Answer, current_token
from rollcal.types import utcnow
from rollcal.uow import unit_of_work
from rollout import services
from rollout.models import ChecklistItem, ItemStatus
from tests.calibration_factories import run_session, split_answers
from tests.conftest import DATABASE
from tests.test_statement_counts import _statements

# Signing the person in and reading the token: what a page served again costs.
SERVED_AGAIN = 2


def _item(world, site_key: str, title_start: str) -> ChecklistItem:
    return next(
        i
        for i in world["rollout"].items
        if i.site_id == world[site_key].id and i.title.startswith(title_start)
    )


def test_a_page_read_again_with_nothing_written_is_served_without_being_drawn(
    client, auth, rollout_world
):
    auth.login(rollout_world["pom"])
    board = f"/rollouts/{rollout_world['rollout'].id}"
    client.get(board)  # the first answer of a session also stores its CSRF secret
    first = client.get(board)
    with _statements() as statements:
        again = client.get(board)
    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    assert len(statements) == SERVED_AGAIN, statements


def test_a_write_by_someone_else_shows_on_the_next_read(client, auth, rollout_world, db):
    world = rollout_world
    board = f"/rollouts/{world['rollout'].id}"
    auth.login(world["pom"])
    assert "N/A requested" not in client.get(board).get_data(as_text=True)
    item = _item(world, "cebu", "Moderators trained")
    auth.login(world["maria"])
    answer = client.post(
        f"/items/{item.id}",
        data={"version": item.version, "status": "not_applicable", "reason": "Trained already"},
    )
    assert answer.status_code == 302
    auth.login(world["pom"])
    assert "N/A requested" in client.get(board).get_data(as_text=True)


def test_a_write_by_a_job_or_command_shows_on_the_next_read(client, auth, rollout_world, db):
    world = rollout_world
    auth.login(world["maria"])
    before = client.get("/my-items").get_data(as_text=True)
    item = _item(world, "cebu", "Moderators trained")
    assert item.title in before
    with unit_of_work():
        services.update_item(
            world["pom"],
            _db.session.get(ChecklistItem, item.id),
            status=ItemStatus.DONE.value,
            version=item.version,
            evidence_url="https://drive.example.com/roster.xlsx",
        )
    assert item.title not in client.get("/my-items").get_data(as_text=True)


def test_a_refused_write_keeps_the_token_and_a_committed_one_renews_it(
    client, auth, rollout_world, db
):
    world = rollout_world
    item = _item(world, "cebu", "Moderators trained")
    db.session.commit()
    auth.login(world["maria"])
    before = current_token()
    refused = client.post(f"/items/{item.id}", data={"version": item.version, "status": "done"})
    assert "needs evidence" in refused.get_data(as_text=True)
    _db.session.expire_all()
    assert current_token() == before
    client.post(f"/items/{item.id}/comments", data={"comment-body": "Roster on its way"})
    _db.session.expire_all()
    assert current_token() != before


def test_a_page_drawn_for_one_person_is_never_served_to_another(client, auth, rollout_world):
    world = rollout_world
    auth.login(world["maria"])
    maria_page = client.get("/my-items").get_data(as_text=True)
    auth.login(world["liam"])
    liam_page = client.get("/my-items").get_data(as_text=True)
    assert "Cebu" in maria_page and "Dublin" not in maria_page
    assert "Dublin" in liam_page and "Cebu" not in liam_page


def test_an_api_answer_is_kept_per_token_and_a_revoked_token_is_refused(
    client, rollout_world, db, token_for
):
    pom = rollout_world["pom"]
    headers = token_for(pom)
    db.session.commit()
    assert client.get("/api/v1/rollouts", headers=headers).status_code == 200
    row = db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == pom.id)).one()
    account_services.revoke_token(pom, row.id)
    db.session.commit()
    assert client.get("/api/v1/rollouts", headers=headers).status_code == 401


def test_a_message_waiting_is_shown_once_and_never_kept_in_a_page(client, auth, rollout_world):
    world = rollout_world
    auth.login(world["pom"])
    rollouts = client.get("/rollouts").get_data(as_text=True)
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Saved the rollout.")]
    shown = client.get("/rollouts").get_data(as_text=True)
    assert "Saved the rollout." in shown and "Saved the rollout." not in rollouts
    assert "Saved the rollout." not in client.get("/rollouts").get_data(as_text=True)


def test_what_a_page_says_of_the_time_is_never_more_than_a_minute_old(client, auth, rollout_world):
    auth.login(rollout_world["pom"])
    start = utcnow().replace(second=5, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False):
        client.get("/rollouts")
        client.get("/rollouts")
        with _statements() as same_minute:
            client.get("/rollouts")
    with (
        time_machine.travel(start + timedelta(minutes=1), tick=False),
        _statements() as next_minute,
    ):
        client.get("/rollouts")
    assert len(same_minute) == SERVED_AGAIN
    assert len(next_minute) > SERVED_AGAIN


def test_an_htmx_fragment_and_the_page_are_kept_apart(client, auth, rollout_world):
    auth.login(rollout_world["pom"])
    page = client.get("/rollouts").get_data()
    fragment = client.get("/rollouts", headers={"HX-Request": "true"}).get_data()
    assert client.get("/rollouts").get_data() == page
    assert client.get("/rollouts", headers={"HX-Request": "true"}).get_data() == fragment


def test_the_cache_keeps_within_its_budget_dropping_the_least_recently_used():
    cache = PageCache(budget=4000)
    answer = _Answer(200, (), b"x" * 1000)
    for key in (b"a", b"b", b"c", b"d"):
        cache.put(key, answer)
    cache.get(b"a")
    cache.put(b"e", answer)
    assert cache.get(b"b") is None
    assert all(cache.get(key) is not None for key in (b"a", b"c", b"d", b"e"))
    cache.put(b"big", _Answer(200, (), b"x" * 1001))
    assert cache.get(b"big") is None


def test_a_budget_of_nothing_draws_every_page(client, auth, rollout_world, app, monkeypatch):
    monkeypatch.setattr(app.extensions["rollcal.pagecache"], "budget", 0)
    auth.login(rollout_world["pom"])
    client.get("/rollouts")
    client.get("/rollouts")
    with _statements() as statements:
        client.get("/rollouts")
    assert len(statements) > SERVED_AGAIN


@pytest.mark.skipif(DATABASE != "postgresql", reason="row locks are PostgreSQL's")
def test_writers_committing_at_the_same_instant_all_commit_and_renew_the_token(app):
    """Every writer renews the one token as its last statement: they queue on it for the
    moment of commit, and none is refused or lost."""
    with app.app_context():
        before = _db.session.execute(sa.text("SELECT token FROM data_generation")).scalar_one()
        _db.session.remove()
    writers = 4
    barrier = threading.Barrier(writers)
    problems: list[BaseException] = []
    names = [f"Instant {n}" for n in range(writers)]

    def write(name: str) -> None:
        try:
            with app.app_context():
                with unit_of_work():
                    _db.session.execute(
                        sa.text(
                            "INSERT INTO lines_of_business (name, active) VALUES (:name, true)"
                        ),
                        {"name": name},
                    )
                    barrier.wait(timeout=30)
                _db.session.remove()
        except BaseException as error:  # reported in the test's thread
            problems.append(error)

    threads = [threading.Thread(target=write, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not problems, problems
        with app.app_context():
            stored = _db.session.execute(
                sa.text("SELECT count(*) FROM lines_of_business WHERE name LIKE 'Instant %'")
            ).scalar_one()
            after = _db.session.execute(sa.text("SELECT token FROM data_generation")).scalar_one()
            _db.session.remove()
        assert stored == writers
        assert after != before
    finally:
        with app.app_context():
            with unit_of_work():
                _db.session.execute(
                    sa.text("DELETE FROM lines_of_business WHERE name LIKE 'Instant %'")
                )
            _db.session.remove()


def test_a_rater_sees_results_only_once_revealed_and_straight_after(
    client, auth, db, create_user, create_site, create_vendor
):
    pom = create_user(Role.POM)
    vendor = create_vendor("Meridian CX")
    site = create_site(vendor)
    leads = [create_user(Role.QA_LEAD, vendor=vendor) for _ in range(2)]
    session = run_session(
        pom, [(lead, site) for lead in leads], cases=4, answer=split_answers, until="closed"
    )
    db.session.commit()
    auth.login(leads[0])
    results = f"/calibration/sessions/{session.id}/results"
    session_page = f"/calibration/sessions/{session.id}"
    for _ in range(2):
        assert client.get(results).status_code == 409  # not revealed yet
        page = client.get(session_page).get_data(as_text=True)
        assert "You will see your results when the session is revealed" in page
    calibration_services.reveal_session(pom, _db.session.get(CalibrationSession, session.id))
    db.session.commit()
    assert "See your results against golden" in client.get(session_page).get_data(as_text=True)
    assert client.get(results).status_code == 200
