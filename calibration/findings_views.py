"""The routes that make a finding a piece of work: owner, due date, action items.

They hang on calibration's blueprint (``calibration.views.bp``), beside the flag page
that shows their forms (``work_context``).
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calibration import findings_work, queries
from calibration.forms import FlagActionForm, FlagOwnerForm
from calibration.models import FlagStatus
from calibration.views import bp
from rollcal.errors import Conflict, DomainError, ValidationError, flash_refusal
from rollcal.forms import ConfirmForm
from rollcal.inputs import whole_number
from rollcal.permissions import Action, may, may_work_on_flag, requires


def work_context(flag) -> dict:
    """What the flag page shows of the finding as work, and the forms to change it.

    Each form has a prefix of its own, so the page's element ids stay unique."""
    owner_form = None
    if may(current_user, Action.MANAGE_CALIBRATION) and flag.status != FlagStatus.RESOLVED:
        owner_form = FlagOwnerForm(formdata=None, prefix="owner")
        owner_form.owner.choices = [("", "Nobody yet")] + [
            (str(person_id), name) for person_id, name in findings_work.owner_choices(flag)
        ]
        owner_form.owner.data = str(flag.owner_id) if flag.owner_id else ""
        owner_form.due_date.data = flag.due_date
        owner_form.version.data = flag.version
    works = may_work_on_flag(current_user, flag)
    return {
        "owner_form": owner_form,
        "action_form": FlagActionForm(formdata=None, prefix="action")
        if works and flag.status != FlagStatus.RESOLVED
        else None,
        "tick_form": ConfirmForm(formdata=None) if works else None,
        "recurrence": findings_work.recurrence_of(flag),
    }


def _back(flag_id: int):
    return redirect(url_for("calibration.flag", flag_id=flag_id))


@bp.post("/flags/<int:flag_id>/owner")
@login_required
@requires(Action.MANAGE_CALIBRATION)
def assign_flag(flag_id: int):
    """Set who owns a finding and by when."""
    flag = queries.get_flag(current_user, flag_id)
    form = FlagOwnerForm(prefix="owner")
    form.owner.choices = [("", "")] + [
        (str(person_id), name) for person_id, name in findings_work.owner_choices(flag)
    ]
    if not form.validate_on_submit():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        flash(
            "The owner was not saved: " + (" ".join(errors) or "the form expired; try again."),
            "error",
        )
        return _back(flag.id)
    try:
        findings_work.assign_flag(
            current_user,
            flag,
            owner_id=whole_number(form.owner.data),
            due_date=form.due_date.data,
            version=whole_number(form.version.data),
        )
    except (ValidationError, Conflict) as error:
        flash_refusal(error)
    else:
        flash("The owner and due date are saved.", "success")
    return _back(flag.id)


@bp.post("/flags/<int:flag_id>/actions")
@login_required
def add_flag_action(flag_id: int):
    """Add an action item to a finding."""
    flag = queries.get_flag(current_user, flag_id)
    form = FlagActionForm(prefix="action")
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    try:
        findings_work.add_action(current_user, flag, form.text.data)
    except DomainError as error:
        if error.status == 403:
            raise
        flash_refusal(error)
    else:
        flash("The action is added.", "success")
    return _back(flag.id)


@bp.post("/flags/<int:flag_id>/actions/<int:action_id>")
@login_required
def tick_flag_action(flag_id: int, action_id: int):
    """Mark an action item done, or open it again (``status`` in the form)."""
    flag = queries.get_flag(current_user, flag_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    item = findings_work.get_action(flag, action_id)
    status = request.form.get("status", "")
    try:
        findings_work.set_action_status(current_user, item, status)
    except ValidationError as error:
        flash_refusal(error)
    else:
        flash(
            "The action is marked done." if status == "done" else "The action is open again.",
            "success",
        )
    return _back(flag.id)
