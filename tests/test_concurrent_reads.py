"""Reads run beside a writer: on SQLite (WAL) a read takes no write lock, and writers
racing readers still get no "database is locked".

Like the other concurrency tests this one commits for real, from threads each with its
own connection, so it builds its own small world and deletes it afterwards.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from rollcal.accounts import services
from rollcal.accounts.models import ApiToken, Role, User
from rollcal.extensions import db
from rollcal.types import utcnow
from rollcal.uow import unit_of_work

READERS = 6


@pytest.fixture
def reader(app):
    """A person with an API token, committed; removed afterwards."""
    with app.app_context():
        with unit_of_work():
            person = User(
                email="reads-beside@example.com",
                name="Before",
                role=Role.POM,
                password_hash=generate_password_hash("x", method="pbkdf2:sha256:1"),
            )
            db.session.add(person)
            row, token = services.create_token(person, "reads")
            # Used just now, so reading records no use and stays a read.
            row.last_used_at = utcnow()
        person_id = person.id
        db.session.remove()
    yield {"id": person_id, "headers": {"Authorization": f"Bearer {token}"}}
    with app.app_context():
        with unit_of_work():
            db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == person_id))
            db.session.execute(sa.delete(User).where(User.id == person_id))
        db.session.remove()


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def test_requests_read_while_a_writer_holds_its_transaction_open(app, reader):
    client = app.test_client()
    writing, all_read = threading.Event(), threading.Event()
    answers: list = []
    problems: list[BaseException] = []

    def write() -> None:
        try:
            with app.app_context():
                with unit_of_work():
                    person = db.session.get(User, reader["id"])
                    person.name = "After"
                    db.session.flush()  # the writer now holds SQLite's write lock
                    writing.set()
                    # The readers finish while this transaction is still open.
                    answers.append(("readers finished first", all_read.wait(timeout=30)))
                db.session.remove()
        except BaseException as error:  # reported below, in the test's thread
            problems.append(error)
            writing.set()

    def read(barrier: threading.Barrier) -> None:
        try:
            writing.wait(timeout=30)
            barrier.wait(timeout=30)
            response = client.get("/api/v1/me", headers=reader["headers"])
            answers.append((response.status_code, response.get_json()["name"]))
        except BaseException as error:
            problems.append(error)

    barrier = threading.Barrier(READERS, action=None)
    readers = [threading.Thread(target=read, args=(barrier,)) for _ in range(READERS)]
    writer = threading.Thread(target=write)
    writer.start()
    _run(readers)
    all_read.set()
    writer.join(timeout=60)

    assert not problems, problems
    assert ("readers finished first", True) in answers
    # Each reader saw the last committed state, not the writer's change in progress.
    assert sorted(a for a in answers if a[0] == 200) == [(200, "Before")] * READERS
    with app.app_context():
        assert db.session.get(User, reader["id"]).name == "After"
        db.session.remove()


def test_writers_and_readers_starting_at_once_all_succeed(app, reader):
    client = app.test_client()
    barrier = threading.Barrier(2 * READERS)
    statuses: list[int] = []
    problems: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                person = db.session.get(User, reader["id"])
                db.session.rollback()  # the race is between the writes, not this look-up
                barrier.wait(timeout=30)
                with unit_of_work():
                    services.create_token(db.session.merge(person), f"writer {n}")
                db.session.remove()
        except BaseException as error:
            problems.append(error)

    def read() -> None:
        try:
            barrier.wait(timeout=30)
            statuses.append(client.get("/api/v1/me", headers=reader["headers"]).status_code)
        except BaseException as error:
            problems.append(error)

    _run(
        [threading.Thread(target=write, args=(n,)) for n in range(READERS)]
        + [threading.Thread(target=read) for _ in range(READERS)]
    )

    assert not problems, problems
    assert statuses == [200] * READERS
    with app.app_context():
        tokens = db.session.scalar(
            sa.select(sa.func.count(ApiToken.id)).where(ApiToken.user_id == reader["id"])
        )
        db.session.remove()
    assert tokens == 1 + READERS
