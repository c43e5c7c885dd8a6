"""Rollout's panels on people's home pages: what needs their attention now.

Each builder returns the panel's context, or None when the panel is not for the person;
each reads a bounded number of rows in a fixed number of statements.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.org.models import Site, Vendor
from rollcal.permissions import Action, bound_to_vendor, may
from rollcal.registry import HomePanel
from rollcal.types import utcnow
from rollout import queries, readiness
from rollout.models import (
    ChecklistItem,
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


def _with_policy(statement: sa.Select) -> sa.Select:
    return statement.options(
        selectinload(Rollout.policy_version).selectinload(PolicyVersion.policy)
    )


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
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
    rollouts = db.session.scalars(
        _with_policy(statement.order_by(Rollout.go_live_date, Rollout.id).limit(SHOWN))
    ).all()
    return {
        "title": "Your rollouts",
        "summaries": queries.summaries(user, list(rollouts)),
        "troubled": _troubled_sites([rollout.id for rollout in rollouts]),
        "total": total,
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
    items = db.session.scalars(statement.limit(SHOWN)).all()
    return {
        "title": "Your vendor's items due" if bound_to_vendor(user) else "Your items due",
        "items": items,
        "count": count or 0,
        "overdue": overdue or 0,
        "today": today,
        "week": week,
    }


def signoffs_waiting_on_others(user: User) -> dict | None:
    """Sign-off requests a POM made that stakeholders have not all decided."""
    if not may(user, Action.OWN_VENDORS):
        return None
    requests = db.session.scalars(
        sa.select(SignOffRequest)
        .where(
            SignOffRequest.requested_by_id == user.id,
            SignOffRequest.status == SignOffStatus.PENDING,
        )
        .options(
            selectinload(SignOffRequest.sign_offs).selectinload(SignOff.stakeholder),
            selectinload(SignOffRequest.rollout)
            .selectinload(Rollout.policy_version)
            .selectinload(PolicyVersion.policy),
        )
        .order_by(SignOffRequest.requested_at)
        .limit(SHOWN)
    ).all()
    return {"title": "Sign-offs waiting on others", "requests": requests}


def signoffs_for_me(user: User) -> dict | None:
    """A stakeholder's undecided sign-offs, oldest request first."""
    if not may(user, Action.SIGN_OFF):
        return None
    statement = (
        sa.select(SignOff)
        .join(SignOffRequest, SignOffRequest.id == SignOff.request_id)
        .where(
            SignOff.stakeholder_id == user.id,
            SignOff.decision.is_(None),
            SignOffRequest.status == SignOffStatus.PENDING,
        )
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
    sign_offs = db.session.scalars(
        statement.options(
            selectinload(SignOff.request)
            .selectinload(SignOffRequest.rollout)
            .selectinload(Rollout.policy_version)
            .selectinload(PolicyVersion.policy),
            selectinload(SignOff.request).selectinload(SignOffRequest.requested_by),
        )
        .order_by(SignOffRequest.requested_at)
        .limit(SHOWN)
    ).all()
    return {"title": "Sign-offs waiting for you", "sign_offs": sign_offs, "total": total}


def go_lives_soon(user: User) -> dict | None:
    """Rollouts going live in the next 14 days, with the stored readiness of their sites."""
    if not may(user, Action.SIGN_OFF):
        return None
    today = utcnow().date()
    rollouts = db.session.scalars(
        _with_policy(
            queries.visible_rollouts(user)
            .where(
                Rollout.status.in_((*_UNDER_WAY, RolloutStatus.SIGNED_OFF)),
                Rollout.go_live_date.between(today, today + timedelta(days=14)),
            )
            .order_by(Rollout.go_live_date, Rollout.id)
            .limit(SHOWN)
        )
    ).all()
    return {
        "title": "Go-lives in the next 14 days",
        "summaries": queries.summaries(user, list(rollouts)),
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
