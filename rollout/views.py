"""Rollout pages: list, board, items, my items, policies and templates."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from calibration.services import format_label_options
from rollcal import permissions, uow
from rollcal.accounts.models import User
from rollcal.audit import AuditEvent
from rollcal.errors import Conflict, NotFound, ValidationError, flash_refusal, refusal
from rollcal.extensions import db
from rollcal.forms import ConfirmForm, apply_errors, choices
from rollcal.inputs import int_arg, page_arg, whole_number
from rollcal.org.models import LineOfBusiness, Market, Site, Vendor
from rollcal.pagecache import cached_page
from rollcal.permissions import Action, may, requires, visible_sites
from rollcal.reports.downloads import csv_response
from rollcal.reports.pdf import send_pdf
from rollcal.reports.queue import request_report
from rollcal.reports.views import answer_report
from rollcal.types import utcnow
from rollout import model_gate_views, queries, services
from rollout import signoff as signoff_services
from rollout.forms import (
    AssigneeForm,
    BulkForm,
    CancelForm,
    CommentForm,
    DecisionForm,
    GoLiveForm,
    ItemForm,
    NotApplicableDecisionForm,
    OverrideForm,
    PolicyEditForm,
    PolicyForm,
    RolloutForm,
    SignOffRequestForm,
    TemplateForm,
    TemplateItemForm,
    VerifyForm,
    VersionForm,
    VersionStatusForm,
)
from rollout.models import (
    ChecklistTemplate,
    Policy,
    PolicyVersion,
    Rollout,
    RolloutStatus,
    SignOff,
    SignOffRequest,
    TemplateItem,
    VersionStatus,
)
from rollout.readiness import State
from rollout.report import readiness_source

bp = Blueprint("rollout", __name__)


@bp.context_processor
def _policy_rules() -> dict:
    """The edit, delete and archive rules of policies and versions, for their pages."""
    return {
        "may_edit_policy": permissions.may_edit_policy,
        "may_delete_policy": permissions.may_delete_policy,
        "may_archive_policy": permissions.may_archive_policy,
        "may_edit_version": permissions.may_edit_version,
        "may_archive_version": permissions.may_archive_version,
    }


def _today():
    return utcnow().date()


def _page(statement: sa.Select):
    return db.paginate(
        statement,
        page=page_arg(),
        per_page=current_app.config["ROLLCAL_PAGE_SIZE"],
        error_out=False,
    )


# Rollouts ----------------------------------------------------------------------------


@bp.get("/rollouts")
@login_required
@cached_page
def rollouts():
    """Every rollout the person may see, newest go-live last, with progress and readiness."""
    status = request.args.get("status")
    statement = queries.visible_rollouts(current_user).order_by(
        Rollout.go_live_date.desc(), Rollout.id.desc()
    )
    if status in {s.value for s in RolloutStatus}:
        statement = statement.where(Rollout.status == RolloutStatus(status))
    page = queries.listed_page(statement, page_arg(), current_app.config["ROLLCAL_PAGE_SIZE"])
    return render_template(
        "rollout/list.html",
        page=page,
        summaries=queries.summaries(current_user, page.items),
        status=status,
        statuses=list(RolloutStatus),
        states=list(State),
    )


def _site_filter_options():
    return {
        "vendors": db.session.scalars(sa.select(Vendor).order_by(Vendor.name)).all(),
        "markets": db.session.scalars(sa.select(Market).order_by(Market.code)).all(),
        "lines": db.session.scalars(sa.select(LineOfBusiness).order_by(LineOfBusiness.name)).all(),
    }


def _keep_choices(form: RolloutForm, sites) -> None:
    """Refill the new-rollout form from the query string: "Show sites" re-reads the page
    with what was chosen so far (a link may also name the version)."""
    version = int_arg("policy_version") or int_arg("version")
    if version:
        form.policy_version.data = version
    if int_arg("template"):
        form.template.data = int_arg("template")
    try:
        go_live = date.fromisoformat(request.args.get("go_live_date", ""))
    except ValueError:
        go_live = None
    if go_live:
        form.go_live_date.data = go_live
    shown = {site.id for site in sites}
    chosen = [int(value) for value in request.args.getlist("sites") if value.isdigit()]
    form.sites.data = [site_id for site_id in chosen if site_id in shown]
    for name in ("alpha_threshold", "accuracy_target"):
        try:
            value = float(request.args[name])
        except (KeyError, ValueError):
            continue
        getattr(form, name).data = value
    if "gate_uses_lower_bound" in request.args:
        form.gate_uses_lower_bound.data = True


@bp.route("/rollouts/new", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def new_rollout():
    """Create a rollout: choose the version, template, sites (filtered) and go-live date."""
    form = RolloutForm()
    versions = db.session.scalars(
        sa.select(PolicyVersion)
        .join(Policy)
        .where(
            PolicyVersion.status != VersionStatus.RETIRED,
            PolicyVersion.archived_at.is_(None),
            Policy.archived_at.is_(None),
        )
        .options(selectinload(PolicyVersion.policy))
        .order_by(Policy.code, PolicyVersion.effective_date.desc())
    ).all()
    form.policy_version.choices = choices((v.id, str(v)) for v in versions)
    templates = db.session.scalars(
        sa.select(ChecklistTemplate)
        .where(ChecklistTemplate.active.is_(True))
        .order_by(ChecklistTemplate.name)
    ).all()
    form.template.choices = choices((t.id, t.name) for t in templates)
    vendor_id = int_arg("vendor")
    market_id = int_arg("market")
    line_id = int_arg("line")
    sites_query = (
        visible_sites(current_user)
        .where(Site.active.is_(True))
        .options(
            selectinload(Site.vendor),
            selectinload(Site.markets),
            selectinload(Site.lines_of_business),
        )
    )
    if vendor_id:
        sites_query = sites_query.where(Site.vendor_id == vendor_id)
    if market_id:
        sites_query = sites_query.where(Site.markets.any(Market.id == market_id))
    if line_id:
        sites_query = sites_query.where(Site.lines_of_business.any(LineOfBusiness.id == line_id))
    sites = db.session.scalars(sites_query).all()
    form.sites.choices = choices(
        (site.id, f"{site.label} ({', '.join(m.code for m in site.markets)})") for site in sites
    )
    if request.method == "GET":
        _keep_choices(form, sites)
    if form.validate_on_submit():
        try:
            rollout = services.create_rollout(
                current_user,
                policy_version_id=form.policy_version.data,
                template_id=form.template.data,
                site_ids=form.sites.data,
                go_live_date=form.go_live_date.data,
                alpha_threshold=form.alpha_threshold.data,
                accuracy_target=form.accuracy_target.data,
                gate_uses_lower_bound=form.gate_uses_lower_bound.data,
                today=_today(),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Rollout created with {len(rollout.items)} checklist items.", "success")
            overdue = services.required_overdue(rollout, _today())
            if overdue:
                flash(
                    f"{overdue} required {'step was' if overdue == 1 else 'steps were'} due "
                    "before today and start overdue: move go-live or agree new dates.",
                    "warning",
                )
            return redirect(url_for("rollout.board", rollout_id=rollout.id))
    return render_template(
        "rollout/new.html",
        form=form,
        filters=_site_filter_options(),
        vendor_id=vendor_id,
        market_id=market_id,
        line_id=line_id,
        no_versions=not versions,
    )


@bp.get("/rollouts/<int:rollout_id>")
@login_required
@cached_page
def board(rollout_id: int):
    """The rollout board: a page of sites × checklist steps, worst readiness first, with
    reasons, filters and the figures of every site."""
    rollout = queries.get_rollout(current_user, rollout_id)
    vendor_id = int_arg("vendor")
    market_id = int_arg("market")
    state = request.args.get("state") or None
    board = queries.board_page(
        current_user,
        rollout,
        _today(),
        page=page_arg(),
        per_page=current_app.config["ROLLCAL_PAGE_SIZE"],
        vendor_id=vendor_id,
        market_id=market_id,
        state=state,
    )
    forms = {}
    override_site = None
    if may(current_user, Action.MANAGE_ROLLOUTS) and rollout.status not in services.FROZEN:
        go_live = GoLiveForm(prefix="golive", data={"go_live_date": rollout.go_live_date})
        bulk = BulkForm(prefix="bulk")
        bulk.step.choices = choices(
            (c.template_item_id, c.title) for c in board.columns if c.side == "pom" and not c.gate
        )
        # The sites of this page: a bounded form; filters narrow it to the sites wanted.
        bulk.sites.choices = choices((row.site.id, row.site.label) for row in board.rows)
        forms = {
            "go_live": go_live,
            "bulk": bulk,
            "override": OverrideForm(prefix="override"),
            "cancel": CancelForm(prefix="cancel"),
            "model_gate": model_gate_views.bind_form(rollout, board.columns),
        }
        chosen = int_arg("override")
        override_site = next((row for row in board.rows if row.site.id == chosen), None)
    changes = (
        signoff_services.changes_since_signoff(rollout)
        if may(current_user, Action.VIEW_POLICIES)
        else []
    )
    filters = {
        name: value
        for name, value in (("vendor", vendor_id), ("market", market_id), ("state", state))
        if value
    }
    pending_requests = (
        queries.pending_not_applicable_count(current_user, rollout.id)
        if may(current_user, Action.WAIVE_REQUIRED_STEPS)
        else 0
    )
    return render_template(
        "rollout/board.html",
        model_gate_version=model_gate_views.bound_version(rollout),
        changes_since_signoff=len(changes),
        pending_requests=pending_requests,
        rollout=rollout,
        board=board,
        vendor_id=vendor_id,
        market_id=market_id,
        state=state,
        states=list(State),
        forms=forms,
        override_site=override_site,
        filters=filters,
        # Links in the cells are this prefix and an id: one url_for per page, not per cell.
        item_url=url_for("rollout.item", item_id=0)[:-1],
        site_url=url_for("org.site", site_id=0)[:-1],
        this_page=url_for("rollout.board", rollout_id=rollout.id, page=board.page, **filters),
        today=_today(),
    )


@bp.get("/rollouts/<int:rollout_id>/board.csv")
@login_required
def board_csv(rollout_id: int):
    """The board as CSV: one row per site, one column per step, readiness and reasons."""
    rollout = queries.get_rollout(current_user, rollout_id)
    board = queries.build_board(current_user, rollout, _today())
    header = [
        "vendor",
        "site",
        "markets",
        *[c.title for c in board.columns],
        "readiness",
        "reasons",
        "override",
    ]
    # Plain values now: the rows are written after the request's unit of work has ended,
    # when the ORM objects behind them would reload one by one.
    rows = [
        [
            row.site.vendor.name,
            row.site.name,
            " ".join(m.code for m in row.site.markets),
            *[cell.readiness_status if cell else "" for cell in row.cells],
            row.readiness.state.value,
            "; ".join(row.readiness.reasons),
            row.readiness.override.justification if row.readiness.override else "",
        ]
        for row in board.rows
    ]
    return csv_response(header, rows, f"rollout-{rollout.id}-board.csv")


@bp.get("/rollouts/<int:rollout_id>/activity")
@login_required
def activity(rollout_id: int):
    """What happened in a rollout, newest first (QA leads: their vendor's part)."""
    rollout = queries.get_rollout(current_user, rollout_id)
    statement = (
        sa.select(AuditEvent)
        .where(AuditEvent.rollout_id == rollout.id)
        .options(selectinload(AuditEvent.actor))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    if permissions.bound_to_vendor(current_user):
        statement = statement.where(
            sa.or_(AuditEvent.vendor_id.is_(None), AuditEvent.vendor_id == current_user.vendor_id)
        )
    return render_template("rollout/activity.html", rollout=rollout, page=_page(statement))


def _manage(rollout_id: int) -> Rollout:
    return queries.get_rollout(current_user, rollout_id)


def _form_error(error: ValidationError) -> None:
    flash_refusal(error)


@bp.post("/rollouts/<int:rollout_id>/go-live")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def move_go_live(rollout_id: int):
    """Move the go-live date; open items shift with it."""
    rollout = _manage(rollout_id)
    form = GoLiveForm(prefix="golive")
    if form.validate_on_submit():
        try:
            services.move_go_live(
                current_user,
                rollout,
                form.go_live_date.data,
                reason=form.reason.data,
                today=_today(),
            )
        except ValidationError as error:
            _form_error(error)
        else:
            flash(f"Go-live moved to {rollout.go_live_date:%d %b %Y}.", "success")
    else:
        flash("Give a valid new go-live date.", "error")
    return redirect(url_for("rollout.board", rollout_id=rollout_id))


@bp.post("/rollouts/<int:rollout_id>/bulk")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def bulk_complete(rollout_id: int):
    """Mark one POM-side step done at the chosen sites."""
    rollout = _manage(rollout_id)
    form = BulkForm(prefix="bulk")
    form.step.choices = choices((i.template_item_id, i.title) for i in rollout.items)
    form.sites.choices = choices((rs.site_id, rs.site_id) for rs in rollout.rollout_sites)
    if form.validate_on_submit():
        try:
            changed = services.bulk_complete(
                current_user,
                rollout,
                template_item_id=form.step.data,
                site_ids=form.sites.data,
                evidence_url=form.evidence_url.data,
                evidence_note=form.evidence_note.data,
            )
        except ValidationError as error:
            _form_error(error)
        else:
            flash(f"Marked done at {changed} sites.", "success")
    else:
        flash("Choose a step and at least one site.", "error")
    return redirect(url_for("rollout.board", rollout_id=rollout_id))


@bp.post("/rollouts/<int:rollout_id>/sites/<int:site_id>/override")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def override(rollout_id: int, site_id: int):
    """Mark a site ready by override, or withdraw the override (``clear`` in the form)."""
    rollout = _manage(rollout_id)
    form = OverrideForm(prefix="override")
    try:
        if request.form.get("clear"):
            services.clear_override(current_user, rollout, site_id)
            flash("Override withdrawn.", "success")
        else:
            services.override_site(current_user, rollout, site_id, form.justification.data or "")
            flash("Site marked ready by override.", "success")
    except ValidationError as error:
        _form_error(error)
    return redirect(url_for("rollout.board", rollout_id=rollout_id))


@bp.post("/rollouts/<int:rollout_id>/cancel")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def cancel(rollout_id: int):
    """Cancel a rollout, with a reason."""
    rollout = _manage(rollout_id)
    form = CancelForm(prefix="cancel")
    try:
        services.cancel_rollout(current_user, rollout, form.reason.data or "")
        flash("Rollout cancelled.", "success")
    except ValidationError as error:
        _form_error(error)
    return redirect(url_for("rollout.board", rollout_id=rollout_id))


@bp.post("/rollouts/<int:rollout_id>/reopen")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def reopen(rollout_id: int):
    """Take a cancelled rollout up again."""
    rollout = queries.get_rollout(current_user, rollout_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            services.reopen_rollout(current_user, rollout)
            flash("Rollout reopened: its checklist continues where it stopped.", "success")
        except ValidationError as error:
            _form_error(error)
    return redirect(url_for("rollout.board", rollout_id=rollout_id))


# Checklist items ---------------------------------------------------------------------


def _assignee_choices(item) -> list:
    fits = permissions.assignable_people(
        vendor_side=item.is_vendor_side, vendor_id=item.site.vendor_id
    )
    people = db.session.scalars(
        sa.select(User).where(fits, User.active.is_(True)).order_by(User.name)
    )
    return choices([(0, "— nobody —")] + [(p.id, p.name) for p in people])


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@login_required
def item(item_id: int):
    """One checklist item: status, evidence, comments; a stale save shows a conflict."""
    item = queries.get_item(current_user, item_id)
    form = ItemForm(obj=item if request.method == "GET" else None)
    conflict = None
    asks_only = permissions.must_request_not_applicable(current_user, item)
    if request.method == "GET":
        form.status.data, form.reason.data = item.status.value, item.status_reason
        if item.na_requested and asks_only:
            # The vendor sees its pending request; choosing another status withdraws it.
            form.status.data, form.reason.data = "not_applicable", item.na_request_reason
        form.version.data = item.version
    if form.validate_on_submit():
        try:
            services.update_item(
                current_user,
                item,
                version=whole_number(form.version.data),
                status=form.status.data,
                reason=form.reason.data,
                evidence_url=form.evidence_url.data or "",
                evidence_note=form.evidence_note.data or "",
                comment=form.comment.data,
            )
        except Conflict as error:
            conflict = refusal(error)
            form.version.data = item.version
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"“{item.title}” saved for {item.site.label}.", "success")
            return redirect(url_for("rollout.item", item_id=item.id))
    assignee_form = None
    if may(current_user, Action.MANAGE_ROLLOUTS):
        assignee_form = AssigneeForm(prefix="assign", data={"assignee": item.assignee_id or 0})
        assignee_form.assignee.choices = _assignee_choices(item)
    decision_form = None
    if item.na_requested and permissions.may_decide_not_applicable(current_user, item):
        decision_form = NotApplicableDecisionForm(prefix="na", data={"version": item.version})
    status = 409 if conflict else 200
    return render_template(
        "rollout/item.html",
        item=item,
        form=form,
        conflict=conflict,
        comment_form=CommentForm(prefix="comment"),
        assignee_form=assignee_form,
        decision_form=decision_form,
        asks_only=asks_only,
        history=_item_history(item),
        may_edit=permissions.may_edit_item(current_user, item),
        today=_today(),
    ), status


# The item page shows its latest changes; the rollout's activity page has them all.
HISTORY_SHOWN = 20


def _item_history(item) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent)
        .where(
            AuditEvent.object_type == type(item).__name__,
            AuditEvent.object_id == item.id,
        )
        .options(selectinload(AuditEvent.actor))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(HISTORY_SHOWN)
    ).all()


