"""Who hears of comments, mentions, reassignments, go-live moves and high flags: exactly
the people each concerns, never a QA lead of another vendor, never results before reveal."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from calibration import services as calibration_services
from calibration.models import Flag, Severity
from rollcal.accounts.models import Role
from rollcal.notifications.models import (
    Delivery,
    EmailMessage,
    Kind,
    Notification,
    NotificationPreference,
)
from rollout import services
from rollout.models import ChecklistItem, ItemStatus, Side
from tests.calibration_factories import flags_of, noisy_answers, run_session

OPTIONS = ("remove", "allow", "escalate")


def _told(db, kind: Kind) -> dict[int, list[Notification]]:
    """Notifications of ``kind`` by the id of the person told."""
    told: dict[int, list[Notification]] = {}
    for notification in db.session.scalars(
        sa.select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    ):
        told.setdefault(notification.user_id, []).append(notification)
    return told


def _item(db, rollout, site, side: Side = Side.VENDOR) -> ChecklistItem:
    return db.session.scalars(
        sa.select(ChecklistItem)
        .where(
            ChecklistItem.rollout_id == rollout.id,
            ChecklistItem.site_id == site.id,
            ChecklistItem.side == side,
            ChecklistItem.gate.is_(False),
        )
        .order_by(ChecklistItem.position)
    ).first()


@pytest.fixture
def world(rollout_world, create_user):
    """The rollout world, with a second POM and a second QA lead at Meridian."""
    rollout_world["other_pom"] = create_user(Role.POM, name="Omar Haddad")
    rollout_world["maria_colleague"] = create_user(
        Role.QA_LEAD, vendor=rollout_world["cebu"].vendor, name="Ana Reyes"
    )
    return rollout_world


# Comments and mentions ----------------------------------------------------------------


def test_a_comment_tells_the_items_assignee_and_nobody_else(db, world):
    pom, maria = world["pom"], world["maria"]
    item = _item(db, world["rollout"], world["cebu"])
    assert item.assignee == maria

    services.add_comment(pom, item, "Please attach the attendance sheet.")
    db.session.commit()

    told = _told(db, Kind.ITEM_COMMENTED)
    assert list(told) == [maria.id]
    [notification] = told[maria.id]
    assert notification.title == f"Dana Whitfield commented on “{item.title}”"
    assert "“Please attach the attendance sheet.”" in notification.body
    assert "Meridian CX · Cebu" in notification.body
    assert notification.link == f"/items/{item.id}#comments"
    assert _told(db, Kind.MENTIONED) == {}


def test_nobody_is_told_of_their_own_comment(db, world):
    maria = world["maria"]
    item = _item(db, world["rollout"], world["cebu"])
    services.add_comment(maria, item, f"Done, see the sheet. @{maria.email}")
    db.session.commit()
    assert _told(db, Kind.ITEM_COMMENTED) == {}
    assert _told(db, Kind.MENTIONED) == {}


def test_a_mention_by_address_or_by_name_tells_people_who_may_see_the_item(db, world):
    pom, maria, other_pom = world["pom"], world["maria"], world["other_pom"]
    colleague = world["maria_colleague"]
    item = _item(db, world["rollout"], world["cebu"])
    local_part = colleague.email.split("@")[0]

    services.add_comment(pom, item, f"@{other_pom.email} and @{local_part}, please check.")
    db.session.commit()

    mentioned = _told(db, Kind.MENTIONED)
    assert sorted(mentioned) == sorted([other_pom.id, colleague.id])
    [notification] = mentioned[colleague.id]
    assert notification.title == f"Dana Whitfield mentioned you on “{item.title}”"
    # The assignee hears of the comment as before.
    assert list(_told(db, Kind.ITEM_COMMENTED)) == [maria.id]


def test_a_mentioned_assignee_is_told_once_of_the_mention(db, world):
    pom, maria = world["pom"], world["maria"]
    item = _item(db, world["rollout"], world["cebu"])
    services.add_comment(pom, item, f"@{maria.email} can you upload it today?")
    db.session.commit()
    assert list(_told(db, Kind.MENTIONED)) == [maria.id]
    assert _told(db, Kind.ITEM_COMMENTED) == {}


def test_a_qa_lead_of_another_vendor_is_never_told_of_an_item_they_cannot_see(db, world):
    pom, liam = world["pom"], world["liam"]
    item = _item(db, world["rollout"], world["cebu"])
    services.add_comment(
        pom, item, f"@{liam.email} @{liam.email.split('@')[0]} how does Dublin do it?"
    )
    db.session.commit()
    assert liam.id not in _told(db, Kind.MENTIONED)
    assert liam.id not in _told(db, Kind.ITEM_COMMENTED)
    emails = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.user_id == liam.id))
    assert emails.all() == []


def test_an_address_inside_text_or_an_unknown_name_mentions_nobody(db, world):
    pom = world["pom"]
    item = _item(db, world["rollout"], world["cebu"])
    services.add_comment(pom, item, f"Write to {world['other_pom'].email} or @nobody-here.")
    db.session.commit()
    assert _told(db, Kind.MENTIONED) == {}


def test_a_comment_written_with_a_status_change_tells_people_too(client, auth, db, world):
    maria, pom = world["maria"], world["pom"]
    item = _item(db, world["rollout"], world["cebu"])
    auth.login(maria)
    response = client.post(
        f"/items/{item.id}",
        data={
            "version": item.version,
            "status": "in_progress",
            "comment": f"Started. @{pom.email} FYI",
        },
    )
    assert response.status_code == 302
    assert list(_told(db, Kind.MENTIONED)) == [pom.id]


def test_commenting_through_the_page_tells_the_assignee(client, auth, db, world):
    pom, maria = world["pom"], world["maria"]
    item = _item(db, world["rollout"], world["cebu"])
    auth.login(pom)
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "Mention someone with @ and their e-mail address" in page
    response = client.post(f"/items/{item.id}/comments", data={"comment-body": "Any news?"})
    assert response.status_code == 302
    assert list(_told(db, Kind.ITEM_COMMENTED)) == [maria.id]


def test_comments_respect_the_persons_choice(db, world):
    pom, maria = world["pom"], world["maria"]
    db.session.add(
        NotificationPreference(user_id=maria.id, kind=Kind.ITEM_COMMENTED, delivery=Delivery.OFF)
    )
    db.session.commit()
    services.add_comment(pom, _item(db, world["rollout"], world["cebu"]), "Any news?")
    db.session.commit()
    assert _told(db, Kind.ITEM_COMMENTED) == {}


# Reassignment --------------------------------------------------------------------------


def test_the_new_assignee_hears_an_item_is_theirs_and_nobody_else_does(db, world):
    pom, maria, colleague = world["pom"], world["maria"], world["maria_colleague"]
    item = _item(db, world["rollout"], world["cebu"])

    services.reassign_item(pom, item, colleague.id)
    db.session.commit()

    told = _told(db, Kind.ITEM_ASSIGNED)
    assert list(told) == [colleague.id]
    [notification] = told[colleague.id]
    assert notification.title == f"Assigned to you: {item.title}"
    assert "Meridian CX · Cebu" in notification.body
    assert "Dana Whitfield gave it to you" in notification.body
    assert notification.link == f"/items/{item.id}"

    # Given back and then to the colleague again: told again, each time once.
    services.reassign_item(pom, item, maria.id)
    services.reassign_item(pom, item, colleague.id)
    db.session.commit()
    told = _told(db, Kind.ITEM_ASSIGNED)
    assert {person: len(notes) for person, notes in told.items()} == {
        colleague.id: 2,
        maria.id: 1,
    }


def test_taking_an_item_oneself_or_unassigning_it_tells_nobody(db, world):
    pom = world["pom"]
    item = _item(db, world["rollout"], world["cebu"], side=Side.POM)
    services.reassign_item(pom, item, None)
    services.reassign_item(pom, item, pom.id)
    db.session.commit()
    assert _told(db, Kind.ITEM_ASSIGNED) == {}


# Go-live moved -------------------------------------------------------------------------


def test_moving_go_live_tells_the_owner_vendor_owners_and_open_item_assignees(db, world):
    pom, other_pom, maria, liam = world["pom"], world["other_pom"], world["maria"], world["liam"]
    rollout = world["rollout"]
    world["cebu"].vendor.owners.append(other_pom)
    # Liam's items at Dublin are all closed: he has nothing left on this rollout.
    for item in rollout.items:
        if item.site_id == world["dublin"].id and item.assignee == liam:
            item.status = ItemStatus.DONE
    stranger = world["maria_colleague"]
    db.session.commit()
    old = rollout.go_live_date
    new = old + timedelta(days=7)

    services.move_go_live(other_pom, rollout, new, reason="Trainers are out sick")
    db.session.commit()

    told = _told(db, Kind.GO_LIVE_MOVED)
    # The POM who moved it is not told; Meridian's owner is, but they moved it.
    assert sorted(told) == sorted([pom.id, maria.id])
    [notification] = told[maria.id]
    assert notification.title == f"Go-live moved to {_day(new)}: {rollout.title}"
    assert f"From {_day(old)} to {_day(new)}." in notification.body
    assert "Omar Haddad moved it: “Trainers are out sick”" in notification.body
    assert notification.link == f"/rollouts/{rollout.id}"
    assert liam.id not in told and stranger.id not in told


def test_vendor_owners_hear_of_a_go_live_move_and_a_second_move_is_told_again(db, world):
    pom, other_pom = world["pom"], world["other_pom"]
    rollout = world["rollout"]
    world["dublin"].vendor.owners.append(other_pom)
    db.session.commit()
    first = rollout.go_live_date + timedelta(days=3)
    services.move_go_live(pom, rollout, first, reason="Holiday")
    services.move_go_live(pom, rollout, first + timedelta(days=2), reason="Holiday again")
    db.session.commit()
    told = _told(db, Kind.GO_LIVE_MOVED)
    assert len(told[other_pom.id]) == 2
    assert pom.id not in told


def _day(value: date) -> str:
    from rollcal.timefmt import format_day

    return format_day(value)


# High flags ---------------------------------------------------------------------------


@pytest.fixture
def calibration(db, create_user, create_site, create_vendor):
    """Two vendors' QA leads; Meridian's label at random against golden, Harbor's agree:
    closing raises a high flag about Meridian's site and none about Harbor."""
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    leads = [
        (create_user(Role.QA_LEAD, vendor=site.vendor), site)
        for site in (cebu, cebu, dublin, dublin)
    ]
    # Another Meridian QA lead, not a rater: they see their vendor's flags after reveal.
    bystander = create_user(Role.QA_LEAD, vendor=meridian)
    pom = create_user(Role.POM, name="Dana Whitfield")
    session = run_session(
        pom,
        leads,
        cases=30,
        golden=lambda i: OPTIONS[i % 3],
        answer=lambda rater, case: noisy_answers(rater, case) if rater < 2 else OPTIONS[case % 3],
        until="closed",
    )
    db.session.commit()
    return {
        "pom": pom,
        "session": session,
        "meridian": [leads[0][0], leads[1][0], bystander],
        "harbor": [leads[2][0], leads[3][0]],
        "meridian_id": meridian.id,
    }


