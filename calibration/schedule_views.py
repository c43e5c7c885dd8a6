"""Recurring calibration pages: the schedules, their form, pause, resume and delete, and
the extra round a drift flag asks for. Thin: parse, call ``calibration.schedules``."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from calibration import queries, schedules
from calibration.forms import ScheduleForm
from calibration.models import CalibrationSession
from calibration.views import _to_local, _to_utc
from rollcal.errors import Conflict, Forbidden, ValidationError, flash_refusal
from rollcal.events import calibration_subjects
from rollcal.extensions import db
from rollcal.forms import ConfirmForm, apply_errors, choices
from rollcal.inputs import whole_number
from rollcal.org.queries import active_site_choices
from rollcal.permissions import Action, may_schedule_extra_round, requires

bp = Blueprint("schedules", __name__, url_prefix="/calibration")

RECENT_SESSIONS = 200


def _form_choices(form: ScheduleForm) -> None:
    subjects = calibration_subjects()
    form.policy_version.choices = choices([(0, "— choose —"), *subjects.policy_version_choices()])
    form.sites.choices = choices(active_site_choices())
    sessions = db.session.execute(
        sa.select(CalibrationSession.id, CalibrationSession.title)
        .order_by(CalibrationSession.id.desc())
        .limit(RECENT_SESSIONS)
    ).all()
    form.source_session.choices = choices([(0, "— choose —"), *sessions])


def _fields(form: ScheduleForm) -> dict:
    upload = form.cases_file.data
    return {
        "name": form.name.data,
        "policy_version_id": form.policy_version.data or None,
        "site_ids": form.sites.data or [],
        "cadence_days": form.cadence_days.data,
        "open_days": form.open_days.data,
        "next_run_at": _to_utc(form.next_run_at.data),
        "source": form.source.data,
        "source_session_id": form.source_session.data or None,
        "contested_count": form.contested_count.data,
        "contested_rounds": form.contested_rounds.data,
        "cases_csv": upload.read() if upload and getattr(upload, "filename", "") else None,
    }


@bp.get("/schedules")
@login_required
@requires(Action.SCHEDULE_CALIBRATION)
def index():
    """Every recurring schedule with its cadence, next round and latest round."""
    found = schedules.all_schedules()
    return render_template(
        "calibration/schedules/index.html",
        schedules=found,
        latest=schedules.latest_rounds([s.id for s in found]),
        sites=schedules.site_names(found),
        versions=dict(calibration_subjects().policy_version_choices()),
        action_form=ConfirmForm(),
    )


def _render_form(form: ScheduleForm, heading: str, schedule=None):
    return render_template(
        "calibration/schedules/form.html", form=form, heading=heading, schedule=schedule
    )


@bp.route("/schedules/new", methods=["GET", "POST"])
@login_required
@requires(Action.SCHEDULE_CALIBRATION)
def new():
    """Set up recurring calibration rounds."""
    form = ScheduleForm()
    _form_choices(form)
    if not form.is_submitted() and form.cadence_days.data is None:
        form.cadence_days.data, form.open_days.data = 14, 3
    if form.validate_on_submit():
        try:
            schedule = schedules.create_schedule(current_user, **_fields(form))
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"“{schedule.name}” is scheduled every {schedule.cadence_days} days.", "success")
            return redirect(url_for("schedules.index"))
    return _render_form(form, "New recurring calibration")


@bp.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.SCHEDULE_CALIBRATION)
def edit(schedule_id: int):
    """Change a schedule's cadence, raters or cases."""
    schedule = schedules.get_schedule(schedule_id)
    form = ScheduleForm(obj=schedule)
    _form_choices(form)
    if not form.is_submitted():
        form.policy_version.data = schedule.policy_version_id or 0
        form.sites.data = list(schedule.site_ids or [])
        form.next_run_at.data = _to_local(schedule.next_run_at)
        form.source.data = schedule.source.value
        form.source_session.data = schedule.source_session_id or 0
    if form.validate_on_submit():
        try:
            schedules.update_schedule(
                current_user,
                schedule,
                version=whole_number(str(form.version.data or "")),
                **_fields(form),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            flash_refusal(error)
            return redirect(url_for("schedules.edit", schedule_id=schedule.id))
        else:
            flash(f"“{schedule.name}” is saved.", "success")
            return redirect(url_for("schedules.index"))
    return _render_form(form, f"Edit “{schedule.name}”", schedule)


@bp.post("/schedules/<int:schedule_id>/pause", defaults={"step": "pause"})
@bp.post("/schedules/<int:schedule_id>/resume", defaults={"step": "resume"})
@login_required
@requires(Action.SCHEDULE_CALIBRATION)
def state(schedule_id: int, step: str):
    """Pause or resume a schedule."""
    schedule = schedules.get_schedule(schedule_id)
    if ConfirmForm().validate_on_submit():
        try:
            schedules.set_active(current_user, schedule, step == "resume")
        except Conflict as error:
            flash_refusal(error)
        else:
            flash(f"“{schedule.name}” is {'resumed' if step == 'resume' else 'paused'}.", "success")
    return redirect(url_for("schedules.index"))


@bp.post("/schedules/<int:schedule_id>/delete")
@login_required
@requires(Action.SCHEDULE_CALIBRATION)
def delete(schedule_id: int):
    """Delete a schedule; its past rounds stay."""
    schedule = schedules.get_schedule(schedule_id)
    if ConfirmForm().validate_on_submit():
        name = schedule.name
        try:
            schedules.delete_schedule(current_user, schedule)
        except Conflict as error:
            flash_refusal(error)
        else:
            flash(f"“{name}” is deleted; the sessions of its rounds stay.", "success")
    return redirect(url_for("schedules.index"))


@bp.post("/flags/<int:flag_id>/extra-round")
@login_required
@requires(Action.SCHEDULE_CALIBRATION)
def extra_round(flag_id: int):
    """Create an extra round for the site a drift flag is about, and go to it."""
    flag = queries.get_flag(current_user, flag_id)
    back = request.form.get("back") or ""
    back = back if back.startswith("/") and not back.startswith("//") else None
    if not ConfirmForm().validate_on_submit():
        return redirect(back or url_for("calibration.flag", flag_id=flag.id))
    try:
        session, created = schedules.schedule_extra_round(current_user, flag)
    except (ValidationError, Conflict, Forbidden) as error:
        flash_refusal(error)
        return redirect(back or url_for("calibration.flag", flag_id=flag.id))
    if created:
        flash(
            f"“{session.title}” is a draft with its raters and cases: set its times and open it.",
            "success",
        )
    else:
        flash("This flag already has an extra round: here it is.", "info")
    return redirect(url_for("calibration.session", session_id=session.id))


@bp.app_context_processor
def _extra_round_helper() -> dict:
    """``extra_round_for(flag)`` for the flag and site scorecard pages: whether the person
    may ask for an extra round on the flag, and the round it already has."""

    def extra_round_for(flag) -> dict:
        if not may_schedule_extra_round(current_user, flag):
            return {"offer": False}
        return {"offer": True, "round": schedules.extra_round_of(flag), "form": ConfirmForm()}

    return {"extra_round_for": extra_round_for}