@bp.post("/items/<int:item_id>/not-applicable")
@login_required
@requires(Action.WAIVE_REQUIRED_STEPS)
def decide_not_applicable(item_id: int):
    """Approve or refuse a vendor's request that a required step be not applicable."""
    item = queries.get_item(current_user, item_id)
    form = NotApplicableDecisionForm(prefix="na")
    if not form.validate_on_submit():
        flash("The form expired; open the step again and answer the request.", "error")
        return redirect(url_for("rollout.item", item_id=item.id))
    approve = bool(form.approve.data)
    try:
        services.decide_not_applicable(
            current_user,
            item,
            version=whole_number(form.version.data),
            approve=approve,
            reason=form.reason.data,
        )
    except (Conflict, ValidationError) as error:
        flash_refusal(error)
    else:
        if approve:
            flash(f"“{item.title}” is not applicable at {item.site.label}.", "success")
        else:
            flash(f"Request refused: “{item.title}” still applies at {item.site.label}.", "success")
    return redirect(url_for("rollout.item", item_id=item.id))


@bp.get("/not-applicable-requests")
@login_required
@requires(Action.WAIVE_REQUIRED_STEPS)
def not_applicable_requests():
    """Required steps vendors asked to mark not applicable, awaiting a POM's answer."""
    rollout_id = int_arg("rollout")
    rollout = queries.get_rollout(current_user, rollout_id) if rollout_id else None
    page = _page(queries.pending_not_applicable(current_user, rollout_id))
    return render_template(
        "rollout/not_applicable_requests.html", page=page, rollout=rollout, today=_today()
    )