def _high(session) -> list[Flag]:
    return [flag for flag in flags_of(session) if flag.severity == Severity.HIGH]


def test_a_new_high_flag_tells_the_sessions_pom_and_no_qa_lead_before_reveal(db, calibration):
    pom, session = calibration["pom"], calibration["session"]
    [flag] = _high(session)
    assert flag.vendor_id == calibration["meridian_id"]

    told = _told(db, Kind.FLAG_RAISED)
    assert list(told) == [pom.id]
    [notification] = told[pom.id]
    assert notification.title == f"High flag: {flag.scope_title} in {session.title}"
    assert notification.link == f"/calibration/flags/{flag.id}"
    # Medium and low flags tell nobody.
    assert len(told[pom.id]) == len(_high(session)) < len(flags_of(session))


def test_reveal_tells_the_flagged_vendors_qa_leads_only(db, calibration):
    pom, session = calibration["pom"], calibration["session"]
    calibration_services.reveal_session(pom, session)
    db.session.commit()

    told = _told(db, Kind.FLAG_RAISED)
    meridian_ids = {lead.id for lead in calibration["meridian"]}
    assert set(told) == {pom.id} | meridian_ids
    assert all(len(notes) == 1 for notes in told.values())
    assert not {lead.id for lead in calibration["harbor"]} & set(told)


def test_recomputing_results_that_keep_the_flag_tells_nobody_again(db, calibration):
    pom, session = calibration["pom"], calibration["session"]
    calibration_services.recompute_results(pom, session)
    calibration_services.reveal_session(pom, session)
    calibration_services.recompute_results(pom, session)
    db.session.commit()
    told = _told(db, Kind.FLAG_RAISED)
    assert all(len(notes) == 1 for notes in told.values())
    assert len(told) == 1 + len(calibration["meridian"])


def test_a_high_flag_first_raised_after_reveal_reaches_the_vendors_leads_at_once(db, calibration):
    pom, session = calibration["pom"], calibration["session"]
    calibration_services.reveal_session(pom, session)
    db.session.commit()
    # Forget the flag as if these results had never raised it: recomputing raises it anew.
    for flag in _high(session):
        db.session.delete(flag)
    db.session.execute(sa.delete(Notification).where(Notification.kind == Kind.FLAG_RAISED))
    db.session.commit()

    calibration_services.recompute_results(pom, session)
    db.session.commit()

    told = _told(db, Kind.FLAG_RAISED)
    assert set(told) == {pom.id} | {lead.id for lead in calibration["meridian"]}
