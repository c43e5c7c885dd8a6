"""QA leads label blind, by keyboard; they see only their own labels until reveal, and
never another vendor's data."""

import re

import pytest
import sqlalchemy as sa

from calibration import services
from calibration.models import Label
from rollcal.accounts.models import Role
from tests.calibration_factories import case_ids, make_session, run_session

GOLDEN = {0: "remove", 1: "allow", 2: "escalate"}


@pytest.fixture
def world(create_user, create_site, create_vendor):
    """Meridian (Maria, Ana) and Harbor (Liam) label the same open session; golden set."""
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    manila, cebu = create_site(meridian, "Manila North"), create_site(meridian, "Cebu")
    dublin = create_site(harbor, "Dublin")
    pom = create_user(Role.POM, name="Dana Whitfield")
    maria = create_user(Role.QA_LEAD, vendor=meridian, name="Maria Santos")
    ana = create_user(Role.QA_LEAD, vendor=meridian, name="Ana Reyes")
    liam = create_user(Role.QA_LEAD, vendor=harbor, name="Liam Byrne")
    session = run_session(
        pom,
        [(maria, manila), (ana, cebu), (liam, dublin)],
        cases=3,
        golden=GOLDEN.get,
        answer=lambda rater, case: None,
        until="open",
    )
    return {"pom": pom, "maria": maria, "ana": ana, "liam": liam, "session": session}


def _say(world, who: str, answers: dict[int, str]) -> None:
    ids = case_ids(world["session"])
    services.save_labels(
        world[who],
        world["session"],
        [services.LabelInput(option=key, case_id=ids[i]) for i, key in answers.items()],
    )


def test_labelling_page_shows_one_large_button_per_option_bound_to_number_keys(client, auth, world):
    auth.login(world["maria"])
    response = client.get(f"/calibration/sessions/{world['session'].id}/label")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    buttons = re.findall(r'<button type="submit" class="option"[^>]*data-key="(\d)"', page)
    assert buttons == ["1", "2", "3"]
    assert "<kbd>1</kbd> Remove" in page and "Breaks the policy" in page
    assert "labelling.js" in page
    assert "Case 1 of 3" in page


def test_pages_carry_no_inline_script_or_style(client, auth, world):
    auth.login(world["maria"])
    session_id = world["session"].id
    ids = case_ids(world["session"])
    for url in [
        f"/calibration/sessions/{session_id}",
        f"/calibration/sessions/{session_id}/label/{ids[0]}",
        f"/calibration/sessions/{session_id}/cases",
    ]:
        page = client.get(url).get_data(as_text=True)
        assert " style=" not in page
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url
    with client.get("/static/labelling.js") as script:
        assert script.status_code == 200 and b"data-key" in script.data


def test_choosing_an_option_saves_the_label_and_opens_the_next_case(client, auth, db, world):
    auth.login(world["maria"])
    ids = case_ids(world["session"])
    url = f"/calibration/sessions/{world['session'].id}/label/{ids[0]}"
    response = client.post(url, data={"option": "remove", "comment": "Logo is off"})
    assert response.status_code == 302
    next_page = client.get(response.headers["Location"])
    assert next_page.headers["Location"].endswith(f"/label/{ids[1]}")
    label = db.session.scalar(sa.select(Label))
    assert (label.option_key, label.comment) == ("remove", "Logo is off")
    again = client.get(url).get_data(as_text=True)
    assert 'aria-pressed="true"' in again and "Your current label" in again


def test_changing_a_label_keeps_one_label_per_case(client, auth, db, world):
    auth.login(world["maria"])
    ids = case_ids(world["session"])
    url = f"/calibration/sessions/{world['session'].id}/label/{ids[0]}"
    client.post(url, data={"option": "remove"})
    client.post(url, data={"option": "allow"})
    assert db.session.scalars(sa.select(Label.option_key)).all() == ["allow"]


def test_after_the_last_case_the_rater_is_told_they_are_done(client, auth, world):
    _say(world, "maria", {0: "remove", 1: "allow"})
    auth.login(world["maria"])
    ids = case_ids(world["session"])
    session_id = world["session"].id
    response = client.post(
        f"/calibration/sessions/{session_id}/label/{ids[2]}",
        data={"option": "escalate"},
        follow_redirects=True,
    )
    assert "You have labelled every case." in response.get_data(as_text=True)


