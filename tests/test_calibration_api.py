"""The calibration API shows what the pages show and no more; label batches are all or
nothing."""

import pytest
import sqlalchemy as sa

from calibration import services
from calibration.models import Label
from rollcal.accounts.models import Role
from tests.calibration_factories import case_ids, make_session, run_session

GOLDEN = {0: "remove", 1: "allow"}


@pytest.fixture
def world(create_user, create_site, create_vendor):
    """An open session: Maria (Meridian) and Liam (Harbor) label; golden set."""
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    pom = create_user(Role.POM)
    maria = create_user(Role.QA_LEAD, vendor=meridian, name="Maria Santos")
    liam = create_user(Role.QA_LEAD, vendor=harbor, name="Liam Byrne")
    session = run_session(
        pom,
        [(maria, cebu), (liam, dublin)],
        cases=2,
        golden=GOLDEN.get,
        answer=lambda rater, case: None,
        until="open",
    )
    return {"pom": pom, "maria": maria, "liam": liam, "session": session}


def _url(world, tail=""):
    return f"/api/v1/sessions/{world['session'].id}{tail}"


def test_rater_lists_sessions_with_their_progress(client, world, token_for):
    services.save_labels(
        world["maria"], world["session"], [services.LabelInput(option="remove", reference="C-1")]
    )
    answer = client.get("/api/v1/sessions", headers=token_for(world["maria"])).json
    [session] = answer["sessions"]
    assert session["status"] == "open" and session["cases"] == 2
    assert session["you_label"] is True and session["your_labels"] == 1
    assert [o["key"] for o in session["label_options"]] == ["remove", "allow", "escalate"]


def test_cases_come_without_golden_answers_before_reveal(client, world, token_for):
    cases = client.get(_url(world, "/cases"), headers=token_for(world["maria"])).json["cases"]
    assert [c["reference"] for c in cases] == ["C-1", "C-2"]
    assert all(c["golden_label"] is None for c in cases)
    pom_cases = client.get(_url(world, "/cases"), headers=token_for(world["pom"])).json["cases"]
    assert pom_cases[0]["golden_label"] == "remove"


def test_rater_upserts_a_batch_by_reference_or_id(client, db, world, token_for):
    headers = token_for(world["maria"])
    first, second = case_ids(world["session"])
    body = {
        "labels": [
            {"reference": "C-1", "option": "remove", "comment": "Replica logo"},
            {"case_id": second, "option": "allow"},
        ]
    }
    response = client.put(_url(world, "/labels"), json=body, headers=headers)
    assert response.status_code == 200 and response.json == {"saved": 2}
    again = client.put(
        _url(world, "/labels"),
        json={"labels": [{"case_id": first, "option": "Escalate"}]},
        headers=headers,
    )
    assert again.json == {"saved": 1}
    labels = db.session.execute(
        sa.select(Label.case_id, Label.option_key, Label.comment).order_by(Label.case_id)
    ).all()
    assert labels == [(first, "escalate", None), (second, "allow", None)]


def test_a_bad_label_refuses_the_whole_batch_naming_the_entry(client, db, world, token_for):
    body = {
        "labels": [
            {"reference": "C-1", "option": "remove"},
            {"reference": "C-9", "option": "allow"},
            {"reference": "C-2", "option": "maybe"},
        ]
    }
    response = client.put(_url(world, "/labels"), json=body, headers=token_for(world["maria"]))
    assert response.status_code == 422
    errors = response.json["error"]["errors"]
    assert {"field": "labels.1.case", "message": "is not a case of this session"} in errors
    assert {
        "field": "labels.2.option",
        "message": "choose one of remove, allow, escalate",
    } in errors
    assert db.session.scalar(sa.select(sa.func.count(Label.id))) == 0


def test_the_same_case_twice_in_a_batch_is_refused(client, world, token_for):
    body = {
        "labels": [
            {"reference": "C-1", "option": "remove"},
            {"reference": "C-1", "option": "allow"},
        ]
    }
    response = client.put(_url(world, "/labels"), json=body, headers=token_for(world["maria"]))
    assert response.status_code == 422
    assert response.json["error"]["errors"][0]["field"] == "labels.1.case"


def test_a_malformed_body_names_the_field(client, world, token_for):
    response = client.put(
        _url(world, "/labels"),
        json={"labels": [{"option": "remove"}]},
        headers=token_for(world["maria"]),
    )
    assert response.status_code == 422
    assert "give either case_id or reference" in response.json["error"]["message"]


