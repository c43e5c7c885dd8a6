"""AI model pages: the models, one model (versions, sessions, trend, tokens), one version
(its evaluation per session against the human band, errors by direction, the previous
version side by side). Thin: parse, call a service or a query, redirect or render."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from calibration import imports, model_queries, model_services, queries, services
from calibration.model_forms import (
    JoinSessionForm,
    ModelForm,
    ReplayLabelsForm,
    TokenForm,
    VersionForm,
)
from calibration.models import SessionStatus
from rollcal.errors import DomainError, ValidationError, flash_refusal, refusal
from rollcal.forms import ConfirmForm, apply_errors
from rollcal.permissions import Action, may, requires

bp = Blueprint("calibration_models", __name__, url_prefix="/calibration/models")


def _model_url(model_id: int) -> str:
    return url_for("calibration_models.model", model_id=model_id)


def _version_url(model_id: int, version_id: int) -> str:
    return url_for("calibration_models.version", model_id=model_id, model_version_id=version_id)


@bp.get("")
@login_required
def models():
    """Every model with its versions."""
    return render_template(
        "calibration/models/models.html", models=model_queries.models(current_user)
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_MODELS)
def new_model():
    """Register a model."""
    form = ModelForm()
    if form.validate_on_submit():
        try:
            model = model_services.create_model(
                current_user,
                name=form.name.data,
                owner=form.owner.data,
                description=form.description.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"The model {model.name} is registered. Add its first version.", "success")
            return redirect(_model_url(model.id))
    return render_template("calibration/models/new.html", form=form)


@bp.route("/<int:model_id>", methods=["GET", "POST"])
@login_required
def model(model_id: int):
    """A model: its versions with their sessions and trend, and its service tokens."""
    model = model_queries.get_model(current_user, model_id)
    version_form = VersionForm(prefix="version")
    token_form = TokenForm(prefix="token")
    new_token = None
    if may(current_user, Action.MANAGE_MODELS):
        if version_form.submit.data and version_form.validate_on_submit():
            try:
                version = model_services.add_version(
                    current_user,
                    model,
                    version=version_form.version.data,
                    notes=version_form.notes.data,
                )
            except ValidationError as error:
                apply_errors(version_form, error)
            else:
                flash(f"{version.name} is added.", "success")
                return redirect(_version_url(model.id, version.id))
        elif token_form.submit.data and token_form.validate_on_submit():
            try:
                _, new_token = model_services.create_model_token(
                    current_user, model, token_form.name.data
                )
            except ValidationError as error:
                apply_errors(token_form, error)
    sessions = model_queries.version_sessions(current_user, [v.id for v in model.versions])
    return render_template(
        "calibration/models/model.html",
        model=model,
        sessions=sessions,
        trends={v.id: model_queries.trend_of(sessions[v.id]) for v in model.versions},
        tokens=model_queries.tokens_of(model) if may(current_user, Action.MANAGE_MODELS) else [],
        version_form=version_form,
        token_form=token_form,
        new_token=new_token,
        revoke_form=ConfirmForm(),
    )


@bp.post("/<int:model_id>/tokens/<int:model_token_id>/revoke")
@login_required
@requires(Action.MANAGE_MODELS)
def revoke_token(model_id: int, model_token_id: int):
    """Revoke one of the model's service tokens."""
    model = model_queries.get_model(current_user, model_id)
    if ConfirmForm().validate_on_submit():
        token = model_services.revoke_model_token(current_user, model, model_token_id)
        flash(f"Token “{token.name}” is revoked.", "success")
    return redirect(_model_url(model.id))


@bp.get("/<int:model_id>/versions/<int:model_version_id>")
@login_required
def version(model_id: int, model_version_id: int):
    """One version: per session its verdict against the human band, its errors by
    direction and label, and the previous version side by side."""
    version = model_queries.get_version(current_user, model_id, model_version_id)
    model = version.model
    entries = model_queries.version_sessions(current_user, [version.id])[version.id]
    earlier = [v for v in model.versions if v.id < version.id]
    side_by_side = model_queries.comparison(current_user, earlier[-1], version) if earlier else None
    join_form = JoinSessionForm(prefix="join")
    join_form.session.choices = [
        (
            s.id,
            f"{s.title} — {'replay of the revealed session' if s.is_revealed else s.status.title}",
        )
        for s in model_queries.revealed_sessions_to_join(version)
    ]
    return render_template(
        "calibration/models/version.html",
        model=model,
        version=version,
        entries=entries,
        trend=model_queries.trend_of(entries),
        previous=earlier[-1] if earlier else None,
        side_by_side=side_by_side,
        join_form=join_form,
        replay_form=ReplayLabelsForm(prefix="replay"),
        label_columns=imports.LABEL_COLUMNS,
    )


@bp.post("/<int:model_id>/versions/<int:model_version_id>/sessions")
@login_required
@requires(Action.MANAGE_MODELS)
def join_session(model_id: int, model_version_id: int):
    """Make the version a rater of a session; of a revealed one, as a replay."""
    version = model_queries.get_version(current_user, model_id, model_version_id)
    form = JoinSessionForm(prefix="join")
    form.session.choices = [
        (s.id, s.title) for s in model_queries.revealed_sessions_to_join(version)
    ]
    if form.validate_on_submit():
        try:
            session = queries.get_session(current_user, form.session.data)
            rater = model_services.add_version_rater(current_user, session, version)
        except DomainError as error:
            flash_refusal(error)
        else:
            how = "replays" if rater.replay else "rates"
            flash(f"{version.name} {how} “{session.title}”. Import its labels.", "success")
    else:
        flash("Choose a session.", "error")
    return redirect(_version_url(model_id, model_version_id))


@bp.post("/<int:model_id>/versions/<int:model_version_id>/sessions/<int:session_id>/labels")
@login_required
@requires(Action.MANAGE_MODELS)
def import_labels(model_id: int, model_version_id: int, session_id: int):
    """Import the version's labels on one session from a CSV (a replay once revealed)."""
    version = model_queries.get_version(current_user, model_id, model_version_id)
    session = queries.get_session(current_user, session_id)
    form = ReplayLabelsForm(prefix="replay")
    if form.validate_on_submit():
        try:
            count = services.import_model_labels(
                current_user, session, form.file.data.read(), ai_version_id=version.id
            )
        except ValidationError as error:
            refusal(error)
            problems = [
                imports.describe(item) if "line" in item else item["message"]
                for item in error.errors
            ] or [error.message]
            flash("Nothing was imported: " + " ".join(problems), "error")
        except DomainError as error:
            flash_refusal(error)
        else:
            measured = (
                " and measured against the humans"
                if session.status == SessionStatus.REVEALED
                else ""
            )
            flash(f"{count} labels of {version.name} are saved{measured}.", "success")
    else:
        flash("Choose a CSV file to import.", "error")
    return redirect(_version_url(model_id, model_version_id))
