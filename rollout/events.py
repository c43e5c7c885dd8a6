"""Rollout's side of the domain events: what it provides to calibration, and what it does
when checklists, sign-offs and calibration results change."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import joinedload, selectinload

from calibration.models import CalibrationSession
from rollcal import events
from rollcal.events import (
    PolicyVersionFacts,
    RolloutFacts,
    RolloutReviewFacts,
    SignOffFacts,
    SiteReadinessFacts,
)
from rollcal.extensions import db
from rollcal.org.models import Site
from rollout.models import (
    Policy,
    PolicyVersion,
    Rollout,
    RolloutSite,
    RolloutStatus,
    SignOff,
    SignOffRequest,
    VersionStatus,
)
from rollout.readiness import State

# Rollouts a new calibration session may still feed the gate of.
_CALIBRATING = (RolloutStatus.PLANNING, RolloutStatus.IN_PROGRESS, RolloutStatus.AWAITING_SIGNOFF)


class RolloutSubjects:
    """Policy versions and rollouts, as calibration sessions see them."""

    def policy_version_choices(self) -> list[tuple[int, str]]:
        """(id, "CODE version — title") of every policy version not retired nor archived."""
        rows = db.session.execute(
            sa.select(PolicyVersion.id, Policy.code, PolicyVersion.version_label, Policy.title)
            .join(Policy, Policy.id == PolicyVersion.policy_id)
            .where(
                PolicyVersion.status != VersionStatus.RETIRED,
                PolicyVersion.archived_at.is_(None),
                Policy.archived_at.is_(None),
            )
            .order_by(Policy.code, PolicyVersion.id.desc())
        )
        return [(row.id, f"{row.code} {row.version_label} — {row.title}") for row in rows]

    def policy_choices(self) -> list[tuple[int, str]]:
        """(id, "CODE — title") of every policy, by code."""
        rows = db.session.execute(
            sa.select(Policy.id, Policy.code, Policy.title).order_by(Policy.code)
        )
        return [(row.id, f"{row.code} — {row.title}") for row in rows]

    def rollout_choices(self) -> list[tuple[int, str]]:
        """(id, "CODE version — title (go-live date)") of every rollout not yet signed off."""
        rows = db.session.execute(
            sa.select(
                Rollout.id,
                Policy.code,
                PolicyVersion.version_label,
                Policy.title,
                Rollout.go_live_date,
            )
            .join(PolicyVersion, PolicyVersion.id == Rollout.policy_version_id)
            .join(Policy, Policy.id == PolicyVersion.policy_id)
            .where(Rollout.status.in_(_CALIBRATING))
            .order_by(Rollout.go_live_date, Rollout.id)
        )
        return [
            (row.id, f"{row.code} {row.version_label} — {row.title} (go-live {row.go_live_date})")
            for row in rows
        ]

    def policy_version(self, version_id: int) -> PolicyVersionFacts | None:
        """A policy version's name, label options and scale, or None."""
        version = db.session.get(
            PolicyVersion, version_id, options=[selectinload(PolicyVersion.policy)]
        )
        if version is None:
            return None
        return PolicyVersionFacts(
            id=version.id,
            name=version.label + f" — {version.policy.title}",
            label_options=list(version.label_options or []),
            label_level=version.label_level,
            policy_id=version.policy_id,
            policy_name=version.policy.title,
            archived=version.is_archived or version.policy.is_archived,
            model_gate_min_severity=version.model_gate_min_severity,
            model_gate_fnr_target=version.model_gate_fnr_target,
        )

    def rollout(self, rollout_id: int) -> RolloutFacts | None:
        """A rollout's name, policy version and gate thresholds, or None."""
        # What the facts name, loaded with the rollout: loaded lazily, the policy version
        # would be read again by id after ``policy_version`` had read it for the same page.
        rollout = db.session.get(
            Rollout,
            rollout_id,
            options=[joinedload(Rollout.policy_version).joinedload(PolicyVersion.policy)],
        )
        return _facts(rollout) if rollout is not None else None

    def first_rollout_of_policy(self, code: str) -> RolloutFacts | None:
        """The oldest rollout of a policy (by its code), or None."""
        rollout = db.session.scalar(
            sa.select(Rollout)
            .join(PolicyVersion, PolicyVersion.id == Rollout.policy_version_id)
            .join(Policy, Policy.id == PolicyVersion.policy_id)
            .where(Policy.code == code)
            .order_by(Rollout.id)
            .limit(1)
        )
        return _facts(rollout) if rollout is not None else None

    def rollouts_for_review(
        self, vendor_ids: list[int] | None, since: date, until: date | None
    ) -> list[RolloutReviewFacts]:
        """Rollouts with a site of these vendors whose go-live is in the period, or that
        are not live yet, by go-live; a fixed number of statements however many."""
        touching = sa.select(RolloutSite.rollout_id).join(Site, Site.id == RolloutSite.site_id)
        if vendor_ids is not None:
            touching = touching.where(Site.vendor_id.in_(vendor_ids))
        in_period = Rollout.go_live_date >= since
        if until is not None:
            in_period = sa.and_(in_period, Rollout.go_live_date <= until)
        rollouts = db.session.scalars(
            sa.select(Rollout)
            .where(
                Rollout.id.in_(touching),
                Rollout.status != RolloutStatus.CANCELLED,
                sa.or_(in_period, Rollout.status.in_(_CALIBRATING)),
            )
            .options(
                selectinload(Rollout.policy_version).selectinload(PolicyVersion.policy),
                selectinload(Rollout.rollout_sites)
                .selectinload(RolloutSite.site)
                .selectinload(Site.vendor),
            )
            .order_by(Rollout.go_live_date, Rollout.id)
        ).all()
        requests: dict[int, list[SignOffRequest]] = {}
        if rollouts:
            for request in db.session.scalars(
                sa.select(SignOffRequest)
                .where(SignOffRequest.rollout_id.in_([r.id for r in rollouts]))
                .options(selectinload(SignOffRequest.sign_offs).selectinload(SignOff.stakeholder))
                .order_by(SignOffRequest.requested_at, SignOffRequest.id)
            ):
                requests.setdefault(request.rollout_id, []).append(request)
        found = []
        for rollout in rollouts:
            sites = tuple(
                SiteReadinessFacts(
                    site_id=row.site_id,
                    vendor_id=row.site.vendor_id,
                    site=row.site.label,
                    state=State(row.readiness_state).title,
                    reasons=tuple(row.readiness_reasons or ()),
                    required_closed=row.required_closed,
                    required_total=row.required_total,
                    overridden=row.override_justification is not None,
                )
                for row in sorted(rollout.rollout_sites, key=lambda row: row.site.label)
                if vendor_ids is None or row.site.vendor_id in vendor_ids
            )
            sign_offs = tuple(
                SignOffFacts(
                    stakeholder_id=sign_off.stakeholder_id,
                    stakeholder=sign_off.stakeholder.name,
                    requested_at=request.requested_at,
                    decision=sign_off.decision.past.capitalize() if sign_off.decision else None,
                    decided_at=sign_off.decided_at,
                    comment=sign_off.comment,
                )
                for request in requests.get(rollout.id, [])
                for sign_off in request.sign_offs
            )
            found.append(
                RolloutReviewFacts(
                    id=rollout.id,
                    name=rollout.title,
                    status=rollout.status.title,
                    go_live_date=rollout.go_live_date,
                    sites=sites,
                    sign_offs=sign_offs,
                )
            )
        return found


