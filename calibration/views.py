"""Calibration pages: sessions, raters, cases and golden answers, blind labelling,
results and flags. Thin: parse, call a service or a query, redirect or render."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from calibration import findings_work, imports, model_queries, queries, services
from calibration.forms import (
    CaseForm,
    FlagForm,
    GoldenForm,
    HumanRaterForm,
    LabelForm,
    ModelRaterForm,
    SessionForm,
    UploadForm,
)
from calibration.models import (
    CalibrationSession,
    Case,
    Flag,
    FlagStatus,
    Label,
    Rater,
    RaterKind,
    SessionStatus,
    Severity,
)
from calibration.report import calibration_source
from rollcal import permissions, uow
from rollcal.accounts.models import User
from rollcal.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationError,
    flash_refusal,
    refusal,
)
from rollcal.events import calibration_subjects
from rollcal.extensions import db
from rollcal.forms import ConfirmForm, apply_errors, choices
from rollcal.inputs import int_arg, page_arg, whole_number
from rollcal.org.models import Site, Vendor
from rollcal.org.queries import active_site_choices
from rollcal.pagecache import cached_page
from rollcal.permissions import Action, may, requires
from rollcal.reports.downloads import csv_response
from rollcal.reports.queue import request_report
from rollcal.reports.views import answer_report

bp = Blueprint("calibration", __name__, url_prefix="/calibration")

EDITABLE = (SessionStatus.DRAFT, SessionStatus.OPEN)
ARCHIVED = "archived"  # the sessions list's filter for archived sessions
CONTESTED_SHOWN = 15
# A rater's own labels on the results page: the cases they differed on first, then the
# rest, this many at most; labels.csv has them all.
ANSWERS_SHOWN = 100
# Rows of each table of vendors, sites, raters and pairs on the results page; each links
# to all of its rows as CSV (``results_table``).
TABLE_ROWS_SHOWN = 50


@bp.context_processor
def _helpers() -> dict:
    """Rules the templates ask about, answered by the same queries as the views."""
    return {
        "may_see_results": permissions.may_see_results,
        "may_edit_session": permissions.may_edit_session,
        "may_delete_session": permissions.may_delete_session,
        "may_archive_session": permissions.may_archive_session,
        "may_edit_cases": permissions.may_edit_cases,
    }


def _page(statement: sa.Select):
    return db.paginate(
        statement,
        page=page_arg(),
        per_page=current_app.config["ROLLCAL_PAGE_SIZE"],
        error_out=False,
    )


def _to_utc(value: datetime | None) -> datetime | None:
    """A time typed in the person's own time zone, as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(current_user.timezone)).astimezone(UTC)