def test_an_unknown_option_is_refused_and_nothing_saved(client, auth, db, world):
    auth.login(world["maria"])
    ids = case_ids(world["session"])
    page = client.post(
        f"/calibration/sessions/{world['session'].id}/label/{ids[0]}", data={"option": "nuke"}
    ).get_data(as_text=True)
    assert "choose one of remove, allow, escalate" in page
    assert db.session.scalar(sa.select(sa.func.count(Label.id))) == 0


def test_before_reveal_a_rater_sees_only_their_own_labels_and_no_golden(client, auth, world):
    _say(world, "ana", {0: "escalate", 1: "escalate", 2: "escalate"})
    _say(world, "liam", {0: "allow"})
    _say(world, "maria", {0: "remove"})
    auth.login(world["maria"])
    session_id = world["session"].id
    ids = case_ids(world["session"])
    pages = [
        client.get(f"/calibration/sessions/{session_id}").get_data(as_text=True),
        client.get(f"/calibration/sessions/{session_id}/cases").get_data(as_text=True),
        client.get(f"/calibration/sessions/{session_id}/cases/{ids[0]}").get_data(as_text=True),
        client.get(f"/calibration/sessions/{session_id}/label/{ids[1]}").get_data(as_text=True),
        client.get(f"/calibration/sessions/{session_id}/labels.csv").get_data(as_text=True),
    ]
    everything = "\n".join(pages)
    assert "Ana Reyes" not in everything and "Liam Byrne" not in everything
    assert "Escalate</td>" not in everything and "escalate," not in everything
    assert ">Golden<" not in everything and "Golden answer</h2>" not in everything
    assert "golden" not in pages[4]
    assert "1 of 3" in pages[0]  # her own progress
    assert "Progress by rater" not in pages[0]
    csv_rows = pages[4].strip().splitlines()
    assert csv_rows[0] == "reference,rater,vendor,site,label,comment,updated_at"
    assert len(csv_rows) == 2 and csv_rows[1].startswith("C-1,Maria Santos,Meridian CX,")


def test_results_are_hidden_from_raters_until_reveal(client, auth, world):
    _say(world, "maria", {0: "remove"})
    services.close_session(world["pom"], world["session"])
    auth.login(world["maria"])
    response = client.get(f"/calibration/sessions/{world['session'].id}/results")
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "shown once the session is revealed" in page
    assert "alpha" not in page.lower()


def test_after_reveal_a_rater_sees_golden_and_their_vendors_labels_but_not_others(
    client, auth, world
):
    _say(world, "maria", {0: "remove", 1: "allow", 2: "remove"})
    _say(world, "ana", {0: "remove", 1: "allow", 2: "allow"})
    _say(world, "liam", {0: "escalate", 1: "escalate", 2: "escalate"})
    services.close_session(world["pom"], world["session"])
    services.reveal_session(world["pom"], world["session"])
    auth.login(world["maria"])
    session_id = world["session"].id
    ids = case_ids(world["session"])
    case_page = client.get(f"/calibration/sessions/{session_id}/cases/{ids[0]}").get_data(
        as_text=True
    )
    assert "Golden answer" in case_page and "Ana Reyes" in case_page
    assert "Liam Byrne" not in case_page and "Harbor Review" not in case_page
    export = client.get(f"/calibration/sessions/{session_id}/labels.csv").get_data(as_text=True)
    assert "golden" in export.splitlines()[0]
    assert "Ana Reyes" in export and "Liam Byrne" not in export


def test_labels_cannot_change_once_the_session_closes(client, auth, db, world):
    _say(world, "maria", {0: "remove"})
    services.close_session(world["pom"], world["session"])
    auth.login(world["maria"])
    ids = case_ids(world["session"])
    url = f"/calibration/sessions/{world['session'].id}/label/{ids[0]}"
    page = client.get(url).get_data(as_text=True)
    assert "The session has closed; your labels can no longer change." in page
    assert "disabled" in page
    refused = client.post(url, data={"option": "allow"}).get_data(as_text=True)
    assert "labels can no longer be changed" in refused
    assert db.session.scalars(sa.select(Label.option_key)).all() == ["remove"]


def test_another_vendors_qa_lead_gets_404_everywhere(client, auth, world, create_user):
    outsider = create_user(Role.QA_LEAD)
    auth.login(outsider)
    session_id = world["session"].id
    ids = case_ids(world["session"])
    for url in [
        f"/calibration/sessions/{session_id}",
        f"/calibration/sessions/{session_id}/cases",
        f"/calibration/sessions/{session_id}/cases/{ids[0]}",
        f"/calibration/sessions/{session_id}/label",
        f"/calibration/sessions/{session_id}/label/{ids[0]}",
        f"/calibration/sessions/{session_id}/labels.csv",
        f"/calibration/sessions/{session_id}/results",
    ]:
        assert client.get(url).status_code == 404, url


