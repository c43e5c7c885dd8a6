"""Rollout's panels on people's home pages: what needs their attention now.

Each builder returns the panel's context, or None when the panel is not for the person;
each reads a bounded number of rows in a fixed number of statements.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.org.models import Site, Vendor
from rollcal.permissions import Action, bound_to_vendor, may
from rollcal.registry import HomePanel
from rollcal.types import utcnow
from rollout import queries, readiness
from rollout.models import (
    ChecklistItem,
    Policy,
    PolicyVersion,
    Rollout,
    RolloutSite,
    RolloutStatus,
    SignOff,
    SignOffRequest,
    SignOffStatus,
)

SHOWN = 8
REASONS_PER_ROLLOUT = 3
_UNDER_WAY = (RolloutStatus.PLANNING, RolloutStatus.IN_PROGRESS, RolloutStatus.AWAITING_SIGNOFF)


def _troubled_sites(rollout_ids: list[int]) -> dict[int, list]:
    """The first blocked and at-risk sites of each rollout (worst first) with the stored
    reasons, and how many there are in all."""
    if not rollout_ids:
        return {}
    place = (
        sa.func.row_number()
        .over(
            partition_by=RolloutSite.rollout_id,
            order_by=(RolloutSite.readiness_state, Vendor.name, Site.name),
        )
        .label("place")
    )
    ranked = (
        sa.select(
            RolloutSite.rollout_id,
            RolloutSite.site_id,
            RolloutSite.readiness_state,
            RolloutSite.readiness_reasons,
            Vendor.name.label("vendor"),
            Site.name.label("site"),
            place,
        )
        .join(Site, Site.id == RolloutSite.site_id)
        .join(Vendor, Vendor.id == Site.vendor_id)
        .where(
            RolloutSite.rollout_id.in_(rollout_ids),
            RolloutSite.readiness_state.in_(
                [readiness.State.BLOCKED.value, readiness.State.AT_RISK.value]
            ),
        )
        .subquery()
    )
    found: dict[int, list] = {}
    for row in db.session.execute(
        sa.select(ranked).where(ranked.c.place <= REASONS_PER_ROLLOUT).order_by(ranked.c.place)
    ):
        found.setdefault(row.rollout_id, []).append(row)
    return found


def my_rollouts(user: User) -> dict | None:
    """A POM's rollouts under way, soonest go-live first, with the reasons of their
    blocked and at-risk sites."""
    if not may(user, Action.OWN_VENDORS):
        return None
    statement = queries.visible_rollouts(user).where(
        Rollout.owner_id == user.id, Rollout.status.in_(_UNDER_WAY)
    )
    listed = queries.listed_page(statement.order_by(Rollout.go_live_date, Rollout.id), 1, SHOWN)
    return {
        "title": "Your rollouts",
        "summaries": queries.summaries(user, listed.items),
        "troubled": _troubled_sites([rollout.id for rollout in listed.items]),
        "total": listed.total,
        "states": readiness.State,
    }


def items_due(user: User) -> dict | None:
    """Open items due within a week (overdue first): the person's own, or for a QA lead
    their vendor's."""
    if not may(user, Action.EDIT_VENDOR_ITEMS):
        return None
    today = utcnow().date()
    week = today + timedelta(days=7)
    statement = queries.my_items(user).where(ChecklistItem.due_date <= week)
    due = statement.order_by(None).subquery()
    count, overdue = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(sa.case((due.c.due_date < today, 1), else_=0)))
    ).one()
    items = queries.my_items_page(user, 1, SHOWN, statement=statement).items
    return {
        "title": "Your vendor's items due" if bound_to_vendor(user) else "Your items due",
        "items": items,
        "count": count or 0,
        "overdue": overdue or 0,
        "today": today,
        "week": week,
    }


def _rollout_columns():
    return (Policy.code, PolicyVersion.version_label, Policy.title.label("policy_title"))


def _title(row) -> str:
    return f"{row.code} {row.version_label} — {row.policy_title}"


