"""One reset link used by several requests at the same moment sets one password, and
invitations resent at the same moment leave one link that works.

Like ``test_calibration_concurrency`` this test commits for real, from several threads
each with its own connection, so it builds its own small world and deletes it afterwards.
"""

import re
import threading
from urllib.parse import urlsplit

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from rollcal.accounts import links
from rollcal.accounts.models import AccountLink, LinkPurpose, Role, User
from rollcal.accounts.services import authenticate
from rollcal.extensions import db
from rollcal.notifications.models import EmailMessage
from rollcal.uow import unit_of_work

WRITERS = 6
EMAIL = "race-reset@example.com"


def _token_in_outbox(user_id: int) -> str:
    body = db.session.scalar(
        sa.select(EmailMessage.text_body).where(EmailMessage.user_id == user_id)
    )
    url = re.search(r"https?://\S+/reset-password/[\w-]+", body).group(0)
    return urlsplit(url).path.rsplit("/", 1)[1]


def _remove(user_ids: list[int]) -> None:
    db.session.rollback()
    db.session.execute(sa.delete(EmailMessage).where(EmailMessage.user_id.in_(user_ids)))
    db.session.execute(sa.delete(AccountLink).where(AccountLink.user_id.in_(user_ids)))
    db.session.execute(sa.delete(User).where(User.id.in_(user_ids)))
    db.session.commit()


def test_racing_requests_with_one_reset_link_set_exactly_one_password(app):
    with app.app_context():
        user = User(
            email=EMAIL,
            name="Racer",
            role=Role.POM,
            password_hash=generate_password_hash("old-password-1", method="pbkdf2:sha256:1"),
        )
        with unit_of_work():
            db.session.add(user)
        user_id = user.id
        with unit_of_work():
            links.request_password_reset(EMAIL)
        token = _token_in_outbox(user_id)
        # An open reading transaction would hold SQLite's lock against the racers.
        db.session.close()
        try:
            barrier = threading.Barrier(WRITERS)
            outcomes: list[str] = []
            errors: list[BaseException] = []

            def use(n: int) -> None:
                with app.app_context():
                    try:
                        barrier.wait(timeout=10)
                        with unit_of_work():
                            links.choose_password(
                                token, LinkPurpose.PASSWORD_RESET, f"racing-password-{n}"
                            )
                        outcomes.append(f"racing-password-{n}")
                    except links.LinkUnusable as refused:
                        outcomes.append(refused.reason)
                    except BaseException as error:  # reported below, in the test's thread
                        errors.append(error)
                    finally:
                        db.session.remove()

            threads = [threading.Thread(target=use, args=(n,)) for n in range(WRITERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not errors, errors
            winners = [outcome for outcome in outcomes if outcome.startswith("racing-")]
            assert len(winners) == 1, outcomes
            assert sorted(set(outcomes) - set(winners)) == ["used"]
            assert authenticate(EMAIL, winners[0]).id == user_id
            assert authenticate(EMAIL, "old-password-1") is None
            stored = db.session.get(User, user_id)
            assert stored.session_generation == 1
        finally:
            _remove([user_id])


def test_invitations_resent_at_the_same_moment_leave_one_working_link(app):
    with app.app_context():
        admin = User(
            email="race-admin@example.com",
            name="Race Admin",
            role=Role.ADMIN,
            password_hash=generate_password_hash("x", method="pbkdf2:sha256:1"),
        )
        with unit_of_work():
            db.session.add(admin)
        with unit_of_work():
            invited = links.invite_user(
                admin,
                email="race-invited@example.com",
                name="Invited",
                role="pom",
                vendor_id=None,
                timezone="UTC",
            )
        ids = {"admin": admin.id, "invited": invited.id}
        db.session.close()
        try:
            barrier = threading.Barrier(WRITERS)
            errors: list[BaseException] = []

            def resend() -> None:
                with app.app_context():
                    try:
                        actor = db.session.get(User, ids["admin"])
                        person = db.session.get(User, ids["invited"])
                        db.session.commit()  # the race is between the writes
                        barrier.wait(timeout=10)
                        with unit_of_work():
                            links.resend_invitation(actor, person)
                    except BaseException as error:  # reported below, in the test's thread
                        errors.append(error)
                    finally:
                        db.session.remove()

            threads = [threading.Thread(target=resend) for _ in range(WRITERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not errors, errors
            open_links = db.session.scalar(
                sa.select(sa.func.count(AccountLink.id)).where(
                    AccountLink.user_id == ids["invited"],
                    AccountLink.revoked_at.is_(None),
                    AccountLink.used_at.is_(None),
                )
            )
            sent = db.session.scalar(
                sa.select(sa.func.count(EmailMessage.id)).where(
                    EmailMessage.user_id == ids["invited"]
                )
            )
            assert open_links == 1 and sent == WRITERS + 1
        finally:
            _remove(list(ids.values()))
