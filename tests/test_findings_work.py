"""A finding is a piece of work: an owner, a due date, action items, and a root cause from
a fixed list that links to the same cause resolved earlier at the same vendor."""

from datetime import date, timedelta

import pytest

from calibration import findings_work, services
from calibration.models import ActionStatus, FlagStatus, RootCause
from rollcal.accounts.models import Role
from rollcal.errors import Conflict, Forbidden, ValidationError
from tests.calibration_factories import flags_of, noisy_answers, run_session


@pytest.fixture
def flagged(create_user, create_site, create_vendor):
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    pom = create_user(Role.POM)
    maria, ana = (create_user(Role.QA_LEAD, vendor=meridian, name=n) for n in ("Maria", "Ana"))
    liam, niamh = (create_user(Role.QA_LEAD, vendor=harbor, name=n) for n in ("Liam", "Niamh"))
    raters = [(maria, cebu), (ana, cebu), (liam, dublin), (niamh, dublin)]

    def session(title):
        made = run_session(pom, raters, cases=30, answer=noisy_answers, title=title)
        flags = flags_of(made)
        return {
            "meridian": next(f for f in flags if f.scope == "site" and "Meridian" in f.subject),
            "harbor": next(f for f in flags if f.scope == "site" and "Harbor" in f.subject),
        }

    return {"pom": pom, "maria": maria, "liam": liam, "session": session}


def _resolve(pom, flag, cause="training_gap"):
    services.triage_flag(
        pom,
        flag,
        status="resolved",
        cause=cause,
        root_cause="New hires had the old deck",
        action="Retrained on the v3 examples",
    )


def test_resolving_needs_a_kind_of_root_cause_from_the_list(db, flagged):
    flag = flagged["session"]("Round 1")["harbor"]

    with pytest.raises(ValidationError) as refused:
        services.triage_flag(
            flagged["pom"], flag, status="resolved", cause="bad luck", root_cause="x", action="y"
        )

    assert refused.value.errors == [
        {"field": "cause", "message": "choose the kind of root cause from the list."}
    ]
    assert flag.status == FlagStatus.OPEN
    _resolve(flagged["pom"], flag)
    assert flag.cause_category == RootCause.TRAINING_GAP


def test_a_cause_that_recurs_at_the_vendor_links_to_its_earlier_findings(client, auth, db, flagged):
    first = flagged["session"]("Round 1")
    _resolve(flagged["pom"], first["harbor"])
    _resolve(flagged["pom"], first["meridian"], cause="tooling")
    db.session.commit()
    second = flagged["session"]("Round 2")["harbor"]
    auth.login(flagged["pom"])

    response = client.post(
        f"/calibration/flags/{second.id}",
        data={
            "status": "resolved",
            "cause": "training_gap",
            "root_cause": "Still the old deck at one shift",
            "action": "Deck replaced on the shift's machines",
            "version": second.version,
        },
        follow_redirects=True,
    )

    page = response.get_data(as_text=True)
    assert "This cause recurs: 1 earlier finding at Harbor Review were resolved as" in page
    assert "This cause recurs at Harbor Review" in page
    assert f"/calibration/flags/{first['harbor'].id}" in page
    assert "Action then: Retrained on the v3 examples" in page
    # Meridian's earlier cause was tooling: no recurrence there for a training gap.
    assert findings_work.recurrence_of(first["meridian"], RootCause.TRAINING_GAP) is None


def test_a_finding_is_owned_by_a_pom_or_its_vendors_qa_lead_with_a_due_date(db, flagged):
    flag = flagged["session"]("Round 1")["harbor"]
    pom, liam, maria = flagged["pom"], flagged["liam"], flagged["maria"]
    soon = date.today() + timedelta(days=7)

    findings_work.assign_flag(pom, flag, owner_id=liam.id, due_date=soon)
    assert (flag.owner, flag.due_date) == (liam, soon)

    with pytest.raises(ValidationError, match="QA lead of this vendor"):
        findings_work.assign_flag(pom, flag, owner_id=maria.id, due_date=None)
    with pytest.raises(ValidationError, match="today or later"):
        findings_work.assign_flag(
            pom, flag, owner_id=pom.id, due_date=date.today() - timedelta(days=1)
        )
    seen = flag.version - 1
    with pytest.raises(Conflict):
        findings_work.assign_flag(pom, flag, owner_id=pom.id, due_date=None, version=seen)
    with pytest.raises(Forbidden):
        findings_work.assign_flag(liam, flag, owner_id=liam.id, due_date=None)


def test_action_items_are_added_and_ticked_off_by_the_pom_or_the_owner(client, auth, db, flagged):
    flag = flagged["session"]("Round 1")["harbor"]
    pom, liam = flagged["pom"], flagged["liam"]
    item = findings_work.add_action(pom, flag, "Re-run the 9 misread cases with Dublin")
    with pytest.raises(Forbidden):
        findings_work.set_action_status(liam, item, "done")  # not the owner yet

    findings_work.assign_flag(pom, flag, owner_id=liam.id, due_date=None)
    db.session.commit()
    auth.login(liam)
    response = client.post(
        f"/calibration/flags/{flag.id}/actions/{item.id}",
        data={"status": "done"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    db.session.refresh(item)
    assert item.status == ActionStatus.DONE and item.done_by_id == liam.id
    assert "The action is marked done." in response.get_data(as_text=True)

    with pytest.raises(ValidationError, match="say what will be done"):
        findings_work.add_action(pom, flag, "   ")
    _resolve(pom, flag)
    with pytest.raises(Conflict, match="resolved"):
        findings_work.add_action(pom, flag, "One more thing")


def test_another_vendors_qa_lead_cannot_reach_a_findings_actions(client, auth, db, flagged):
    flag = flagged["session"]("Round 1")["harbor"]
    item = findings_work.add_action(flagged["pom"], flag, "Check the queue config")
    db.session.commit()
    auth.login(flagged["maria"])

    answer = client.post(f"/calibration/flags/{flag.id}/actions/{item.id}", data={"status": "done"})

    assert answer.status_code == 404
    db.session.refresh(item)
    assert item.status == ActionStatus.OPEN
