"""Flags follow the results: recomputing keeps, closes, reopens and adds flags by cause."""

import pytest
import sqlalchemy as sa

from calibration import services
from calibration.models import Case, Flag, FlagStatus
from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from tests.calibration_factories import flags_of, run_session

OPTIONS = ("remove", "allow", "escalate")


@pytest.fixture
def world(create_user, create_site, create_vendor):
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    leads = [
        (create_user(Role.QA_LEAD, vendor=site.vendor, name=f"{site.name} {n}"), site)
        for site in (cebu, dublin)
        for n in (1, 2)
    ]
    return {"pom": create_user(Role.POM), "leads": leads, "dublin": dublin}


def _truth(case: int) -> str:
    return OPTIONS[case % 3]


def _session(world, *, wrong_golden: range):
    """Everyone labels the truth; golden is wrong on the cases in ``wrong_golden``."""
    return run_session(
        world["pom"],
        world["leads"],
        cases=40,
        golden=lambda i: "escalate" if i in wrong_golden and _truth(i) != "escalate" else _truth(i),
        answer=lambda rater, case: _truth(case),
    )


def _open(session):
    return {
        (f.scope, f.subject, f.kind): f
        for f in flags_of(session)
        if f.status != FlagStatus.RESOLVED
    }


def _correct_golden(world, session):
    from rollcal.extensions import db

    cases = db.session.scalars(
        sa.select(Case).where(Case.session_id == session.id).order_by(Case.position)
    ).all()
    for index, case in enumerate(cases):
        if case.golden_label != _truth(index):
            services.set_golden(world["pom"], case, golden_label=_truth(index))
    db.session.commit()


def test_corrected_golden_closes_flags_that_no_longer_hold_and_records_it(db, world):
    session = _session(world, wrong_golden=range(0, 24))
    stale = [f for f in flags_of(session) if f.kind == "low_accuracy"]
    assert stale and all(f.status == FlagStatus.OPEN for f in stale)
    services.triage_flag(world["pom"], stale[0], status="acknowledged")

    _correct_golden(world, session)
    services.recompute_results(world["pom"], session)

    for flag in stale:
        db.session.refresh(flag)
        assert flag.status == FlagStatus.RESOLVED and flag.closed_by_recompute
        assert flag.root_cause == "No longer holds after recompute."
    closed = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "calibration.flag_closed")
    ).all()
    assert {event.object_id for event in closed} >= {flag.id for flag in stale}
    assert not [f for f in _open(session).values() if f.kind == "low_accuracy"]


def test_a_flag_that_still_holds_keeps_its_triage_and_shows_the_new_figures(db, world):
    session = _session(world, wrong_golden=range(0, 30))
    flag = next(f for f in flags_of(session) if f.kind == "low_accuracy" and f.scope == "site")
    services.triage_flag(world["pom"], flag, status="acknowledged")
    old_value = flag.value

    # A few of the wrong answers corrected: still far below target, with a new figure.
    cases = db.session.scalars(
        sa.select(Case).where(Case.session_id == session.id).order_by(Case.position)
    ).all()
    for index, case in enumerate(cases[:6]):
        services.set_golden(world["pom"], case, golden_label=_truth(index))
    db.session.commit()
    services.recompute_results(world["pom"], session)

    db.session.refresh(flag)
    assert flag.status == FlagStatus.ACKNOWLEDGED and not flag.closed_by_recompute
    assert flag.value > old_value
    assert f"{flag.value * 100:.0f}%" in flag.message
    assert flag.interval is not None and flag.n == 40


def test_recomputing_never_leaves_two_open_flags_for_one_cause(db, world):
    session = _session(world, wrong_golden=range(0, 24))
    for _ in range(3):
        services.recompute_results(world["pom"], session)
    causes = [f.cause for f in flags_of(session)]
    assert len(causes) == len(set(causes))
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) == len(causes)


def test_a_closed_flag_reopens_when_its_cause_returns(db, world):
    session = _session(world, wrong_golden=range(0, 24))
    cases = db.session.scalars(
        sa.select(Case).where(Case.session_id == session.id).order_by(Case.position)
    ).all()
    wrong = {case.id: case.golden_label for case in cases}
    _correct_golden(world, session)
    services.recompute_results(world["pom"], session)
    flag = next(f for f in flags_of(session) if f.kind == "low_accuracy")
    assert flag.status == FlagStatus.RESOLVED

    for case in cases:
        services.set_golden(world["pom"], case, golden_label=wrong[case.id])
    db.session.commit()
    services.recompute_results(world["pom"], session)

    db.session.refresh(flag)
    assert flag.status == FlagStatus.OPEN and not flag.closed_by_recompute
    assert db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == "calibration.flag_reopened"
        )
    )


def test_flags_page_filters_by_session_severity_and_vendor_and_acknowledges_in_bulk(
    client, auth, db, world
):
    session = _session(world, wrong_golden=range(0, 24))
    other = _session(world, wrong_golden=range(0, 24))
    auth.login(world["pom"])

    page = client.get(f"/calibration/flags?session_id={session.id}&severity=high").get_data(
        as_text=True
    )
    mine = [f for f in flags_of(session) if f.severity.value == "high"]
    assert mine and all(f'/calibration/flags/{f.id}"' in page for f in mine)
    assert not any(f'/calibration/flags/{f.id}"' in page for f in flags_of(other))
    dublin = client.get(
        f"/calibration/flags?vendor_id={world['dublin'].vendor_id}&status=all"
    ).get_data(as_text=True)
    assert "Dublin" in dublin and "Site: Meridian CX" not in dublin
    assert "95%" in page and "n = 40" in page

    ticked = [f.id for f in mine]
    response = client.post(
        f"/calibration/flags/acknowledge?session_id={session.id}",
        data={"flag_id": [str(i) for i in ticked], "csrf_token": ""},
    )
    assert response.status_code == 302
    for flag in flags_of(session):
        db.session.refresh(flag)
        assert (flag.status == FlagStatus.ACKNOWLEDGED) == (flag.id in ticked)
    assert all(f.status == FlagStatus.OPEN for f in flags_of(other))


def test_qa_leads_cannot_acknowledge_flags_in_bulk(client, auth, db, world):
    session = _session(world, wrong_golden=range(0, 24))
    auth.login(world["leads"][0][0])
    flag = next(f for f in flags_of(session) if f.vendor_id == world["leads"][0][1].vendor_id)
    response = client.post("/calibration/flags/acknowledge", data={"flag_id": [str(flag.id)]})
    assert response.status_code in (403, 404)
    db.session.refresh(flag)
    assert flag.status == FlagStatus.OPEN
