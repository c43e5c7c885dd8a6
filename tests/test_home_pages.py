"""Each person's home page says what needs their attention, links to the page behind it,
shows nothing of another vendor, and costs the same whatever the history."""

from datetime import timedelta

import pytest

from calibration import services as calibration_services
from rollcal.accounts.models import Role
from rollcal.extensions import db as _db
from rollcal.jobs.models import JobRun, RunOutcome
from rollcal.notifications.models import EmailMessage, EmailStatus
from rollcal.types import utcnow
from rollout import services
from tests.calibration_factories import run_session
from tests.test_reports import make_ready, request_and_freeze
from tests.test_rollout import step
from tests.test_statement_counts import _statements

GOLDEN = ("violating", "authentic")


@pytest.fixture
def world(rollout_world, create_user, db):
    """The rollout world with Dana owning Meridian only, a stakeholder, and a second
    rater at each vendor."""
    world = dict(rollout_world)
    world["cebu"].vendor.owners.append(world["pom"])
    world["ana"] = create_user(Role.QA_LEAD, vendor=world["cebu"].vendor, name="Ana Reyes")
    world["niamh"] = create_user(Role.QA_LEAD, vendor=world["dublin"].vendor, name="Niamh Kelly")
    world["sam"] = create_user(Role.STAKEHOLDER, name="Sam Okafor")
    db.session.commit()
    return world


def _raters(world):
    return [
        (world["maria"], world["cebu"]),
        (world["ana"], world["cebu"]),
        (world["liam"], world["dublin"]),
        (world["niamh"], world["dublin"]),
    ]


def _revealed(world, title="Round 1", dublin_wrong=True):
    """A revealed round where Dublin's raters miss golden on every third case."""
    return run_session(
        world["pom"],
        _raters(world),
        cases=36,
        golden=lambda i: GOLDEN[i % 2],
        answer=lambda rater, case: (
            GOLDEN[(case + 1) % 2]
            if dublin_wrong and rater >= 2 and case % 3 == 0
            else GOLDEN[case % 2]
        ),
        title=title,
        label_options="violating | Violating\nauthentic | Not violating",
    )


def _home(client, auth, user) -> str:
    auth.login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_pom_sees_their_rollouts_with_reasons_items_due_and_findings(client, auth, world):
    item = step(world["rollout"], world["dublin"], "Tooling test")
    services.update_item(
        world["liam"], item, version=item.version, status="blocked", reason="Build 4.2 lacks it"
    )
    _revealed(world)

    page = _home(client, auth, world["pom"])

    assert "Your rollouts" in page
    assert world["rollout"].title in page
    assert "Harbor Review · Dublin</strong> (blocked)" in page
    assert "Build 4.2 lacks it" in page
    assert f"/rollouts/{world['rollout'].id}?state=blocked" in page  # the filtered board
    assert "Your items due" in page
    # Findings only on the vendors Dana owns: Dublin's misses are Harbor's, not hers.
    assert "Open findings on your vendors" in page
    assert "No open high or medium finding on the vendors you own." in page
    assert "Sign-offs waiting on others" in page
    assert "Drift alerts on your vendors" in page


def test_a_pom_sees_sessions_closing_soon_with_each_raters_progress(client, auth, world):
    session = run_session(
        world["pom"],
        _raters(world),
        cases=4,
        answer=lambda rater, case: GOLDEN[0] if rater == 0 else None,
        until="open",
        label_options="violating | Violating\nauthentic | Not violating",
    )
    session.closes_at = utcnow() + timedelta(hours=20)
    _db.session.commit()

    page = _home(client, auth, world["pom"])

    assert "Sessions closing in the next 48 hours" in page
    assert "Maria Santos" in page and "4 of 4" in page
    assert "Liam Byrne" in page and "0 of 4" in page


def test_a_stakeholder_sees_sign_offs_waiting_go_lives_and_drift(
    client, auth, world, render_reports
):
    make_ready(world)
    request_and_freeze(
        render_reports, world["pom"], world["rollout"], stakeholder_ids=[world["sam"].id]
    )

    page = _home(client, auth, world["sam"])

    assert "Sign-offs waiting for you" in page
    assert world["rollout"].title in page
    assert "/signoffs/" in page
    assert "Go-lives in the next 14 days" in page
    assert "Nothing goes live in the next 14 days." in page  # go-live is 30 days away
    assert "Vendors whose quality is drifting" in page
    assert "Your rollouts" not in page and "Open findings on your vendors" not in page

    pom_page = _home(client, auth, world["pom"])
    assert "waiting on Sam Okafor" in pom_page


def test_a_qa_lead_sees_their_sessions_items_and_results_and_nothing_of_other_vendors(
    client, auth, world
):
    open_session = run_session(
        world["pom"],
        _raters(world),
        cases=4,
        answer=lambda rater, case: GOLDEN[0] if rater == 0 and case < 3 else None,
        until="open",
        title="Round 2",
        label_options="violating | Violating\nauthentic | Not violating",
    )
    page = _home(client, auth, world["maria"])
    assert "Sessions to label" in page and "Round 2" in page
    assert "you labelled 3 of 4" in page
    assert "Your vendor&#39;s items due" in page
    assert "No session you labelled has been revealed yet" in page

    calibration_services.close_session(world["pom"], open_session)
    page = _home(client, auth, world["maria"])
    assert "No session you labelled has been revealed yet" in page  # closed, not revealed

    _revealed(world, title="Round 3")
    page = _home(client, auth, world["maria"])
    assert "you matched golden on 36 of 36 cases (100%)" in page
    assert 'latest sessions: <span title="Round 3">100%</span>.' in page
    assert "Harbor" not in page and "Dublin" not in page and "Liam" not in page


def test_an_admin_sees_vendors_missing_people_failing_jobs_and_failing_emails(
    client, auth, create_user, create_vendor, db
):
    admin = create_user(Role.ADMIN)
    create_vendor("Orphan Review")
    db.session.add(
        JobRun(
            job_id="daily_digest",
            outcome=RunOutcome.FAILED,
            started_at=utcnow(),
            finished_at=utcnow(),
            error="SMTP connection refused",
        )
    )
    db.session.add(
        EmailMessage(
            to_address="nobody@example.com",
            kind="digest",
            subject="Your daily digest",
            text_body="",
            html_body="",
            status=EmailStatus.FAILED,
            last_error="550 mailbox unavailable",
        )
    )
    db.session.commit()

    page = _home(client, auth, admin)

    assert "Orphan Review</a>:\n    no active QA lead, no owning POM" in page
    assert "Jobs failing" in page and "SMTP connection refused" in page
    assert "E-mails failing" in page and "550 mailbox unavailable" in page


def test_home_pages_cost_the_same_statements_whatever_the_history(pages_drawn, client, auth, world):
    _revealed(world, title="Round 1")
    counts = {}
    for who in ("pom", "maria", "sam"):
        auth.login(world[who])
        client.get("/")
        with _statements() as found:
            client.get("/")
        counts[who] = len(found)
    for number in range(2, 6):
        _revealed(world, title=f"Round {number}")
    for who in ("pom", "maria", "sam"):
        auth.login(world[who])
        client.get("/")
        with _statements() as found:
            client.get("/")
        assert len(found) == counts[who], who
