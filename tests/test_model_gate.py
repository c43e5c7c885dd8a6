"""The model gate: a policy version requires it, a rollout step follows it for a named
model version, and readiness (stored and fresh) shows its reasons and figures."""

import pytest

from calibration import model_services
from calibration import services as calibration_services
from rollcal.errors import ValidationError
from rollout import model_gate, services
from tests.calibration_factories import label_all, make_session
from tests.test_stored_readiness import fresh_and_stored

CASES = 40
KEYS = ("violating", "authentic")


def _golden(index: int) -> str:
    return KEYS[index % 2]


def _human(rater: int, case: int) -> str:
    return KEYS[(case + 1) % 2] if case % 10 == rater else _golden(case)


def _misses_violating(case: int) -> str:
    return "authentic"


def _csv(name: str, answer) -> bytes:
    rows = ["reference,rater,label"] + [f"C-{i + 1},{name},{answer(i)}" for i in range(CASES)]
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def gated(rollout_world):
    """A revealed session of the rollout with its two QA leads, a model with two versions,
    and the policy version requiring a model gate on every label (false negatives < 20%)."""
    world = rollout_world
    pom, rollout = world["pom"], world["rollout"]
    session = make_session(
        pom,
        [(world["maria"], world["cebu"]), (world["liam"], world["dublin"])],
        cases=CASES,
        golden=_golden,
        rollout_id=rollout.id,
        label_options="",
    )
    calibration_services.open_session(pom, session)
    label_all(session, [world["maria"], world["liam"]], _human)
    calibration_services.close_session(pom, session)
    calibration_services.reveal_session(pom, session)
    model = model_services.create_model(pom, name="ListingGuard")
    older = model_services.add_version(pom, model, version="2.4")
    newer = model_services.add_version(pom, model, version="2.5")
    model_gate.set_model_gate(pom, world["version"], min_severity=1.0, fnr_target=0.2)
    step = next(item for item in rollout.items if not item.gate and item.side.value == "pom")
    return {**world, "session": session, "older": older, "newer": newer, "step": step}


def _bound_items(world):
    rollout = world["rollout"]
    return [i for i in rollout.items if i.template_item_id == world["step"].template_item_id]


def _replay(world, version, answer):
    pom, session = world["pom"], world["session"]
    model_services.add_version_rater(pom, session, version)
    calibration_services.import_model_labels(
        pom, session, _csv(version.name, answer), ai_version_id=version.id
    )


def test_a_model_that_misses_a_label_blocks_its_step_with_the_figures(db, gated):
    _replay(gated, gated["older"], _misses_violating)

    model_gate.bind_model_gate(
        gated["pom"],
        gated["rollout"],
        template_item_id=gated["step"].template_item_id,
        model_version_id=gated["older"].id,
    )

    items = _bound_items(gated)
    assert {item.status.value for item in items} == {"blocked"}
    reason = items[0].status_reason
    assert reason.startswith("model gate failed: ListingGuard 2.4 on “")
    assert "Violating: misses 100% (95% interval" in reason
    assert "Below the weakest human" in reason
    fresh, stored = fresh_and_stored(db, gated["rollout"].id)
    assert fresh == stored
    assert all(state == "blocked" for state, *_ in stored.values())
    assert any("model gate failed" in text for text in next(iter(stored.values()))[1])


def test_a_step_waits_for_the_named_version_and_closes_when_its_replay_passes(db, gated):
    model_gate.bind_model_gate(
        gated["pom"],
        gated["rollout"],
        template_item_id=gated["step"].template_item_id,
        model_version_id=gated["newer"].id,
    )
    items = _bound_items(gated)
    assert {item.status.value for item in items} == {"todo"}
    assert "has no results on a revealed session" in items[0].evidence_note

    _replay(gated, gated["newer"], _golden)

    db.session.expire_all()
    items = _bound_items(gated)
    assert {item.status.value for item in items} == {"done"}
    assert items[0].evidence_note.startswith("Model gate passed: ListingGuard 2.5 on “")
    fresh, stored = fresh_and_stored(db, gated["rollout"].id)
    assert fresh == stored


def test_a_bound_step_cannot_be_set_by_hand(db, gated):
    model_gate.bind_model_gate(
        gated["pom"],
        gated["rollout"],
        template_item_id=gated["step"].template_item_id,
        model_version_id=gated["newer"].id,
    )
    item = _bound_items(gated)[0]

    with pytest.raises(ValidationError, match="follows the model gate"):
        services.update_item(gated["pom"], item, version=item.version, status="done")


def test_a_policy_version_without_a_model_gate_takes_no_binding(db, gated):
    model_gate.set_model_gate(gated["pom"], gated["version"], min_severity=None, fnr_target=None)

    with pytest.raises(ValidationError, match="requires no model gate"):
        model_gate.bind_model_gate(
            gated["pom"],
            gated["rollout"],
            template_item_id=gated["step"].template_item_id,
            model_version_id=gated["newer"].id,
        )


@pytest.mark.parametrize(
    ("severity", "target", "message"),
    [
        (1.0, None, "give both"),
        (-1.0, 0.1, "0 or more"),
        (1.0, 1.5, "less than 1"),
    ],
)
def test_a_model_gate_requirement_names_what_is_wrong(db, gated, severity, target, message):
    with pytest.raises(ValidationError, match=message):
        model_gate.set_model_gate(
            gated["pom"], gated["version"], min_severity=severity, fnr_target=target
        )


def test_the_board_shows_the_binding_and_the_policy_page_the_requirement(client, auth, db, gated):
    _replay(gated, gated["older"], _misses_violating)
    auth.login(gated["pom"])
    answer = client.post(
        f"/rollouts/{gated['rollout'].id}/model-gate",
        data={
            "modelgate-step": gated["step"].template_item_id,
            "modelgate-model_version": gated["older"].id,
        },
    )
    board = client.get(f"/rollouts/{gated['rollout'].id}").get_data(as_text=True)
    policy = client.get(f"/policies/{gated['version'].policy_id}").get_data(as_text=True)

    assert answer.status_code == 302
    assert "follows the gate of" in board and "ListingGuard 2.4" in board
    assert "model gate failed" in board
    assert "false-negative rate below 20%" in policy


def test_the_model_pages_and_api_show_the_gate_of_the_sessions_policy_version(
    client, auth, db, gated, token_for
):
    _replay(gated, gated["older"], _misses_violating)
    _replay(gated, gated["newer"], _golden)
    model_id = gated["older"].model_id
    auth.login(gated["pom"])

    model_page = client.get(f"/calibration/models/{model_id}").get_data(as_text=True)
    older_page = client.get(
        f"/calibration/models/{model_id}/versions/{gated['older'].id}"
    ).get_data(as_text=True)
    api = client.get(
        f"/api/v1/models/{model_id}/versions/{gated['older'].id}/evaluation",
        headers=token_for(gated["pom"]),
    ).json

    assert "Passes" in model_page and "Fails" in model_page
    assert "Model gate of SHOP-CF v3.0" in older_page
    gate = api["sessions"][0]["gate"]
    assert gate["passes"] is False
    assert [c["label"] for c in gate["checks"] if not c["passes"]] == ["violating", None]
