"""Bad input answers 4xx with a message naming what is wrong, and nothing of it is written."""

import io
import json

import pytest
import sqlalchemy as sa

from calibration.models import Case, Label
from rollcal.accounts.models import Role, User
from rollcal.org.models import Market
from rollout.models import ChecklistItem
from tests.calibration_factories import make_session
from tests.test_calibration_api import world  # noqa: F401  (fixture)
from tests.test_rollout import step

BEYOND_INTEGER = 99999999999
BEYOND_BIGINT = 9223372036854775807


def test_an_id_beyond_the_columns_range_is_not_found(client, auth, rollout_world, token_for):
    auth.login(rollout_world["pom"])
    assert client.get(f"/rollouts/{BEYOND_INTEGER}").status_code == 404
    response = client.get(
        f"/api/v1/rollouts/{BEYOND_INTEGER}", headers=token_for(rollout_world["pom"])
    )
    assert response.status_code == 404 and response.json["error"]["status"] == 404
    response = client.patch(
        f"/api/v1/checklist-items/{BEYOND_BIGINT}",
        json={"version": 1},
        headers=token_for(rollout_world["pom"]),
    )
    assert response.status_code == 404


def test_a_page_beyond_range_is_a_bad_request_naming_it(client, auth, create_user, token_for):
    admin = auth.login(create_user(Role.ADMIN))
    response = client.get(f"/api/v1/rollouts?page={BEYOND_BIGINT}", headers=token_for(admin))
    assert response.status_code == 400
    assert "“page”" in response.json["error"]["message"]
    page = client.get(f"/admin/markets?page={BEYOND_BIGINT}")
    assert page.status_code == 400 and "“page” in the address" in page.get_data(as_text=True)
    assert client.get("/admin/markets?page=0").status_code == 400
    assert client.get("/admin/markets?page=2").status_code == 200


def test_an_integer_filter_that_is_no_number_is_a_bad_request(client, auth, rollout_world):
    auth.login(rollout_world["pom"])
    rollout = rollout_world["rollout"]
    page = client.get(f"/rollouts/{rollout.id}?vendor=abc")
    assert page.status_code == 400 and "“vendor” in the address" in page.get_data(as_text=True)
    assert client.get(f"/rollouts/{rollout.id}?vendor={BEYOND_INTEGER}").status_code == 400


def test_a_nul_byte_in_a_form_field_is_refused_naming_it_and_nothing_is_saved(
    client, auth, db, create_user
):
    user = auth.login(create_user(Role.POM, name="Dana Whitfield"))
    response = client.post(
        "/account",
        data={"profile-name": "Dana\x00", "profile-timezone": "UTC", "profile-submit": "y"},
    )
    assert response.status_code == 422
    assert "Profile-name: must not contain a NUL" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).name == "Dana Whitfield"


def test_a_nul_byte_in_api_json_is_refused_naming_the_field(client, db, rollout_world, token_for):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}",
        json={"version": item.version, "evidence_note": "booked\x00"},
        headers=token_for(rollout_world["maria"]),
    )
    assert response.status_code == 422
    assert response.json["error"]["errors"][0]["field"] == "evidence_note"
    db.session.expire_all()
    assert db.session.get(ChecklistItem, item.id).evidence_note is None


def test_a_nul_byte_in_a_query_argument_is_refused(client, auth, create_user):
    auth.login(create_user(Role.ADMIN))
    response = client.get("/admin/users?role=pom\x00")
    assert response.status_code == 422 and "Role: must not contain a NUL" in response.text


def test_an_evidence_url_over_500_characters_is_refused_by_the_api(
    client, db, rollout_world, token_for
):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}",
        json={"version": item.version, "evidence_url": "https://e.example/" + "a" * 500},
        headers=token_for(rollout_world["maria"]),
    )
    assert response.status_code == 422
    assert response.json["error"]["errors"][0]["field"] == "evidence_url"
    db.session.expire_all()
    assert db.session.get(ChecklistItem, item.id).evidence_url is None


def test_an_api_version_beyond_range_is_refused_naming_it(client, rollout_world, token_for):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    response = client.patch(
        f"/api/v1/checklist-items/{item.id}",
        json={"version": BEYOND_BIGINT * 10},
        headers=token_for(rollout_world["maria"]),
    )
    assert response.status_code == 422
    assert response.json["error"]["errors"][0]["field"] == "version"