def _to_local(value: datetime | None) -> datetime | None:
    """A stored UTC time as the person's wall-clock time, for a datetime-local input."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_user.timezone)).replace(tzinfo=None)


def _session_url(session: CalibrationSession) -> str:
    return url_for("calibration.session", session_id=session.id)


# Sessions ----------------------------------------------------------------------------


@bp.get("/sessions")
@login_required
@cached_page
def sessions():
    """The sessions the person may see, newest first, with their progress."""
    status = request.args.get("status")
    statement = queries.visible_sessions(current_user)
    # Archived sessions are listed only when asked for, whatever their status.
    if status == ARCHIVED:
        statement = statement.where(CalibrationSession.archived_at.is_not(None))
    else:
        statement = statement.where(CalibrationSession.archived_at.is_(None))
    if status in {s.value for s in SessionStatus}:
        statement = statement.where(CalibrationSession.status == SessionStatus(status))
    page = _page(statement)
    ids = [session.id for session in page.items]
    case_counts = dict(
        db.session.execute(
            sa.select(Case.session_id, sa.func.count(Case.id))
            .where(Case.session_id.in_(ids))
            .group_by(Case.session_id)
        ).all()
    )
    rater_counts: dict[int, int] = {}
    own_counts: dict[int, int] = {}
    own_sessions: set[int] = set()
    if permissions.bound_to_vendor(current_user):
        own_sessions = set(
            db.session.scalars(
                sa.select(Rater.session_id).where(
                    Rater.session_id.in_(ids), Rater.user_id == current_user.id
                )
            )
        )
        own_counts = dict(
            db.session.execute(
                sa.select(Rater.session_id, sa.func.count(Label.id))
                .join(Label, Label.rater_id == Rater.id)
                .where(Rater.session_id.in_(ids), Rater.user_id == current_user.id)
                .group_by(Rater.session_id)
            ).all()
        )
    else:
        rater_counts = dict(
            db.session.execute(
                sa.select(Rater.session_id, sa.func.count(Rater.id))
                .where(Rater.session_id.in_(ids))
                .group_by(Rater.session_id)
            ).all()
        )
    return render_template(
        "calibration/sessions.html",
        page=page,
        status=status,
        statuses=list(SessionStatus),
        case_counts=case_counts,
        rater_counts=rater_counts,
        own_counts=own_counts,
        own_sessions=own_sessions,
    )


def _link_choices(form: SessionForm) -> None:
    subjects = calibration_subjects()
    form.rollout.choices = choices([(0, "— none —"), *subjects.rollout_choices()])
    form.policy_version.choices = choices([(0, "— none —"), *subjects.policy_version_choices()])


@bp.route("/sessions/new", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def new_session():
    """Create a draft session."""
    form = SessionForm()
    _link_choices(form)
    if not form.is_submitted():
        form.rollout.data = int_arg("rollout", 0)
    if form.validate_on_submit():
        try:
            session = services.create_session(
                current_user,
                title=form.title.data,
                description=form.description.data,
                rollout_id=form.rollout.data or None,
                policy_version_id=form.policy_version.data or None,
                label_options=form.label_options.data,
                label_level=form.label_level.data if form.label_options.data else None,
                opens_at=_to_utc(form.opens_at.data),
                closes_at=_to_utc(form.closes_at.data),
                alpha_threshold=form.alpha_threshold.data,
                accuracy_target=form.accuracy_target.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Session “{session.title}” is created. Add raters and cases next.", "success")
            return redirect(url_for("calibration.raters", session_id=session.id))
    return render_template(
        "calibration/form.html",
        form=form,
        heading="New calibration session",
        back=url_for("calibration.sessions"),
    )


@bp.get("/sessions/<int:session_id>")
@login_required
@cached_page
def session(session_id: int):
    """A session: what it asks, its timing, and the progress the person may see."""
    session = queries.get_session(current_user, session_id)
    rater = queries.rater_for(current_user, session)
    total = queries.case_count(session)
    manage = may(current_user, Action.MANAGE_CALIBRATION)
    raters, counts = [], {}
    if manage:
        # Progress by rater is for the POM: raters never see how far others have got.
        raters, counts = queries.raters_of(session), queries.label_counts(session)
    own = queries.own_label_count(rater) if rater else 0
    results = permissions.may_see_results(current_user, session)
    snapshot = queries.latest_snapshot(session) if results else None
    return render_template(
        "calibration/session.html",
        session=session,
        links=queries.describe_links(session),
        rater=rater,
        total=total,
        own=own,
        raters=raters,
        counts=counts,
        manage=manage,
        results=results,
        # The headline figures from the stored summary: the full report stays unread.
        headline=queries.headline(snapshot) if snapshot else {},
        snapshot=snapshot,
        action_form=ConfirmForm(),
    )


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def edit_session(session_id: int):
    """Edit a session: everything while a draft, less once raters have started."""
    session = queries.get_session(current_user, session_id)
    if not permissions.may_edit_session(current_user, session):
        flash_refusal(Conflict(f"“{session.title}” is archived; unarchive it to edit it."))
        return redirect(_session_url(session))
    form = SessionForm(obj=session)
    conflict = None
    # The links are fixed at creation: results and gates hang on them.
    del form.rollout, form.policy_version
    if session.status != SessionStatus.DRAFT:
        del form.label_options, form.label_level, form.opens_at
        del form.alpha_threshold, form.accuracy_target
    if session.status not in EDITABLE:
        del form.closes_at
    if not form.is_submitted():
        if "label_options" in form:
            form.label_options.data = services.format_label_options(session.label_options)
            form.label_level.data = session.label_level.value
            form.opens_at.data = _to_local(session.opens_at)
        if "closes_at" in form:
            form.closes_at.data = _to_local(session.closes_at)
        form.version.data = session.version
    if form.validate_on_submit():

        def data(name):
            """A field's value, or None when the session's state removed the field."""
            return form[name].data if name in form else None

        try:
            services.update_session(
                current_user,
                session,
                title=form.title.data,
                description=form.description.data,
                label_options=data("label_options"),
                label_level=data("label_level"),
                opens_at=_to_utc(data("opens_at")),
                closes_at=_to_utc(data("closes_at")),
                alpha_threshold=data("alpha_threshold"),
                accuracy_target=data("accuracy_target"),
                version=whole_number(str(form.version.data or "")),
            )
        except Conflict as error:
            conflict = refusal(error)
            form.version.data = session.version
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash("The session is saved.", "success")
            return redirect(_session_url(session))
    return render_template(
        "calibration/form.html",
        form=form,
        heading=f"Edit “{session.title}”",
        back=_session_url(session),
        conflict=conflict,
        note=None
        if session.status == SessionStatus.DRAFT
        else "Raters have started, so the label options, scale, thresholds and opening time "
        "stay as they are.",
    ), 409 if conflict else 200


@bp.route("/sessions/<int:session_id>/delete", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def delete_session(session_id: int):
    """Delete a draft session and its cases, after asking; later ones are archived."""
    session = queries.get_session(current_user, session_id)
    form = ConfirmForm()
    if not permissions.may_delete_session(current_user, session):
        flash_refusal(
            Conflict(
                f"“{session.title}” is {session.status.title.lower()}: its labels are "
                "evidence, so it cannot be deleted. Archive it instead."
            )
        )
        return redirect(_session_url(session))
    if form.validate_on_submit():
        title = session.title
        try:
            services.delete_session(
                current_user, session, version=whole_number(request.form.get("version"))
            )
        except Conflict as error:
            flash_refusal(error)
            return redirect(_session_url(session))
        flash(f"The draft session “{title}” and its cases are deleted.", "success")
        return redirect(url_for("calibration.sessions"))
    cases = queries.case_count(session)
    return render_template(
        "_confirm_delete.html",
        form=form,
        heading=f"Delete “{session.title}”?",
        consequence=f"The draft session, its raters and its {cases} "
        f"{'case' if cases == 1 else 'cases'} are deleted. This cannot be undone.",
        button="Delete the session",
        action=url_for("calibration.delete_session", session_id=session.id),
        version=session.version,
        back=_session_url(session),
    )


@bp.post("/sessions/<int:session_id>/archive", defaults={"archived": True})
@bp.post("/sessions/<int:session_id>/unarchive", defaults={"archived": False})
@login_required
@requires(Action.MANAGE_CALIBRATION)
def archive_session(session_id: int, archived: bool):
    """Archive a session past draft (hidden from lists, read-only), or bring it back."""
    session = queries.get_session(current_user, session_id)
    if ConfirmForm().validate_on_submit():
        service = services.archive_session if archived else services.unarchive_session
        try:
            service(current_user, session)
        except Conflict as error:
            flash_refusal(error)
        else:
            flash(
                f"“{session.title}” is archived: it is read-only and listed under Archived."
                if archived
                else f"“{session.title}” is back in the lists.",
                "success",
            )
    return redirect(_session_url(session))


_STEPS = {
    "open": (services.open_session, "is open for labelling."),
    "close": (services.close_session, "is closed; its results are computed."),
    "reveal": (services.reveal_session, "is revealed to its raters."),
}


@bp.post("/sessions/<int:session_id>/open", defaults={"step": "open"})
@bp.post("/sessions/<int:session_id>/close", defaults={"step": "close"})
@bp.post("/sessions/<int:session_id>/reveal", defaults={"step": "reveal"})
@login_required
@requires(Action.MANAGE_CALIBRATION)
def change_status(session_id: int, step: str):
    """Open, close or reveal a session by hand (the scheduler does it by time)."""
    session = queries.get_session(current_user, session_id)
    if ConfirmForm().validate_on_submit():
        service, done = _STEPS[step]
        try:
            service(current_user, session)
        except (ValidationError, Conflict) as error:
            flash_refusal(error)
        else:
            flash(f"“{session.title}” {done}", "success")
            if step == "open":
                for warning in queries.site_rater_warnings(session):
                    flash(warning, "warning")
    return redirect(_session_url(session))


@bp.post("/sessions/<int:session_id>/recompute")
@login_required
@requires(Action.MANAGE_CALIBRATION)
def recompute(session_id: int):
    """Compute and store the results again (after golden answers changed)."""
    session = queries.get_session(current_user, session_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.recompute_results(current_user, session)
        except Conflict as error:
            flash_refusal(error)
            return redirect(_session_url(session))
        flash("The results are computed again.", "success")
    return redirect(url_for("calibration.results", session_id=session.id))


# Raters ------------------------------------------------------------------------------


@bp.route("/sessions/<int:session_id>/raters", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def raters(session_id: int):
    """The session's raters; add QA leads for a site, or models."""
    session = queries.get_session(current_user, session_id)
    human = HumanRaterForm(prefix="human")
    model = ModelRaterForm(prefix="model")
    leads = db.session.scalars(
        sa.select(User)
        .join(Vendor, Vendor.id == User.vendor_id)
        .where(permissions.holders_of(Action.LABEL_CASES), User.active.is_(True))
        .options(selectinload(User.vendor))
        .order_by(Vendor.name, User.name)
    ).all()
    human.person.choices = choices((lead.id, f"{lead.name} — {lead.vendor.name}") for lead in leads)
    human.site.choices = choices(active_site_choices())
    if session.status in EDITABLE:
        try:
            if human.submit.data and human.validate_on_submit():
                rater = services.add_human_rater(
                    current_user, session, user_id=human.person.data, site_id=human.site.data
                )
                flash(f"{rater.name} labels for {rater.site.label}.", "success")
                return redirect(request.url)
            if "add_proposed" in request.form and ConfirmForm().validate_on_submit():
                pairs = [
                    tuple(int(part) for part in value.split(":", 1))
                    for value in request.form.getlist("propose")
                    if re.fullmatch(r"\d{1,9}:\d{1,9}", value)
                ]
                added = services.add_human_raters(current_user, session, pairs)
                flash(f"{len(added)} QA lead{'s' if len(added) != 1 else ''} added.", "success")
                return redirect(request.url)
            if model.submit.data and model.validate_on_submit():
                rater = services.add_model_rater(
                    current_user,
                    session,
                    name=model.model_name.data,
                    version=model.model_version.data,
                )
                flash(f"The model {rater.name} is a rater. Import its labels as a CSV.", "success")
                return redirect(request.url)
        except ValidationError as error:
            if "add_proposed" in request.form:
                flash_refusal(error)
            else:
                apply_errors(human if human.submit.data else model, error)
    return render_template(
        "calibration/raters.html",
        proposed=queries.proposed_raters(session) if session.status in EDITABLE else [],
        session=session,
        site_warnings=queries.site_rater_warnings(session),
        raters=queries.raters_of(session),
        counts=queries.label_counts(session),
        human=human,
        model=model,
        editable=session.status in EDITABLE,
        remove_form=ConfirmForm(),
    )


