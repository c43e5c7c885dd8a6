"""The model gate on the rollout side: a policy version's requirement, the checklist step a
rollout binds to it, and keeping that step where the gate puts it.

The step's items follow the gate (``rollout.gate.model_gate_of``, the pure
``rollout.readiness.model_gate_step``): done when the named model version passes, blocked
with the failures when it fails, to do while there is nothing to judge by. They change
when the binding changes and whenever a session's model results do; each change is
recorded and announced as a checklist change, so the stored readiness follows.
"""

from __future__ import annotations

import math

import sqlalchemy as sa

from calibration.models import AIModelVersion, CalibrationSession, Rater
from rollcal.accounts.models import User
from rollcal.audit import record
from rollcal.errors import ValidationError
from rollcal.events import checklist_changed
from rollcal.extensions import db
from rollcal.permissions import Action, require
from rollcal.types import utcnow
from rollout.gate import model_gate_of
from rollout.models import ChecklistItem, ItemStatus, PolicyVersion, Rollout


def model_gate_requirement(
    min_severity: float | None, fnr_target: float | None
) -> tuple[float | None, float | None]:
    """Check a model gate requirement: both figures or neither."""
    if min_severity is None and fnr_target is None:
        return None, None
    if min_severity is None or fnr_target is None:
        field = "model_gate_min_severity" if min_severity is None else "model_gate_fnr_target"
        raise ValidationError.field(
            field, "give both the severity and the false-negative target, or neither."
        )
    if not math.isfinite(min_severity) or min_severity < 0:
        raise ValidationError.field("model_gate_min_severity", "must be 0 or more.")
    if not math.isfinite(fnr_target) or not 0 < fnr_target < 1:
        raise ValidationError.field(
            "model_gate_fnr_target", "must be more than 0 and less than 1 (e.g. 0.05 for 5%)."
        )
    return float(min_severity), float(fnr_target)


def set_model_gate(
    actor: User,
    version: PolicyVersion,
    *,
    min_severity: float | None,
    fnr_target: float | None,
) -> PolicyVersion:
    """Require (or stop requiring) a model gate on a policy version."""
    require(actor, Action.MANAGE_ROLLOUTS)
    before = {
        "min_severity": version.model_gate_min_severity,
        "fnr_target": version.model_gate_fnr_target,
    }
    min_severity, fnr_target = model_gate_requirement(min_severity, fnr_target)
    version.model_gate_min_severity, version.model_gate_fnr_target = min_severity, fnr_target
    after = {"min_severity": min_severity, "fnr_target": fnr_target}
    if before != after:
        record(
            actor,
            "policy_version.model_gate",
            version,
            f"{version.label}: model gate "
            + (
                f"on labels of severity {min_severity:g} or more, false negatives below "
                f"{fnr_target:.0%}"
                if min_severity is not None
                else "no longer required"
            ),
            before=before,
            after=after,
        )
    db.session.flush()
    for rollout in db.session.scalars(
        sa.select(Rollout).where(
            Rollout.policy_version_id == version.id, Rollout.model_gate_item_id.is_not(None)
        )
    ):
        sync_model_gate(rollout)
    return version


def bind_model_gate(
    actor: User,
    rollout: Rollout,
    *,
    template_item_id: int | None,
    model_version_id: int | None,
) -> Rollout:
    """Bind one of the rollout's checklist steps to the model gate of a model version (or
    unbind it, giving neither); the step then follows the gate."""
    require(actor, Action.MANAGE_ROLLOUTS)
    if not template_item_id and not model_version_id:
        if rollout.model_gate_item_id is not None:
            record(
                actor,
                "rollout.model_gate",
                rollout,
                "The model gate no longer decides a checklist step",
                rollout_id=rollout.id,
            )
        rollout.model_gate_item_id = rollout.model_gate_version_id = None
        db.session.flush()
        return rollout
    steps = {item.template_item_id: item for item in rollout.items}
    step = steps.get(template_item_id or 0)
    if step is None:
        raise ValidationError.field("step", "choose one of this rollout's checklist steps.")
    if step.gate:
        raise ValidationError.field(
            "step", "the calibration gate step follows calibration results; choose another."
        )
    version = db.session.get(AIModelVersion, model_version_id or 0)
    if version is None:
        raise ValidationError.field("model_version", "choose a model version.")
    if not rollout.policy_version.requires_model_gate:
        raise ValidationError.field(
            "model_version",
            f"{rollout.policy_version.label} requires no model gate: set one on the policy "
            "version first.",
        )
    rollout.model_gate_item_id, rollout.model_gate_version_id = step.template_item_id, version.id
    db.session.flush()
    record(
        actor,
        "rollout.model_gate",
        rollout,
        f"“{step.title}” follows the model gate of {version.name}",
        rollout_id=rollout.id,
    )
    sync_model_gate(rollout)
    return rollout


def is_bound(item: ChecklistItem) -> bool:
    """Whether the item's step follows the model gate (nobody sets it by hand)."""
    return item.rollout.model_gate_item_id == item.template_item_id


def sync_model_gate(rollout: Rollout) -> int:
    """Put the items of the rollout's bound step where the model gate says; returns how
    many changed (0 without a binding)."""
    step = model_gate_of(rollout)
    if step is None:
        return 0
    status = ItemStatus(step.status)
    changed = 0
    now = utcnow()
    for item in rollout.items:
        if item.template_item_id != rollout.model_gate_item_id:
            continue
        if (item.status, item.status_reason, item.evidence_note) == (
            status,
            step.reason,
            step.note,
        ):
            continue
        before = {"status": item.status.value, "reason": item.status_reason}
        item.status, item.status_reason, item.evidence_note = status, step.reason, step.note
        if status == ItemStatus.DONE:
            item.completed_at = item.completed_at or now
        else:
            item.completed_by, item.completed_at = None, None
        item.updated_at = now
        record(
            None,
            "checklist_item.updated",
            item,
            f"{item.site.label}: “{item.title}” follows the model gate: {step.note}",
            before=before,
            after={"status": status.value, "reason": step.reason},
            rollout_id=item.rollout_id,
            vendor_id=item.site.vendor_id,
        )
        changed += 1
    if changed:
        db.session.flush()
        checklist_changed.send(rollout)
    return changed


def follow_model_results(session: CalibrationSession, **_facts) -> None:
    """After a session's model results change: sync every rollout bound to a version that
    rates the session."""
    versions = sa.select(Rater.ai_version_id).where(
        Rater.session_id == session.id, Rater.ai_version_id.is_not(None)
    )
    for rollout in db.session.scalars(
        sa.select(Rollout).where(Rollout.model_gate_version_id.in_(versions))
    ):
        sync_model_gate(rollout)