def test_json_nested_5000_deep_is_refused_with_a_message(client, db, world, token_for):  # noqa: F811
    body = '{"labels": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.put(
        f"/api/v1/sessions/{world['session'].id}/labels",
        data=body,
        content_type="application/json",
        headers=token_for(world["maria"]),
    )
    assert response.status_code == 422
    assert "nested more than 32 levels deep" in response.json["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Label)) == 0


def test_a_body_that_is_not_json_is_refused_with_a_message(client, world, token_for):  # noqa: F811
    response = client.put(
        f"/api/v1/sessions/{world['session'].id}/labels",
        data='{"labels": [',
        content_type="application/json",
        headers=token_for(world["maria"]),
    )
    assert response.status_code == 422
    assert response.json["error"]["message"] == "The body is not valid JSON."


def test_a_deep_but_modest_body_still_reaches_validation(client, world, token_for):  # noqa: F811
    nested = json.dumps({"labels": [{"option": "remove", "comment": [[[["deep"]]]]}]})
    response = client.put(
        f"/api/v1/sessions/{world['session'].id}/labels",
        data=nested,
        content_type="application/json",
        headers=token_for(world["maria"]),
    )
    assert response.status_code == 422 and "labels.0" in response.json["error"]["message"]


def _upload(client, session, content: bytes):
    return client.post(
        f"/calibration/sessions/{session.id}/import",
        data={"cases-file": (io.BytesIO(content), "cases.csv"), "cases-submit": "y"},
        content_type="multipart/form-data",
    )


def test_a_csv_cell_over_the_field_limit_is_refused_naming_the_line(client, auth, db, create_user):
    pom = auth.login(create_user(Role.POM))
    session = make_session(pom)
    content = b"reference,text\nC-1,short\nC-2," + b"x" * 140_000 + b"\n"
    page = _upload(client, session, content).get_data(as_text=True)
    assert "Line 3, file: a value is longer than 131,072 characters" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_a_csv_with_a_nul_byte_is_refused_naming_the_line(client, auth, db, create_user):
    pom = auth.login(create_user(Role.POM))
    session = make_session(pom)
    page = _upload(client, session, b"reference,text\nC-1,ok\nC-2,b\x00d\n").get_data(as_text=True)
    assert "Line 3, file: holds a NUL character" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_an_upload_over_the_size_limit_gets_the_413_page(
    app, client, auth, create_user, monkeypatch
):
    pom = auth.login(create_user(Role.POM))
    session = make_session(pom)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = _upload(client, session, b"reference,text\n" + b"C-1,long text\n" * 200)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The upload is too large." in page and "Sign out" in page


def test_a_wrong_method_answers_405_with_allow(client, auth, create_user, token_for):
    admin = create_user(Role.ADMIN)
    response = client.post("/api/v1/me", headers=token_for(admin))
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    auth.login(admin)
    response = client.delete("/admin/markets")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def _references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def test_every_reference_in_the_openapi_document_resolves(client):
    document = client.get("/api/v1/openapi.json").json
    references = set(_references(document))
    assert "#/components/schemas/ErrorBody" in references
    for reference in references:
        node = document
        for part in reference.removeprefix("#/").split("/"):
            assert part in node, f"{reference} does not resolve"
            node = node[part]


@pytest.mark.parametrize("code", ["ID\x00", "I" * 9])
def test_bad_market_codes_write_nothing(client, auth, db, create_user, code):
    auth.login(create_user(Role.ADMIN))
    response = client.post(
        "/admin/markets/new", data={"code": code, "name": "Indonesia", "region": "APAC"}
    )
    assert response.status_code in (200, 422)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Market)) == 0


def _id_routes(app):
    """Every route whose only variables are ids, with the methods it answers."""
    for rule in app.url_map.iter_rules():
        converters = {type(c).__name__ for c in rule._converters.values()}
        if rule.arguments and converters == {"IntegerConverter"}:
            yield rule, sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


@pytest.mark.parametrize("role", [Role.ADMIN, Role.POM, Role.QA_LEAD])
def test_every_route_answers_404_for_an_id_beyond_range(app, client, auth, create_user, role):
    auth.login(create_user(role))
    checked = 0
    for rule, methods in _id_routes(app):
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", str(BEYOND_INTEGER))
        for method in methods:
            response = client.open(path, method=method)
            assert response.status_code == 404, f"{method} {path}: {response.status_code}"
            checked += 1
    assert checked > 50
