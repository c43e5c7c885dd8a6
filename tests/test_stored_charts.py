"""Charts and headline figures are made once, when the results are stored: pages show
the stored chart (a QA lead: their vendor's) and never draw it again."""

from __future__ import annotations

import pytest

from calibration import charts, queries
from rollcal.accounts.models import Role
from rollcal.reports.charts import data_uri as svg_data_uri
from tests.calibration_factories import run_session, split_answers


@pytest.fixture
def revealed(create_user, create_site, create_vendor):
    """A revealed session rated at two vendors, two raters each."""
    pom = create_user(Role.POM)
    raters = []
    vendors = [create_vendor("Meridian CX"), create_vendor("Harbor Review")]
    for vendor in vendors:
        site = create_site(vendor)
        raters += [(create_user(Role.QA_LEAD, vendor=vendor), site) for _ in range(2)]
    session = run_session(pom, raters, cases=12, answer=split_answers, golden=lambda i: "remove")
    return {"pom": pom, "session": session, "vendors": vendors, "lead": raters[0][0]}


def test_results_keep_a_chart_per_audience_and_their_headline_figures(revealed):
    snapshot = queries.latest_snapshot(revealed["session"])
    assert set(snapshot.charts) == {"all", *(str(vendor.id) for vendor in revealed["vendors"])}
    assert snapshot.charts["all"].count("Meridian CX") >= 1
    assert "Harbor Review" not in snapshot.charts[str(revealed["vendors"][0].id)]
    for key in (*charts.SUMMARY_KEYS, *charts.SUMMARY_TABLES):
        assert snapshot.summary[key] == snapshot.report[key], key
    contested = [item for item in snapshot.report["items"] if item["entropy"] > 0]
    assert snapshot.summary["contested"] == contested[: charts.CONTESTED_KEPT]


def test_results_page_shows_the_stored_chart_without_drawing_it(
    client, auth, revealed, monkeypatch
):
    snapshot = queries.latest_snapshot(revealed["session"])
    stored = dict(snapshot.charts)

    def refuse(*args, **kwargs):
        raise AssertionError("the chart was drawn again on a page view")

    monkeypatch.setattr(charts, "alpha_chart", refuse)
    url = f"/calibration/sessions/{revealed['session'].id}/results"
    auth.login(revealed["pom"])
    page = client.get(url).get_data(as_text=True)
    assert svg_data_uri(stored["all"]) in page
    auth.login(revealed["lead"])
    page = client.get(url).get_data(as_text=True)
    assert svg_data_uri(stored[str(revealed["vendors"][0].id)]) in page
    assert svg_data_uri(stored["all"]) not in page
