"""The rollout forms refuse what a POM would regret and keep what they chose."""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from rollcal.accounts.models import Role
from rollout.models import ChecklistItem, Rollout

TODAY = date.today()


def _new_rollout(site, version, **extra) -> dict:
    return {
        "policy_version": version.id,
        "template": 1,
        "sites": [site.id],
        "go_live_date": (TODAY + timedelta(days=30)).isoformat(),
        "alpha_threshold": "0.667",
        "accuracy_target": "0.9",
        **extra,
    }


def test_go_live_cannot_move_into_the_past(client, auth, rollout_world, db):
    """A past date is refused and no item moves."""
    rollout = rollout_world["rollout"]
    before = {item.id: item.due_date for item in rollout.items}
    auth.login(rollout_world["pom"])
    response = client.post(
        f"/rollouts/{rollout.id}/go-live",
        data={
            "golive-go_live_date": (TODAY - timedelta(days=1)).isoformat(),
            "golive-reason": "Typo",
        },
        follow_redirects=True,
    )
    assert "Choose a date from today on." in response.get_data(as_text=True)
    db.session.expire_all()
    assert {i.id: i.due_date for i in db.session.scalars(sa.select(ChecklistItem))} == before


def test_moving_go_live_needs_a_reason(client, auth, rollout_world, db):
    """Without a reason nothing shifts, and the message says why one is asked for."""
    rollout = rollout_world["rollout"]
    old = rollout.go_live_date
    auth.login(rollout_world["pom"])
    response = client.post(
        f"/rollouts/{rollout.id}/go-live",
        data={"golive-go_live_date": (old + timedelta(days=7)).isoformat(), "golive-reason": " "},
        follow_redirects=True,
    )
    assert "Say why go-live moves" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Rollout, rollout.id).go_live_date == old


def test_gate_errors_on_a_new_rollout_open_the_gate_section(
    client, auth, create_user, create_site, make_version
):
    """Alpha 1.5 and accuracy −1 are shown beside their fields, the section open."""
    auth.login(create_user(Role.POM))
    site, version = create_site(), make_version()
    response = client.post(
        "/rollouts/new",
        data=_new_rollout(site, version, alpha_threshold="1.5", accuracy_target="-1"),
    )
    page = response.get_data(as_text=True)
    assert re.search(r"<details open>\s*<summary>Calibration gate", page)
    assert page.count('class="error"') >= 2


def test_show_sites_keeps_the_version_date_and_sites_chosen(
    client, auth, create_user, create_site, create_vendor, make_version
):
    """Filtering the sites re-reads the page with what was already chosen."""
    auth.login(create_user(Role.POM))
    vendor = create_vendor("Meridian CX")
    cebu = create_site(vendor, "Cebu")
    version = make_version()
    go_live = TODAY + timedelta(days=21)
    page = client.get(
        "/rollouts/new",
        query_string={
            "policy_version": version.id,
            "template": 1,
            "go_live_date": go_live.isoformat(),
            "sites": [cebu.id],
            "vendor": vendor.id,
        },
    ).get_data(as_text=True)
    assert f'value="{go_live.isoformat()}"' in page
    assert re.search(rf'<option selected value="{version.id}">', page)
    assert re.search(rf'checked[^>]*value="{cebu.id}"|value="{cebu.id}"[^>]*checked', page)
    assert 'formmethod="get"' in page


def test_a_rollout_whose_steps_start_overdue_warns_the_pom(
    client, auth, db, create_user, create_site, make_version
):
    """Go-live in two days: the required steps due earlier are named as already overdue."""
    auth.login(create_user(Role.POM))
    site, version = create_site(), make_version()
    response = client.post(
        "/rollouts/new",
        data=_new_rollout(site, version, go_live_date=(TODAY + timedelta(days=2)).isoformat()),
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    rollout = db.session.scalar(sa.select(Rollout))
    overdue = sum(1 for i in rollout.items if i.required and i.due_date < TODAY)
    assert overdue > 0
    assert f"{overdue} required steps were due before today and start overdue" in page


def test_a_policy_code_with_spaces_or_punctuation_is_refused(
    client, auth, db, create_user, create_line
):
    """ "has space!" is not saved as "HAS SPACE!": the message shows the expected shape."""
    from rollout.models import Policy

    auth.login(create_user(Role.POM))
    line = create_line()
    response = client.post(
        "/policies/new",
        data={"code": "has space!", "title": "T", "area": "A", "line_of_business": line.id},
    )
    assert "Use letters, digits and hyphens only" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Policy.id))) == 0


def test_a_cancelled_rollout_counts_no_readiness_offers_no_sign_off_and_can_be_reopened(
    client, auth, rollout_world, db
):
    """Cancelled: no "at risk" count, no Sign-off button; reopened, it follows its sites."""
    from rollout import services
    from rollout.models import RolloutStatus

    rollout = rollout_world["rollout"]
    services.cancel_rollout(rollout_world["pom"], rollout, "Policy withdrawn")
    db.session.commit()
    auth.login(rollout_world["pom"])
    board = client.get(f"/rollouts/{rollout.id}").get_data(as_text=True)
    assert "readiness is no longer tracked" in board
    assert ">Sign-off</a>" not in board and "at risk" not in board.split("Progress")[1][:400]
    listing = client.get("/rollouts").get_data(as_text=True)
    assert "cancelled: readiness no longer tracked" in listing
    response = client.post(f"/rollouts/{rollout.id}/reopen", follow_redirects=True)
    assert "Rollout reopened" in response.get_data(as_text=True)
    db.session.expire_all()
    reopened = db.session.get(Rollout, rollout.id)
    assert reopened.status in (RolloutStatus.PLANNING, RolloutStatus.IN_PROGRESS)
    assert reopened.cancel_reason is None
