"""POMs create calibration sessions, add raters and cases, and take them through
draft → open → closed → revealed."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from calibration import services
from calibration.models import (
    AgreementSnapshot,
    CalibrationSession,
    Rater,
    RaterKind,
    SessionStatus,
)
from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from rollcal.errors import Conflict, Forbidden, ValidationError
from rollcal.types import utcnow
from tests.calibration_factories import OPTIONS, make_session, run_session, split_answers


@pytest.fixture
def team(create_user, create_site, create_vendor):
    """A POM and two QA leads of one vendor, each with a site."""
    vendor = create_vendor("Meridian CX")
    manila, cebu = create_site(vendor, "Manila North"), create_site(vendor, "Cebu")
    return {
        "pom": create_user(Role.POM, name="Dana Whitfield"),
        "maria": create_user(Role.QA_LEAD, vendor=vendor, name="Maria Santos"),
        "ana": create_user(Role.QA_LEAD, vendor=vendor, name="Ana Reyes"),
        "manila": manila,
        "cebu": cebu,
    }


def test_pom_creates_a_session_and_is_sent_to_add_raters(client, auth, db, team):
    auth.login(team["pom"])
    response = client.post(
        "/calibration/sessions/new",
        data={
            "title": "Counterfeit listings — round 1",
            "description": "Label as you would in production.",
            "rollout": 0,
            "policy_version": 0,
            "label_options": "remove | Remove | Breaks the policy\nallow | Allow",
            "label_level": "nominal",
            "alpha_threshold": "0.7",
            "accuracy_target": "0.85",
        },
    )
    session = db.session.scalar(sa.select(CalibrationSession))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/calibration/sessions/{session.id}/raters")
    assert session.status == SessionStatus.DRAFT
    assert session.option_keys == ["remove", "allow"]
    assert (session.alpha_threshold, session.accuracy_target) == (0.7, 0.85)
    page = client.get(f"/calibration/sessions/{session.id}").get_data(as_text=True)
    assert "Counterfeit listings — round 1" in page and "Breaks the policy" in page


def test_session_times_are_read_in_the_pom_time_zone_and_shown_in_it(client, auth, db, create_user):
    pom = auth.login(create_user(Role.POM, timezone="Asia/Manila"))
    client.post(
        "/calibration/sessions/new",
        data={
            "title": "Timed",
            "rollout": 0,
            "policy_version": 0,
            "label_options": OPTIONS,
            "label_level": "nominal",
            "opens_at": "2030-03-02T09:00",
            "closes_at": "2030-03-04T18:00",
        },
    )
    session = db.session.scalar(sa.select(CalibrationSession))
    assert session.opens_at.isoformat() == "2030-03-02T01:00:00+00:00"
    page = client.get(f"/calibration/sessions/{session.id}").get_data(as_text=True)
    assert "Sat 2 Mar 2030, 09:00 (Manila, UTC+8)" in page
    assert pom.timezone == "Asia/Manila"


def test_bad_label_options_are_refused_beside_the_field(client, auth, db, team):
    auth.login(team["pom"])
    response = client.post(
        "/calibration/sessions/new",
        data={
            "title": "Bad",
            "rollout": 0,
            "policy_version": 0,
            "label_options": "Remove It | Remove\nallow",
            "label_level": "nominal",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="label_options-error"' in page
    assert "the key “Remove It” must be lower-case letters" in page
    assert db.session.scalar(sa.select(sa.func.count(CalibrationSession.id))) == 0


def test_session_closing_before_it_opens_is_refused(client, auth, db, team):
    auth.login(team["pom"])
    response = client.post(
        "/calibration/sessions/new",
        data={
            "title": "Backwards",
            "rollout": 0,
            "policy_version": 0,
            "label_options": OPTIONS,
            "label_level": "nominal",
            "opens_at": "2030-03-04T09:00",
            "closes_at": "2030-03-02T09:00",
        },
    )
    assert "must be after the opening time" in response.get_data(as_text=True)


def test_label_options_are_copied_from_the_policy_version(db, team, make_version):
    version = make_version(team["pom"])
    session = services.create_session(
        team["pom"], title="From the version", policy_version_id=version.id
    )
    assert session.label_options == version.label_options
    version.label_options = [{"key": "changed", "name": "Changed", "description": ""}]
    db.session.commit()
    db.session.refresh(session)
    assert session.option_keys == ["violating", "authentic"]


def test_a_session_linked_to_a_rollout_takes_its_version_and_gate_thresholds(db, rollout_world):
    rollout = rollout_world["rollout"]
    rollout.alpha_threshold, rollout.accuracy_target = 0.75, 0.95
    db.session.commit()
    session = services.create_session(
        rollout_world["pom"], title="Gate round", rollout_id=rollout.id
    )
    assert session.policy_version_id == rollout.policy_version_id
    assert (session.alpha_threshold, session.accuracy_target) == (0.75, 0.95)
    assert session.option_keys == ["violating", "authentic"]


def test_new_session_form_offers_rollouts_and_versions(client, auth, rollout_world):
    auth.login(rollout_world["pom"])
    page = client.get("/calibration/sessions/new").get_data(as_text=True)
    assert "SHOP-CF v3.0 — Counterfeit goods (go-live" in page
    assert '<label for="label_options">' in page


def test_qa_lead_is_added_as_a_rater_for_a_site_of_their_vendor(client, auth, db, team):
    session = make_session(team["pom"])
    auth.login(team["pom"])
    response = client.post(
        f"/calibration/sessions/{session.id}/raters",
        data={"human-person": team["maria"].id, "human-site": team["cebu"].id, "human-submit": "y"},
    )
    assert response.status_code == 302
    rater = db.session.scalar(sa.select(Rater))
    assert (rater.user_id, rater.site_id, rater.vendor_id) == (
        team["maria"].id,
        team["cebu"].id,
        team["maria"].vendor_id,
    )
    page = client.get(f"/calibration/sessions/{session.id}/raters").get_data(as_text=True)
    assert "Meridian CX · Cebu" in page


def test_a_rater_cannot_label_for_another_vendors_site(client, auth, db, team, create_site):
    session = make_session(team["pom"])
    elsewhere = create_site(name="Dublin")
    auth.login(team["pom"])
    response = client.post(
        f"/calibration/sessions/{session.id}/raters",
        data={"human-person": team["maria"].id, "human-site": elsewhere.id, "human-submit": "y"},
    )
    assert "choose a site of Meridian CX" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Rater.id))) == 0


def test_model_rater_is_added_with_name_and_version(client, auth, db, team):
    session = make_session(team["pom"])
    auth.login(team["pom"])
    client.post(
        f"/calibration/sessions/{session.id}/raters",
        data={
            "model-model_name": "ListingGuard",
            "model-model_version": "2.4",
            "model-submit": "y",
        },
    )
    rater = db.session.scalar(sa.select(Rater))
    assert rater.kind == RaterKind.MODEL and rater.name == "ListingGuard 2.4"


def test_session_opens_only_with_cases_and_two_raters(db, team):
    session = make_session(team["pom"], [(team["maria"], team["manila"])])
    with pytest.raises(ValidationError, match="import the cases"):
        services.open_session(team["pom"], session)
    services.import_cases(team["pom"], session, b"reference,text\nC-1,A listing\n")
    with pytest.raises(ValidationError, match="at least two raters"):
        services.open_session(team["pom"], session)
    services.add_human_rater(team["pom"], session, user_id=team["ana"].id, site_id=team["cebu"].id)
    services.open_session(team["pom"], session)
    assert session.status == SessionStatus.OPEN and session.opened_at is not None


def test_open_close_and_reveal_are_idempotent_for_the_scheduler(db, team):
    raters = [(team["maria"], team["manila"]), (team["ana"], team["cebu"])]
    session = run_session(team["pom"], raters, cases=6, answer=split_answers, until="open")
    opened_at = session.opened_at
    assert services.open_session(None, session).opened_at == opened_at
    services.close_session(None, session)
    services.close_session(None, session)
    services.reveal_session(None, session)
    services.reveal_session(None, session)
    snapshots = db.session.scalar(sa.select(sa.func.count(AgreementSnapshot.id)))
    assert session.status == SessionStatus.REVEALED
    assert snapshots == 1
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.session_id == session.id)
    ).all()
    assert actions.count("calibration.session_closed") == 1
    assert actions.count("calibration.session_revealed") == 1


def test_a_draft_session_cannot_be_closed_or_revealed(db, team):
    session = make_session(team["pom"])
    with pytest.raises(Conflict):
        services.close_session(team["pom"], session)
    with pytest.raises(Conflict):
        services.reveal_session(team["pom"], session)


def test_only_poms_and_admins_manage_sessions(db, team):
    session = make_session(team["pom"])
    with pytest.raises(Forbidden):
        services.open_session(team["maria"], session)


def test_pom_closes_and_reveals_with_the_buttons(client, auth, db, team):
    raters = [(team["maria"], team["manila"]), (team["ana"], team["cebu"])]
    session = run_session(team["pom"], raters, cases=6, answer=split_answers, until="open")
    auth.login(team["pom"])
    response = client.post(f"/calibration/sessions/{session.id}/close", follow_redirects=True)
    assert "is closed; its results are computed." in response.get_data(as_text=True)
    response = client.post(f"/calibration/sessions/{session.id}/reveal", follow_redirects=True)
    assert "is revealed to its raters." in response.get_data(as_text=True)
    again = client.post(f"/calibration/sessions/{session.id}/open", follow_redirects=True)
    assert again.status_code == 200
    db.session.refresh(session)
    assert session.status == SessionStatus.REVEALED


def test_opening_a_session_without_raters_says_why(client, auth, db, team):
    session = make_session(team["pom"], cases=2)
    auth.login(team["pom"])
    page = client.post(f"/calibration/sessions/{session.id}/open", follow_redirects=True).get_data(
        as_text=True
    )
    assert "add at least two raters before opening" in page


def test_after_opening_the_label_options_can_no_longer_change(client, auth, db, team):
    raters = [(team["maria"], team["manila"]), (team["ana"], team["cebu"])]
    session = run_session(team["pom"], raters, cases=2, answer=lambda r, c: None, until="open")
    auth.login(team["pom"])
    page = client.get(f"/calibration/sessions/{session.id}/edit").get_data(as_text=True)
    assert 'name="label_options"' not in page
    assert "stay as they are" in page
    client.post(
        f"/calibration/sessions/{session.id}/edit",
        data={"title": "Renamed", "label_options": "a\nb", "closes_at": ""},
    )
    db.session.refresh(session)
    assert session.title == "Renamed" and session.option_keys == ["remove", "allow", "escalate"]


def test_labels_after_the_closing_time_are_refused_even_before_the_scheduler_runs(db, team):
    raters = [(team["maria"], team["manila"]), (team["ana"], team["cebu"])]
    session = run_session(team["pom"], raters, cases=2, answer=lambda r, c: None, until="open")
    session.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(Conflict, match="has closed"):
        services.save_labels(
            team["maria"], session, [services.LabelInput(option="allow", reference="C-1")]
        )


def test_sessions_list_shows_qa_leads_only_their_vendors_sessions_past_draft(
    client, auth, db, team, create_user, create_site
):
    raters = [(team["maria"], team["manila"]), (team["ana"], team["cebu"])]
    run_session(team["pom"], raters, cases=2, answer=lambda r, c: "allow", until="open")
    make_session(team["pom"], raters, title="Still a draft")
    other_site = create_site(name="Dublin")
    liam = create_user(Role.QA_LEAD, vendor=other_site.vendor)
    auth.login(team["maria"])
    page = client.get("/calibration/sessions").get_data(as_text=True)
    assert "Counterfeit listings — round 1" in page
    assert "Still a draft" not in page
    auth.login(liam)
    page = client.get("/calibration/sessions").get_data(as_text=True)
    assert "Counterfeit listings" not in page
    assert "Your vendor takes part in no calibration session yet." in page


def test_a_session_cannot_be_created_closing_in_the_past(client, auth, db, create_user):
    """Its closing time already past, the session is refused and nothing is stored."""
    auth.login(create_user(Role.POM))
    response = client.post(
        "/calibration/sessions/new",
        data={
            "title": "Too late",
            "rollout": 0,
            "policy_version": 0,
            "label_options": OPTIONS,
            "label_level": "nominal",
            "closes_at": "2020-01-01T09:00",
        },
    )
    assert "already passed: choose a closing time still to come" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(CalibrationSession.id))) == 0


def test_the_raters_page_proposes_the_rollout_sites_qa_leads_and_adds_them_at_once(
    client, auth, db, rollout_world, create_user
):
    """Only the rollout's sites' QA leads are proposed; ticking two adds both in one post."""
    from calibration import services as calibration_services
    from calibration.models import Rater

    pom = rollout_world["pom"]
    outsider = create_user(Role.QA_LEAD, name="Outside Vendor Lead")
    session = calibration_services.create_session(
        pom, title="Round", rollout_id=rollout_world["rollout"].id, label_options=""
    )
    db.session.commit()
    auth.login(pom)
    page = client.get(f"/calibration/sessions/{session.id}/raters").get_data(as_text=True)
    maria, liam = rollout_world["maria"], rollout_world["liam"]
    cebu, dublin = rollout_world["cebu"], rollout_world["dublin"]
    assert f'value="{maria.id}:{cebu.id}"' in page and f'value="{liam.id}:{dublin.id}"' in page
    assert outsider.name not in page.split("QA leads of the rollout")[1].split("</section>")[0]
    response = client.post(
        f"/calibration/sessions/{session.id}/raters",
        data={"add_proposed": "1", "propose": [f"{maria.id}:{cebu.id}", f"{liam.id}:{dublin.id}"]},
        follow_redirects=True,
    )
    assert "2 QA leads added." in response.get_data(as_text=True)
    assert (
        db.session.scalar(sa.select(sa.func.count(Rater.id)).where(Rater.session_id == session.id))
        == 2
    )
