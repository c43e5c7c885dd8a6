"""Calibration reports, and the calibration part of the readiness report."""

import io
from datetime import date

import pytest
from pypdf import PdfReader

from calibration import services
from calibration.report import calibration_source
from rollcal.accounts.models import Role
from rollcal.errors import NotFound
from rollcal.reports.pdf import render_pdf
from rollcal.types import utcnow
from rollout.report import readiness_source
from tests.calibration_factories import run_session

GOLDEN = ("violating", "authentic")


def pdf_of(app, source) -> tuple[str, PdfReader]:
    html = source.final_html(utcnow())
    pdf = render_pdf(html, app.static_folder, attachments=source.attachments)
    reader = PdfReader(io.BytesIO(pdf))
    # Words only: table cells wrap names over lines.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split()), reader


@pytest.fixture
def revealed(rollout_world, create_user):
    """A revealed session on the rollout: Cebu's two raters match golden, Dublin's split."""
    world = dict(rollout_world)
    ana = create_user(Role.QA_LEAD, vendor=world["maria"].vendor, name="Ana Reyes")
    niamh = create_user(Role.QA_LEAD, vendor=world["liam"].vendor, name="Niamh Kelly")
    raters = [
        (world["maria"], world["cebu"]),
        (ana, world["cebu"]),
        (world["liam"], world["dublin"]),
        (niamh, world["dublin"]),
    ]

    def answer(rater: int, case: int) -> str:
        return GOLDEN[case % 2] if rater < 2 else GOLDEN[(case * (rater + 1) // 2) % 2]

    world["session"] = run_session(
        world["pom"],
        raters,
        cases=12,
        golden=lambda i: GOLDEN[i % 2],
        answer=answer,
        title="Counterfeit round 1",
        rollout_id=world["rollout"].id,
        label_options="",
    )
    return world


def test_calibration_report_has_headline_vendors_raters_labels_and_flags(app, revealed):
    with app.test_request_context():
        text, reader = pdf_of(app, calibration_source(revealed["session"], None))
    assert "Counterfeit round 1" in text and "Krippendorff's alpha" in text
    assert "Meridian CX" in text and "Harbor Review" in text
    assert "Maria Santos" in text and "Liam Byrne" in text
    assert "Confusion: golden (rows)" in text and "Most contested cases" in text
    assert "Flags" in text and "raters.csv" in reader.attachments


def test_qa_lead_calibration_report_shows_only_their_vendor(app, revealed):
    with app.test_request_context():
        text, _ = pdf_of(app, calibration_source(revealed["session"], revealed["maria"]))
    assert "Maria Santos" in text and "Liam Byrne" not in text and "Harbor Review" not in text
    assert "This copy shows Meridian CX's raters only." in text


def test_calibration_report_is_not_available_before_reveal(app, rollout_world):
    session = run_session(
        rollout_world["pom"],
        [
            (rollout_world["maria"], rollout_world["cebu"]),
            (rollout_world["liam"], rollout_world["dublin"]),
        ],
        cases=3,
        answer=lambda r, c: "remove",
        until="closed",
    )
    with app.test_request_context(), pytest.raises(NotFound):
        calibration_source(session, rollout_world["maria"])


def test_readiness_report_shows_calibration_per_vendor_and_site(app, revealed):
    with app.test_request_context():
        text, reader = pdf_of(app, readiness_source(revealed["rollout"], None, date.today()))
    assert "From “Counterfeit round 1”" in text
    assert "Alpha by vendor" in text and "By site" in text
    assert "Meridian CX · Cebu" in text
    csv = reader.attachments["calibration.csv"][0].decode()
    assert "vendor,Meridian CX" in csv and "site,Harbor Review · Dublin" in csv


def test_cli_writes_the_calibration_report(runner, revealed, tmp_path):
    target = tmp_path / "calibration.pdf"
    result = runner.invoke(
        args=["report", "calibration", str(revealed["session"].id), "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF-")


def test_qa_lead_downloads_the_report_after_reveal_in_the_browser_and_api(
    client, auth, revealed, token_for, render_reports
):
    session = revealed["session"]
    auth.login(revealed["maria"])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    assert "Calibration report (PDF)" in page and 'img class="chart"' in page
    asked = client.get(f"/calibration/sessions/{session.id}/report.pdf")
    assert asked.status_code == 302
    assert render_reports() == 1
    preparing_page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Download the PDF" in preparing_page
    response = client.get(f"/calibration/sessions/{session.id}/report.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    api = client.get(
        f"/api/v1/sessions/{session.id}/report.pdf", headers=token_for(revealed["maria"])
    )
    assert api.status_code == 200 and api.headers["X-Content-SHA256"]


def test_report_of_an_unrevealed_session_answers_404_to_its_raters(
    client, auth, rollout_world, token_for
):
    raters = [
        (rollout_world["maria"], rollout_world["cebu"]),
        (rollout_world["liam"], rollout_world["dublin"]),
    ]
    session = run_session(
        rollout_world["pom"], raters, cases=3, answer=lambda r, c: "remove", until="closed"
    )
    auth.login(rollout_world["maria"])
    assert client.get(f"/calibration/sessions/{session.id}/report.pdf").status_code == 404
    assert (
        client.get(
            f"/api/v1/sessions/{session.id}/report.pdf", headers=token_for(rollout_world["maria"])
        ).status_code
        == 404
    )


def test_an_unrevealed_sessions_report_is_refused_to_everyone_who_may_not_see_results(
    client, auth, db, rollout_world, create_user, render_reports
):
    raters = [
        (rollout_world["maria"], rollout_world["cebu"]),
        (rollout_world["liam"], rollout_world["dublin"]),
    ]
    session = run_session(
        rollout_world["pom"], raters, cases=3, answer=lambda r, c: "remove", until="closed"
    )
    auth.login(rollout_world["pom"])
    page = client.get(f"/calibration/sessions/{session.id}/report.pdf").headers["Location"]
    assert render_reports() == 1
    assert client.get(f"{page}/download").status_code == 200
    stakeholder = create_user(Role.STAKEHOLDER)
    for reader in (stakeholder, rollout_world["maria"], rollout_world["liam"]):
        auth.login(reader)
        assert client.get(page).status_code == 404
        assert client.get(f"{page}/download").status_code == 404
    auth.login(create_user(Role.ADMIN))
    assert client.get(f"{page}/download").status_code == 200
    # Asked again at every download: once revealed, the stakeholder may read it.
    services.reveal_session(rollout_world["pom"], session)
    db.session.commit()
    auth.login(stakeholder)
    assert client.get(f"{page}/download").status_code == 200


def test_calibration_report_times_are_in_the_readers_zone_and_say_so(app, db, revealed):
    maria = revealed["maria"]
    maria.timezone = "Asia/Manila"
    db.session.commit()
    with app.test_request_context():
        manila = calibration_source(revealed["session"], maria)
        everyone = calibration_source(revealed["session"], None)
        text, _ = pdf_of(app, manila)

    assert "times shown in Manila, UTC+8 (Asia/Manila)" in text
    assert "(Manila, UTC+8)" in text and " UTC ·" not in text
    assert "times shown in UTC" in everyone.html
    # Each zone's copy is its own report in the cache.
    assert manila.html != everyone.html
