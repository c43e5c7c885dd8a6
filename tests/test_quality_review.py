"""The quality review report: a vendor's (or every vendor's) quality over a period, with
its findings and rollouts, rendered by the report workers, for the people who may read it."""

import csv
import io

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from calibration import services as calibration_services
from calibration.models import Flag
from rollcal.accounts.models import Role
from rollcal.extensions import db as _db
from rollcal.reports.queue import ReportFile
from tests.calibration_factories import run_session

GOLDEN = ("remove", "allow")
OPTIONS = "remove | Remove\nallow | Allow"


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF, whitespace folded."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def review_world(rollout_world, create_user):
    """Two revealed rounds on the rollout's sites: Meridian's raters always right,
    Harbor's wrong on every other case (so Harbor has findings in both rounds)."""
    world = dict(rollout_world)
    world["ana"] = create_user(Role.QA_LEAD, vendor=world["cebu"].vendor, name="Ana Reyes")
    world["niamh"] = create_user(Role.QA_LEAD, vendor=world["dublin"].vendor, name="Niamh Kelly")
    raters = [
        (world["maria"], world["cebu"]),
        (world["ana"], world["cebu"]),
        (world["liam"], world["dublin"]),
        (world["niamh"], world["dublin"]),
    ]
    for number in (1, 2):
        run_session(
            world["pom"],
            raters,
            cases=40,
            golden=lambda i: GOLDEN[i % 2],
            answer=lambda rater, case: (
                GOLDEN[(case + 1) % 2] if rater >= 2 and case % 2 == 0 else GOLDEN[case % 2]
            ),
            title=f"Round {number}",
            label_options=OPTIONS,
        )
    _db.session.commit()
    return world


def _harbor_flags(world):
    return _db.session.scalars(
        sa.select(Flag).where(Flag.vendor_id == world["dublin"].vendor_id).order_by(Flag.id)
    ).all()


def fetch(client, url, render_reports, **kwargs):
    """Ask for the review, let a worker render it, then download it."""
    asked = client.get(url, **kwargs)
    assert asked.status_code == 302 and "/reports/" in asked.headers["Location"], asked.status_code
    assert render_reports() == 1
    ready = client.get(url, **kwargs)
    assert ready.status_code == 200
    assert ready.mimetype == "application/pdf"
    return ready


def test_a_vendor_review_shows_its_kpis_findings_with_root_cause_rollouts_and_sign_offs(
    client, auth, review_world, render_reports
):
    world = review_world
    flags = _harbor_flags(world)
    assert flags, "Harbor's raters miss half the golden cases: findings are raised"
    calibration_services.triage_flag(
        world["pom"],
        flags[0],
        status="resolved",
        cause="training_gap",
        root_cause="Dublin read the old policy deck",
        action="Retrained on version 2 on Monday",
    )
    _db.session.commit()
    auth.login(world["pom"])

    pdf = fetch(
        client, f"/scorecards/review.pdf?vendor={world['dublin'].vendor_id}", render_reports
    ).data
    text = pdf_text(pdf)

    assert "Quality review" in text and "Harbor Review" in text
    assert "Meridian" not in text
    assert "50%" in text  # Harbor's accuracy against golden, latest and at the start
    assert "steady" in text  # no change between the two rounds
    assert "2 revealed sessions" in text
    assert "Dublin read the old policy deck" in text
    assert "Retrained on version 2 on Monday" in text
    assert "Resolved" in text
    assert "Recurring causes" in text and "raised in 2 sessions of the period" in text
    assert world["rollout"].title.split(" — ")[0] in text  # the rollout touching Harbor
    assert "Harbor Review · Dublin" in text
    assert "Times in UTC" in text or "times in UTC" in text


def test_the_review_csv_carries_the_same_tables(client, auth, review_world):
    world = review_world
    auth.login(world["pom"])

    response = client.get(f"/scorecards/review.csv?vendor={world['cebu'].vendor_id}")

    assert response.status_code == 200
    assert (
        f"quality-review-vendor-{world['cebu'].vendor_id}-"
        in response.headers["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    tables = {row["table"] for row in rows}
    assert {"headline", "session", "site", "rollout"} <= tables
    assert {row["vendor"] for row in rows if row["table"] != "rollout"} == {"Meridian CX"}
    sessions = [row for row in rows if row["table"] == "session"]
    assert [row["about"] for row in sessions] == ["Round 1", "Round 2"]
    assert all(float(row["accuracy"]) == 1.0 for row in sessions)


def test_a_qa_lead_reviews_only_their_own_vendor(
    client, auth, review_world, render_reports, token_for
):
    world = review_world
    auth.login(world["maria"])

    other = world["dublin"].vendor_id
    assert client.get(f"/scorecards/review.pdf?vendor={other}").status_code == 404
    assert client.get(f"/scorecards/review.csv?vendor={other}").status_code == 404
    # Every vendor at once is for people who see every vendor.
    assert client.get("/scorecards/review.pdf").status_code == 404
    assert client.get("/scorecards/review.csv").status_code == 404
    headers = token_for(world["maria"])
    assert (
        client.get(f"/api/v1/scorecards/review.pdf?vendor={other}", headers=headers).status_code
        == 404
    )
    assert client.get("/api/v1/scorecards/review.pdf", headers=headers).status_code == 404

    own = world["cebu"].vendor_id
    page = client.get("/scorecards/").get_data(as_text=True)
    assert "Quality review PDF" not in page  # the list page shows every vendor she sees
    vendor_page = client.get(f"/scorecards/vendors/{own}").get_data(as_text=True)
    assert "Quality review PDF" in vendor_page
    text = pdf_text(fetch(client, f"/scorecards/review.pdf?vendor={own}", render_reports).data)
    assert "Meridian CX" in text and "Harbor" not in text and "Dublin" not in text
    assert "This copy shows Meridian CX's figures only" in text
    assert "Sign-offs are shown to POMs and stakeholders" in text

    # Her copy's address and file name say nothing of another vendor, and Liam (Harbor)
    # cannot open it.
    report = _db.session.scalar(sa.select(ReportFile).where(ReportFile.kind == "quality_review"))
    assert str(other) not in report.filename.split("-")[2]
    auth.logout()
    auth.login(world["liam"])
    assert client.get(f"/reports/{report.token}").status_code == 404


def test_the_same_review_asked_twice_is_rendered_once(client, auth, review_world, render_reports):
    world = review_world
    auth.login(world["pom"])
    url = "/scorecards/review.pdf?since=2000-01-01"

    first = client.get(url)
    again = client.get(url)

    assert first.headers["Location"] == again.headers["Location"]
    assert render_reports() == 1
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert render_reports() == 0
    assert (
        _db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ReportFile)
            .where(ReportFile.kind == "quality_review")
        )
        == 1
    )
    text = pdf_text(client.get(url).data)
    assert "Every vendor" in text and "Meridian CX" in text and "Harbor Review" in text