@bp.post("/items/<int:item_id>/comments")
@login_required
def comment(item_id: int):
    """Add a comment to an item's thread."""
    item = queries.get_item(current_user, item_id)
    form = CommentForm(prefix="comment")
    try:
        services.add_comment(current_user, item, form.body.data or "")
        flash("Comment added.", "success")
    except ValidationError as error:
        _form_error(error)
    return redirect(url_for("rollout.item", item_id=item.id) + "#comments")


@bp.post("/items/<int:item_id>/assignee")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def reassign(item_id: int):
    """Give an item to someone else."""
    item = queries.get_item(current_user, item_id)
    try:
        assignee_id = whole_number(request.form.get("assign-assignee"))
        services.reassign_item(current_user, item, assignee_id)
        flash("Item reassigned.", "success")
    except ValidationError as error:
        _form_error(error)
    return redirect(url_for("rollout.item", item_id=item.id))


@bp.get("/my-items")
@login_required
@cached_page
def my_items():
    """Open items for the person, soonest due first."""
    page = queries.my_items_page(current_user, page_arg(), current_app.config["ROLLCAL_PAGE_SIZE"])
    return render_template("rollout/my_items.html", page=page, today=_today())


# Policies ----------------------------------------------------------------------------


@bp.get("/policies")
@login_required
@requires(Action.VIEW_POLICIES)
def policies():
    """Every policy with its versions; archived ones only when asked for."""
    archived = request.args.get("archived") == "1"
    statement = queries.policies().where(
        Policy.archived_at.is_not(None) if archived else Policy.archived_at.is_(None)
    )
    return render_template("rollout/policies.html", page=_page(statement), archived=archived)


