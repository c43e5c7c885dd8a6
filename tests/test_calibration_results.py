"""Closing a session computes and stores its results and flags; pages read what was
stored, in a bounded number of SQL statements, scoped to what each person may see."""

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from calibration import services
from calibration.models import AgreementSnapshot, Flag, Severity
from rollcal.accounts.models import Role
from rollcal.extensions import db as _db
from tests.calibration_factories import case_ids, flags_of, rater_of, run_session, split_answers

GOLDEN = ("remove", "allow", "escalate", "allow")


@pytest.fixture
def teams(create_user, create_site, create_vendor):
    """Two vendors with one site each; QA leads made on demand."""
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    sites = {
        "manila": create_site(meridian, "Manila North"),
        "dublin": create_site(harbor, "Dublin"),
    }
    pom = create_user(Role.POM, name="Dana Whitfield")

    def leads(per_site: int):
        raters = []
        for key, site in sites.items():
            for n in range(per_site):
                lead = create_user(
                    Role.QA_LEAD, vendor=site.vendor, name=f"{key.title()} rater {n + 1}"
                )
                raters.append((lead, site))
        return raters

    return {
        "pom": pom,
        "sites": sites,
        "leads": leads,
        "stakeholder": create_user(Role.STAKEHOLDER),
    }


def _agreeing(rater: int, case: int) -> str:
    """Manila raters match golden; Dublin raters always say allow."""
    return GOLDEN[case % 4] if rater % 2 == 0 else "allow"


def test_closing_stores_the_report_and_the_figures_the_gate_reads(db, teams):
    raters = teams["leads"](2)
    session = run_session(
        teams["pom"],
        raters,
        cases=30,
        golden=lambda i: GOLDEN[i % 4],
        answer=lambda r, c: GOLDEN[c % 4] if raters[r][1].name == "Manila North" else "allow",
        until="closed",
    )
    snapshot = db.session.scalar(sa.select(AgreementSnapshot))
    assert snapshot.n_labels == 120
    assert snapshot.report["n_raters"] == 4 and snapshot.report["categories"] == [
        "remove",
        "allow",
        "escalate",
    ]
    manila, dublin = teams["sites"]["manila"], teams["sites"]["dublin"]
    assert snapshot.gate_figures[str(manila.id)]["accuracy"] == 1.0
    assert snapshot.gate_figures[str(dublin.id)]["accuracy"] == 0.5
    assert set(snapshot.subjects["sites"]) == {
        "Meridian CX · Manila North",
        "Harbor Review · Dublin",
    }
    kinds = {(flag.scope, flag.kind) for flag in flags_of(session)}
    # Each vendor has one site here: the site, which the gate reads, carries the flag.
    assert ("site", "low_accuracy") in kinds and ("group", "low_accuracy") not in kinds
    dublin_flag = next(f for f in flags_of(session) if f.scope == "site")
    assert dublin_flag.site_id == dublin.id and dublin_flag.vendor_id == dublin.vendor_id
    assert dublin_flag.severity == Severity.HIGH


def test_a_session_without_labels_closes_with_a_reason_instead_of_figures(client, auth, db, teams):
    session = run_session(teams["pom"], teams["leads"](1), cases=2, answer=lambda r, c: None)
    snapshot = db.session.scalar(sa.select(AgreementSnapshot))
    assert snapshot.report is None and snapshot.problem.startswith("Nothing to analyse")
    auth.login(teams["pom"])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    assert "Nothing to analyse" in page


def test_results_pages_never_recompute_on_read(client, auth, db, teams, monkeypatch):
    session = run_session(teams["pom"], teams["leads"](2), cases=6, answer=split_answers)

    def refuse(*args, **kwargs):
        raise AssertionError("results were recomputed on read")

    monkeypatch.setattr(services, "compute_report", refuse)
    auth.login(teams["pom"])
    response = client.get(f"/calibration/sessions/{session.id}/results")
    assert response.status_code == 200
    assert "How well the raters agree" in response.get_data(as_text=True)


def test_pom_sees_every_vendor_site_rater_and_flag(client, auth, teams):
    session = run_session(teams["pom"], teams["leads"](2), cases=8, answer=split_answers)
    auth.login(teams["pom"])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    for text in ["Meridian CX", "Harbor Review", "Manila rater 1", "Dublin rater 2", "misaligned"]:
        assert text in page
    assert "Most contested cases" in page and "Notes" in page


def test_a_qa_lead_sees_own_vendor_rows_their_answers_and_no_other_vendor(client, auth, db, teams):
    raters = teams["leads"](2)
    session = run_session(
        teams["pom"],
        raters,
        cases=8,
        golden=lambda i: GOLDEN[i % 4],
        answer=_agreeing,
    )
    manila_lead = raters[0][0]
    auth.login(manila_lead)
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    assert "Your labels against golden and the group" in page
    assert "Meridian CX · Manila North" in page and "Manila rater 2" in page
    assert "Harbor Review" not in page and "Dublin rater" not in page
    assert "Notes" not in page
    assert "✓ match" in page


def test_stakeholders_read_results_only_after_reveal(client, auth, teams):
    session = run_session(
        teams["pom"], teams["leads"](1), cases=4, answer=split_answers, until="closed"
    )
    auth.login(teams["stakeholder"])
    assert client.get(f"/calibration/sessions/{session.id}/results").status_code == 409
    services.reveal_session(teams["pom"], session)
    assert client.get(f"/calibration/sessions/{session.id}/results").status_code == 200


def test_changing_a_golden_answer_after_close_marks_results_stale_until_recomputed(
    client, auth, db, teams
):
    session = run_session(
        teams["pom"], teams["leads"](1), cases=4, golden=lambda i: "allow", answer=_agreeing
    )
    auth.login(teams["pom"])
    first = case_ids(session)[0]
    client.post(
        f"/calibration/sessions/{session.id}/cases/{first}/golden", data={"golden_label": "remove"}
    )
    url = f"/calibration/sessions/{session.id}/results"
    assert "A golden answer changed after these results were computed" in client.get(url).get_data(
        as_text=True
    )
    client.post(f"/calibration/sessions/{session.id}/recompute")
    assert "A golden answer changed" not in client.get(url).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AgreementSnapshot.id))) == 2


def test_recomputing_keeps_one_flag_per_finding_with_its_triage(db, teams):
    session = run_session(teams["pom"], teams["leads"](2), cases=6, answer=split_answers)
    before = flags_of(session)
    services.triage_flag(teams["pom"], before[0], status="acknowledged")
    services.recompute_results(teams["pom"], session)
    after = flags_of(session)
    assert len(after) == len(before)
    assert db.session.get(Flag, before[0].id).status.value == "acknowledged"


@contextmanager
def _count_statements():
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("viewer", ["pom", "qa_lead"])
def test_results_page_uses_the_same_number_of_statements_at_any_session_size(
    pages_drawn, client, auth, db, teams, viewer
):
    counts = []
    for per_site, cases in ((2, 30), (4, 60)):
        raters = teams["leads"](per_site)
        session = run_session(
            teams["pom"],
            raters,
            cases=cases,
            golden=lambda i: GOLDEN[i % 4],
            answer=split_answers,
            title=f"Size {cases}",
        )
        person = teams["pom"] if viewer == "pom" else raters[0][0]
        assert rater_of(session, raters[0][0]) is not None
        auth.login(person)
        with _count_statements() as statements:
            response = client.get(f"/calibration/sessions/{session.id}/results")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