def test_a_qa_lead_of_the_vendor_who_is_not_a_rater_cannot_label(client, auth, world, create_user):
    colleague = create_user(Role.QA_LEAD, vendor=world["maria"].vendor)
    auth.login(colleague)
    session_id = world["session"].id
    assert client.get(f"/calibration/sessions/{session_id}").status_code == 200
    response = client.get(f"/calibration/sessions/{session_id}/label")
    assert response.status_code == 403
    assert "You are not a rater in this session." in response.get_data(as_text=True)


def test_the_pom_sees_progress_by_rater_but_labels_no_cases(client, auth, world):
    _say(world, "maria", {0: "remove", 1: "allow"})
    auth.login(world["pom"])
    session_id = world["session"].id
    page = client.get(f"/calibration/sessions/{session_id}").get_data(as_text=True)
    assert "Progress by rater" in page and "Maria Santos" in page and "2 of 3" in page
    assert client.get(f"/calibration/sessions/{session_id}/label").status_code == 403


def test_a_golden_answer_change_is_recorded_with_before_and_after(client, auth, db, world):
    from rollcal.audit import AuditEvent

    auth.login(world["pom"])
    ids = case_ids(world["session"])
    session_id = world["session"].id
    response = client.post(
        f"/calibration/sessions/{session_id}/cases/{ids[0]}/golden",
        data={"golden_label": "allow", "golden_rationale": "Receipt shows it is genuine"},
    )
    assert response.status_code == 302
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "calibration.golden_set")
    )
    assert event.before == {"golden_label": "remove", "rationale": None}
    assert event.after == {"golden_label": "allow", "rationale": "Receipt shows it is genuine"}
    assert "Remove → Allow" in event.summary


def test_draft_sessions_are_invisible_to_qa_leads(client, auth, db, create_user, create_site):
    site = create_site()
    pom = create_user(Role.POM)
    lead, other = (create_user(Role.QA_LEAD, vendor=site.vendor) for _ in range(2))
    session = make_session(pom, [(lead, site), (other, site)], cases=1)
    auth.login(lead)
    assert client.get(f"/calibration/sessions/{session.id}").status_code == 404


def test_a_save_sent_by_htmx_answers_with_the_next_case_and_its_address(client, auth, db, world):
    session, ids = world["session"], case_ids(world["session"])
    auth.login(world["maria"])
    response = client.post(
        f"/calibration/sessions/{session.id}/label/{ids[0]}",
        data={"option": "remove", "comment": ""},
        headers={"HX-Request": "true"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == f"/calibration/sessions/{session.id}/label/{ids[1]}"
    assert 'id="labelling"' in page and "Case 2 of 3" in page
    assert db.session.scalar(sa.select(Label.option_key).where(Label.case_id == ids[0])) == "remove"


def test_the_last_save_sent_by_htmx_sends_the_browser_to_the_session(client, auth, world):
    session, ids = world["session"], case_ids(world["session"])
    _say(world, "maria", {0: "remove", 1: "allow"})
    auth.login(world["maria"])
    response = client.post(
        f"/calibration/sessions/{session.id}/label/{ids[2]}",
        data={"option": "escalate"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/calibration/sessions/{session.id}"
    page = client.get(f"/calibration/sessions/{session.id}").get_data(as_text=True)
    assert "You have labelled every case" in page


def test_a_refused_save_sent_by_htmx_shows_the_same_case_with_the_reason(client, auth, world):
    session, ids = world["session"], case_ids(world["session"])
    auth.login(world["maria"])
    response = client.post(
        f"/calibration/sessions/{session.id}/label/{ids[0]}",
        data={"option": "spam"},
        headers={"HX-Request": "true"},
    )
    page = response.get_data(as_text=True)
    assert "HX-Push-Url" not in response.headers
    assert "Case 1 of 3" in page and 'role="alert"' in page


def test_without_htmx_a_save_still_redirects_to_the_next_case(client, auth, world):
    session, ids = world["session"], case_ids(world["session"])
    auth.login(world["maria"])
    response = client.post(
        f"/calibration/sessions/{session.id}/label/{ids[0]}", data={"option": "remove"}
    )
    assert response.status_code == 302
    assert "/label?after=" in response.headers["Location"]