@bp.route("/policies/new", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def new_policy():
    """Create a policy."""
    form = PolicyForm()
    form.line_of_business.choices = choices(
        (line.id, line.name)
        for line in db.session.scalars(sa.select(LineOfBusiness).order_by(LineOfBusiness.name))
    )
    if form.validate_on_submit():
        try:
            policy = services.create_policy(
                current_user,
                code=form.code.data,
                title=form.title.data,
                area=form.area.data,
                line_of_business_id=form.line_of_business.data,
                description=form.description.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Policy {policy.code} created. Add its first version.", "success")
            return redirect(url_for("rollout.new_version", policy_id=policy.id))
    return render_template(
        "org/form.html", form=form, what="policy", existing=None, back=url_for("rollout.policies")
    )


def _policy(policy_id: int) -> Policy:
    policy = db.session.get(Policy, policy_id)
    if policy is None:
        raise NotFound("Policy was not found.")
    return policy


@bp.get("/policies/<int:policy_id>")
@login_required
@requires(Action.VIEW_POLICIES)
def policy(policy_id: int):
    """A policy: its versions with their label options, and the rollouts of each."""
    policy = _policy(policy_id)
    rollouts = db.session.scalars(
        sa.select(Rollout)
        .join(PolicyVersion)
        .where(PolicyVersion.policy_id == policy.id)
        .options(selectinload(Rollout.rollout_sites), selectinload(Rollout.owner))
        .order_by(Rollout.go_live_date.desc())
    ).all()
    by_version: dict[int, list[Rollout]] = {}
    for rollout in rollouts:
        by_version.setdefault(rollout.policy_version_id, []).append(rollout)
    return render_template(
        "rollout/policy.html",
        policy=policy,
        by_version=by_version,
        status_form=VersionStatusForm,
        model_gate_form=model_gate_views.requirement_form,
    )


@bp.route("/policies/<int:policy_id>/versions/new", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def new_version(policy_id: int):
    """Add a version to a policy."""
    policy = _policy(policy_id)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            version = services.create_version(
                current_user,
                policy,
                version_label=form.version_label.data,
                change_summary=form.change_summary.data,
                effective_date=form.effective_date.data,
                document_url=form.document_url.data,
                label_options=form.label_options.data,
                label_level=form.label_level.data,
                model_gate_min_severity=form.model_gate_min_severity.data,
                model_gate_fnr_target=form.model_gate_fnr_target.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"{version.label} added.", "success")
            return redirect(url_for("rollout.policy", policy_id=policy.id))
    return render_template(
        "org/form.html",
        form=form,
        what=f"version of {policy.code}",
        existing=None,
        back=url_for("rollout.policy", policy_id=policy.id),
    )


@bp.post("/versions/<int:version_id>/status")
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def version_status(version_id: int):
    """Move a policy version to another status."""
    version = db.session.get(PolicyVersion, version_id)
    if version is None:
        raise NotFound("Policy version was not found.")
    try:
        services.set_version_status(current_user, version, request.form.get("status", ""))
        flash(f"{version.label} is now {version.status.value.replace('_', ' ')}.", "success")
    except ValidationError as error:
        _form_error(error)
    return redirect(url_for("rollout.policy", policy_id=version.policy_id))


def _version(version_id: int) -> PolicyVersion:
    version = db.session.get(PolicyVersion, version_id)
    if version is None:
        raise NotFound("Policy version was not found.")
    return version


def _policy_url(policy_id: int) -> str:
    return url_for("rollout.policy", policy_id=policy_id)


def _seen(form) -> int | None:
    """The row version the person saw, from the form's hidden field."""
    return whole_number(str(form.version.data or ""))


@bp.route("/policies/<int:policy_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def edit_policy(policy_id: int):
    """Edit a policy's title, area and description; a stale edit shows a conflict."""
    policy = _policy(policy_id)
    if not permissions.may_edit_policy(current_user, policy):
        flash_refusal(Conflict(f"{policy.code} is archived; unarchive it to edit it."))
        return redirect(_policy_url(policy.id))
    form = PolicyEditForm(obj=policy)
    if not form.is_submitted():
        form.version.data = policy.version
    conflict = None
    if form.validate_on_submit():
        try:
            services.update_policy(
                current_user,
                policy,
                version=_seen(form),
                title=form.title.data,
                area=form.area.data,
                description=form.description.data,
            )
        except Conflict as error:
            conflict = refusal(error)
            form.version.data = policy.version
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Policy {policy.code} is saved.", "success")
            return redirect(_policy_url(policy.id))
    return render_template(
        "rollout/policy_form.html",
        form=form,
        heading=f"Edit policy {policy.code}",
        back=_policy_url(policy.id),
        conflict=conflict,
    ), 409 if conflict else 200


@bp.route("/policies/<int:policy_id>/delete", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def delete_policy(policy_id: int):
    """Delete a policy that has nothing, after asking; one with a published version is
    archived instead."""
    policy = _policy(policy_id)
    form = ConfirmForm()
    refused = services.policy_deletion_refusal(policy)
    if refused is not None:
        flash_refusal(refused)
        return redirect(_policy_url(policy.id))
    if form.validate_on_submit():
        code = policy.code
        try:
            services.delete_policy(current_user, policy)
        except Conflict as error:
            flash_refusal(error)
            return redirect(_policy_url(policy.id))
        flash(f"Policy {code} is deleted.", "success")
        return redirect(url_for("rollout.policies"))
    return render_template(
        "_confirm_delete.html",
        form=form,
        heading=f"Delete policy {policy.code}?",
        consequence=f"{policy.code} — {policy.title} is deleted. This cannot be undone.",
        button="Delete the policy",
        action=url_for("rollout.delete_policy", policy_id=policy.id),
        version=None,
        back=_policy_url(policy.id),
    )


@bp.post("/policies/<int:policy_id>/archive", defaults={"archived": True})
@bp.post("/policies/<int:policy_id>/unarchive", defaults={"archived": False})
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def archive_policy(policy_id: int, archived: bool):
    """Archive a policy with a published version, or bring it back."""
    policy = _policy(policy_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.archive_policy(current_user, policy, archived=archived)
        except Conflict as error:
            flash_refusal(error)
        else:
            flash(
                f"Policy {policy.code} is archived: it is read-only and listed under Archived."
                if archived
                else f"Policy {policy.code} is back in the list.",
                "success",
            )
    return redirect(_policy_url(policy.id))


@bp.route("/versions/<int:version_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def edit_version(version_id: int):
    """Edit a draft version's text and label options; a stale edit shows a conflict."""
    version = _version(version_id)
    back = _policy_url(version.policy_id)
    refused = services.draft_version_refusal(version, "edit it")
    if refused is not None:
        flash_refusal(refused)
        return redirect(back)
    form = VersionForm(obj=version)
    form.submit.label.text = "Save version"
    if not form.is_submitted():
        form.label_options.data = format_label_options(version.label_options)
        form.version.data = version.version
    conflict = None
    if form.validate_on_submit():
        try:
            services.update_version(
                current_user,
                version,
                seen=_seen(form),
                version_label=form.version_label.data,
                change_summary=form.change_summary.data,
                effective_date=form.effective_date.data,
                document_url=form.document_url.data,
                label_options=form.label_options.data,
                label_level=form.label_level.data,
            )
        except Conflict as error:
            conflict = refusal(error)
            form.version.data = version.version
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"{version.label} is saved.", "success")
            return redirect(back)
    return render_template(
        "rollout/policy_form.html",
        form=form,
        heading=f"Edit {version.label}",
        back=back,
        conflict=conflict,
    ), 409 if conflict else 200


@bp.route("/versions/<int:version_id>/delete", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def delete_version(version_id: int):
    """Delete a draft version nothing uses, after asking."""
    version = _version(version_id)
    back = _policy_url(version.policy_id)
    form = ConfirmForm()
    refused = services.draft_version_refusal(version, "delete it")
    if refused is not None:
        flash_refusal(refused)
        return redirect(back)
    if form.validate_on_submit():
        label = version.label
        try:
            services.delete_version(
                current_user, version, seen=whole_number(request.form.get("version"))
            )
        except Conflict as error:
            flash_refusal(error)
            return redirect(back)
        flash(f"The draft {label} is deleted.", "success")
        return redirect(back)
    return render_template(
        "_confirm_delete.html",
        form=form,
        heading=f"Delete the draft {version.label}?",
        consequence=f"{version.label} and its label options are deleted. This cannot be undone.",
        button="Delete the version",
        action=url_for("rollout.delete_version", version_id=version.id),
        version=version.version,
        back=back,
    )


@bp.post("/versions/<int:version_id>/archive", defaults={"archived": True})
@bp.post("/versions/<int:version_id>/unarchive", defaults={"archived": False})
@login_required
@requires(Action.MANAGE_ROLLOUTS)
def archive_version(version_id: int, archived: bool):
    """Archive a published version, or bring it back."""
    version = _version(version_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.archive_version(current_user, version, archived=archived)
        except Conflict as error:
            flash_refusal(error)
        else:
            flash(
                f"{version.label} is archived: new rollouts and sessions no longer offer it."
                if archived
                else f"{version.label} is offered again.",
                "success",
            )
    return redirect(_policy_url(version.policy_id))


# Templates ---------------------------------------------------------------------------


@bp.get("/admin/templates")
@login_required
@requires(Action.MANAGE_TEMPLATES)
def templates():
    """Every checklist template."""
    rows = db.session.scalars(
        sa.select(ChecklistTemplate)
        .options(selectinload(ChecklistTemplate.items))
        .order_by(ChecklistTemplate.name)
    ).all()
    return render_template("rollout/templates.html", templates=rows)


@bp.route("/admin/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
@bp.route("/admin/templates/<int:template_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_TEMPLATES)
def template_form(template_id: int | None):
    """Create a template (from scratch or from another's steps), or edit one."""
    template = _template(template_id) if template_id else None
    form = TemplateForm(obj=template)
    others = db.session.scalars(sa.select(ChecklistTemplate).order_by(ChecklistTemplate.name))
    form.copy_from.choices = choices(
        [(0, "— no steps, I will add them —")] + [(t.id, t.name) for t in others]
    )
    if template is not None:
        del form.copy_from
    if form.validate_on_submit():
        copy_from = None
        if template is None and form.copy_from.data:
            copy_from = db.session.get(ChecklistTemplate, form.copy_from.data)
        try:
            saved = services.save_template(
                current_user,
                name=form.name.data,
                description=form.description.data,
                active=form.active.data,
                template=template,
                copy_from=copy_from,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Template “{saved.name}” saved.", "success")
            return redirect(url_for("rollout.template", template_id=saved.id))
    return render_template(
        "org/form.html",
        form=form,
        what="checklist template",
        existing=template,
        back=url_for("rollout.templates"),
    )


def _template(template_id: int) -> ChecklistTemplate:
    template = db.session.get(ChecklistTemplate, template_id)
    if template is None:
        raise NotFound("Template was not found.")
    return template


@bp.get("/admin/templates/<int:template_id>")
@login_required
@requires(Action.MANAGE_TEMPLATES)
def template(template_id: int):
    """A template's steps, in order, with a form to add one."""
    return render_template(
        "rollout/template.html",
        template=_template(template_id),
        form=TemplateItemForm(formdata=None),
    )


@bp.route(
    "/admin/templates/<int:template_id>/steps/new",
    methods=["GET", "POST"],
    defaults={"step_id": None},
)
@bp.route("/admin/templates/<int:template_id>/steps/<int:step_id>", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_TEMPLATES)
def template_step(template_id: int, step_id: int | None):
    """Add a step to a template, or edit one."""
    template = _template(template_id)
    step = db.session.get(TemplateItem, step_id) if step_id else None
    if step_id and (step is None or step.template_id != template.id or step.removed_at):
        raise NotFound("Step was not found.")
    form = TemplateItemForm(obj=step)
    if step and request.method == "GET":
        form.category.data, form.side.data = step.category.value, step.side.value
    if form.validate_on_submit():
        try:
            services.save_template_item(
                current_user,
                template,
                item=step,
                title=form.title.data,
                description=form.description.data,
                category=form.category.data,
                side=form.side.data,
                required=form.required.data,
                due_offset_days=form.due_offset_days.data,
                evidence_required=form.evidence_required.data,
                gate=form.gate.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Step “{form.title.data}” saved.", "success")
            return redirect(url_for("rollout.template", template_id=template.id))
    return render_template(
        "org/form.html",
        form=form,
        what=f"step of “{template.name}”",
        existing=step.title if step else None,
        back=url_for("rollout.template", template_id=template.id),
    )


@bp.post("/admin/templates/<int:template_id>/steps/<int:step_id>/remove")
@login_required
@requires(Action.MANAGE_TEMPLATES)
def remove_step(template_id: int, step_id: int):
    """Remove a step from a template."""
    step = db.session.get(TemplateItem, step_id)
    if step is None or step.template_id != template_id or step.removed_at:
        raise NotFound("Step was not found.")
    services.remove_template_item(current_user, step)
    flash("Step removed. Rollouts already created keep it.", "success")
    return redirect(url_for("rollout.template", template_id=template_id))


@bp.post("/admin/templates/<int:template_id>/steps/<int:step_id>/move")
@login_required
@requires(Action.MANAGE_TEMPLATES)
def move_step(template_id: int, step_id: int):
    """Move a step one place up or down."""
    step = db.session.get(TemplateItem, step_id)
    if step is None or step.template_id != template_id or step.removed_at:
        raise NotFound("Step was not found.")
    if ConfirmForm().validate_on_submit():
        try:
            services.move_template_item(current_user, step, request.form.get("direction", ""))
        except ValidationError as error:
            _form_error(error)
    return redirect(url_for("rollout.template", template_id=template_id, _anchor=f"step-{step_id}"))


# Reports and sign-off -----------------------------------------------------------------


@bp.get("/rollouts/<int:rollout_id>/report.pdf")
@uow.commits_on_read
@login_required
def readiness_report(rollout_id: int):
    """The readiness report as the person may see it, rendered once per content."""
    rollout = queries.get_rollout(current_user, rollout_id)
    report = request_report(readiness_source(rollout, current_user, _today()))
    return answer_report(report)


def _stakeholder_choices():
    people = db.session.scalars(
        sa.select(User)
        .where(permissions.holders_of(Action.SIGN_OFF), User.active.is_(True))
        .order_by(User.name)
    )
    return choices((person.id, f"{person.name} ({person.email})") for person in people)


@bp.route("/rollouts/<int:rollout_id>/signoff", methods=["GET", "POST"])
@login_required
@requires(Action.VIEW_POLICIES)
def signoff(rollout_id: int):
    """Sign-off of a rollout: request it (POMs), see every request and decision, the
    frozen reports, and what changed since the signature."""
    rollout = queries.get_rollout(current_user, rollout_id)
    form = None
    closed = rollout.status in (
        RolloutStatus.SIGNED_OFF,
        RolloutStatus.LIVE,
        RolloutStatus.CANCELLED,
    )
    pending = db.session.scalar(
        sa.select(SignOffRequest.id).where(
            SignOffRequest.rollout_id == rollout.id, SignOffRequest.status == "pending"
        )
    )
    if may(current_user, Action.MANAGE_ROLLOUTS) and not closed and pending is None:
        form = SignOffRequestForm()
        form.stakeholders.choices = _stakeholder_choices()
        if form.validate_on_submit():
            try:
                signoff_services.request_signoff(
                    current_user,
                    rollout,
                    stakeholder_ids=form.stakeholders.data,
                    message=form.message.data,
                    today=_today(),
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                flash("Sign-off requested; the report is frozen.", "success")
                return redirect(url_for("rollout.signoff", rollout_id=rollout.id))
    requests = db.session.scalars(
        sa.select(SignOffRequest)
        .where(SignOffRequest.rollout_id == rollout.id)
        .options(
            selectinload(SignOffRequest.sign_offs).selectinload(SignOff.stakeholder),
            selectinload(SignOffRequest.requested_by),
        )
        .order_by(SignOffRequest.requested_at.desc())
    ).all()
    board = queries.build_board(None, rollout, _today())
    return render_template(
        "rollout/signoff.html",
        rollout=rollout,
        form=form,
        requests=requests,
        board=board,
        changes=signoff_services.changes_since_signoff(rollout),
    )


@bp.get("/signoff-requests/<int:request_id>/report.pdf")
@login_required
@requires(Action.VIEW_POLICIES)
def frozen_report(request_id: int):
    """The frozen report of a sign-off request, byte-identical to what was signed."""
    request_row = db.session.get(SignOffRequest, request_id)
    if request_row is None:
        raise NotFound("Sign-off request was not found.")
    queries.get_rollout(current_user, request_row.rollout_id)
    if not request_row.report_ready:
        raise Conflict("The frozen report is still being prepared; try again in a moment.")
    return send_pdf(
        request_row.report_pdf,
        signoff_services.frozen_filename(request_row),
        sha256=request_row.report_sha256,
    )


@bp.get("/signoffs")
@login_required
@requires(Action.SIGN_OFF)
def my_signoffs():
    """A stakeholder's sign-off requests: pending first, then decided."""
    rows = db.session.scalars(
        sa.select(SignOff)
        .where(SignOff.stakeholder_id == current_user.id)
        .options(
            selectinload(SignOff.request)
            .selectinload(SignOffRequest.rollout)
            .selectinload(Rollout.policy_version)
            .selectinload(PolicyVersion.policy)
        )
        .order_by(SignOff.decided_at.is_not(None), SignOff.id.desc())
    ).all()
    return render_template("rollout/signoffs.html", sign_offs=rows)


@bp.route("/signoffs/<int:sign_off_id>", methods=["GET", "POST"])
@login_required
def decide(sign_off_id: int):
    """Open the frozen report and approve or reject it, with a comment."""
    sign_off = signoff_services.get_sign_off(current_user, sign_off_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            signoff_services.decide(current_user, sign_off, form.decision.data, form.comment.data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash("Your decision is recorded.", "success")
            return redirect(url_for("rollout.my_signoffs"))
    board = queries.build_board(None, sign_off.request.rollout, _today())
    return render_template("rollout/decide.html", sign_off=sign_off, form=form, board=board)


@bp.route("/verify", methods=["GET", "POST"])
@login_required
def verify():
    """Upload a PDF and learn whether it is a report rollcal made, of what, signed by whom."""
    form = VerifyForm()
    result = None
    if form.validate_on_submit():
        try:
            result = signoff_services.verify(current_user, form.file.data.read())
        except ValidationError as error:
            apply_errors(form, error)
    return render_template("rollout/verify.html", form=form, result=result)
