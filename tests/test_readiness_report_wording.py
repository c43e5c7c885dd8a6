"""The readiness PDF says what it is: its file name and footer follow the sign-off state,
and its times are in the zone of the person who asked for it, the zone stated."""

import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from rollcal.accounts.models import Role
from rollout import services, signoff
from rollout.report import readiness_source

AT = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)


def pdf_text(content: bytes) -> str:
    """The PDF's text, every run of white space one space."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def stakeholders(create_user):
    return [
        create_user(Role.STAKEHOLDER, name="Sam Okafor", timezone="Europe/London"),
        create_user(Role.STAKEHOLDER, name="Priya Raman", timezone="Asia/Kolkata"),
    ]


@pytest.fixture
def ready(rollout_world, db):
    """The rollout with every site overridden to ready, its POM in Manila."""
    rollout_world["pom"].timezone = "Asia/Manila"
    for site in (rollout_world["cebu"], rollout_world["dublin"]):
        services.override_site(
            rollout_world["pom"],
            rollout_world["rollout"],
            site.id,
            "Identical rule already live at this site since June",
        )
    db.session.flush()
    return rollout_world


def _footer(rollout, reader=None) -> str:
    html = readiness_source(rollout, reader, date.today()).final_html(AT)
    start = html.index('<div class="running-footer">') + len('<div class="running-footer">')
    return html[start : html.index("</div>", start)]


def _filename(client, request) -> str:
    response = client.get(f"/signoff-requests/{request.id}/report.pdf")
    assert response.status_code == 200
    return response.headers["Content-Disposition"]


def test_frozen_report_file_name_says_for_signoff_then_signed(
    client, auth, db, ready, stakeholders, render_reports
):
    request = signoff.request_signoff(
        ready["pom"], ready["rollout"], stakeholder_ids=[stakeholders[0].id]
    )
    assert render_reports() == 1
    auth.login(ready["pom"])
    pending = _filename(client, request)
    assert f"rollcal-readiness-{ready['rollout'].id}-for-signoff-" in pending
    assert "-signed-" not in pending
    signoff.decide(stakeholders[0], request.sign_offs[0], "approve", "Go")
    assert "-signed-" in _filename(client, request)


def test_frozen_report_file_name_says_rejected_after_a_rejection(
    client, auth, db, ready, stakeholders, render_reports
):
    request = signoff.request_signoff(
        ready["pom"], ready["rollout"], stakeholder_ids=[stakeholders[0].id]
    )
    assert render_reports() == 1
    signoff.decide(stakeholders[0], request.sign_offs[0], "reject", "Dublin UAT missing")
    auth.login(ready["pom"])
    name = _filename(client, request)
    assert "-rejected-" in name and "-signed-" not in name


def test_the_frozen_copy_says_it_is_the_copy_for_sign_off_in_the_requesters_zone(
    db, ready, stakeholders, render_reports
):
    request = signoff.request_signoff(
        ready["pom"], ready["rollout"], stakeholder_ids=[stakeholders[0].id]
    )
    assert render_reports() == 1
    db.session.expire_all()
    text = pdf_text(request.report_pdf)
    assert "Not signed off yet" not in text
    assert "Copy for sign-off, requested" in text
    assert "Shown in Manila, UTC+8 (Asia/Manila)" in text
    assert "(Manila, UTC+8)" in text


def _decision_of(request, person):
    return next(s for s in request.sign_offs if s.stakeholder_id == person.id)


def test_the_footer_states_the_sign_off_state(db, ready, stakeholders, render_reports):
    rollout = ready["rollout"]
    assert _footer(rollout).startswith("Not submitted for sign-off · generated")
    request = signoff.request_signoff(
        ready["pom"], rollout, stakeholder_ids=[s.id for s in stakeholders]
    )
    assert "Sign-off requested" in _footer(rollout)
    assert "awaiting decisions" in _footer(rollout)
    assert render_reports() == 1
    signoff.decide(stakeholders[0], _decision_of(request, stakeholders[0]), "approve", "")
    assert "awaiting decisions" in _footer(rollout)  # one of two has approved
    signoff.decide(stakeholders[1], _decision_of(request, stakeholders[1]), "approve", "")
    footer = _footer(rollout)
    assert footer.startswith("Signed off") and request.report_sha256 in footer
    assert "Not signed off" not in footer


def test_the_footer_says_who_rejected(db, ready, stakeholders, render_reports):
    rollout = ready["rollout"]
    request = signoff.request_signoff(ready["pom"], rollout, stakeholder_ids=[stakeholders[0].id])
    assert render_reports() == 1
    signoff.decide(stakeholders[0], request.sign_offs[0], "reject", "Dublin UAT missing")
    footer = _footer(rollout)
    assert footer.startswith("Sign-off rejected") and "by Sam Okafor" in footer


def test_times_are_in_the_readers_zone_and_the_zone_is_stated(db, ready, stakeholders):
    rollout = ready["rollout"]
    signoff.request_signoff(ready["pom"], rollout, stakeholder_ids=[stakeholders[0].id])
    manila = readiness_source(rollout, ready["pom"], date.today()).final_html(AT)
    assert "Tue 1 Dec 2026, 14:30 (Manila, UTC+8)" in manila  # generated
    assert "Shown in Manila, UTC+8 (Asia/Manila)" in manila
    london = readiness_source(rollout, stakeholders[0], date.today()).final_html(AT)
    assert "Tue 1 Dec 2026, 06:30 (London, UTC)" in london
    assert "Shown in London, UTC (Europe/London)" in london


def test_each_readers_zone_has_its_own_cached_copy(db, ready, stakeholders, create_user):
    rollout = ready["rollout"]
    london, kolkata = stakeholders
    also_london = create_user(Role.STAKEHOLDER, name="Ade Bello", timezone="Europe/London")
    key = {
        person.name: readiness_source(rollout, person, date.today()).content_key
        for person in (london, kolkata, also_london)
    }
    assert key["Sam Okafor"] != key["Priya Raman"]
    assert key["Sam Okafor"] == key["Ade Bello"]