@bp.post("/sessions/<int:session_id>/raters/<int:rater_id>/remove")
@login_required
@requires(Action.MANAGE_CALIBRATION)
def remove_rater(session_id: int, rater_id: int):
    """Remove a rater who has not labelled yet."""
    session = queries.get_session(current_user, session_id)
    if ConfirmForm().validate_on_submit():
        try:
            rater = services.remove_rater(current_user, session, rater_id)
        except Conflict as error:
            flash_refusal(error)
        else:
            flash(f"{rater.name} is no longer a rater.", "success")
    return redirect(url_for("calibration.raters", session_id=session.id))


# Cases, golden answers and imports ---------------------------------------------------


@bp.route("/sessions/<int:session_id>/import", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def import_files(session_id: int):
    """Import cases (with golden answers) or a model's labels from CSV files."""
    session = queries.get_session(current_user, session_id)
    cases_form = UploadForm(prefix="cases")
    labels_form = UploadForm(prefix="labels")
    if session.status in EDITABLE:
        for form, service, done in (
            (cases_form, services.import_cases, "cases are added"),
            (labels_form, services.import_model_labels, "model labels are saved"),
        ):
            if not (form.submit.data and form.validate_on_submit()):
                continue
            try:
                count = service(current_user, session, form.file.data.read())
            except ValidationError as error:
                refusal(error)
                form.file.errors = [
                    imports.describe(item) if "line" in item else item["message"]
                    for item in error.errors
                ] or [error.message]
                flash("Nothing was imported: fix the file and try again.", "error")
            else:
                flash(f"{count} {done}.", "success")
                return redirect(_session_url(session))
    return render_template(
        "calibration/import.html",
        session=session,
        cases_form=cases_form,
        labels_form=labels_form,
        editable=session.status in EDITABLE,
        case_columns=imports.CASE_COLUMNS,
        has_models=any(r.kind == RaterKind.MODEL for r in queries.raters_of(session)),
    )


@bp.get("/sessions/<int:session_id>/import/sample-<kind>.csv")
@login_required
@requires(Action.MANAGE_CALIBRATION)
def import_sample(session_id: int, kind: str):
    """A sample file for the import, with this session's own label options and models."""
    session = queries.get_session(current_user, session_id)
    if kind == "cases":
        rows = imports.sample_cases(session.label_options)
        return csv_response(imports.CASE_COLUMNS, rows, f"sample-cases-{session.id}.csv")
    if kind == "labels":
        models = [r.name for r in queries.raters_of(session) if r.kind == RaterKind.MODEL]
        rows = imports.sample_labels(session.label_options, models)
        return csv_response(imports.LABEL_COLUMNS, rows, f"sample-labels-{session.id}.csv")
    raise NotFound("There is no such sample file.")


@bp.get("/sessions/<int:session_id>/cases")
@login_required
def cases(session_id: int):
    """The session's cases. Raters see their own label on each, and golden answers only
    after reveal; POMs see golden answers and how many labels each case has."""
    session = queries.get_session(current_user, session_id)
    page = _page(queries.cases_of(session))
    ids = [case.id for case in page.items]
    rater = queries.rater_for(current_user, session)
    manage = may(current_user, Action.MANAGE_CALIBRATION)
    counts, own = {}, {}
    if manage:
        counts = dict(
            db.session.execute(
                sa.select(Label.case_id, sa.func.count(Label.id))
                .where(Label.case_id.in_(ids))
                .group_by(Label.case_id)
            ).all()
        )
    if rater is not None:
        own = {
            label.case_id: label
            for label in db.session.scalars(
                sa.select(Label).where(Label.rater_id == rater.id, Label.case_id.in_(ids))
            )
        }
    return render_template(
        "calibration/cases.html",
        session=session,
        page=page,
        rater=rater,
        manage=manage,
        counts=counts,
        own=own,
        golden=permissions.may_see_golden(current_user, session),
    )


@bp.get("/sessions/<int:session_id>/cases/<int:case_id>")
@login_required
def case(session_id: int, case_id: int):
    """One case with the labels the person may see, and its golden answer if allowed."""
    session = queries.get_session(current_user, session_id)
    case = queries.get_case(session, case_id)
    labels = db.session.scalars(
        queries.visible_labels(current_user, session)
        .where(Label.case_id == case.id)
        .options(
            selectinload(Label.rater).selectinload(Rater.user),
            selectinload(Label.rater).selectinload(Rater.site).selectinload(Site.vendor),
        )
    ).all()
    return render_template(
        "calibration/case.html",
        session=session,
        case=case,
        labels=labels,
        golden=permissions.may_see_golden(current_user, session),
        rater=queries.rater_for(current_user, session),
    )


@bp.route("/sessions/<int:session_id>/cases/<int:case_id>/golden", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def golden(session_id: int, case_id: int):
    """Set or change a case's golden answer."""
    session = queries.get_session(current_user, session_id)
    case = queries.get_case(session, case_id)
    form = GoldenForm(obj=case)
    form.golden_label.choices = choices(
        [("", "— no golden answer —")] + [(o["key"], o["name"]) for o in session.label_options]
    )
    if form.validate_on_submit():
        try:
            services.set_golden(
                current_user,
                case,
                golden_label=form.golden_label.data,
                rationale=form.golden_rationale.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"The golden answer of {case.reference} is saved.", "success")
            return redirect(url_for("calibration.case", session_id=session.id, case_id=case.id))
    return render_template(
        "calibration/form.html",
        form=form,
        heading=f"Golden answer for {case.reference}",
        back=url_for("calibration.case", session_id=session.id, case_id=case.id),
        case=case,
        note="The results were computed already: after changing golden answers, recompute "
        "them on the results page."
        if session.status in (SessionStatus.CLOSED, SessionStatus.REVEALED)
        else None,
    )


def _case_url(session: CalibrationSession, case: Case) -> str:
    return url_for("calibration.case", session_id=session.id, case_id=case.id)


def _draft_only(session: CalibrationSession, doing: str) -> DomainError | None:
    """Why cases of this session can no longer be changed, if they cannot."""
    if permissions.may_edit_cases(current_user, session):
        return None
    if session.is_archived:
        return Conflict(f"“{session.title}” is archived; unarchive it to {doing}.")
    return Conflict(
        f"“{session.title}” is {session.status.title.lower()}: its cases stay as raters "
        f"see them, so you can no longer {doing}."
    )


@bp.route("/sessions/<int:session_id>/cases/<int:case_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def edit_case(session_id: int, case_id: int):
    """Edit a case of a draft session: its text, link and golden answer."""
    session = queries.get_session(current_user, session_id)
    case = queries.get_case(session, case_id)
    refused = _draft_only(session, "edit cases")
    if refused is not None:
        flash_refusal(refused)
        return redirect(_case_url(session, case))
    form = CaseForm(obj=case)
    form.golden_label.choices = choices(
        [("", "— no golden answer —")] + [(o["key"], o["name"]) for o in session.label_options]
    )
    if not form.is_submitted():
        form.golden_label.data = case.golden_label or ""
        form.version.data = case.version
    conflict = None
    if form.validate_on_submit():
        try:
            services.update_case(
                current_user,
                case,
                version=whole_number(str(form.version.data or "")),
                content_text=form.content_text.data,
                content_url=form.content_url.data,
                golden_label=form.golden_label.data,
                rationale=form.golden_rationale.data,
            )
        except Conflict as error:
            conflict = refusal(error)
            form.version.data = case.version
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Case {case.reference} is saved.", "success")
            return redirect(_case_url(session, case))
    return render_template(
        "calibration/form.html",
        form=form,
        heading=f"Edit case {case.reference}",
        back=_case_url(session, case),
        conflict=conflict,
        note=None,
    ), 409 if conflict else 200


@bp.route("/sessions/<int:session_id>/cases/<int:case_id>/delete", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_CALIBRATION)
def delete_case(session_id: int, case_id: int):
    """Delete a case of a draft session, after asking."""
    session = queries.get_session(current_user, session_id)
    case = queries.get_case(session, case_id)
    refused = _draft_only(session, "delete cases")
    if refused is not None:
        flash_refusal(refused)
        return redirect(_case_url(session, case))
    form = ConfirmForm()
    if form.validate_on_submit():
        reference = case.reference
        try:
            services.delete_case(
                current_user, case, version=whole_number(request.form.get("version"))
            )
        except Conflict as error:
            flash_refusal(error)
            return redirect(_case_url(session, case))
        flash(f"Case {reference} is deleted.", "success")
        return redirect(url_for("calibration.cases", session_id=session.id))
    return render_template(
        "_confirm_delete.html",
        form=form,
        heading=f"Delete case {case.reference}?",
        consequence="The case and its golden answer are deleted from this draft session. "
        "This cannot be undone.",
        button="Delete the case",
        action=url_for("calibration.delete_case", session_id=session.id, case_id=case.id),
        version=case.version,
        back=_case_url(session, case),
    )


# Labelling ---------------------------------------------------------------------------


def _rater_or_403(session: CalibrationSession) -> Rater:
    rater = queries.rater_for(current_user, session)
    if rater is None:
        raise Forbidden("You are not a rater in this session.")
    return rater


@bp.get("/sessions/<int:session_id>/label")
@login_required
@requires(Action.LABEL_CASES)
def label_next(session_id: int):
    """Go to the next case the rater has not labelled."""
    session = queries.get_session(current_user, session_id)
    rater = _rater_or_403(session)
    after = int_arg("after", -1, minimum=-1)
    case = queries.next_case_to_label(rater, after)
    if case is None:
        flash(
            "You have labelled every case. You can change a label until the session closes.",
            "success",
        )
        return redirect(_session_url(session))
    return redirect(url_for("calibration.label", session_id=session.id, case_id=case.id))


@bp.route("/sessions/<int:session_id>/label/<int:case_id>", methods=["GET", "POST"])
@login_required
@requires(Action.LABEL_CASES)
def label(session_id: int, case_id: int):
    """Label one case: one large button per option, keys 1–9 choose; then the next case.

    A plain form post saves and redirects to the next unlabelled case. Sent by htmx
    (``HX-Request``), the save answers with the next case's page itself and its address
    to show (``HX-Push-Url``), so the labelling page swaps in the next case without
    reloading; with no case left it sends the browser to the session (``HX-Redirect``).
    """
    session = queries.get_session(current_user, session_id)
    rater = _rater_or_403(session)
    case = queries.get_case(session, case_id)
    mine = _own_label(rater, case)
    form = LabelForm(obj=mine)
    if form.validate_on_submit():
        try:
            services.save_label(
                current_user, session, case, option=form.option.data, comment=form.comment.data
            )
        except (ValidationError, Conflict) as error:
            apply_errors(form, error)
        else:
            if not request.headers.get("HX-Request"):
                return redirect(
                    url_for("calibration.label_next", session_id=session.id, after=case.position)
                )
            following = queries.next_case_to_label(rater, case.position)
            if following is None:
                flash(
                    "You have labelled every case. You can change a label until the session "
                    "closes.",
                    "success",
                )
                return "", 204, {"HX-Redirect": _session_url(session)}
            page = _labelling_page(session, rater, following, LabelForm(formdata=None))
            address = url_for("calibration.label", session_id=session.id, case_id=following.id)
            return page, 200, {"HX-Push-Url": address}
    return _labelling_page(session, rater, case, form, mine)


def _own_label(rater: Rater, case: Case) -> Label | None:
    return db.session.scalar(
        sa.select(Label).where(Label.case_id == case.id, Label.rater_id == rater.id)
    )


def _labelling_page(
    session: CalibrationSession,
    rater: Rater,
    case: Case,
    form: LabelForm,
    mine: Label | None = None,
) -> str:
    """The labelling page of one case, for a visit and for a swap after a save."""
    if mine is None:
        mine = _own_label(rater, case)
    previous, following = queries.neighbours(case)
    return render_template(
        "calibration/label.html",
        session=session,
        case=case,
        rater=rater,
        form=form,
        mine=mine,
        previous=previous,
        following=following,
        labelled=queries.own_label_count(rater),
        total=queries.case_count(session),
        position=db.session.scalar(
            sa.select(sa.func.count(Case.id)).where(
                Case.session_id == session.id, Case.position <= case.position
            )
        ),
    )


# Results -----------------------------------------------------------------------------


@bp.get("/sessions/<int:session_id>/results")
@login_required
@cached_page
def results(session_id: int):
    """The stored results, as the person may read them; never recomputed on read."""
    session = queries.get_session(current_user, session_id)
    if not permissions.may_see_results(current_user, session):
        message = (
            "The results are shown once the session is revealed."
            if session.status == SessionStatus.CLOSED
            else "The results are computed when the session closes."
        )
        # 409: the page exists but not in this state; said in words, not as an error.
        return render_template(
            "calibration/results_pending.html", session=session, message=message
        ), 409
    snapshot = queries.latest_snapshot(session)
    # The stored summary, not the full report: the page costs the same at 50 cases or
    # 50,000; its tables link to all their rows as CSV, a rater's labels to labels.csv.
    report = queries.scoped_summary(current_user, snapshot) if snapshot else None
    flags = db.session.scalars(
        queries.visible_flags(current_user)
        .where(Flag.session_id == session.id)
        .order_by(queries.STATUS_ORDER, queries.SEVERITY_ORDER, Flag.id)
    ).all()
    rater = queries.rater_for(current_user, session)
    shown, answers_total, differs_total = (
        queries.own_answers(rater, ANSWERS_SHOWN) if rater else ([], 0, 0)
    )
    differs = [a for a in shown if a.golden_label and a.golden_label != a.option_key]
    splits = queries.case_splits(session, [a.id for a in shown]) if report and shown else {}
    own_figures = None
    if rater is not None and report is not None:
        names = {facts["id"]: name for name, facts in snapshot.subjects["raters"].items()}
        own_figures = next((r for r in report["raters"] if r["rater"] == names.get(rater.id)), None)
    contested = report["contested"][:CONTESTED_SHOWN] if report else []
    contested_ids = (
        dict(
            db.session.execute(
                sa.select(Case.reference, Case.id).where(
                    Case.session_id == session.id,
                    Case.reference.in_([item["item"] for item in contested]),
                )
            ).all()
        )
        if contested
        else {}
    )
    stale = bool(
        snapshot and session.golden_changed_at and session.golden_changed_at > snapshot.computed_at
    )
    return render_template(
        "calibration/results.html",
        session=session,
        snapshot=snapshot,
        report=report,
        flags=flags,
        rater=rater,
        answers=shown,
        answers_total=answers_total,
        differs_total=differs_total,
        splits=splits,
        table_rows=TABLE_ROWS_SHOWN,
        own_figures=own_figures,
        differs=differs,
        model_evaluations=model_queries.session_model_evaluations(current_user, session),
        error_directions=model_queries.vendor_error_directions(current_user, snapshot),
        contested=contested,
        contested_ids=contested_ids,
        stale=stale,
        manage=may(current_user, Action.MANAGE_CALIBRATION),
        action_form=ConfirmForm(),
        chart=queries.results_chart(current_user, snapshot, report) if report else None,
    )


def _interval_cells(ci) -> list:
    return [ci[0], ci[1]] if ci else ["", ""]


# The results page's tables in full, as CSV: column names, then a row of each entry.
RESULTS_TABLES = {
    "vendors": (
        "groups",
        ["vendor", "raters", "cases", "alpha", "alpha_low", "alpha_high", "agreement"]
        + ["accuracy", "differs_from_majority", "evidence"],
        lambda g: (
            [g["group"], g["n_raters"], g["n_items"], g["alpha"]]
            + _interval_cells(g["alpha_ci"])
            + [g["percent_agreement"], g["accuracy"], g["majority_deviation"], g.get("evidence")]
        ),
    ),
    "sites": (
        "sites",
        ["site", "raters", "cases", "alpha", "alpha_low", "alpha_high", "agreement"]
        + ["accuracy", "differs_from_majority", "evidence"],
        lambda s: (
            [s["site"], s["n_raters"], s["n_items"], s["alpha"]]
            + _interval_cells(s["alpha_ci"])
            + [s["percent_agreement"], s["accuracy"], s["majority_deviation"], s.get("evidence")]
        ),
    ),
    "raters": (
        "raters",
        ["rater", "vendor", "site", "cases", "agreement", "accuracy", "kappa_vs_golden"]
        + ["alpha_without", "loo_delta"],
        lambda r: (
            [r["rater"], r.get("group"), r.get("site"), r["n"], r["agreement"]]
            + [r["accuracy"], r["kappa_vs_golden"], r["alpha_without"], r["loo_delta"]]
        ),
    ),
    "pairs": (
        "cohen_kappa",
        ["rater_a", "rater_b", "shared_cases", "kappa"],
        lambda pair: [pair["rater_a"], pair["rater_b"], pair["n"], pair["kappa"]],
    ),
}


@bp.get("/sessions/<int:session_id>/results/<table>.csv")
@login_required
def results_table(session_id: int, table: str):
    """One table of the results in full (vendors, sites, raters or pairs of raters) as
    CSV, scoped as the results page is; read from the stored summary."""
    if table not in RESULTS_TABLES:
        raise NotFound("There is no such table of results.")
    session = queries.get_session(current_user, session_id)
    if not permissions.may_see_results(current_user, session):
        raise NotFound("The results of this session are not available to you yet.")
    snapshot = queries.latest_snapshot(session)
    figures = queries.scoped_summary(current_user, snapshot) if snapshot else None
    key, header, row = RESULTS_TABLES[table]
    entries = figures[key] if figures else []
    return csv_response(
        header,
        (row(entry) for entry in entries),
        f"calibration-{session.id}-{table}.csv",
    )


@bp.get("/sessions/<int:session_id>/report.pdf")
@uow.commits_on_read
@login_required
def report_pdf(session_id: int):
    """The calibration report as the person may see it, rendered once per content."""
    session = queries.get_session(current_user, session_id)
    report = request_report(calibration_source(session, current_user))
    return answer_report(report)


@bp.get("/sessions/<int:session_id>/labels.csv")
@login_required
def export_labels(session_id: int):
    """The labels the person may read as CSV; golden answers only where they may see them.

    Streamed: a session of 250,000 labels is read in batches as it is sent, as plain
    rows, with the few raters named from one small query.
    """
    session = queries.get_session(current_user, session_id)
    show_golden = permissions.may_see_golden(current_user, session)
    labels = queries.visible_labels(current_user, session)
    header = ["reference", "rater", "vendor", "site", "label", "comment", "updated_at"]
    return csv_response(
        header + (["golden"] if show_golden else []),
        queries.label_rows(labels, golden=show_golden),
        f"calibration-{session.id}-labels.csv",
    )


# Flags -------------------------------------------------------------------------------


def _flag_filters() -> dict:
    """The flags page's filters from the address: status, severity, session and vendor."""
    status = request.args.get("status", "open")
    if status not in {s.value for s in FlagStatus} | {"all"}:
        status = "all"
    severity = request.args.get("severity", "")
    if severity not in {s.value for s in Severity}:
        severity = ""
    return {
        "status": status,
        "severity": severity,
        "session_id": int_arg("session_id"),
        "vendor_id": int_arg("vendor_id"),
    }


def _filtered_flags(filters: dict) -> sa.Select:
    statement = queries.visible_flags(current_user).order_by(
        queries.STATUS_ORDER, queries.SEVERITY_ORDER, Flag.raised_at.desc(), Flag.id
    )
    if filters["status"] != "all":
        statement = statement.where(Flag.status == FlagStatus(filters["status"]))
    if filters["severity"]:
        statement = statement.where(Flag.severity == Severity(filters["severity"]))
    if filters["session_id"] is not None:
        statement = statement.where(Flag.session_id == filters["session_id"])
    if filters["vendor_id"] is not None:
        statement = statement.where(Flag.vendor_id == filters["vendor_id"])
    return statement


@bp.get("/flags")
@login_required
def flags():
    """Misalignment flags the person may see, filtered by status, severity, session and
    vendor; open ones first. POMs acknowledge the ones they tick in one go."""
    filters = _flag_filters()
    visible = queries.visible_flags(current_user).subquery()
    sessions_with_flags = db.session.execute(
        sa.select(CalibrationSession.id, CalibrationSession.title)
        .where(CalibrationSession.id.in_(sa.select(visible.c.session_id)))
        .order_by(CalibrationSession.id.desc())
    ).all()
    vendors_with_flags = db.session.execute(
        sa.select(Vendor.id, Vendor.name)
        .where(Vendor.id.in_(sa.select(visible.c.vendor_id)))
        .order_by(Vendor.name)
    ).all()
    return render_template(
        "calibration/flags.html",
        page=_page(_filtered_flags(filters)),
        filters=filters,
        status=filters["status"],
        statuses=list(FlagStatus),
        severities=list(Severity),
        sessions_with_flags=sessions_with_flags,
        vendors_with_flags=vendors_with_flags,
        manage=may(current_user, Action.MANAGE_CALIBRATION),
        action_form=ConfirmForm(),
    )


@bp.post("/flags/acknowledge")
@login_required
@requires(Action.MANAGE_CALIBRATION)
def acknowledge_flags():
    """Acknowledge the ticked flags (those the person may see) in one go."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    ids = [flag_id for raw in request.form.getlist("flag_id") if (flag_id := whole_number(raw))]
    chosen = (
        db.session.scalars(
            _filtered_flags({**_flag_filters(), "status": "all"}).where(Flag.id.in_(ids))
        ).all()
        if ids
        else []
    )
    try:
        changed = services.acknowledge_flags(current_user, chosen)
    except Conflict as error:
        flash_refusal(error)
    else:
        flash(
            f"{changed} flag(s) acknowledged." if changed else "No open flag was ticked.",
            "success" if changed else "info",
        )
    return redirect(url_for("calibration.flags", **{k: v for k, v in request.args.items()}))


@bp.route("/flags/<int:flag_id>", methods=["GET", "POST"])
@login_required
def flag(flag_id: int):
    """A flag with the figures behind it; POMs record the root cause and the action."""
    flag = queries.get_flag(current_user, flag_id)
    form = None
    if may(current_user, Action.MANAGE_CALIBRATION):
        form = FlagForm(obj=flag)
        if not form.is_submitted():
            form.status.data = flag.status.value
            form.cause.data = flag.cause_category.value if flag.cause_category else ""
    elif request.method == "POST":
        raise Forbidden()
    if form is not None and form.validate_on_submit():
        try:
            services.triage_flag(
                current_user,
                flag,
                status=form.status.data,
                cause=form.cause.data,
                root_cause=form.root_cause.data,
                action=form.action.data,
                version=whole_number(str(form.version.data or "")),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except Conflict as error:
            flash_refusal(error)
            form = FlagForm(formdata=None, obj=flag)
            form.status.data = flag.status.value
        else:
            flash("The flag is saved.", "success")
            recurs = findings_work.recurrence_of(flag)
            if recurs is not None:
                flash(
                    f"This cause recurs: {recurs.total} earlier finding"
                    f"{'s' if recurs.total != 1 else ''} at {recurs.vendor} were resolved as "
                    f"“{recurs.cause.title}”.",
                    "warning",
                )
            return redirect(url_for("calibration.flag", flag_id=flag.id))
    # Owner, due date and action items are posted to routes of their own.
    from calibration.findings_views import work_context

    return render_template("calibration/flag.html", flag=flag, form=form, **work_context(flag))
