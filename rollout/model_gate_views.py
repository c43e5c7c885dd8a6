"""Pages of the model gate: a policy version's requirement, and the rollout step bound to
it. Thin: parse, call ``rollout.model_gate``, redirect with the outcome."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from calibration.models import AIModel, AIModelVersion
from rollcal.errors import NotFound, ValidationError, flash_refusal
from rollcal.extensions import db
from rollcal.permissions import Action, requires
from rollout import model_gate, queries
from rollout.forms import BindModelGateForm, ModelGateForm
from rollout.models import PolicyVersion, Rollout

bp = Blueprint("rollout_model_gate", __name__)


def model_version_choices() -> list[tuple[int, str]]:
    """Every model version, by model name and version."""
    rows = db.session.execute(
        sa.select(AIModelVersion.id, AIModel.name, AIModelVersion.version)
        .join(AIModel, AIModel.id == AIModelVersion.model_id)
        .order_by(AIModel.name, AIModelVersion.id)
    )
    return [(row.id, f"{row.name} {row.version}") for row in rows]


def bound_version(rollout: Rollout) -> AIModelVersion | None:
    """The model version the rollout's bound step waits for, if any."""
    if rollout.model_gate_version_id is None:
        return None
    return db.session.get(AIModelVersion, rollout.model_gate_version_id)


def bind_form(rollout: Rollout, steps: list[queries.Column] | None = None) -> BindModelGateForm:
    """The binding form of a rollout, with its steps (``steps``, or read here) other than
    the calibration gate, and every model version."""
    form = BindModelGateForm(
        prefix="modelgate",
        data={
            "step": rollout.model_gate_item_id or 0,
            "model_version": rollout.model_gate_version_id or 0,
        },
    )
    steps = queries.rollout_steps(rollout.id) if steps is None else steps
    form.step.choices = [(0, "None")] + [
        (step.template_item_id, step.title) for step in steps if not step.gate
    ]
    form.model_version.choices = [(0, "None")] + model_version_choices()
    return form


def requirement_form(version: PolicyVersion) -> ModelGateForm:
    """The model gate form of one policy version (prefixed: a policy page has several)."""
    return ModelGateForm(
        prefix=f"modelgate-{version.id}",
        data={
            "min_severity": version.model_gate_min_severity,
            "fnr_target": version.model_gate_fnr_target,
        },
    )


@bp.post("/versions/<int:version_id>/model-gate")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def set_model_gate(version_id: int):
    """Require (or stop requiring) a model gate on a policy version."""
    version = db.session.get(PolicyVersion, version_id)
    if version is None:
        raise NotFound("Policy version was not found.")
    form = ModelGateForm(prefix=f"modelgate-{version.id}")
    if form.validate_on_submit():
        try:
            model_gate.set_model_gate(
                current_user,
                version,
                min_severity=form.min_severity.data,
                fnr_target=form.fnr_target.data,
            )
        except ValidationError as error:
            flash_refusal(error)
        else:
            flash(f"The model gate of {version.label} is saved.", "success")
    else:
        flash("The model gate needs numbers: a severity and a share such as 0.05.", "error")
    return redirect(url_for("rollout.policy", policy_id=version.policy_id))


@bp.post("/rollouts/<int:rollout_id>/model-gate")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def bind_model_gate(rollout_id: int):
    """Bind one of the rollout's steps to the model gate of a model version."""
    rollout = queries.get_rollout(current_user, rollout_id)
    form = bind_form(rollout)
    if form.validate_on_submit():
        try:
            model_gate.bind_model_gate(
                current_user,
                rollout,
                template_item_id=form.step.data or None,
                model_version_id=form.model_version.data or None,
            )
        except ValidationError as error:
            flash_refusal(error)
        else:
            flash("The model gate binding is saved.", "success")
    else:
        flash("Choose a checklist step and a model version.", "error")
    return redirect(url_for("rollout.board", rollout_id=rollout.id))
