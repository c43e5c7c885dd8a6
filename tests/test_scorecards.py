"""Scorecards: quality per vendor and site across revealed sessions, for the people who
may see it, in pages, CSV and the API, at a cost that does not grow with history."""

import pytest

from rollcal.accounts.models import Role
from tests.calibration_factories import run_session
from tests.test_statement_counts import _statements

GOLDEN = ("remove", "allow")
OPTIONS = "remove | Remove\nallow | Allow"


@pytest.fixture
def history(create_user, create_site, create_vendor):
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    pom = create_user(Role.POM)
    maria = create_user(Role.QA_LEAD, vendor=meridian, name="Maria")
    ana = create_user(Role.QA_LEAD, vendor=meridian, name="Ana")
    liam = create_user(Role.QA_LEAD, vendor=harbor, name="Liam")
    niamh = create_user(Role.QA_LEAD, vendor=harbor, name="Niamh")
    raters = [(maria, cebu), (ana, cebu), (liam, dublin), (niamh, dublin)]

    def round_(number: int, until: str = "revealed", wrong_every: int = 10):
        return run_session(
            pom,
            raters,
            cases=40,
            golden=lambda i: GOLDEN[i % 2],
            # Dublin's raters miss one case in ``wrong_every``; Cebu's never.
            answer=lambda rater, case: (
                GOLDEN[(case + 1) % 2]
                if rater >= 2 and case % wrong_every == 0
                else GOLDEN[case % 2]
            ),
            title=f"Round {number}",
            until=until,
            label_options=OPTIONS,
        )

    return {"pom": pom, "maria": maria, "cebu": cebu, "dublin": dublin, "round": round_}


def test_a_pom_sees_every_vendor_and_site_with_figures_and_intervals(client, auth, history):
    history["round"](1)
    history["round"](2)
    auth.login(history["pom"])

    page = client.get("/scorecards/").get_data(as_text=True)

    assert "Meridian CX" in page and "Harbor Review" in page
    assert "Meridian CX · Cebu" in page and "Harbor Review · Dublin" in page
    assert "100%" in page  # Cebu is always right
    assert "90%" in page  # Dublin misses one case in ten

    vendor = client.get(f"/scorecards/vendors/{history['cebu'].vendor_id}")
    assert vendor.status_code == 200
    text = vendor.get_data(as_text=True)
    assert "Round 1" in text and "Round 2" in text
    assert "data:image/svg+xml;base64," in text  # the trend charts

    site = client.get(f"/scorecards/sites/{history['dublin'].id}").get_data(as_text=True)
    assert "Not enough history to judge drift" in site
    assert "2 revealed sessions with enough evidence, 4 needed" in site


def test_a_qa_lead_sees_only_their_own_vendor_everywhere(client, auth, history, token_for):
    history["round"](1)
    auth.login(history["maria"])

    page = client.get("/scorecards/").get_data(as_text=True)
    assert "Meridian CX · Cebu" in page
    assert "Harbor" not in page and "Dublin" not in page

    assert client.get(f"/scorecards/vendors/{history['dublin'].vendor_id}").status_code == 404
    assert client.get(f"/scorecards/sites/{history['dublin'].id}").status_code == 404

    exported = client.get("/scorecards/scorecards.csv").get_data(as_text=True)
    assert "Meridian CX" in exported and "Harbor" not in exported

    answer = client.get("/api/v1/scorecards", headers=token_for(history["maria"])).get_json()
    assert {point["vendor"] for point in answer["points"]} == {"Meridian CX"}
    other = client.get(
        f"/api/v1/scorecards?vendor={history['dublin'].vendor_id}",
        headers=token_for(history["maria"]),
    ).get_json()
    assert other["points"] == []


def test_sessions_not_yet_revealed_are_on_no_scorecard(client, auth, history):
    history["round"](1, until="closed")
    auth.login(history["pom"])

    page = client.get("/scorecards/").get_data(as_text=True)

    assert "No revealed session in this period" in page
    assert "Round 1" not in client.get("/scorecards/scorecards.csv").get_data(as_text=True)


def test_a_wrong_filter_is_named_and_the_defaults_shown(client, auth, history):
    auth.login(history["pom"])

    page = client.get("/scorecards/?since=yesterday&region=MARS")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "“since” must be a date such as 2026-06-30." in text
    assert "“region” must be one of APAC, EMEA, AMER." in text

    api = client.get("/api/v1/scorecards?until=soon", headers={})
    assert api.status_code == 401


def test_the_api_refuses_a_wrong_filter_with_its_name(client, history, token_for):
    answer = client.get("/api/v1/scorecards?since=soon", headers=token_for(history["pom"]))

    assert answer.status_code == 422
    assert "“since” must be a date" in answer.get_json()["error"]["message"]


def test_the_csv_has_one_row_per_vendor_and_site_per_session_with_iso_times(client, auth, history):
    history["round"](1)
    auth.login(history["pom"])

    lines = client.get("/scorecards/scorecards.csv").get_data(as_text=True).splitlines()

    assert lines[0].startswith("revealed_at,session_id,session,vendor,site,alpha")
    assert len(lines) == 1 + 4
    assert all("+00:00" in line.split(",")[0] for line in lines[1:])


def test_scorecard_pages_cost_the_same_statements_whatever_the_history(
    pages_drawn, client, auth, history
):
    pages = [
        "/scorecards/",
        f"/scorecards/vendors/{history['cebu'].vendor_id}",
        f"/scorecards/sites/{history['cebu'].id}",
    ]
    auth.login(history["pom"])
    history["round"](1)
    counts = {}
    for page in pages:
        client.get(page)  # warm: the first request loads what every request shares
        with _statements() as short:
            assert client.get(page).status_code == 200
        counts[page] = len(short)
    for number in range(2, 7):
        history["round"](number)
    for page in pages:
        with _statements() as long:
            assert client.get(page).status_code == 200
        assert len(long) == counts[page], page
