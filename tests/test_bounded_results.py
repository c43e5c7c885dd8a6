"""Results pages are bounded: a rater's results show their first hundred labels, the ones
that missed golden first, with a link to all of them; the tables come from the stored
summary, fifty rows each with a link to all as CSV, and the full report is never loaded."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from calibration import charts, queries
from calibration.models import Case
from calibration.report import calibration_source
from rollcal.accounts.models import Role
from rollcal.extensions import db as _db
from tests.calibration_factories import run_session, split_answers


def test_results_show_a_raters_first_hundred_labels_misses_first(
    client, auth, create_user, create_site, create_vendor
):
    vendor = create_vendor()
    site = create_site(vendor)
    pom = create_user(Role.POM)
    leads = [create_user(Role.QA_LEAD, vendor=vendor) for _ in range(2)]
    session = run_session(
        pom,
        [(lead, site) for lead in leads],
        cases=120,
        golden=lambda i: "remove",
        # The first rater misses golden on every tenth case only.
        answer=lambda rater, case: "allow" if rater == 0 and case % 10 == 9 else "remove",
    )
    auth.login(leads[0])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    shown = re.findall(r'<td class="(match|miss)">', page)
    assert len(shown) == 100
    assert shown[:12] == ["miss"] * 12 and "miss" not in shown[12:]
    assert "all 120 of your labels" in page


def _statements_reading_the_report(client, path: str) -> list[str]:
    statements: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", keep)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", keep)
    assert response.status_code == 200
    return [s for s in statements if "agreement_snapshots.report" in s]


@pytest.fixture
def revealed(create_user, create_site, create_vendor):
    """A revealed session rated at two vendors, two raters each, 30 cases."""
    pom = create_user(Role.POM)
    raters = []
    for name in ("Meridian CX", "Harbor Review"):
        vendor = create_vendor(name)
        site = create_site(vendor)
        raters += [(create_user(Role.QA_LEAD, vendor=vendor), site) for _ in range(2)]
    session = run_session(pom, raters, cases=30, answer=split_answers, golden=lambda i: "remove")
    return {"pom": pom, "session": session, "lead": raters[0][0]}


@pytest.mark.parametrize("who", ["pom", "lead"])
def test_results_and_session_pages_never_load_the_full_stored_report(
    pages_drawn, client, auth, revealed, who
):
    auth.login(revealed[who])
    session_id = revealed["session"].id
    for path in (
        f"/calibration/sessions/{session_id}/results",
        f"/calibration/sessions/{session_id}",
    ):
        assert _statements_reading_the_report(client, path) == [], path


def test_a_raters_labels_show_the_groups_split_the_results_were_computed_from(revealed):
    session = revealed["session"]
    report = queries.latest_snapshot(session).report
    ids = dict(
        _db.session.execute(
            sa.select(Case.reference, Case.id).where(Case.session_id == session.id)
        ).all()
    )
    splits = queries.case_splits(session, list(ids.values()))
    for item in report["items"]:
        split = splits[ids[item["item"]]]
        assert split["labels"] == item["labels"]
        assert list(split["labels"]) == list(item["labels"])
        assert split["majority"] == item["majority"]
        assert split["majority_share"] == pytest.approx(item["majority_share"])


def test_results_stored_before_summaries_held_tables_still_show_them(client, auth, revealed):
    snapshot = queries.latest_snapshot(revealed["session"])
    snapshot.summary = {key: snapshot.report[key] for key in charts.SUMMARY_KEYS}
    _db.session.commit()
    auth.login(revealed["pom"])
    page = client.get(f"/calibration/sessions/{revealed['session'].id}/results").get_data(
        as_text=True
    )
    assert "By vendor" in page and "Harbor Review" in page and "Most contested cases" in page


def test_the_session_page_shows_the_headline_once_results_may_be_seen(
    client, auth, revealed, create_user, create_site, create_vendor
):
    auth.login(revealed["lead"])
    page = client.get(f"/calibration/sessions/{revealed['session'].id}").get_data(as_text=True)
    alpha = queries.latest_snapshot(revealed["session"]).summary["alpha"]
    assert "Krippendorff's alpha" in page and f"{alpha:.3f}" in page
    vendor = create_vendor()
    leads = [(create_user(Role.QA_LEAD, vendor=vendor), create_site(vendor)) for _ in range(2)]
    closed = run_session(revealed["pom"], leads, cases=4, answer=split_answers, until="closed")
    auth.login(leads[0][0])
    page = client.get(f"/calibration/sessions/{closed.id}").get_data(as_text=True)
    assert "Krippendorff's alpha" not in page


def test_results_show_fifty_raters_and_pairs_with_links_to_all_as_csv(
    client, auth, create_user, create_site, create_vendor
):
    pom = create_user(Role.POM)
    vendor = create_vendor()
    site = create_site(vendor)
    raters = [(create_user(Role.QA_LEAD, vendor=vendor), site) for _ in range(52)]
    session = run_session(pom, raters, cases=10, answer=split_answers, golden=lambda i: "remove")
    n_pairs = len(queries.latest_snapshot(session).summary["cohen_kappa"])
    assert n_pairs > 50
    auth.login(pom)
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    raters_table = page.split('id="raters-h"')[1].split("</section>")[0]
    assert raters_table.count('<th scope="row">') == 50
    assert "all 52 raters (CSV)" in raters_table
    assert f"all {n_pairs} pairs of raters (CSV)" in page
    lines = client.get(f"/calibration/sessions/{session.id}/results/raters.csv").get_data(
        as_text=True
    )
    assert lines.splitlines()[0].startswith("rater,vendor,site,cases")
    assert len(lines.splitlines()) == 1 + 52
    pairs = client.get(f"/calibration/sessions/{session.id}/results/pairs.csv").get_data(
        as_text=True
    )
    assert len(pairs.splitlines()) == 1 + n_pairs


def test_a_qa_lead_downloads_only_their_vendors_rows_of_a_results_table(client, auth, revealed):
    auth.login(revealed["lead"])
    session_id = revealed["session"].id
    lines = client.get(f"/calibration/sessions/{session_id}/results/raters.csv").get_data(
        as_text=True
    )
    assert len(lines.splitlines()) == 1 + 2 and "Harbor Review" not in lines
    vendors = client.get(f"/calibration/sessions/{session_id}/results/vendors.csv")
    assert [line.split(",")[0] for line in vendors.get_data(as_text=True).splitlines()[1:]] == [
        "Meridian CX"
    ]
    assert client.get(f"/calibration/sessions/{session_id}/results/cases.csv").status_code == 404


def test_the_calibration_report_is_built_from_the_stored_summary(revealed):
    statements: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    _db.session.expire_all()
    sa.event.listen(_db.engine, "before_cursor_execute", keep)
    try:
        for reader in (revealed["pom"], revealed["lead"], None):
            source = calibration_source(revealed["session"], reader)
            assert "Most contested cases" in source.html
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", keep)
    assert not [s for s in statements if "agreement_snapshots.report" in s]


def test_a_rater_who_missed_more_than_a_hundred_sees_the_count_and_the_first_hundred(
    client, auth, create_user, create_site, create_vendor
):
    vendor = create_vendor()
    site = create_site(vendor)
    pom = create_user(Role.POM)
    leads = [create_user(Role.QA_LEAD, vendor=vendor) for _ in range(2)]
    session = run_session(
        pom,
        [(lead, site) for lead in leads],
        cases=130,
        golden=lambda i: "remove",
        # The first rater misses golden on the first 110 cases.
        answer=lambda rater, case: "allow" if rater == 0 and case < 110 else "remove",
    )
    auth.login(leads[0])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    assert re.findall(r'<td class="(match|miss)">', page) == ["miss"] * 100
    assert "You differed from the golden answer on 110 cases" in page
    assert "C-100</a> and 10 more." in page
    assert "all 130 of your labels" in page
