"""Draft policy versions are edited and deleted; published ones are archived, never
deleted. Policies are edited, deleted while they have nothing, archived once published."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from calibration import services as calibration_services
from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from rollcal.errors import Conflict, Forbidden, ValidationError
from rollout import services
from rollout.models import Policy, PolicyVersion, VersionStatus

OPTIONS = "violating | Violating\nauthentic | Not violating"


@pytest.fixture
def people(create_user):
    """Two POMs and a stakeholder."""
    return {
        "pom": create_user(Role.POM, name="Dana Whitfield"),
        "pom2": create_user(Role.POM, name="Rafael Ortiz"),
        "stakeholder": create_user(Role.STAKEHOLDER),
    }


def _version_form(policy_version: PolicyVersion, **changes) -> dict:
    data = {
        "version_label": policy_version.version_label,
        "change_summary": policy_version.change_summary,
        "effective_date": policy_version.effective_date.isoformat(),
        "document_url": policy_version.document_url or "",
        "label_options": OPTIONS,
        "label_level": "nominal",
        "version": policy_version.version,
    }
    data.update(changes)
    return data


def _actions(db) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


# Versions -------------------------------------------------------------------------------


def test_pom_edits_a_draft_versions_label_options_and_text(client, auth, db, people, make_version):
    version = make_version(people["pom"])
    db.session.commit()
    auth.login(people["pom"])
    response = client.post(
        f"/versions/{version.id}/edit",
        data=_version_form(
            version,
            change_summary="Disclosed replicas violate; parody is allowed",
            label_options="violating | Violating\nauthentic | Not violating\nparody | Parody",
        ),
    )
    assert response.status_code == 302
    db.session.refresh(version)
    assert [o["key"] for o in version.label_options] == ["violating", "authentic", "parody"]
    assert version.change_summary.endswith("parody is allowed")
    assert "policy_version.updated" in _actions(db)


def test_a_version_edit_with_bad_label_options_names_the_field_and_writes_nothing(
    client, auth, db, people, make_version
):
    version = make_version(people["pom"])
    db.session.commit()
    auth.login(people["pom"])
    response = client.post(
        f"/versions/{version.id}/edit",
        data=_version_form(version, label_options="only-one", change_summary="Changed"),
    )
    assert response.status_code == 200
    assert "give at least two label options" in response.get_data(as_text=True)
    db.session.refresh(version)
    assert version.change_summary == "Disclosed replicas violate"


def test_a_stale_version_edit_gets_a_conflict_page_naming_who_saved_first(
    client, auth, db, people, make_version
):
    version = make_version(people["pom"])
    db.session.commit()
    seen = version.version
    services.update_version(
        people["pom2"],
        version,
        seen=seen,
        version_label="v3.0",
        change_summary="Rafael's summary",
        effective_date=date.today(),
        document_url=None,
        label_options=OPTIONS,
    )
    db.session.commit()
    auth.login(people["pom"])
    response = client.post(
        f"/versions/{version.id}/edit",
        data=_version_form(version, change_summary="Dana's summary", version=seen),
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Rafael Ortiz saved first" in page and "Dana&#39;s summary" in page
    db.session.refresh(version)
    assert version.change_summary == "Rafael's summary"


def test_pom_deletes_a_draft_version_nothing_uses(client, auth, db, people, make_version):
    version = make_version(people["pom"])
    db.session.commit()
    version_id, policy_id = version.id, version.policy_id
    auth.login(people["pom"])
    assert "Delete the draft" in client.get(f"/versions/{version_id}/delete").get_data(as_text=True)
    client.post(f"/versions/{version_id}/delete", data={"version": version.version})
    db.session.expire_all()
    assert db.session.get(PolicyVersion, version_id) is None
    assert db.session.get(Policy, policy_id) is not None
    assert "policy_version.deleted" in _actions(db)


def test_a_draft_version_a_session_uses_is_not_deleted(db, people, make_version):
    version = make_version(people["pom"])
    calibration_services.create_session(
        people["pom"], title="Early round", policy_version_id=version.id
    )
    with pytest.raises(Conflict, match="used by 1 calibration session"):
        services.delete_version(people["pom"], version)


def test_a_published_version_is_archived_not_edited_or_deleted(db, rollout_world):
    version = rollout_world["rollout"].policy_version
    pom = rollout_world["pom"]
    assert version.status == VersionStatus.ROLLING_OUT
    with pytest.raises(Conflict, match="is published"):
        services.delete_version(pom, version)
    with pytest.raises(Conflict, match="is published"):
        services.update_version(
            pom,
            version,
            seen=version.version,
            version_label="v3.0",
            change_summary="Changed",
            effective_date=date.today(),
            document_url=None,
            label_options=OPTIONS,
        )
    services.archive_version(pom, version)
    assert version.is_archived
    with pytest.raises(ValidationError, match="archived"):
        services.create_rollout(
            pom,
            policy_version_id=version.id,
            template_id=1,
            site_ids=[rollout_world["cebu"].id],
            go_live_date=date.today() + timedelta(days=30),
        )
    services.archive_version(pom, version, archived=False)
    assert not version.is_archived


def test_archived_versions_are_not_offered_to_new_rollouts_or_sessions(
    client, auth, db, rollout_world
):
    version = rollout_world["rollout"].policy_version
    services.archive_version(rollout_world["pom"], version)
    db.session.commit()
    auth.login(rollout_world["pom"])
    new_rollout = client.get("/rollouts/new").get_data(as_text=True)
    new_session = client.get("/calibration/sessions/new").get_data(as_text=True)
    assert f'value="{version.id}">{version}' not in new_rollout
    assert f"{version.label} — {version.policy.title}</option>" not in new_session


def test_a_new_session_refuses_an_archived_version_unless_its_rollout_brings_it(db, rollout_world):
    rollout = rollout_world["rollout"]
    services.archive_version(rollout_world["pom"], rollout.policy_version)
    with pytest.raises(ValidationError, match="archived"):
        calibration_services.create_session(
            rollout_world["pom"], title="Direct", policy_version_id=rollout.policy_version_id
        )
    session = calibration_services.create_session(
        rollout_world["pom"], title="Next round", rollout_id=rollout.id
    )
    assert session.policy_version_id == rollout.policy_version_id


def test_a_draft_is_deleted_rather_than_archived(db, people, make_version):
    version = make_version(people["pom"])
    with pytest.raises(Conflict, match="delete it rather than archive it"):
        services.archive_version(people["pom"], version)


# Policies -------------------------------------------------------------------------------


def test_pom_edits_a_policys_title_and_description(client, auth, db, people, make_version):
    policy = make_version(people["pom"]).policy
    db.session.commit()
    auth.login(people["pom"])
    response = client.post(
        f"/policies/{policy.id}/edit",
        data={
            "title": "Counterfeit and replica goods",
            "area": "Counterfeit",
            "description": "Listings that copy a brand's goods.",
            "version": policy.version,
        },
    )
    assert response.status_code == 302
    page = client.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "Counterfeit and replica goods" in page and "copy a brand" in page
    assert "policy.updated" in _actions(db)


def test_a_stale_policy_edit_gets_a_conflict_naming_who_saved_first(
    client, auth, db, people, make_version
):
    policy = make_version(people["pom"]).policy
    db.session.commit()
    seen = policy.version
    services.update_policy(
        people["pom2"], policy, version=seen, title="Rafael's title", area="Counterfeit"
    )
    db.session.commit()
    auth.login(people["pom"])
    response = client.post(
        f"/policies/{policy.id}/edit",
        data={"title": "Dana's title", "area": "Counterfeit", "version": seen},
    )
    assert response.status_code == 409
    assert "Rafael Ortiz saved first" in response.get_data(as_text=True)
    db.session.refresh(policy)
    assert policy.title == "Rafael's title"


def test_a_policy_with_nothing_is_deleted(client, auth, db, people, create_line):
    policy = services.create_policy(
        people["pom"],
        code="LIVE-DA",
        title="Dangerous acts",
        area="Safety",
        line_of_business_id=create_line().id,
    )
    db.session.commit()
    policy_id = policy.id
    auth.login(people["pom"])
    client.post(f"/policies/{policy_id}/delete")
    db.session.expire_all()
    assert db.session.get(Policy, policy_id) is None
    assert "policy.deleted" in _actions(db)


def test_a_policy_with_draft_versions_asks_for_them_to_go_first(db, people, make_version):
    policy = make_version(people["pom"]).policy
    with pytest.raises(Conflict, match="still has draft versions"):
        services.delete_policy(people["pom"], policy)


def test_a_published_policy_is_archived_hidden_from_the_list_and_read_only(
    client, auth, db, rollout_world
):
    policy = rollout_world["rollout"].policy_version.policy
    pom = rollout_world["pom"]
    db.session.commit()
    with pytest.raises(Conflict, match="Archive it instead"):
        services.delete_policy(pom, policy)
    auth.login(pom)
    client.post(f"/policies/{policy.id}/archive", follow_redirects=True)
    db.session.refresh(policy)
    assert policy.is_archived
    assert policy.code not in client.get("/policies").get_data(as_text=True)
    assert policy.code in client.get("/policies?archived=1").get_data(as_text=True)
    with pytest.raises(Conflict, match="archived"):
        services.update_policy(pom, policy, version=None, title="New", area="Counterfeit")
    client.post(f"/policies/{policy.id}/unarchive")
    db.session.refresh(policy)
    assert not policy.is_archived


def test_only_poms_and_admins_edit_policies(db, people, make_version):
    policy = make_version(people["pom"]).policy
    with pytest.raises(Forbidden):
        services.update_policy(
            people["stakeholder"], policy, version=None, title="New", area="Counterfeit"
        )
    with pytest.raises(Forbidden):
        services.delete_policy(people["stakeholder"], policy)


def test_a_version_published_between_reading_and_saving_is_a_conflict(db, people, make_version):
    version = make_version(people["pom"])
    db.session.commit()
    seen = version.version
    # A rollout created meanwhile publishes the version: its row version moves on.
    db.session.execute(
        sa.update(PolicyVersion)
        .where(PolicyVersion.id == version.id)
        .values(status=VersionStatus.ROLLING_OUT, version=PolicyVersion.version + 1)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(Conflict, match="at the same moment"):
        services.update_version(
            people["pom"],
            version,
            seen=seen,
            version_label="v3.0",
            change_summary="Changed",
            effective_date=date.today(),
            document_url=None,
            label_options=OPTIONS,
        )
