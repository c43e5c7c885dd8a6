"""Results page and calibration report show the causes: misreadings, figures with their
interval and n, and "—" with a reason where a figure could not be computed."""

import io

import pytest
from pypdf import PdfReader

from calibration.report import calibration_source
from rollcal.accounts.models import Role
from rollcal.reports.pdf import render_pdf
from rollcal.types import utcnow
from tests.calibration_factories import flags_of, run_session

OPTIONS = ("remove", "allow", "escalate")


@pytest.fixture
def misread(create_user, create_site, create_vendor):
    """Dublin's raters label every Remove case as Allow; everyone else is right."""
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    leads = [
        (create_user(Role.QA_LEAD, vendor=site.vendor, name=f"{site.name} {n}"), site)
        for site in (cebu, dublin)
        for n in (1, 2)
    ]
    pom = create_user(Role.POM)

    def answer(rater: int, case: int) -> str:
        truth = OPTIONS[case % 3]
        return "allow" if rater >= 2 and truth == "remove" else truth

    session = run_session(pom, leads, cases=45, golden=lambda i: OPTIONS[i % 3], answer=answer)
    return {"pom": pom, "session": session}


def test_results_page_names_the_misreading_with_its_interval_and_n(client, auth, db, misread):
    (flag,) = [f for f in flags_of(misread["session"]) if f.kind == "misreads"]
    assert flag.subject == "Harbor Review · Dublin" and flag.details["given"] == "allow"
    assert flag.message.startswith("Site Harbor Review · Dublin labels Remove cases as Allow 100%")
    auth.login(misread["pom"])

    page = client.get(f"/calibration/sessions/{misread['session'].id}/results").get_data(
        as_text=True
    )

    assert "How each vendor reads each label" in page
    assert "as Allow 100%" in page and "(others 0%)" in page
    assert f"n = {flag.n}" in page and "95%" in page


def test_calibration_report_shows_misreadings_and_flag_figures(app, db, misread):
    source = calibration_source(misread["session"], None)
    pdf = render_pdf(source.final_html(utcnow()), app.static_folder, attachments=source.attachments)
    text = " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split()
    )

    assert "How each vendor reads each label" in text
    assert "Remove cases as Allow" in text
    assert "n = 15" in text


def test_api_gives_each_flag_its_interval_n_and_misreading(client, db, misread, token_for):
    session = misread["session"]
    answer = client.get(
        f"/api/v1/sessions/{session.id}/agreement", headers=token_for(misread["pom"])
    ).json

    (flag,) = [f for f in answer["flags"] if f["kind"] == "misreads"]
    assert (flag["golden"], flag["given"], flag["share"]) == ("remove", "allow", 1.0)
    assert flag["n"] == 15 and len(flag["interval"]) == 2
    assert "explained_by" in flag
    site = next(s for s in answer["report"]["sites"] if s["site"] == "Harbor Review · Dublin")
    assert site["evidence"] == "sufficient" and "p_below_threshold" in site
    assert "expected_agreement" in answer["report"]


def test_a_too_few_cases_note_shows_cases_counted_not_a_decimal_figure(
    client, auth, db, create_user, create_site
):
    """The note's figure is a count of cases and how many are needed, never "12.000"."""
    site = create_site()
    leads = [(create_user(Role.QA_LEAD, vendor=site.vendor), site) for _ in range(3)]
    pom = create_user(Role.POM)
    session = run_session(
        pom, leads, cases=12, golden=lambda i: OPTIONS[i % 3], answer=lambda r, c: OPTIONS[c % 3]
    )
    notes = [f for f in flags_of(session) if f.kind == "too_few_cases"]
    assert notes, "twelve cases are too few to judge alpha"
    auth.login(pom)
    page = client.get("/calibration/flags?status=all").get_data(as_text=True)
    assert f"{int(notes[0].value)} cases" in page
    assert f"{notes[0].value:.3f}" not in page
