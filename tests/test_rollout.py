"""Rollouts as POMs, QA leads and stakeholders use them in the browser."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from rollcal.accounts.models import Role
from rollcal.audit import AuditEvent
from rollout import services
from rollout.models import ChecklistItem, ItemStatus, PolicyVersion, Rollout, RolloutStatus

TODAY = date.today()


def step(rollout: Rollout, site, title_start: str) -> ChecklistItem:
    return next(
        i for i in rollout.items if i.site_id == site.id and i.title.startswith(title_start)
    )


def test_pom_creates_a_rollout_and_items_are_generated_assigned_and_dated(
    client, auth, db, create_user, create_site, make_version
):
    pom = auth.login(create_user(Role.POM))
    site = create_site(name="Cebu")
    lead = create_user(Role.QA_LEAD, vendor=site.vendor)
    version = make_version(pom)
    go_live = TODAY + timedelta(days=30)
    response = client.post(
        "/rollouts/new",
        data={
            "policy_version": version.id,
            "template": 1,
            "sites": [site.id],
            "go_live_date": go_live.isoformat(),
            "alpha_threshold": "0.667",
            "accuracy_target": "0.9",
        },
    )
    assert response.status_code == 302
    rollout = db.session.scalar(sa.select(Rollout))
    assert len(rollout.items) == 10
    trained = next(i for i in rollout.items if i.title.startswith("Moderators trained"))
    assert trained.due_date == go_live - timedelta(days=7)
    assert trained.assignee_id == lead.id and trained.evidence_required
    documentation = next(i for i in rollout.items if i.title == "Documentation QA'd")
    assert documentation.assignee_id == pom.id
    db.session.expire_all()
    assert db.session.get(PolicyVersion, version.id).status.value == "rolling_out"
    board = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Cebu" in board and "gate pending: no revealed calibration session" in board


def test_rollout_without_sites_is_refused_with_a_message(
    client, auth, db, create_user, make_version
):
    auth.login(create_user(Role.POM))
    version = make_version()
    response = client.post(
        "/rollouts/new",
        data={
            "policy_version": version.id,
            "template": 1,
            "go_live_date": (TODAY + timedelta(days=9)).isoformat(),
            "alpha_threshold": "0.667",
            "accuracy_target": "0.9",
        },
    )
    assert "choose at least one active site" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Rollout.id))) == 0


def test_site_filters_narrow_the_sites_offered(
    client, auth, create_user, create_site, create_vendor
):
    auth.login(create_user(Role.POM))
    create_site(create_vendor("Meridian CX"), "Cebu")
    create_site(create_vendor("Harbor Review"), "Dublin")
    vendor_id = create_vendor("Lumen Ops").id
    page = client.get(f"/rollouts/new?vendor={vendor_id}").get_data(as_text=True)
    assert "Cebu" not in page and "No active site matches the filters." in page


def test_qa_lead_needs_evidence_to_mark_a_training_item_done(client, auth, rollout_world, db):
    auth.login(rollout_world["maria"])
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Moderators trained")
    refused = client.post(f"/items/{item.id}", data={"version": item.version, "status": "done"})
    assert "needs evidence" in refused.get_data(as_text=True)
    accepted = client.post(
        f"/items/{item.id}",
        data={
            "version": item.version,
            "status": "done",
            "evidence_url": "https://drive.example.com/roster.xlsx",
        },
    )
    assert accepted.status_code == 302
    db.session.expire_all()
    item = db.session.get(ChecklistItem, item.id)
    assert item.status == ItemStatus.DONE and item.completed_by_id == rollout_world["maria"].id


def test_blocking_an_item_needs_a_reason(client, auth, rollout_world):
    auth.login(rollout_world["maria"])
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Tooling test")
    page = client.post(f"/items/{item.id}", data={"version": item.version, "status": "blocked"})
    assert "say why the item is blocked" in page.get_data(as_text=True)


def test_qa_lead_edits_only_vendor_side_items_of_their_vendor(client, auth, rollout_world):
    auth.login(rollout_world["maria"])
    pom_side = step(rollout_world["rollout"], rollout_world["cebu"], "Documentation")
    other_vendor = step(rollout_world["rollout"], rollout_world["dublin"], "Trainers upskilled")
    page = client.get(f"/items/{pom_side.id}").get_data(as_text=True)
    assert "Update" not in page
    assert (
        client.post(
            f"/items/{pom_side.id}", data={"version": pom_side.version, "status": "done"}
        ).status_code
        == 403
    )
    assert client.get(f"/items/{other_vendor.id}").status_code == 404


def test_second_save_of_a_stale_item_is_refused_with_the_current_state(
    client, auth, rollout_world, db
):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    seen_version = item.version
    services.update_item(
        rollout_world["pom"],
        item,
        version=seen_version,
        status="blocked",
        reason="Trainer on leave",
    )
    auth.login(rollout_world["maria"])
    response = client.post(f"/items/{item.id}", data={"version": seen_version, "status": "done"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    pom_name = rollout_world["pom"].name
    assert f"{pom_name} saved first" in page and "Trainer on leave" in page
    db.session.expire_all()
    assert db.session.get(ChecklistItem, item.id).status == ItemStatus.BLOCKED


def test_a_stale_save_from_ones_own_other_tab_says_so(client, auth, rollout_world, db):
    """The same person saving from two tabs is not told "someone else" saved first."""
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    maria = rollout_world["maria"]
    seen_version = item.version
    services.update_item(maria, item, version=seen_version, status="in_progress")
    auth.login(maria)
    response = client.post(f"/items/{item.id}", data={"version": seen_version, "status": "done"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "You saved this elsewhere first" in page and "in another tab or window" in page
    assert "Someone else" not in page


def test_a_concurrent_write_behind_the_orm_is_a_conflict_not_a_lost_update(rollout_world, db):
    from sqlalchemy.orm.attributes import set_committed_value

    from rollcal.errors import Conflict
    from rollcal.uow import unit_of_work

    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    seen_version = item.version
    # Another writer commits between our read and our save...
    db.session.execute(
        sa.update(ChecklistItem.__table__)
        .where(ChecklistItem.__table__.c.id == item.id)
        .values(version=seen_version + 1, status="in_progress")
    )
    db.session.commit()
    # ...while our copy of the row is still the one we read.
    set_committed_value(item, "version", seen_version)
    set_committed_value(item, "status", ItemStatus.TODO)
    with pytest.raises(Conflict) as raised, unit_of_work():
        services.update_item(rollout_world["maria"], item, version=seen_version, status="done")
    assert raised.value.current["status"] == "in_progress"
    db.session.expire_all()
    assert db.session.get(ChecklistItem, item.id).status == ItemStatus.IN_PROGRESS


def test_stakeholder_reads_the_board_but_cannot_change_items(
    client, auth, rollout_world, create_user
):
    auth.login(create_user(Role.STAKEHOLDER))
    rollout = rollout_world["rollout"]
    board = client.get(f"/rollouts/{rollout.id}").get_data(as_text=True)
    assert "Cebu" in board and "Dublin" in board and "Move go-live" not in board
    item = step(rollout, rollout_world["cebu"], "Trainers upskilled")
    assert (
        client.post(
            f"/items/{item.id}", data={"version": item.version, "status": "done"}
        ).status_code
        == 403
    )


def test_pom_completes_a_pom_step_at_several_sites_at_once(client, auth, rollout_world, db):
    auth.login(rollout_world["pom"])
    rollout = rollout_world["rollout"]
    documentation = step(rollout, rollout_world["cebu"], "Documentation")
    client.post(
        f"/rollouts/{rollout.id}/bulk",
        data={
            "bulk-step": documentation.template_item_id,
            "bulk-sites": [rollout_world["cebu"].id, rollout_world["dublin"].id],
        },
    )
    db.session.expire_all()
    statuses = {
        i.site_id: i.status
        for i in db.session.get(Rollout, rollout.id).items
        if i.template_item_id == documentation.template_item_id
    }
    assert set(statuses.values()) == {ItemStatus.DONE}


def test_bulk_completion_refuses_vendor_steps(rollout_world):
    rollout = rollout_world["rollout"]
    vendor_step = step(rollout, rollout_world["cebu"], "Trainers upskilled")
    from rollcal.errors import ValidationError

    with pytest.raises(ValidationError, match="only POM-side steps"):
        services.bulk_complete(
            rollout_world["pom"],
            rollout,
            template_item_id=vendor_step.template_item_id,
            site_ids=[rollout_world["cebu"].id],
        )


def test_moving_go_live_shifts_open_items_and_is_recorded(client, auth, rollout_world, db):
    rollout = rollout_world["rollout"]
    done = step(rollout, rollout_world["cebu"], "Documentation")
    services.update_item(rollout_world["pom"], done, version=done.version, status="done")
    open_item = step(rollout, rollout_world["cebu"], "Trainers upskilled")
    done_due, open_due = done.due_date, open_item.due_date
    auth.login(rollout_world["pom"])
    new_date = rollout.go_live_date + timedelta(days=7)
    client.post(
        f"/rollouts/{rollout.id}/go-live",
        data={"golive-go_live_date": new_date.isoformat(), "golive-reason": "Vendor hiring delay"},
    )
    db.session.expire_all()
    assert db.session.get(ChecklistItem, open_item.id).due_date == open_due + timedelta(days=7)
    assert db.session.get(ChecklistItem, done.id).due_date == done_due
    feed = client.get(f"/rollouts/{rollout.id}/activity").get_data(as_text=True)
    assert "Moved go-live" in feed and "Vendor hiring delay" in feed


def test_override_shows_its_justification_and_readiness_drives_the_rollout_status(
    client, auth, rollout_world, db
):
    rollout = rollout_world["rollout"]
    auth.login(rollout_world["pom"])
    justification = "Calibration waived by Policy: identical rule already live at this site"
    for site in (rollout_world["cebu"], rollout_world["dublin"]):
        client.post(
            f"/rollouts/{rollout.id}/sites/{site.id}/override",
            data={"override-justification": justification},
        )
    db.session.expire_all()
    assert db.session.get(Rollout, rollout.id).status == RolloutStatus.AWAITING_SIGNOFF
    board = client.get(f"/rollouts/{rollout.id}").get_data(as_text=True)
    assert "Ready (override)" in board and justification in board
    client.post(
        f"/rollouts/{rollout.id}/sites/{rollout_world['cebu'].id}/override", data={"clear": "1"}
    )
    db.session.expire_all()
    assert db.session.get(Rollout, rollout.id).status == RolloutStatus.IN_PROGRESS


def test_override_needs_a_real_justification(rollout_world):
    from rollcal.errors import ValidationError

    with pytest.raises(ValidationError, match="explain the decision"):
        services.override_site(
            rollout_world["pom"], rollout_world["rollout"], rollout_world["cebu"].id, "ok"
        )


def test_board_filters_by_vendor_and_exports_csv(client, auth, rollout_world):
    auth.login(rollout_world["pom"])
    rollout = rollout_world["rollout"]
    filtered = client.get(f"/rollouts/{rollout.id}?vendor={rollout_world['cebu'].vendor_id}")
    page = filtered.get_data(as_text=True)
    assert "Meridian CX · Cebu</a><br>" in page and "Harbor Review · Dublin</a><br>" not in page
    csv_text = client.get(f"/rollouts/{rollout.id}/board.csv").get_data(as_text=True)
    header, *rows = csv_text.strip().splitlines()
    assert header.startswith("vendor,site,markets,Documentation QA'd")
    assert len(rows) == 2 and "gate pending" in rows[0]


def test_board_marks_overdue_cells_in_words(client, auth, rollout_world, db):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    item.due_date = TODAY - timedelta(days=1)
    db.session.commit()
    auth.login(rollout_world["pom"])
    page = client.get(f"/rollouts/{rollout_world['rollout'].id}").get_data(as_text=True)
    assert "overdue" in page and "1 required item overdue: Trainers upskilled" in page


def test_qa_lead_sees_only_rollouts_and_sites_of_their_vendor(
    client, auth, rollout_world, create_user, create_site, make_version
):
    pom = rollout_world["pom"]
    elsewhere = create_site(name="Austin")
    version = make_version(pom, code="LIVE-DA")
    services.create_rollout(
        pom,
        policy_version_id=version.id,
        template_id=1,
        site_ids=[elsewhere.id],
        go_live_date=TODAY + timedelta(days=9),
    )
    auth.login(rollout_world["maria"])
    listing = client.get("/rollouts").get_data(as_text=True)
    assert "SHOP-CF" in listing and "LIVE-DA" not in listing
    board = client.get(f"/rollouts/{rollout_world['rollout'].id}").get_data(as_text=True)
    assert "Cebu" in board and "Dublin" not in board and "Harbor Review" not in board


def test_activity_feed_hides_other_vendors_events_from_qa_leads(client, auth, rollout_world):
    dublin_item = step(rollout_world["rollout"], rollout_world["dublin"], "Trainers upskilled")
    services.update_item(
        rollout_world["liam"], dublin_item, version=dublin_item.version, status="in_progress"
    )
    auth.login(rollout_world["maria"])
    feed = client.get(f"/rollouts/{rollout_world['rollout'].id}/activity").get_data(as_text=True)
    assert "Created the rollout" in feed and "Dublin" not in feed
    auth.login(rollout_world["pom"])
    assert "Dublin" in client.get(f"/rollouts/{rollout_world['rollout'].id}/activity").get_data(
        as_text=True
    )


def test_my_items_lists_open_items_soonest_first(client, auth, rollout_world):
    auth.login(rollout_world["maria"])
    page = client.get("/my-items").get_data(as_text=True)
    assert page.index("Trainers upskilled") < page.index("Capacity confirmed")
    assert "Documentation QA" not in page and "Dublin" not in page


def test_comment_thread_on_an_item(client, auth, rollout_world):
    auth.login(rollout_world["maria"])
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    client.post(f"/items/{item.id}/comments", data={"comment-body": "Two trainers certified."})
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "Two trainers certified." in page and "Maria Santos" in page


def test_pom_reassigns_a_vendor_item_only_to_that_vendors_qa_lead(rollout_world):
    from rollcal.errors import ValidationError

    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    with pytest.raises(ValidationError, match="QA lead of Meridian CX"):
        services.reassign_item(rollout_world["pom"], item, rollout_world["liam"].id)
    services.reassign_item(rollout_world["pom"], item, None)
    assert item.assignee is None


def test_gate_item_cannot_be_set_by_hand(rollout_world):
    from rollcal.errors import ValidationError

    gate = step(rollout_world["rollout"], rollout_world["cebu"], "Calibration passed")
    with pytest.raises(ValidationError, match="follows calibration"):
        services.update_item(rollout_world["pom"], gate, version=gate.version, status="done")


def test_cancelled_rollout_freezes_its_checklist(rollout_world):
    from rollcal.errors import ValidationError

    services.cancel_rollout(
        rollout_world["pom"], rollout_world["rollout"], "Policy change withdrawn"
    )
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    with pytest.raises(ValidationError, match="cancelled"):
        services.update_item(rollout_world["maria"], item, version=item.version, status="done")


def test_every_item_change_is_in_the_audit_trail_with_before_and_after(rollout_world, db):
    item = step(rollout_world["rollout"], rollout_world["cebu"], "Trainers upskilled")
    services.update_item(rollout_world["maria"], item, version=item.version, status="in_progress")
    event = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "checklist_item.updated", AuditEvent.object_id == item.id
        )
    )
    assert event.before == {"status": "todo"} and event.after == {"status": "in_progress"}
    assert event.vendor_id == rollout_world["cebu"].vendor_id


def test_label_options_errors_name_the_line(make_version, create_user, create_line):
    from rollcal.errors import ValidationError

    pom = create_user(Role.POM)
    policy = services.create_policy(
        pom, code="X", title="X", area="X", line_of_business_id=create_line().id
    )
    with pytest.raises(ValidationError, match="line 2: the key “Bad Key”"):
        services.create_version(
            pom,
            policy,
            version_label="v1",
            change_summary="c",
            effective_date=TODAY,
            document_url=None,
            label_options="ok\nBad Key | Bad",
        )


def test_pom_creates_a_policy_and_a_version_in_the_browser(
    client, auth, db, create_user, create_line
):
    auth.login(create_user(Role.POM))
    line = create_line("Shop: product listing")
    created = client.post(
        "/policies/new",
        data={
            "code": "shop-cf",
            "title": "Counterfeit",
            "area": "IPR",
            "line_of_business": line.id,
        },
    )
    assert created.status_code == 302
    policy_id = int(created.headers["Location"].split("/")[2])
    client.post(
        f"/policies/{policy_id}/versions/new",
        data={
            "version_label": "v1.0",
            "change_summary": "First",
            "effective_date": TODAY.isoformat(),
            "label_options": "violating | Violating\nauthentic | Not violating",
            "label_level": "nominal",
        },
    )
    page = client.get(f"/policies/{policy_id}").get_data(as_text=True)
    assert "SHOP-CF" in page and "v1.0" in page and "Not violating" in page


def test_template_changes_do_not_touch_existing_rollouts(
    client, auth, rollout_world, create_user, db
):
    auth.login(create_user(Role.ADMIN))
    first_step = db.session.scalar(sa.select(sa.func.min(ChecklistItem.template_item_id)))
    client.post(f"/admin/templates/1/steps/{first_step}/remove")
    client.post(
        "/admin/templates/1/steps/new",
        data={
            "title": "Queue routing verified",
            "category": "testing",
            "side": "vendor",
            "due_offset_days": 4,
            "required": "y",
        },
    )
    page = client.get("/admin/templates/1").get_data(as_text=True)
    assert "Queue routing verified" in page and "Documentation QA" not in page
    db.session.expire_all()
    assert len(db.session.get(Rollout, rollout_world["rollout"].id).items) == 20


def test_admin_makes_a_new_template_from_the_default_steps(client, auth, db, create_user):
    from rollout.models import ChecklistTemplate

    auth.login(create_user(Role.ADMIN))
    response = client.post(
        "/admin/templates/new",
        data={
            "name": "Shop rollout, no UAT",
            "description": "For text-only policy changes",
            "copy_from": 1,
            "active": "y",
        },
    )
    assert response.status_code == 302
    template = db.session.scalar(
        sa.select(ChecklistTemplate).where(ChecklistTemplate.name == "Shop rollout, no UAT")
    )
    assert len(template.items) == 10
    duplicate = client.post(
        "/admin/templates/new", data={"name": "shop rollout, NO uat", "copy_from": 0}
    )
    assert "another template is called" in duplicate.get_data(as_text=True)


def test_admin_reorders_template_steps_one_place_at_a_time(client, auth, db, create_user):
    """Moving the second step up makes it the first; the first cannot move further up."""
    from rollout.models import ChecklistTemplate

    auth.login(create_user(Role.ADMIN))
    template = db.session.get(ChecklistTemplate, 1)
    first, second = template.items[0], template.items[1]
    client.post(f"/admin/templates/1/steps/{second.id}/move", data={"direction": "up"})
    db.session.expire_all()
    steps = db.session.get(ChecklistTemplate, 1).items
    assert [steps[0].id, steps[1].id] == [second.id, first.id]
    assert [step.position for step in steps] == list(range(1, len(steps) + 1))
    refused = client.post(
        f"/admin/templates/1/steps/{second.id}/move",
        data={"direction": "up"},
        follow_redirects=True,
    )
    assert "is already the first step" in refused.get_data(as_text=True)
    page = client.get("/admin/templates/1").get_data(as_text=True)
    assert f'aria-label="Move down: {first.title}"'.replace("'", "&#39;") in page
