"""AI raters in sessions: registered models and versions, their tokens, replays that leave
the humans' results alone, and the pages and API that show them."""

import pytest
import sqlalchemy as sa

from calibration import model_services, services
from calibration.models import AgreementSnapshot, Flag, Label, ModelEvaluation
from rollcal.accounts.models import Role
from rollcal.errors import Conflict, NotFound, ValidationError
from tests.calibration_factories import label_all, make_session

OPTIONS = "allow | Allow | | 0 | 0\nrestrict | Age-restrict | | 1 | 1\nremove | Remove | | 3 | 2"
KEYS = ("allow", "restrict", "remove")
CASES = 60


def _golden(index: int) -> str:
    return KEYS[index % 3]


def _human(rater: int, case: int) -> str:
    # Each human misses a different tenth of the cases: 90% right, errors spread out.
    if case % 10 == rater:
        return KEYS[(case + 1) % 3]
    return _golden(case)


def _like_the_humans(case: int) -> str:
    return KEYS[(case + 2) % 3] if case % 10 == 7 else _golden(case)


def _missing_remove(case: int) -> str:
    return "allow" if _golden(case) == "remove" else _golden(case)


def _labels_csv(rater: str, answer) -> bytes:
    lines = ["reference,rater,label"]
    lines += [f"C-{i + 1},{rater},{answer(i)}" for i in range(CASES)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def world(db, create_user, create_site, create_vendor):
    pom = create_user(Role.POM, name="Dana Whitfield")
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    humans = [create_user(Role.QA_LEAD, vendor=meridian) for _ in range(2)]
    humans += [create_user(Role.QA_LEAD, vendor=harbor) for _ in range(2)]
    sites = [cebu, cebu, dublin, dublin]
    session = make_session(
        pom,
        list(zip(humans, sites, strict=True)),
        cases=CASES,
        golden=_golden,
        label_options=OPTIONS,
    )
    model = model_services.create_model(
        pom, name="ListingGuard", owner="Trust ML", description="Counterfeit classifier"
    )
    first = model_services.add_version(pom, model, version="2.4")
    second = model_services.add_version(pom, model, version="2.5")
    return {
        "pom": pom,
        "humans": humans,
        "session": session,
        "model": model,
        "v1": first,
        "v2": second,
        "stakeholder": create_user(Role.STAKEHOLDER),
        "qa": humans[0],
    }


def _run(world, *, until="revealed"):
    session, pom = world["session"], world["pom"]
    services.open_session(pom, session)
    label_all(session, world["humans"], _human)
    if until in ("closed", "revealed"):
        services.close_session(pom, session)
    if until == "revealed":
        services.reveal_session(pom, session)
    return session


def _evaluation(rater_id):
    return sa.select(ModelEvaluation).where(ModelEvaluation.rater_id == rater_id)


def test_a_model_labelling_with_the_humans_is_measured_apart_and_inside_the_band(db, world):
    session, pom = world["session"], world["pom"]
    rater = model_services.add_version_rater(pom, session, world["v1"])
    services.open_session(pom, session)
    label_all(session, world["humans"], _human)
    services.import_model_labels(pom, session, _labels_csv("ListingGuard 2.4", _like_the_humans))
    services.close_session(pom, session)

    snapshot = db.session.scalars(sa.select(AgreementSnapshot)).one()
    assert snapshot.report["n_raters"] == 4  # the humans only
    assert "ListingGuard 2.4" not in [r["rater"] for r in snapshot.report["raters"]]
    evaluation = db.session.scalar(_evaluation(rater.id))
    assert evaluation.verdict == "inside"
    assert evaluation.figures["verdict_golden"]["text"] == "Inside the human band"
    assert evaluation.figures["band_golden"]["n_humans"] == 4
    assert evaluation.accuracy == pytest.approx(0.9)


def test_a_replay_is_measured_without_changing_the_humans_results(db, world):
    session = _run(world)
    pom = world["pom"]
    before = db.session.scalars(sa.select(AgreementSnapshot)).all()
    report_before = before[0].report
    flags_before = sorted(
        (f.cause, f.status.value, f.version) for f in db.session.scalars(sa.select(Flag))
    )

    rater = model_services.add_version_rater(pom, session, world["v1"])
    assert rater.replay
    saved = services.import_model_labels(
        pom, session, _labels_csv("ListingGuard 2.4", _missing_remove)
    )
    services.recompute_results(pom, session)

    assert saved == CASES
    snapshots = db.session.scalars(sa.select(AgreementSnapshot).order_by(AgreementSnapshot.id))
    latest = list(snapshots)[-1]
    for key in ("alpha", "alpha_ci", "raters", "groups", "sites", "flags"):
        assert latest.report[key] == report_before[key]
    flags_after = sorted((f.cause, f.status.value) for f in db.session.scalars(sa.select(Flag)))
    assert flags_after == [(cause, status) for cause, status, _ in flags_before]
    evaluation = db.session.scalar(_evaluation(rater.id))
    assert evaluation.verdict == "below"
    labels = evaluation.figures["errors"]["labels"]
    remove = next(label for label in labels if label["label"] == "remove")
    assert remove["fnr"]["value"] == 1.0
    assert evaluation.figures["errors"]["under"]["hits"] == CASES // 3


def test_a_closed_session_takes_no_new_model_until_revealed(db, world):
    session = _run(world, until="closed")
    with pytest.raises(Conflict, match="reveal its results"):
        model_services.add_version_rater(world["pom"], session, world["v1"])


def test_a_model_token_labels_only_as_its_own_model(client, db, world, token_for):
    session = _run(world)
    pom = world["pom"]
    rater = model_services.add_version_rater(pom, session, world["v2"])
    other = model_services.create_model(pom, name="ShopSentinel")
    other_version = model_services.add_version(pom, other, version="1.0")
    model_services.add_version_rater(pom, session, other_version)
    _, token = model_services.create_model_token(pom, world["model"])
    headers = {"Authorization": f"Bearer {token}"}
    body = {"labels": [{"reference": f"C-{i + 1}", "option": _golden(i)} for i in range(CASES)]}

    own = client.put(
        f"/api/v1/model-versions/{world['v2'].id}/sessions/{session.id}/labels",
        json=body,
        headers=headers,
    )
    foreign = client.put(
        f"/api/v1/model-versions/{other_version.id}/sessions/{session.id}/labels",
        json=body,
        headers=headers,
    )
    # The token is no personal token: it opens no other part of the API.
    assert client.get("/api/v1/sessions", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    # And a personal token does not label as a model.
    personal = client.put(
        f"/api/v1/model-versions/{world['v2'].id}/sessions/{session.id}/labels",
        json=body,
        headers=token_for(pom),
    )

    assert own.status_code == 200 and own.json == {"saved": CASES}
    assert foreign.status_code == 404
    assert personal.status_code == 401
    counts = dict(
        db.session.execute(
            sa.select(Label.rater_id, sa.func.count()).group_by(Label.rater_id)
        ).all()
    )
    assert counts[rater.id] == CASES
    assert db.session.scalar(_evaluation(rater.id)).verdict == "above"


def test_a_revoked_model_token_labels_nothing(client, db, world):
    session = _run(world)
    pom = world["pom"]
    model_services.add_version_rater(pom, session, world["v2"])
    row, token = model_services.create_model_token(pom, world["model"])
    model_services.revoke_model_token(pom, world["model"], row.id)

    answer = client.put(
        f"/api/v1/model-versions/{world['v2'].id}/sessions/{session.id}/labels",
        json={"labels": [{"reference": "C-1", "option": "allow"}]},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Label)) == 4 * CASES


def test_bad_model_labels_save_nothing_and_name_the_entry(client, db, world):
    session = _run(world)
    pom = world["pom"]
    model_services.add_version_rater(pom, session, world["v2"])
    _, token = model_services.create_model_token(pom, world["model"])

    answer = client.put(
        f"/api/v1/model-versions/{world['v2'].id}/sessions/{session.id}/labels",
        json={
            "labels": [
                {"reference": "C-1", "option": "allow"},
                {"reference": "C-2", "option": "delete"},
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 422
    assert "labels.1.option" in answer.json["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Label)) == 4 * CASES


def test_the_model_pages_and_the_evaluation_api_show_the_verdicts(
    client, auth, db, world, token_for
):
    session = _run(world)
    pom = world["pom"]
    for version, answer in ((world["v1"], _missing_remove), (world["v2"], _like_the_humans)):
        model_services.add_version_rater(pom, session, version)
        services.import_model_labels(
            pom, session, _labels_csv(version.name, answer), ai_version_id=version.id
        )
    auth.login(world["stakeholder"])

    model_page = client.get(f"/calibration/models/{world['model'].id}").get_data(as_text=True)
    version_page = client.get(
        f"/calibration/models/{world['model'].id}/versions/{world['v2'].id}"
    ).get_data(as_text=True)
    api = client.get(
        f"/api/v1/models/{world['model'].id}/versions/{world['v1'].id}/evaluation",
        headers=token_for(world["stakeholder"]),
    ).json

    assert "Below the weakest human" in model_page and "Inside the human band" in model_page
    assert "Against ListingGuard 2.4" in version_page
    assert "Under-enforcement" in version_page
    assert api["version"] == "2.4"
    assert api["sessions"][0]["verdict_golden"]["key"] == "below"
    assert api["sessions"][0]["replay"] is True


def test_qa_leads_see_no_model(client, auth, db, world, token_for):
    _run(world)
    auth.login(world["qa"])

    assert client.get("/calibration/models").status_code == 404
    assert client.get(f"/calibration/models/{world['model'].id}").status_code == 404
    api = client.get(
        f"/api/v1/models/{world['model'].id}/versions/{world['v1'].id}/evaluation",
        headers=token_for(world["qa"]),
    )
    assert api.status_code == 404


def test_stakeholders_see_a_session_model_only_after_reveal(client, db, world, token_for):
    session = world["session"]
    pom = world["pom"]
    model_services.add_version_rater(pom, session, world["v1"])
    _run(world, until="open")
    services.import_model_labels(pom, session, _labels_csv("ListingGuard 2.4", _golden))
    services.close_session(pom, session)
    url = f"/api/v1/models/{world['model'].id}/versions/{world['v1'].id}/evaluation"

    closed = client.get(url, headers=token_for(world["stakeholder"])).json
    pom_view = client.get(url, headers=token_for(pom)).json

    assert closed["sessions"] == []
    assert len(pom_view["sessions"]) == 1


def test_a_model_name_is_unique_and_a_version_once_per_model(db, world):
    with pytest.raises(ValidationError, match="already exists"):
        model_services.create_model(world["pom"], name="ListingGuard")
    with pytest.raises(ValidationError, match="already has a version"):
        model_services.add_version(world["pom"], world["model"], version="2.4")


def test_only_managers_register_models(db, world):
    from rollcal.errors import Forbidden

    with pytest.raises(Forbidden):
        model_services.create_model(world["stakeholder"], name="Other")


def test_a_token_of_another_model_cannot_be_revoked_through_this_one(db, world):
    other = model_services.create_model(world["pom"], name="ShopSentinel")
    row, _ = model_services.create_model_token(world["pom"], other)
    with pytest.raises(NotFound):
        model_services.revoke_model_token(world["pom"], world["model"], row.id)


def test_label_options_carry_severity_and_enforcement_order():
    options = services.parse_label_options(
        "allow | Allow | | 0 | 0\nremove | Remove | Take down | 3 | 2"
    )
    assert options[1] == {
        "key": "remove",
        "name": "Remove",
        "description": "Take down",
        "severity": 3.0,
        "enforcement": 2,
    }
    assert (
        services.format_label_options(options)
        == "allow | Allow |  | 0 | 0\nremove | Remove | Take down | 3 | 2"
    )
    with pytest.raises(ValidationError, match="severity “high” must be a number"):
        services.parse_label_options("allow | Allow | | high")
    with pytest.raises(ValidationError, match="enforcement order “-1” must be a whole number"):
        services.parse_label_options("allow | Allow | | 0 | -1")


def test_the_calibration_report_and_results_have_a_model_section_but_not_for_qa_leads(
    client, auth, db, world
):
    from calibration.report import calibration_source

    session = _run(world)
    pom = world["pom"]
    model_services.add_version_rater(pom, session, world["v1"])
    services.import_model_labels(pom, session, _labels_csv("ListingGuard 2.4", _missing_remove))

    whole = calibration_source(session, None).html
    stakeholder = calibration_source(session, world["stakeholder"]).html
    vendor_copy = calibration_source(session, world["qa"]).html
    auth.login(world["stakeholder"])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)

    assert "AI raters" in whole and "Below the weakest human" in whole
    assert "Remove 100%" in whole
    assert "AI raters" in stakeholder
    assert "AI raters" not in vendor_copy
    assert "AI raters" in page and "ListingGuard 2.4" in page


def test_the_demo_has_a_model_with_two_versions_measured_on_a_revealed_round(db):
    from calibration.models import AIModel
    from rollcal.demo import seed_demo

    seed_demo()

    model = db.session.scalar(sa.select(AIModel).where(AIModel.name == "ListingGuard"))
    assert [v.version for v in model.versions] == ["2.4", "2.5"]
    evaluations = db.session.scalars(sa.select(ModelEvaluation).order_by(ModelEvaluation.id)).all()
    assert {e.ai_version_id for e in evaluations} == {v.id for v in model.versions}
    replay = next(e for e in evaluations if e.rater.replay)
    assert replay.ai_version.version == "2.5"


def test_each_vendors_errors_are_split_by_direction_and_a_qa_lead_sees_their_own(
    client, auth, db, world
):
    session = _run(world)
    snapshot = db.session.scalars(sa.select(AgreementSnapshot)).one()

    figures = {entry["vendor"]: entry for entry in snapshot.error_directions.values()}
    auth.login(world["qa"])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)

    assert set(figures) == {"Meridian CX", "Harbor Review"}
    meridian = figures["Meridian CX"]
    # Two raters x 60 cases; each misses 6, giving the next label in the cycle.
    assert meridian["n"] == 120 and meridian["n_cases"] == CASES
    assert meridian["over"]["hits"] + meridian["under"]["hits"] == 12
    assert meridian["over"]["interval"] is not None
    assert "Errors by direction, per vendor" in page
    assert "Meridian CX" in page and "Harbor Review" not in page


def test_a_pom_replays_a_revealed_session_from_the_version_page(client, auth, db, world):
    import io

    session = _run(world)
    model, version = world["model"], world["v2"]
    auth.login(world["pom"])
    base = f"/calibration/models/{model.id}/versions/{version.id}"

    page = client.get(base).get_data(as_text=True)
    joined = client.post(f"{base}/sessions", data={"join-session": session.id})
    bad = client.post(
        f"{base}/sessions/{session.id}/labels",
        data={
            "replay-file": (
                io.BytesIO(b"reference,rater,label\nC-1,ListingGuard 2.4,allow\n"),
                "x.csv",
            )
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    good = client.post(
        f"{base}/sessions/{session.id}/labels",
        data={"replay-file": (io.BytesIO(_labels_csv("ListingGuard 2.5", _golden)), "x.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)

    assert "replay of the revealed session" in page
    assert joined.status_code == 302
    assert "Nothing was imported" in bad
    assert f"{CASES} labels of ListingGuard 2.5 are saved and measured against the humans" in good
    assert "Above the human median" in good
