"""Readiness reports as PDFs, and the sign-off workflow around them."""

import hashlib
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from rollcal.accounts.models import Role
from rollcal.errors import ValidationError
from rollcal.reports.pdf import STATIC_BASE, StaticOnlyFetcher
from rollcal.reports.queue import ReportFile
from rollout import services, signoff
from rollout.models import RolloutStatus, SignOffRequest
from tests.test_rollout import step


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def fetch_pdf(client, url: str, render_reports, **kwargs):
    """Ask for a report, let a worker render it, and download it as the page leads to."""
    asked = client.get(url, **kwargs)
    assert asked.status_code == 302 and "/reports/" in asked.headers["Location"]
    render_reports()
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return response


def request_and_freeze(render_reports, *args, **kwargs):
    """Request sign-off and let a worker render the frozen report."""
    request = signoff.request_signoff(*args, **kwargs)
    assert render_reports() == 1
    return request


def make_ready(rollout_world):
    """Override every site so the rollout can be signed off."""
    for site in (rollout_world["cebu"], rollout_world["dublin"]):
        services.override_site(
            rollout_world["pom"],
            rollout_world["rollout"],
            site.id,
            "Identical rule already live at this site since June",
        )


@pytest.fixture
def stakeholders(create_user):
    return [
        create_user(Role.STAKEHOLDER, name="Sam Okafor", timezone="Europe/London"),
        create_user(Role.STAKEHOLDER, name="Priya Raman", timezone="Asia/Kolkata"),
    ]


def test_readiness_report_names_sites_reasons_and_is_pdf_a_with_calibration_csv(
    client, auth, rollout_world, render_reports
):
    auth.login(rollout_world["pom"])
    item = step(rollout_world["rollout"], rollout_world["dublin"], "Tooling test")
    services.update_item(
        rollout_world["liam"],
        item,
        version=item.version,
        status="blocked",
        reason="Build 4.2 lacks the new reason code",
    )
    response = fetch_pdf(
        client, f"/rollouts/{rollout_world['rollout'].id}/report.pdf", render_reports
    )
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "SHOP-CF v3.0" in text and "Counterfeit goods" in text
    assert "Meridian CX · Cebu" in text and "Harbor Review · Dublin" in text
    assert "Build 4.2 lacks the new reason code" in text
    assert "Page 1 of" in text
    reader = PdfReader(io.BytesIO(response.data))
    assert "calibration.csv" in reader.attachments
    assert reader.attachments["calibration.csv"][0].startswith(b"level,name,raters")
    metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"pdfaid:part" in metadata and b"3" in metadata  # PDF/A-3 identification


def test_the_same_report_requested_twice_renders_once(
    client, auth, db, rollout_world, render_reports
):
    auth.login(rollout_world["pom"])
    url = f"/rollouts/{rollout_world['rollout'].id}/report.pdf"
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert render_reports() == 1
    third, fourth = client.get(url), client.get(url)
    assert third.data == fourth.data and third.data.startswith(b"%PDF-")
    assert third.headers["X-Content-SHA256"] == hashlib.sha256(third.data).hexdigest()
    assert render_reports() == 0
    assert db.session.scalar(sa.select(sa.func.count(ReportFile.id))) == 1


def test_report_pages_are_addressed_by_a_token_that_does_not_count(
    client, auth, rollout_world, create_user
):
    auth.login(rollout_world["pom"])
    first = client.get(f"/rollouts/{rollout_world['rollout'].id}/report.pdf").headers["Location"]
    auth.login(rollout_world["maria"])
    second = client.get(f"/rollouts/{rollout_world['rollout'].id}/report.pdf").headers["Location"]
    tokens = [location.rsplit("/reports/", 1)[1] for location in (first, second)]
    assert tokens[0] != tokens[1]
    assert all(len(token) >= 20 and not token.isdigit() for token in tokens)