def test_the_api_answers_202_while_preparing_then_the_pdf(
    client, review_world, render_reports, token_for
):
    world = review_world
    headers = token_for(world["pom"])
    url = f"/api/v1/scorecards/review.pdf?vendor={world['cebu'].vendor_id}"

    preparing = client.get(url, headers=headers)
    assert preparing.status_code == 202 and preparing.headers["Retry-After"]
    render_reports()
    ready = client.get(url, headers=headers)

    assert ready.status_code == 200 and ready.mimetype == "application/pdf"
    assert "Meridian CX" in pdf_text(ready.data)


def test_a_wrong_period_is_named_and_nothing_is_queued(client, auth, review_world, token_for):
    auth.login(review_world["pom"])

    page = client.get("/scorecards/review.pdf?since=yesterday")
    api = client.get(
        "/api/v1/scorecards/review.pdf?since=2026-06-01&until=2026-01-01",
        headers=token_for(review_world["pom"]),
    )

    assert page.status_code == 422 and "“since” must be a date" in page.get_data(as_text=True)
    assert api.status_code == 422
    assert "“until” must not be before “since”" in api.get_json()["error"]["message"]
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(ReportFile)) == 0


def test_the_review_shows_times_in_the_readers_zone(client, auth, review_world, render_reports):
    world = review_world
    world["pom"].timezone = "Asia/Manila"
    _db.session.commit()
    auth.login(world["pom"])

    text = pdf_text(
        fetch(
            client, f"/scorecards/review.pdf?vendor={world['cebu'].vendor_id}", render_reports
        ).data
    )

    assert "Manila, UTC+8" in text


def test_sign_offs_of_the_rollouts_show_to_pom_not_to_qa_leads(
    client, auth, review_world, render_reports, create_user
):
    from rollout import services as rollout_services
    from rollout import signoff

    world = review_world
    for site in (world["cebu"], world["dublin"]):
        rollout_services.override_site(
            world["pom"], world["rollout"], site.id, "Identical rule already live at this site"
        )
    stakeholder = create_user(Role.STAKEHOLDER, name="Priya Natarajan")
    request = signoff.request_signoff(
        world["pom"], world["rollout"], stakeholder_ids=[stakeholder.id]
    )
    _db.session.commit()
    assert render_reports() == 1  # the frozen readiness report
    signoff.decide(stakeholder, request.sign_offs[0], "approve", "Training evidence is complete")
    _db.session.commit()

    auth.login(world["pom"])
    text = pdf_text(
        fetch(
            client, f"/scorecards/review.pdf?vendor={world['cebu'].vendor_id}", render_reports
        ).data
    )
    assert "Priya Natarajan" in text and "Approved" in text
    assert "Training evidence is complete" in text
    assert "(overridden by a POM)" in text

    auth.logout()
    auth.login(world["maria"])
    text = pdf_text(
        fetch(
            client, f"/scorecards/review.pdf?vendor={world['cebu'].vendor_id}", render_reports
        ).data
    )
    assert "Meridian CX · Cebu" in text
    assert "Priya Natarajan" not in text and "Harbor" not in text


def test_a_trend_chart_is_drawn_again_when_a_figure_changes(app):
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from calibration import scorecards

    def series(accuracy: float) -> scorecards.Series:
        point = SimpleNamespace(
            session_id=1,
            revealed_at=datetime(2026, 6, 1, tzinfo=UTC),
            accuracy=accuracy,
            accuracy_low=accuracy - 0.02,
            accuracy_high=accuracy + 0.02,
            accuracy_target=0.9,
            alpha_threshold=0.667,
        )
        return scorecards.Series("v1", "Meridian CX", 1, None, [point])

    before = scorecards.trend_svg(series(0.91), figure="accuracy", title="Meridian CX")
    again = scorecards.trend_svg(series(0.91), figure="accuracy", title="Meridian CX")
    after = scorecards.trend_svg(series(0.72), figure="accuracy", title="Meridian CX")

    assert before == again
    assert after != before and "72%" in after and "72%" not in before