def signoffs_waiting_on_others(user: User) -> dict | None:
    """Sign-off requests a POM made that stakeholders have not all decided."""
    if not may(user, Action.OWN_VENDORS):
        return None
    requests = db.session.execute(
        sa.select(
            SignOffRequest.id,
            SignOffRequest.rollout_id,
            SignOffRequest.requested_at,
            *_rollout_columns(),
        )
        .join(Rollout, Rollout.id == SignOffRequest.rollout_id)
        .join(PolicyVersion, PolicyVersion.id == Rollout.policy_version_id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(
            SignOffRequest.requested_by_id == user.id,
            SignOffRequest.status == SignOffStatus.PENDING,
        )
        .order_by(SignOffRequest.requested_at, SignOffRequest.id)
        .limit(SHOWN)
    ).all()
    waiting: dict[int, list[str]] = {}
    if requests:
        for request_id, name in db.session.execute(
            sa.select(SignOff.request_id, User.name)
            .join(User, User.id == SignOff.stakeholder_id)
            .where(
                SignOff.request_id.in_([row.id for row in requests]),
                SignOff.decision.is_(None),
            )
            .order_by(User.name)
        ):
            waiting.setdefault(request_id, []).append(name)
    return {
        "title": "Sign-offs waiting on others",
        "requests": [(row, _title(row), waiting.get(row.id, [])) for row in requests],
    }


def signoffs_for_me(user: User) -> dict | None:
    """A stakeholder's undecided sign-offs, oldest request first."""
    if not may(user, Action.SIGN_OFF):
        return None
    mine = sa.and_(
        SignOff.stakeholder_id == user.id,
        SignOff.decision.is_(None),
        SignOffRequest.status == SignOffStatus.PENDING,
    )
    total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(SignOff)
        .join(SignOffRequest, SignOffRequest.id == SignOff.request_id)
        .where(mine)
    )
    rows = db.session.execute(
        sa.select(
            SignOff.id,
            SignOffRequest.requested_at,
            User.name.label("requested_by"),
            Rollout.go_live_date,
            *_rollout_columns(),
        )
        .join(SignOffRequest, SignOffRequest.id == SignOff.request_id)
        .join(User, User.id == SignOffRequest.requested_by_id)
        .join(Rollout, Rollout.id == SignOffRequest.rollout_id)
        .join(PolicyVersion, PolicyVersion.id == Rollout.policy_version_id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(mine)
        .order_by(SignOffRequest.requested_at, SignOff.id)
        .limit(SHOWN)
    ).all()
    return {
        "title": "Sign-offs waiting for you",
        "sign_offs": [(row, _title(row)) for row in rows],
        "total": total,
    }


def go_lives_soon(user: User) -> dict | None:
    """Rollouts going live in the next 14 days, with the stored readiness of their sites."""
    if not may(user, Action.SIGN_OFF):
        return None
    today = utcnow().date()
    statement = queries.visible_rollouts(user).where(
        Rollout.status.in_((*_UNDER_WAY, RolloutStatus.SIGNED_OFF)),
        Rollout.go_live_date.between(today, today + timedelta(days=14)),
    )
    listed = queries.listed_page(statement.order_by(Rollout.go_live_date, Rollout.id), 1, SHOWN)
    return {
        "title": "Go-lives in the next 14 days",
        "summaries": queries.summaries(user, listed.items),
        "states": readiness.State,
    }


PANELS = (
    HomePanel("signoffs_for_me", "rollout/home/signoffs_for_me.html", signoffs_for_me, 10),
    HomePanel("my_rollouts", "rollout/home/rollouts.html", my_rollouts, 20),
    HomePanel("go_lives_soon", "rollout/home/go_lives.html", go_lives_soon, 25),
    HomePanel("items_due", "rollout/home/items_due.html", items_due, 30),
    HomePanel(
        "signoffs_waiting", "rollout/home/signoffs_waiting.html", signoffs_waiting_on_others, 60
    ),
)