def _facts(rollout: Rollout) -> RolloutFacts:
    # The site ids as plain values: a rollout of 2,000 sites would otherwise load 2,000
    # rollout-site rows as ORM instances for a session page that shows the rollout's name.
    site_ids = db.session.scalars(
        sa.select(RolloutSite.site_id).where(RolloutSite.rollout_id == rollout.id)
    )
    return RolloutFacts(
        id=rollout.id,
        name=rollout.title,
        policy_version_id=rollout.policy_version_id,
        alpha_threshold=rollout.alpha_threshold,
        accuracy_target=rollout.accuracy_target,
        site_ids=frozenset(site_ids),
    )


def rollouts_fed_by(session: CalibrationSession) -> list[Rollout]:
    """The rollouts whose calibration gate reads this session's results."""
    if session.rollout_id is None:
        return []
    rollout = db.session.get(Rollout, session.rollout_id)
    return [rollout] if rollout is not None else []


def status_follows(sender, outcome: str | None = None, **_facts) -> None:
    """The one subscriber that keeps a rollout's status where its sites and sign-offs put
    it: after checklist changes, sign-off decisions and new calibration results."""
    from rollout import services

    rollouts = rollouts_fed_by(sender) if isinstance(sender, CalibrationSession) else [sender]
    for rollout in rollouts:
        services.follow_status(rollout, outcome)


def init_app(app: Flask) -> None:
    """Provide calibration's subjects and subscribe to the events rollout follows."""
    events.provide_calibration_subjects(app, RolloutSubjects())
    for signal in (
        events.checklist_changed,
        events.signoff_decided,
        events.session_results_changed,
    ):
        signal.connect(status_follows)
    from rollout.model_gate import follow_model_results

    for signal in (events.model_results_changed, events.session_results_changed):
        signal.connect(follow_model_results)