def test_labels_answer_409_once_the_session_closes(client, world, token_for):
    services.close_session(world["pom"], world["session"])
    response = client.put(
        _url(world, "/labels"),
        json={"labels": [{"reference": "C-1", "option": "remove"}]},
        headers=token_for(world["maria"]),
    )
    assert response.status_code == 409


def test_people_who_are_not_raters_cannot_upsert(client, world, token_for, create_user):
    body = {"labels": [{"reference": "C-1", "option": "remove"}]}
    pom = client.put(_url(world, "/labels"), json=body, headers=token_for(world["pom"]))
    assert pom.status_code == 403
    outsider = create_user(Role.QA_LEAD)
    assert (
        client.put(_url(world, "/labels"), json=body, headers=token_for(outsider)).status_code
        == 404
    )


def test_a_rater_reads_only_their_own_labels_before_reveal(client, world, token_for):
    services.save_labels(
        world["liam"], world["session"], [services.LabelInput(option="allow", reference="C-1")]
    )
    services.save_labels(
        world["maria"], world["session"], [services.LabelInput(option="remove", reference="C-1")]
    )
    labels = client.get(_url(world, "/labels"), headers=token_for(world["maria"])).json["labels"]
    assert [(label["rater"], label["option"]) for label in labels] == [("Maria Santos", "remove")]


def test_agreement_is_refused_until_the_caller_may_see_it_then_scoped(client, world, token_for):
    for user, key in ((world["maria"], "remove"), (world["liam"], "allow")):
        services.save_labels(
            user,
            world["session"],
            [
                services.LabelInput(option=key, reference="C-1"),
                services.LabelInput(option="allow", reference="C-2"),
            ],
        )
    maria = token_for(world["maria"])
    assert client.get(_url(world, "/agreement"), headers=maria).status_code == 404
    services.close_session(world["pom"], world["session"])
    assert client.get(_url(world, "/agreement"), headers=maria).status_code == 404
    assert client.get(_url(world, "/agreement"), headers=token_for(world["pom"])).status_code == 200
    services.reveal_session(world["pom"], world["session"])
    answer = client.get(_url(world, "/agreement"), headers=maria).json
    report = answer["report"]
    assert [r["rater"] for r in report["raters"]] == ["Maria Santos"]
    assert [g["group"] for g in report["groups"]] == ["Meridian CX"]
    assert "Liam Byrne" not in str(answer) and "Harbor Review" not in str(answer)
    assert report["alpha"] is not None


def test_another_vendors_qa_lead_gets_404_from_every_session_route(
    client, world, token_for, create_user
):
    headers = token_for(create_user(Role.QA_LEAD))
    for tail in ("", "/cases", "/labels", "/agreement"):
        assert client.get(_url(world, tail), headers=headers).status_code == 404, tail
    listing = client.get("/api/v1/sessions", headers=headers).json
    assert listing["sessions"] == [] and listing["total"] == 0


def test_openapi_describes_the_calibration_routes(client):
    document = client.get("/api/v1/openapi.json").json
    labels = document["paths"]["/api/v1/sessions/{session_id}/labels"]
    assert set(labels) == {"get", "put"}
    assert labels["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LabelBatch"
    }
    assert "409" in labels["put"]["responses"]
    assert "/api/v1/sessions/{session_id}/agreement" in document["paths"]


def test_the_session_list_answers_a_page_of_fifty_with_the_callers_progress(
    client, world, token_for
):
    pom = world["pom"]
    for n in range(51):
        make_session(pom, title=f"Round {n}")
    headers = token_for(pom)
    first = client.get("/api/v1/sessions", headers=headers).json
    assert len(first["sessions"]) == 50 and first["pages"] == 2 and first["total"] >= 52
    second = client.get("/api/v1/sessions?page=2", headers=headers).json
    seen = {s["id"] for s in first["sessions"]} | {s["id"] for s in second["sessions"]}
    assert len(seen) == first["total"]
    [labelled] = [
        s for s in first["sessions"] + second["sessions"] if s["id"] == world["session"].id
    ]
    assert labelled["you_label"] is False and labelled["your_labels"] is None
    [own] = client.get("/api/v1/sessions", headers=token_for(world["maria"])).json["sessions"]
    assert own["you_label"] is True and own["your_labels"] == 0
