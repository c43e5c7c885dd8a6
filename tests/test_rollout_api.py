"""The rollout API: lists and boards as JSON, item updates with version checks."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from rollcal.accounts.models import Role
from rollcal.extensions import db as _db
from rollout import services
from tests.test_rollout import step

TODAY = date.today()


def test_list_shows_rollouts_with_readiness_counts(client, rollout_world, token_for):
    response = client.get("/api/v1/rollouts", headers=token_for(rollout_world["pom"]))
    assert response.status_code == 200
    [rollout] = response.json["rollouts"]
    assert rollout["policy_code"] == "SHOP-CF" and rollout["sites"] == 2
    assert rollout["readiness"] == {"blocked": 0, "at_risk": 0, "on_track": 2, "ready": 0}


def test_rollout_detail_has_sites_items_and_reasons(client, rollout_world, token_for):
    body = client.get(
        f"/api/v1/rollouts/{rollout_world['rollout'].id}", headers=token_for(rollout_world["pom"])
    ).json
    sites = {site["name"]: site for site in body["site_details"]}
    assert set(sites) == {"Cebu", "Dublin"}
    assert sites["Cebu"]["readiness"]["reasons"][0] == (
        "gate pending: no revealed calibration session"
    )
    assert len(sites["Cebu"]["items"]) == 10 and sites["Cebu"]["gate"] == "pending"


def _block(world, site) -> None:
    item = step(world["rollout"], site, "Trainers upskilled")
    services.update_item(
        world["pom"], item, version=item.version, status="blocked", reason="Trainer on leave"
    )


def test_rollout_detail_pages_sites_worst_first_with_links_between_pages(
    client, rollout_world, token_for
):
    _block(rollout_world, rollout_world["dublin"])
    headers = token_for(rollout_world["pom"])
    path = f"/api/v1/rollouts/{rollout_world['rollout'].id}"
    first = client.get(f"{path}?per_page=1", headers=headers).json
    assert [site["name"] for site in first["site_details"]] == ["Dublin"]
    assert {item["site_id"] for item in first["site_details"][0]["items"]} == {
        rollout_world["dublin"].id
    }
    assert (first["page"], first["pages"], first["per_page"], first["matching"]) == (1, 2, 1, 2)
    assert first["sites"] == 2
    assert first["readiness"] == {"blocked": 1, "at_risk": 0, "on_track": 1, "ready": 0}
    assert first["previous"] is None
    second = client.get(first["next"], headers=headers).json
    assert [site["name"] for site in second["site_details"]] == ["Cebu"]
    assert second["next"] is None
    assert client.get(second["previous"], headers=headers).json == first


def test_rollout_detail_answers_fifty_sites_a_page_by_default(
    client, db, create_user, create_site, create_vendor, make_version, token_for
):
    pom = create_user(Role.POM)
    vendor = create_vendor()
    sites = [create_site(vendor) for _ in range(55)]
    rollout = services.create_rollout(
        pom,
        policy_version_id=make_version(pom).id,
        template_id=1,
        site_ids=[site.id for site in sites],
        go_live_date=TODAY + timedelta(days=20),
    )
    body = client.get(f"/api/v1/rollouts/{rollout.id}", headers=token_for(pom)).json
    assert len(body["site_details"]) == 50 and body["sites"] == 55 and body["pages"] == 2
    assert sum(body["readiness"].values()) == 55
    assert body["required_total"] % 55 == 0 and body["required_closed"] == 0
    assert body["next"].endswith("page=2&per_page=50")


def test_rollout_detail_filters_sites_as_the_board_does(client, rollout_world, token_for):
    _block(rollout_world, rollout_world["dublin"])
    headers = token_for(rollout_world["pom"])
    path = f"/api/v1/rollouts/{rollout_world['rollout'].id}"
    on_track = client.get(f"{path}?state=on_track", headers=headers).json
    assert [site["name"] for site in on_track["site_details"]] == ["Cebu"]
    assert on_track["matching"] == 1 and on_track["sites"] == 2
    by_vendor = client.get(
        f"{path}?vendor={rollout_world['dublin'].vendor_id}&per_page=1", headers=headers
    ).json
    assert [site["name"] for site in by_vendor["site_details"]] == ["Dublin"]
    assert by_vendor["next"] is None


@pytest.mark.parametrize(
    ("query", "argument"),
    [("per_page=101", "per_page"), ("per_page=0", "per_page"), ("state=late", "state")],
)
def test_rollout_detail_refuses_a_bad_page_size_or_state_naming_it(
    client, rollout_world, token_for, query, argument
):
    response = client.get(
        f"/api/v1/rollouts/{rollout_world['rollout'].id}?{query}",
        headers=token_for(rollout_world["pom"]),
    )
    assert response.status_code == 400
    assert f"“{argument}”" in response.json["error"]["message"]


def test_qa_lead_reads_only_their_vendors_sites(client, rollout_world, token_for):
    body = client.get(
        f"/api/v1/rollouts/{rollout_world['rollout'].id}", headers=token_for(rollout_world["maria"])
    ).json
    assert [site["name"] for site in body["site_details"]] == ["Cebu"]


def test_patch_updates_an_item_and_returns_it(client, rollout_world, token_for):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}",
        headers=token_for(rollout_world["maria"]),
        json={
            "version": item.version,
            "status": "in_progress",
            "comment": "Session booked for Monday",
        },
    )
    assert response.status_code == 200
    assert response.json["status"] == "in_progress"
    assert response.json["version"] == item.version + 1


def test_patch_with_a_stale_version_answers_409_with_the_current_state(
    client, rollout_world, token_for
):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    stale = item.version
    services.update_item(
        rollout_world["pom"], item, version=stale, status="blocked", reason="Trainer on leave"
    )
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}",
        headers=token_for(rollout_world["maria"]),
        json={"version": stale, "status": "done"},
    )
    assert response.status_code == 409
    assert response.json["error"]["current"]["status"] == "blocked"
    assert response.json["error"]["current"]["status_reason"] == "Trainer on leave"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "done"}, "version"),
        ({"version": 1, "status": "finished"}, "status"),
        ({"version": 1, "colour": "red"}, "colour"),
        ({"version": 1, "status": "done", "evidence_url": "not a link"}, "evidence_url"),
    ],
)
def test_invalid_patch_answers_422_naming_the_field_and_writes_nothing(
    client, rollout_world, token_for, body, field
):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}", headers=token_for(rollout_world["maria"]), json=body
    )
    assert response.status_code == 422
    assert response.json["error"]["errors"][0]["field"] == field
    _db.session.expire_all()
    assert (
        step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled").status.value
        == "todo"
    )


def test_qa_lead_gets_404_for_another_vendors_item_and_403_for_a_pom_item(
    client, rollout_world, token_for
):
    other = step(rollout_world["rollout"], rollout_world["dublin"], "Trainers upskilled")
    pom_side = step(rollout_world["rollout"], rollout_world["cebu"], "Documentation")
    headers = token_for(rollout_world["maria"])
    assert (
        client.patch(
            f"/api/v1/checklist-items/{other.id}", headers=headers, json={"version": 1}
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/checklist-items/{pom_side.id}",
            headers=headers,
            json={"version": 1, "status": "done"},
        ).status_code
        == 403
    )


def test_openapi_document_describes_the_rollout_api(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "/api/v1/rollouts/{rollout_id}" in paths
    patch = paths["/api/v1/checklist-items/{item_id}"]["patch"]
    assert {"409", "422"} <= set(patch["responses"])
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ItemPatch"
    )


def _count_statements(app, callable_):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = _db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        callable_()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_board_loads_in_the_same_number_of_statements_at_5_and_50_sites(
    pages_drawn, app, client, auth, db, create_user, create_site, create_vendor, make_version
):
    pom = create_user(Role.POM)
    counts = []
    for n_sites, code in ((5, "A"), (50, "B")):
        vendors = [create_vendor() for _ in range(5)]
        sites = [create_site(vendors[i % 5]) for i in range(n_sites)]
        for vendor in vendors:
            create_user(Role.QA_LEAD, vendor=vendor)
        version = make_version(pom, code=code)
        rollout = services.create_rollout(
            pom,
            policy_version_id=version.id,
            template_id=1,
            site_ids=[s.id for s in sites],
            go_live_date=TODAY + timedelta(days=20),
        )
        auth.login(pom)

        def load(rollout_id=rollout.id):
            response = client.get(f"/rollouts/{rollout_id}")
            assert response.status_code == 200

        counts.append(_count_statements(app, load))
    assert counts[0] == counts[1]
