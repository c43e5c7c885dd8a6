"""The board shows a page of sites at a time, worst readiness first; filters narrow the
pages; the figures and the CSV cover every site."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest

from rollcal.accounts.models import Role
from rollout import services


@pytest.fixture
def big_rollout(db, create_user, create_site, create_vendor, make_version):
    """55 sites of two vendors; the last site of the second vendor has a blocked item."""
    pom = create_user(Role.POM)
    first, second = create_vendor("Alder CX"), create_vendor("Birch Review")
    sites = [create_site(first, f"Site {i:02}") for i in range(30)]
    sites += [create_site(second, f"Site {i:02}") for i in range(30, 55)]
    version = make_version(pom)
    rollout = services.create_rollout(
        pom,
        policy_version_id=version.id,
        template_id=1,
        site_ids=[site.id for site in sites],
        go_live_date=date.today() + timedelta(days=30),
    )
    blocked = next(
        item
        for item in rollout.items
        if item.site_id == sites[-1].id and item.title == "Documentation QA'd"
    )
    services.update_item(
        pom, blocked, version=blocked.version, status="blocked", reason="Legal review"
    )
    db.session.commit()
    return {"pom": pom, "rollout": rollout, "second": second}


def _sites_shown(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/sites/\d+">([^<]+)</a>', page)


def test_board_shows_fifty_sites_a_page_worst_readiness_first(client, auth, big_rollout):
    auth.login(big_rollout["pom"])
    url = f"/rollouts/{big_rollout['rollout'].id}"

    first = client.get(url).get_data(as_text=True)
    second = client.get(f"{url}?page=2").get_data(as_text=True)

    shown = _sites_shown(first)
    assert len(shown) == 50
    assert shown[0] == "Birch Review · Site 54"  # blocked comes first
    assert shown[1] == "Alder CX · Site 00"
    assert "Sites 1–50 of 55" in first and "Page 1 of 2" in first
    assert len(_sites_shown(second)) == 5 and "Sites 51–55 of 55" in second
    assert set(shown).isdisjoint(_sites_shown(second))
    # The figures are of every site, not of the page.
    assert "1 blocked" in first and "54 on track" in first


def test_board_filters_narrow_the_pages_and_keep_them_in_the_links(client, auth, big_rollout):
    auth.login(big_rollout["pom"])
    rollout_id, vendor_id = big_rollout["rollout"].id, big_rollout["second"].id

    page = client.get(f"/rollouts/{rollout_id}?vendor={vendor_id}").get_data(as_text=True)
    blocked = client.get(f"/rollouts/{rollout_id}?state=blocked").get_data(as_text=True)

    assert len(_sites_shown(page)) == 25
    assert all(site.startswith("Birch Review") for site in _sites_shown(page))
    assert "Sites 1–25 of 25 matching" in page
    assert _sites_shown(blocked) == ["Birch Review · Site 54"]
    assert "override=" in page and f"vendor={vendor_id}" in page


def test_board_csv_keeps_every_site(client, auth, big_rollout):
    auth.login(big_rollout["pom"])
    response = client.get(f"/rollouts/{big_rollout['rollout'].id}/board.csv")
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 56


def test_one_override_form_serves_the_whole_page(client, auth, big_rollout):
    auth.login(big_rollout["pom"])
    url = f"/rollouts/{big_rollout['rollout'].id}"
    page = client.get(url).get_data(as_text=True)
    assert page.count('name="override-justification"') == 0
    assert page.count("Mark ready…") == 50
    link = re.search(r'href="([^"]*override=\d+)#override"', page).group(1)
    chosen = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert chosen.count('name="override-justification"') == 1
    assert "Mark Birch Review · Site 54 ready by override" in chosen