def test_qa_lead_report_shows_only_their_vendor(client, auth, rollout_world, render_reports):
    auth.login(rollout_world["maria"])
    url = f"/rollouts/{rollout_world['rollout'].id}/report.pdf"
    text = pdf_text(fetch_pdf(client, url, render_reports).data)
    assert "Cebu" in text and "Dublin" not in text and "Harbor Review" not in text
    assert "This copy shows Meridian CX's sites only." in text


def test_report_fetcher_serves_only_the_apps_static_files(app):
    fetcher = StaticOnlyFetcher(app.static_folder)
    assert fetcher.fetch(STATIC_BASE + "report.css").read().startswith(b"/*")
    for url in (
        "file:///etc/passwd",
        "https://example.com/x.css",
        STATIC_BASE + "../__init__.py",
        STATIC_BASE + "missing.css",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_user_text_is_escaped_in_reports(rollout_world, app):
    from datetime import date

    from rollout.report import readiness_source

    item = step(rollout_world["rollout"], rollout_world["cebu"], "Tooling test")
    services.update_item(
        rollout_world["maria"],
        item,
        version=item.version,
        status="blocked",
        reason='<img src="file:///etc/passwd">',
    )
    with app.test_request_context():
        html = readiness_source(rollout_world["rollout"], None, date.today()).html
    assert '<img src="file:///etc/passwd">' not in html
    assert "&lt;img src=" in html


def test_sign_off_needs_every_site_ready(rollout_world, stakeholders):
    with pytest.raises(ValidationError, match="every site must be ready"):
        signoff.request_signoff(
            rollout_world["pom"],
            rollout_world["rollout"],
            stakeholder_ids=[s.id for s in stakeholders],
        )


def test_full_sign_off_flow_freezes_a_byte_identical_report(
    client, auth, db, rollout_world, stakeholders, render_reports
):
    rollout = rollout_world["rollout"]
    make_ready(rollout_world)
    auth.login(rollout_world["pom"])
    response = client.post(
        f"/rollouts/{rollout.id}/signoff",
        data={
            "stakeholders": [s.id for s in stakeholders],
            "message": "Please review before Friday",
        },
    )
    assert response.status_code == 302
    request = db.session.scalar(sa.select(SignOffRequest))
    assert request.report_pdf is None  # rendered by a worker, not in the request
    auth.login(request.sign_offs[0].stakeholder)
    waiting = client.get(f"/signoffs/{request.sign_offs[0].id}").get_data(as_text=True)
    assert "being prepared" in waiting and 'name="decision"' not in waiting
    assert render_reports() == 1
    db.session.expire_all()
    frozen = request.report_pdf
    assert request.report_sha256 == hashlib.sha256(frozen).hexdigest()
    assert "awaiting decision" in pdf_text(frozen)
    db.session.expire_all()
    assert rollout.status == RolloutStatus.AWAITING_SIGNOFF

    for person in stakeholders:
        auth.login(person)
        assert "waiting for you" in client.get("/signoffs").get_data(as_text=True)
        sign_off = next(s for s in request.sign_offs if s.stakeholder_id == person.id)
        page = client.get(f"/signoffs/{sign_off.id}").get_data(as_text=True)
        assert request.report_sha256 in page
        assert (
            client.post(
                f"/signoffs/{sign_off.id}", data={"decision": "approve", "comment": "Looks right"}
            ).status_code
            == 302
        )
    db.session.expire_all()
    assert rollout.status == RolloutStatus.SIGNED_OFF

    first = client.get(f"/signoff-requests/{request.id}/report.pdf")
    second = client.get(f"/signoff-requests/{request.id}/report.pdf")
    assert first.data == second.data == frozen
    assert first.headers["X-Content-SHA256"] == request.report_sha256


def test_rejection_sends_the_rollout_back_with_the_reason(
    client, auth, db, rollout_world, stakeholders, render_reports
):
    rollout = rollout_world["rollout"]
    make_ready(rollout_world)
    request = request_and_freeze(
        render_reports, rollout_world["pom"], rollout, stakeholder_ids=[stakeholders[0].id]
    )
    auth.login(stakeholders[0])
    refused = client.post(f"/signoffs/{request.sign_offs[0].id}", data={"decision": "reject"})
    assert "say why you reject" in refused.get_data(as_text=True)
    client.post(
        f"/signoffs/{request.sign_offs[0].id}",
        data={"decision": "reject", "comment": "Dublin's UAT evidence is missing"},
    )
    db.session.expire_all()
    assert rollout.status == RolloutStatus.IN_PROGRESS
    auth.login(rollout_world["pom"])
    page = client.get(f"/rollouts/{rollout.id}/signoff").get_data(as_text=True)
    assert "Dublin&#39;s UAT evidence is missing" in page and "rejected" in page


def test_only_the_stakeholder_asked_may_decide(client, auth, rollout_world, stakeholders):
    make_ready(rollout_world)
    request = signoff.request_signoff(
        rollout_world["pom"], rollout_world["rollout"], stakeholder_ids=[stakeholders[0].id]
    )
    auth.login(stakeholders[1])
    assert client.get(f"/signoffs/{request.sign_offs[0].id}").status_code == 404
    auth.login(rollout_world["maria"])
    assert client.get(f"/signoffs/{request.sign_offs[0].id}").status_code == 404


def test_verify_tells_a_signed_report_from_an_altered_one(
    client, auth, rollout_world, stakeholders, render_reports
):
    make_ready(rollout_world)
    request = request_and_freeze(
        render_reports,
        rollout_world["pom"],
        rollout_world["rollout"],
        stakeholder_ids=[stakeholders[0].id],
    )
    signoff.decide(stakeholders[0], request.sign_offs[0], "approve", "Go")
    auth.login(stakeholders[1])
    genuine = client.post(
        "/verify",
        data={"file": (io.BytesIO(request.report_pdf), "r.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "A frozen rollcal readiness report" in genuine and "Sam Okafor: approved" in genuine
    altered = request.report_pdf[:-10] + b"0000000000"
    answer = client.post(
        "/verify", data={"file": (io.BytesIO(altered), "r.pdf")}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert "Not a rollcal report" in answer
    auth.login(rollout_world["maria"])
    hidden = client.post(
        "/verify",
        data={"file": (io.BytesIO(request.report_pdf), "r.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "Not a rollcal report" in hidden


def test_changes_after_sign_off_are_shown_and_printed_with_the_signed_hash(
    client, auth, db, rollout_world, stakeholders, render_reports
):
    rollout = rollout_world["rollout"]
    make_ready(rollout_world)
    request = request_and_freeze(
        render_reports, rollout_world["pom"], rollout, stakeholder_ids=[stakeholders[0].id]
    )
    signoff.decide(stakeholders[0], request.sign_offs[0], "approve", "")
    frozen = request.report_pdf
    item = step(rollout, rollout_world["cebu"], "Trainers upskilled")
    services.update_item(rollout_world["maria"], item, version=item.version, status="in_progress")
    auth.login(rollout_world["pom"])
    page = client.get(f"/rollouts/{rollout.id}/signoff").get_data(as_text=True)
    assert "Changed since sign-off" in page and "Trainers upskilled" in page
    fresh = fetch_pdf(client, f"/rollouts/{rollout.id}/report.pdf", render_reports).data
    assert request.report_sha256 in pdf_text(fresh).replace("\n", "")
    db.session.expire_all()
    db.session.expire_all()
    assert db.session.get(SignOffRequest, request.id).report_pdf == frozen


def test_report_status_page_says_preparing_and_checks_again(client, auth, rollout_world):
    auth.login(rollout_world["pom"])
    asked = client.get(f"/rollouts/{rollout_world['rollout'].id}/report.pdf")
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Preparing…" in page and 'hx-trigger="every 2s"' in page
    # No meta refresh (it reloads the page under a screen reader); a link without script.
    assert 'http-equiv="refresh"' not in page
    assert f'href="{asked.headers["Location"].split("rollcal.test")[-1]}">Check again' in page


def test_cli_writes_the_readiness_report(runner, rollout_world, tmp_path):
    target = tmp_path / "readiness.pdf"
    result = runner.invoke(
        args=["report", "readiness", str(rollout_world["rollout"].id), "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert "Dublin" in pdf_text(target.read_bytes())


def test_api_answers_202_until_the_report_is_rendered_then_the_pdf(
    client, rollout_world, token_for, render_reports
):
    url = f"/api/v1/rollouts/{rollout_world['rollout'].id}/report.pdf"
    headers = token_for(rollout_world["maria"])
    waiting = client.get(url, headers=headers)
    assert waiting.status_code == 202 and waiting.headers["Retry-After"] == "2"
    assert client.get(url, headers=headers).status_code == 202
    assert render_reports() == 1
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert "Cebu" in text and "Dublin" not in text


def test_go_live_date_in_the_report_moves_with_the_rollout(rollout_world, app):
    from datetime import date

    from rollout.report import readiness_source

    rollout = rollout_world["rollout"]
    services.move_go_live(
        rollout_world["pom"], rollout, rollout.go_live_date + timedelta(7), reason="Vendor asked"
    )
    with app.test_request_context():
        html = readiness_source(rollout, None, date.today()).html
    assert rollout.go_live_date.strftime("%d %B %Y") in html


def test_stakeholders_are_told_of_a_request_and_the_pom_of_each_decision(
    client, auth, db, rollout_world, stakeholders, render_reports
):
    from rollcal.notifications.models import Notification

    make_ready(rollout_world)
    request = request_and_freeze(
        render_reports,
        rollout_world["pom"],
        rollout_world["rollout"],
        stakeholder_ids=[stakeholders[0].id],
        message="Before Friday please",
    )
    told = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == stakeholders[0].id)
    ).all()
    assert [n.kind.value for n in told] == ["signoff_requested"]
    assert "Before Friday please" in told[0].body
    signoff.decide(stakeholders[0], request.sign_offs[0], "reject", "UAT evidence missing")
    pom_told = db.session.scalars(
        sa.select(Notification).where(
            Notification.user_id == rollout_world["pom"].id, Notification.kind == "signoff_decided"
        )
    ).all()
    assert len(pom_told) == 1 and "rejected" in pom_told[0].title
    assert "UAT evidence missing" in pom_told[0].body


def test_board_says_when_a_signed_rollout_changed(
    client, auth, rollout_world, stakeholders, render_reports
):
    rollout = rollout_world["rollout"]
    make_ready(rollout_world)
    request = request_and_freeze(
        render_reports, rollout_world["pom"], rollout, stakeholder_ids=[stakeholders[0].id]
    )
    signoff.decide(stakeholders[0], request.sign_offs[0], "approve", "")
    auth.login(rollout_world["pom"])
    assert "Changed since sign-off" not in client.get(f"/rollouts/{rollout.id}").get_data(
        as_text=True
    )
    item = step(rollout, rollout_world["cebu"], "Trainers upskilled")
    services.update_item(rollout_world["maria"], item, version=item.version, status="done")
    page = client.get(f"/rollouts/{rollout.id}").get_data(as_text=True)
    assert "Changed since sign-off:</strong> 1 change after the signature" in page


def test_qa_lead_downloads_their_vendors_copy_and_verify_recognises_it(
    client, auth, rollout_world, render_reports
):
    auth.login(rollout_world["maria"])
    asked = client.get(f"/rollouts/{rollout_world['rollout'].id}/report.pdf")
    page = asked.headers["Location"]
    render_reports()
    assert "Download the PDF" in client.get(page).get_data(as_text=True)
    download = client.get(f"{page}/download")
    assert download.status_code == 200
    text = pdf_text(download.data)
    assert "Cebu" in text and "Dublin" not in text
    verified = client.post(
        "/verify",
        data={"file": (io.BytesIO(download.data), "copy.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "A rollcal report, not a signed one" in verified
    # Another vendor's QA lead, and readers of the whole report, do not get this copy.
    for reader in (rollout_world["liam"], rollout_world["pom"]):
        auth.login(reader)
        assert client.get(f"{page}/download").status_code == 404
        assert client.get(page).status_code == 404


def test_a_failed_report_is_queued_again_when_asked_again(
    client, auth, db, rollout_world, render_reports
):
    auth.login(rollout_world["pom"])
    url = f"/rollouts/{rollout_world['rollout'].id}/report.pdf"
    page = client.get(url).headers["Location"]
    report = db.session.scalar(sa.select(ReportFile))
    report.status, report.error = "failed", "the disk was full"
    db.session.commit()
    assert "could not be rendered: the disk was full" in client.get(page).get_data(as_text=True)
    assert client.get(url).headers["Location"] == page
    assert render_reports() == 1
    assert client.get(url).data.startswith(b"%PDF-")


def test_deciding_waits_for_the_frozen_report(client, auth, rollout_world, stakeholders):
    make_ready(rollout_world)
    request = signoff.request_signoff(
        rollout_world["pom"], rollout_world["rollout"], stakeholder_ids=[stakeholders[0].id]
    )
    with pytest.raises(ValidationError, match="still being prepared"):
        signoff.decide(stakeholders[0], request.sign_offs[0], "approve", "")
    auth.login(stakeholders[0])
    assert client.get(f"/signoff-requests/{request.id}/report.pdf").status_code == 409


def test_the_preparing_page_polls_its_status_and_links_back_to_the_rollout(
    client, auth, rollout_world
):
    rollout = rollout_world["rollout"]
    auth.login(rollout_world["pom"])
    asked = client.get(f"/rollouts/{rollout.id}/report.pdf")
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    token = asked.headers["Location"].split("/reports/", 1)[1]
    assert f'hx-get="/reports/{token}/status"' in page
    assert 'hx-trigger="every 2s"' in page
    assert f'<a href="/rollouts/{rollout.id}">← Back to the rollout</a>' in page
    # Without JavaScript "Check again" asks for the page again; no meta refresh reloads it
    # under a screen reader.
    assert 'http-equiv="refresh"' not in page
    assert f'<a href="/reports/{token}">Check again</a>' in page


def test_the_status_fragment_polls_until_ready_then_brings_the_download(
    client, auth, rollout_world, render_reports
):
    from tests.test_no_write_on_read import counting_commits

    auth.login(rollout_world["pom"])
    asked = client.get(f"/rollouts/{rollout_world['rollout'].id}/report.pdf")
    token = asked.headers["Location"].split("/reports/", 1)[1]
    with counting_commits() as commits:
        preparing = client.get(f"/reports/{token}/status").get_data(as_text=True)
    assert commits == []  # polling is a read
    assert "Preparing…" in preparing and 'hx-trigger="every 2s"' in preparing
    assert render_reports() == 1
    ready = client.get(f"/reports/{token}/status").get_data(as_text=True)
    assert "hx-trigger" not in ready
    assert f'href="/reports/{token}/download" download data-start-download' in ready


def test_a_calibration_report_page_links_back_to_its_session(client, auth, db, rollout_world):
    from tests.calibration_factories import run_session, split_answers

    pom = rollout_world["pom"]
    second = rollout_world["maria"].vendor.sites[0]
    raters = [(rollout_world["maria"], second), (rollout_world["liam"], rollout_world["dublin"])]
    session = run_session(pom, raters, cases=4, answer=split_answers, until="closed")
    db.session.commit()
    auth.login(pom)
    asked = client.get(f"/calibration/sessions/{session.id}/report.pdf")
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert f'<a href="/calibration/sessions/{session.id}">← Back to the session</a>' in page
