"""POMs triage misalignment flags; QA leads see only their own vendor's."""

import pytest
import sqlalchemy as sa

from calibration import services
from calibration.models import FlagStatus, SessionStatus
from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from rollcal.errors import Conflict, ValidationError
from tests.calibration_factories import flags_of, noisy_answers, run_session


@pytest.fixture
def flagged(create_user, create_site, create_vendor):
    """A revealed, misaligned session with raters at Meridian and Harbor."""
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    pom = create_user(Role.POM)
    maria, ana = (create_user(Role.QA_LEAD, vendor=meridian, name=n) for n in ("Maria", "Ana"))
    liam, niamh = (create_user(Role.QA_LEAD, vendor=harbor, name=n) for n in ("Liam", "Niamh"))
    session = run_session(
        pom,
        [(maria, cebu), (ana, cebu), (liam, dublin), (niamh, dublin)],
        cases=30,
        answer=noisy_answers,
    )
    flags = flags_of(session)
    return {
        "pom": pom,
        "maria": maria,
        "session": session,
        "meridian": next(f for f in flags if f.scope == "site" and "Meridian CX" in f.subject),
        "harbor": next(f for f in flags if f.scope == "site" and "Harbor Review" in f.subject),
        "overall": next(f for f in flags if f.scope == "session"),
    }


def test_resolving_needs_a_root_cause_and_an_action(client, auth, db, flagged):
    auth.login(flagged["pom"])
    flag = flagged["harbor"]
    page = client.post(
        f"/calibration/flags/{flag.id}",
        data={"status": "resolved", "root_cause": "", "action": "", "version": flag.version},
    ).get_data(as_text=True)
    assert "say what caused the misalignment" in page
    response = client.post(
        f"/calibration/flags/{flag.id}",
        data={
            "status": "resolved",
            "cause": "training_gap",
            "root_cause": "Dublin read 'replica' as allowed when disclosed",
            "action": "Recalibrated on the 9 cases with the policy team",
            "version": flag.version,
        },
    )
    assert response.status_code == 302
    db.session.refresh(flag)
    assert flag.status == FlagStatus.RESOLVED and flag.resolved_by_id == flagged["pom"].id
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "calibration.flag_updated")
    )
    assert event.before["status"] == "open" and event.after["status"] == "resolved"
    assert event.vendor_id == flag.vendor_id


def test_two_poms_editing_one_flag_get_a_conflict_not_a_lost_update(db, flagged):
    flag = flagged["overall"]
    seen = flag.version
    services.triage_flag(flagged["pom"], flag, status="acknowledged", version=seen)
    with pytest.raises(Conflict, match="Someone else updated this flag"):
        services.triage_flag(
            flagged["pom"], flag, status="resolved", root_cause="x", action="y", version=seen
        )
    assert flag.status == FlagStatus.ACKNOWLEDGED


def test_the_stale_form_shows_the_conflict_and_the_flag_as_it_is_now(client, auth, flagged):
    flag = flagged["overall"]
    seen = flag.version
    services.triage_flag(flagged["pom"], flag, status="acknowledged")
    auth.login(flagged["pom"])
    page = client.post(
        f"/calibration/flags/{flag.id}",
        data={"status": "open", "root_cause": "", "action": "", "version": seen},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Someone else updated this flag" in page
    assert '<option selected value="acknowledged">' in page


def test_unknown_status_is_refused(db, flagged):
    with pytest.raises(ValidationError):
        services.triage_flag(flagged["pom"], flagged["overall"], status="gone")


def test_qa_lead_sees_only_flags_about_their_vendor(client, auth, flagged):
    auth.login(flagged["maria"])
    page = client.get("/calibration/flags").get_data(as_text=True)
    assert "Site: Meridian CX" in page
    assert "Harbor Review" not in page and "Whole session" not in page
    assert client.get(f"/calibration/flags/{flagged['harbor'].id}").status_code == 404
    own = client.get(f"/calibration/flags/{flagged['meridian'].id}")
    assert own.status_code == 200 and "Triage" not in own.get_data(as_text=True)
    assert client.post(f"/calibration/flags/{flagged['meridian'].id}").status_code == 403


def test_flags_of_an_unrevealed_session_are_for_poms_only(client, auth, db, flagged, create_user):
    auth.login(create_user(Role.STAKEHOLDER))
    assert "Site: Meridian CX" in client.get("/calibration/flags").get_data(as_text=True)
    flagged["session"].status = SessionStatus.CLOSED
    db.session.commit()
    assert "Site: Meridian CX" not in client.get("/calibration/flags").get_data(as_text=True)
    auth.login(flagged["pom"])
    assert "Site: Meridian CX" in client.get("/calibration/flags").get_data(as_text=True)
