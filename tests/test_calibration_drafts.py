"""Draft sessions and their cases are edited and deleted; sessions past draft are
archived (hidden from lists, read-only, unarchived again), never deleted."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from calibration import services
from calibration.models import CalibrationSession, Case, Label, SessionStatus
from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from rollcal.errors import Conflict, Forbidden, ValidationError
from rollcal.types import utcnow
from tests.calibration_factories import case_ids, make_session, run_session, split_answers


@pytest.fixture
def team(create_user, create_site, create_vendor):
    """Two POMs and two QA leads of one vendor, each with a site."""
    vendor = create_vendor("Meridian CX")
    manila, cebu = create_site(vendor, "Manila North"), create_site(vendor, "Cebu")
    maria = create_user(Role.QA_LEAD, vendor=vendor, name="Maria Santos")
    ana = create_user(Role.QA_LEAD, vendor=vendor, name="Ana Reyes")
    return {
        "pom": create_user(Role.POM, name="Dana Whitfield"),
        "pom2": create_user(Role.POM, name="Rafael Ortiz"),
        "maria": maria,
        "raters": [(maria, manila), (ana, cebu)],
    }


def _count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _actions(db) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


# Sessions -------------------------------------------------------------------------------


def test_a_stale_session_edit_gets_a_conflict_page_naming_who_saved_first(client, auth, db, team):
    session = make_session(team["pom"])
    db.session.commit()
    seen = session.version
    services.update_session(team["pom2"], session, title="Renamed by Rafael", version=seen)
    db.session.commit()
    auth.login(team["pom"])
    response = client.post(
        f"/calibration/sessions/{session.id}/edit",
        data={"title": "Renamed by Dana", "label_options": "a\nb", "version": seen},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Rafael Ortiz saved first" in page
    assert "Renamed by Dana" in page  # the person's entries are kept
    db.session.refresh(session)
    assert session.title == "Renamed by Rafael"


def test_a_session_edit_refuses_a_closing_time_in_the_past(client, auth, db, team):
    session = make_session(team["pom"])
    db.session.commit()
    auth.login(team["pom"])
    response = client.post(
        f"/calibration/sessions/{session.id}/edit",
        data={
            "title": "Timed",
            "label_options": "a\nb",
            "label_level": "nominal",
            "closes_at": "2020-01-01T09:00",
            "version": session.version,
        },
    )
    assert "This time has already passed" in response.get_data(as_text=True)
    db.session.refresh(session)
    assert session.closes_at is None and session.title != "Timed"


def test_pom_deletes_a_draft_session_with_its_cases_after_confirming(client, auth, db, team):
    session = make_session(team["pom"], team["raters"], cases=3)
    db.session.commit()
    auth.login(team["pom"])
    ask = client.get(f"/calibration/sessions/{session.id}/delete").get_data(as_text=True)
    assert "its 3 cases are deleted" in ask
    response = client.post(
        f"/calibration/sessions/{session.id}/delete",
        data={"version": session.version},
        follow_redirects=True,
    )
    assert "and its cases are deleted" in response.get_data(as_text=True)
    assert _count(db, CalibrationSession) == 0 and _count(db, Case) == 0
    assert "calibration.session_deleted" in _actions(db)


def test_a_session_that_has_opened_cannot_be_deleted_but_is_archived(db, team):
    session = run_session(team["pom"], team["raters"], cases=4, answer=split_answers, until="open")
    with pytest.raises(Conflict, match="labels are evidence"):
        services.delete_session(team["pom"], session)
    services.archive_session(team["pom"], session)
    assert session.is_archived and _count(db, Label) == 8


def test_a_draft_is_deleted_rather_than_archived(db, team):
    session = make_session(team["pom"])
    with pytest.raises(Conflict, match="delete it rather than archive it"):
        services.archive_session(team["pom"], session)


def test_only_poms_and_admins_delete_or_archive_sessions(db, team):
    session = make_session(team["pom"])
    with pytest.raises(Forbidden):
        services.delete_session(team["maria"], session)
    with pytest.raises(Forbidden):
        services.archive_session(team["maria"], session)


def test_an_archived_session_leaves_the_list_and_shows_under_the_archived_filter(
    client, auth, db, team
):
    session = run_session(
        team["pom"], team["raters"], cases=4, answer=split_answers, until="revealed"
    )
    make_session(team["pom"], title="Next round")
    auth.login(team["pom"])
    client.post(f"/calibration/sessions/{session.id}/archive", follow_redirects=True)
    listed = client.get("/calibration/sessions").get_data(as_text=True)
    assert "Counterfeit listings — round 1" not in listed and "Next round" in listed
    archived = client.get("/calibration/sessions?status=archived").get_data(as_text=True)
    assert "Counterfeit listings — round 1" in archived and "Next round" not in archived
    page = client.get(f"/calibration/sessions/{session.id}").get_data(as_text=True)
    assert "This session is archived" in page and "Unarchive" in page


def test_an_archived_session_is_read_only_until_unarchived(client, auth, db, team):
    session = run_session(team["pom"], team["raters"], cases=4, answer=split_answers, until="open")
    services.archive_session(team["pom"], session)
    db.session.commit()
    with pytest.raises(Conflict, match="archived"):
        services.update_session(team["pom"], session, title="Renamed")
    with pytest.raises(Conflict, match="archived"):
        services.close_session(team["pom"], session)
    with pytest.raises(Conflict, match="archived"):
        services.save_labels(
            team["maria"], session, [services.LabelInput(option="allow", reference="C-1")]
        )
    auth.login(team["pom"])
    response = client.get(f"/calibration/sessions/{session.id}/edit", follow_redirects=True)
    assert "is archived; unarchive it to edit it" in response.get_data(as_text=True)
    client.post(f"/calibration/sessions/{session.id}/unarchive")
    db.session.refresh(session)
    assert not session.is_archived
    services.update_session(team["pom"], session, title="Renamed")
    assert session.title == "Renamed"
    assert _actions(db)[-3:-1] == [
        "calibration.session_archived",
        "calibration.session_unarchived",
    ]


def test_the_scheduler_leaves_an_archived_open_session_open(app, db, team):
    from calibration.jobs import session_deadlines

    session = run_session(team["pom"], team["raters"], cases=4, answer=split_answers, until="open")
    services.archive_session(team["pom"], session)
    session.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    session_deadlines()
    db.session.refresh(session)
    assert session.status == SessionStatus.OPEN


# Cases ----------------------------------------------------------------------------------


def test_pom_edits_a_case_of_a_draft_session(client, auth, db, team):
    session = make_session(team["pom"], cases=2)
    db.session.commit()
    case = db.session.get(Case, case_ids(session)[0])
    auth.login(team["pom"])
    response = client.post(
        f"/calibration/sessions/{session.id}/cases/{case.id}/edit",
        data={
            "content_text": "A replica watch, disclosed as such",
            "content_url": "",
            "golden_label": "allow",
            "golden_rationale": "Disclosed replicas are allowed",
            "version": case.version,
        },
    )
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.content_text == "A replica watch, disclosed as such"
    assert case.golden_label == "allow"
    assert {"calibration.case_updated", "calibration.golden_set"} <= set(_actions(db))


def test_a_case_edit_is_refused_with_a_message_when_it_has_no_content(db, team):
    session = make_session(team["pom"], cases=1)
    case = db.session.get(Case, case_ids(session)[0])
    with pytest.raises(ValidationError, match="text, a link, or both"):
        services.update_case(
            team["pom"],
            case,
            version=case.version,
            content_text=" ",
            content_url="",
            golden_label=None,
        )
    with pytest.raises(ValidationError, match="golden_label|label options"):
        services.update_case(
            team["pom"],
            case,
            version=case.version,
            content_text="Fine",
            content_url="",
            golden_label="spam",
        )


def test_a_stale_case_edit_gets_a_conflict_naming_who_saved_first(client, auth, db, team):
    session = make_session(team["pom"], cases=1)
    db.session.commit()
    case = db.session.get(Case, case_ids(session)[0])
    seen = case.version
    services.update_case(
        team["pom2"],
        case,
        version=seen,
        content_text="Rafael's text",
        content_url="",
        golden_label=None,
    )
    db.session.commit()
    auth.login(team["pom"])
    response = client.post(
        f"/calibration/sessions/{session.id}/cases/{case.id}/edit",
        data={"content_text": "Dana's text", "golden_label": "", "version": seen},
    )
    assert response.status_code == 409
    assert "Rafael Ortiz saved first" in response.get_data(as_text=True)
    db.session.refresh(case)
    assert case.content_text == "Rafael's text"


def test_pom_deletes_a_case_of_a_draft_session(client, auth, db, team):
    session = make_session(team["pom"], cases=2)
    db.session.commit()
    first = case_ids(session)[0]
    auth.login(team["pom"])
    client.post(f"/calibration/sessions/{session.id}/cases/{first}/delete")
    assert len(case_ids(session)) == 1 and first not in case_ids(session)
    assert "calibration.case_deleted" in _actions(db)


def test_cases_cannot_be_edited_or_deleted_once_the_session_is_open(client, auth, db, team):
    session = run_session(team["pom"], team["raters"], cases=2, answer=split_answers, until="open")
    case = db.session.get(Case, case_ids(session)[0])
    with pytest.raises(Conflict, match="stay as raters see them"):
        services.delete_case(team["pom"], case)
    with pytest.raises(Conflict, match="stay as raters see them"):
        services.update_case(
            team["pom"],
            case,
            version=case.version,
            content_text="Changed",
            content_url="",
            golden_label=None,
        )
    auth.login(team["pom"])
    response = client.post(
        f"/calibration/sessions/{session.id}/cases/{case.id}/delete", follow_redirects=True
    )
    assert "you can no longer delete cases" in response.get_data(as_text=True)
    assert len(case_ids(session)) == 2


def test_a_case_changed_by_someone_else_between_reading_and_saving_is_a_conflict(db, team):
    session = make_session(team["pom"], cases=1)
    db.session.commit()
    case = db.session.get(Case, case_ids(session)[0])
    seen = case.version
    # Another writer's committed change, behind this unit of work's back: the row's
    # version moves on while the copy in hand still says ``seen``.
    db.session.execute(
        sa.update(Case)
        .where(Case.id == case.id)
        .values(content_text="Someone else's", version=Case.version + 1)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(Conflict, match="at the same time"):
        services.update_case(
            team["pom"],
            case,
            version=seen,
            content_text="Mine",
            content_url="",
            golden_label=None,
        )
    # Its UPDATE matched no row, the version having moved on: a conflict, not an overwrite.


def test_the_cases_list_offers_editing_only_while_the_session_is_a_draft(client, auth, db, team):
    draft = make_session(team["pom"], cases=1, title="Draft round")
    running = run_session(team["pom"], team["raters"], cases=1, answer=split_answers, until="open")
    db.session.commit()
    auth.login(team["pom"])
    assert "Edit case C-1" in client.get(f"/calibration/sessions/{draft.id}/cases").get_data(
        as_text=True
    )
    page = client.get(f"/calibration/sessions/{running.id}/cases").get_data(as_text=True)
    assert "Edit case C-1" not in page and "Golden answer" in page
