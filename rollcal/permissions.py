"""Who may do what, and what each person may see — answered here and nowhere else.

No other module, and no template, compares roles: they ask this one.

* ``may(user, action)`` / ``require(user, action)``: role rules for actions, and
  ``holders_of(action)``, the same rule as SQL for "the people who may …".
* ``bound_to_vendor(user)``, ``vendor_scope`` and scoped queries (``visible_sites`` …):
  every listing and every lookup by id goes through them, so a QA lead's view of the
  data is limited where it is queried, not remembered page by page. An object outside a
  person's scope is reported as missing (404), never as forbidden, so ids do not leak.
* Object-level rules (``may_edit_item``, ``may_see_results``, ``may_read_report`` …),
  which ask of one object what the scoped queries ask of many. The shell imports no
  domain, so these take a domain's objects by what they offer (``item.is_vendor_side``,
  ``session.is_revealed`` …) rather than by their classes, and a domain's queries combine
  them with its own tables. A rule that needs a domain's own queries (who may see the
  subject of a report) is registered by that domain's ``init_app``
  (``register_report_subject``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from rollcal.accounts.models import Role, User
from rollcal.errors import Forbidden, NotFound
from rollcal.extensions import db
from rollcal.org.models import Site, Vendor


class Action(StrEnum):
    """Things people do; each maps to the roles allowed to do it."""

    VIEW_ORGANISATION = "view_organisation"
    MANAGE_ORGANISATION = "manage_organisation"
    MANAGE_USERS = "manage_users"
    MANAGE_ROLLOUTS = "manage_rollouts"
    VIEW_POLICIES = "view_policies"
    EDIT_VENDOR_ITEMS = "edit_vendor_items"
    MANAGE_TEMPLATES = "manage_templates"
    MANAGE_CALIBRATION = "manage_calibration"
    # Set the cadence of recurring calibration rounds, and ask for an extra one.
    SCHEDULE_CALIBRATION = "schedule_calibration"
    LABEL_CASES = "label_cases"
    VIEW_RESULTS = "view_results"
    SIGN_OFF = "sign_off"
    MANAGE_JOBS = "manage_jobs"
    READ_OUTBOX = "read_outbox"
    # Everything of every vendor (QA leads see their own vendor's only).
    SEE_EVERY_VENDOR = "see_every_vendor"
    # Own vendors: get the POM's digest, be chosen as a vendor's owner.
    OWN_VENDORS = "own_vendors"
    COMMENT_ON_ITEMS = "comment_on_items"
    # Waive a required step (mark it not applicable) and answer a vendor's request to.
    WAIVE_REQUIRED_STEPS = "waive_required_steps"
    # AI raters: register models, versions and their service tokens; read their pages.
    MANAGE_MODELS = "manage_models"
    VIEW_MODELS = "view_models"


EVERYONE = frozenset(Role)

ROLE_ACTIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW_ORGANISATION: EVERYONE,
    Action.MANAGE_ORGANISATION: frozenset({Role.ADMIN}),
    Action.MANAGE_USERS: frozenset({Role.ADMIN}),
    Action.MANAGE_ROLLOUTS: frozenset({Role.ADMIN, Role.POM}),
    Action.VIEW_POLICIES: frozenset({Role.ADMIN, Role.POM, Role.STAKEHOLDER}),
    Action.EDIT_VENDOR_ITEMS: frozenset({Role.ADMIN, Role.POM, Role.QA_LEAD}),
    Action.MANAGE_TEMPLATES: frozenset({Role.ADMIN}),
    Action.MANAGE_CALIBRATION: frozenset({Role.ADMIN, Role.POM}),
    Action.SCHEDULE_CALIBRATION: frozenset({Role.ADMIN, Role.POM}),
    Action.LABEL_CASES: frozenset({Role.QA_LEAD}),
    Action.VIEW_RESULTS: EVERYONE,
    Action.SIGN_OFF: frozenset({Role.STAKEHOLDER}),
    Action.MANAGE_JOBS: frozenset({Role.ADMIN}),
    Action.READ_OUTBOX: frozenset({Role.ADMIN}),
    Action.SEE_EVERY_VENDOR: frozenset({Role.ADMIN, Role.POM, Role.STAKEHOLDER}),
    Action.OWN_VENDORS: frozenset({Role.POM}),
    Action.COMMENT_ON_ITEMS: frozenset({Role.ADMIN, Role.POM, Role.QA_LEAD}),
    Action.WAIVE_REQUIRED_STEPS: frozenset({Role.ADMIN, Role.POM}),
    Action.MANAGE_MODELS: frozenset({Role.ADMIN, Role.POM}),
    # Not QA leads: a model's human band names every vendor's raters.
    Action.VIEW_MODELS: frozenset({Role.ADMIN, Role.POM, Role.STAKEHOLDER}),
}


def may(user: User, action: Action) -> bool:
    """Whether the person's role allows the action at all."""
    return bool(user and user.is_authenticated and role_may(user.role, action))


def role_may(role: Role, action: Action) -> bool:
    """Whether a role allows the action (for a person being created or changed)."""
    return role in ROLE_ACTIONS[action]


def holders_of(action: Action) -> sa.ColumnElement[bool]:
    """A WHERE clause on ``User``: the people whose role allows the action."""
    return User.role.in_(sorted(ROLE_ACTIONS[action]))


def holds_one_of(user: User, roles: frozenset[Role]) -> bool:
    """Whether the person has one of ``roles`` (a set a domain registered, such as who
    gets a kind of notification)."""
    return user.role in roles


def belongs_to_vendor(role: Role) -> bool:
    """Whether people of this role belong to exactly one vendor (and see only its data)."""
    return not role_may(role, Action.SEE_EVERY_VENDOR)


def bound_to_vendor(user: User) -> bool:
    """Whether the person sees only their own vendor's data (QA leads)."""
    return not may(user, Action.SEE_EVERY_VENDOR)


def vendor_members(vendor_ids) -> sa.ColumnElement[bool]:
    """A WHERE clause on ``User``: the people who belong to one of these vendors."""
    bound = [role for role in Role if belongs_to_vendor(role)]
    return sa.and_(User.role.in_(bound), User.vendor_id.in_(vendor_ids))


def require(user: User, action: Action) -> None:
    """Raise ``Forbidden`` unless the person's role allows the action."""
    if not may(user, action):
        raise Forbidden()


def requires(action: Action) -> Callable:
    """View decorator: the signed-in person must be allowed ``action`` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not may(current_user, action):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def vendor_scope(user: User, vendor_id_column) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting rows to what the person may see by vendor.

    QA leads see their own vendor only; everyone else sees every vendor.
    """
    if bound_to_vendor(user):
        return vendor_id_column == user.vendor_id
    return sa.true()


def visible_vendors(user: User) -> sa.Select:
    """Vendors the person may see, by name."""
    return sa.select(Vendor).where(vendor_scope(user, Vendor.id)).order_by(Vendor.name)


def visible_sites(user: User) -> sa.Select:
    """Sites the person may see, by vendor and name."""
    return (
        sa.select(Site)
        .join(Site.vendor)
        .where(vendor_scope(user, Site.vendor_id))
        .order_by(Vendor.name, Site.name)
    )


def get_visible(user: User, statement: sa.Select, object_id: int, what: str = "That"):
    """One object of a scoped statement by id, or ``NotFound`` if outside the scope."""
    entity = statement.column_descriptions[0]["entity"]
    found = db.session.scalars(statement.where(entity.id == object_id)).first()
    if found is None:
        raise NotFound(f"{what} was not found.")
    return found


def visible_site(user: User, site_id: int) -> Site:
    """A site the person may see, or ``NotFound``."""
    return get_visible(user, visible_sites(user), site_id, "Site")


def visible_vendor(user: User, vendor_id: int) -> Vendor:
    """A vendor the person may see, or ``NotFound``."""
    return get_visible(user, visible_vendors(user), vendor_id, "Vendor")


# Reports ------------------------------------------------------------------------------

# kind of report -> whether a person may see its subject (a rollout, a session's results).
# Each domain registers the rule for its own reports.
ReportSubjectRule = Callable[[User, int], bool]
REPORT_SUBJECT_RULES: dict[str, ReportSubjectRule] = {}


def register_report_subject(kind: str, rule: ReportSubjectRule) -> None:
    """Say who may read reports of ``kind``: ``rule(user, subject_id)``."""
    REPORT_SUBJECT_RULES[kind] = rule


def report_audience(user: User | None) -> str:
    """Which copy of a report a person reads: their vendor's for QA leads, else the whole
    (``None``, the frozen copy, is the whole too)."""
    if user is not None and user.role == Role.QA_LEAD:
        return f"vendor:{user.vendor_id}"
    return "all"


def may_review_every_vendor(user: User) -> bool:
    """Whether the person may ask for a quality review of every vendor at once: only
    people who see every vendor (a QA lead reviews their own vendor)."""
    return may(user, Action.VIEW_RESULTS) and not bound_to_vendor(user)


def may_read_report(user: User, report) -> bool:
    """Whether the person may read this rendered report: it is their audience's copy and
    they may, now, see what it is about. Asked on every page, download and verification
    of a report, since both answers can change after it was made (a session not yet
    revealed, a vendor leaving a rollout)."""
    if not (user and user.is_authenticated) or report.audience != report_audience(user):
        return False
    rule = REPORT_SUBJECT_RULES.get(report.kind)
    return rule is not None and rule(user, report.subject_id)


# Object-level rules --------------------------------------------------------------------


def may_edit_item(user: User, item) -> bool:
    """POMs and admins edit any checklist item; a QA lead edits vendor-side items of their
    own vendor."""
    if may(user, Action.MANAGE_ROLLOUTS):
        return True
    return (
        may(user, Action.EDIT_VENDOR_ITEMS)
        and item.is_vendor_side
        and item.site.vendor_id == user.vendor_id
    )


def must_request_not_applicable(user: User, item) -> bool:
    """Whether marking this item not applicable is only a request a POM answers: a vendor
    cannot waive its own required step. POMs and admins mark it directly."""
    return item.required and not may(user, Action.WAIVE_REQUIRED_STEPS)


def may_decide_not_applicable(user: User, item) -> bool:
    """Who approves or refuses a vendor's request that a required step be not applicable:
    POMs and admins (they own the rollouts), never the QA lead who asked."""
    return may(user, Action.WAIVE_REQUIRED_STEPS) and may_edit_item(user, item)


def may_be_assigned(person: User, item) -> bool:
    """Who a checklist item may be given to: a QA lead of the site's vendor for
    vendor-side items, a POM or admin for POM-side ones."""
    if item.is_vendor_side:
        return bound_to_vendor(person) and person.vendor_id == item.site.vendor_id
    return may(person, Action.MANAGE_ROLLOUTS)


def assignable_people(*, vendor_side: bool, vendor_id: int) -> sa.ColumnElement[bool]:
    """``may_be_assigned`` as a WHERE clause on ``User``, for the choice of assignee."""
    if vendor_side:
        return vendor_members([vendor_id])
    return holders_of(Action.MANAGE_ROLLOUTS)


def may_decide_sign_off(user: User, sign_off) -> bool:
    """Only the stakeholder asked decides a sign-off."""
    return may(user, Action.SIGN_OFF) and sign_off.stakeholder_id == user.id


def may_read_sign_off(user: User, sign_off) -> bool:
    """The stakeholder asked reads a sign-off; POMs and admins read any; QA leads none."""
    if bound_to_vendor(user):
        return False
    return not may(user, Action.SIGN_OFF) or sign_off.stakeholder_id == user.id


def may_see_golden(user: User, session) -> bool:
    """Golden answers are for the POMs who set them, and for everyone after reveal."""
    return may(user, Action.MANAGE_CALIBRATION) or session.is_revealed


def may_see_results(user: User, session) -> bool:
    """POMs and admins read a session's results once closed; everyone else once revealed."""
    return session.is_revealed or (session.is_closed and may(user, Action.MANAGE_CALIBRATION))


def may_see_all_labels(user: User, session) -> bool:
    """Who may read every rater's labels: POMs and admins always (they are not raters);
    after reveal, everyone who sees every vendor. QA leads never see another vendor's
    labels."""
    if may(user, Action.MANAGE_CALIBRATION):
        return True
    return session.is_revealed and not bound_to_vendor(user)


def may_see_model_evaluation(user: User, session) -> bool:
    """Who reads how a model did in a session: those who read models, once they may see
    the session's results (a POM once closed, a stakeholder once revealed)."""
    return may(user, Action.VIEW_MODELS) and may_see_results(user, session)


def may_see_drafts(user: User) -> bool:
    """Whether the person sees calibration sessions (and flags) before they are revealed
    or opened: those who run them."""
    return may(user, Action.MANAGE_CALIBRATION)


def flag_owners(vendor_id: int | None) -> sa.ColumnElement[bool]:
    """A WHERE clause on ``User``: who may own a finding about ``vendor_id`` — the people
    who run calibration, and the vendor's own QA leads (never another vendor's)."""
    runners = holders_of(Action.MANAGE_CALIBRATION)
    if vendor_id is None:
        return sa.and_(runners, User.active.is_(True))
    return sa.and_(sa.or_(runners, vendor_members([vendor_id])), User.active.is_(True))


def may_work_on_flag(user: User, flag) -> bool:
    """Who adds and ticks off a finding's action items: those who run calibration, and
    the finding's owner."""
    return may(user, Action.MANAGE_CALIBRATION) or (
        flag.owner_id is not None and flag.owner_id == user.id
    )


# Drafts and archives --------------------------------------------------------------------
# Those who create sessions, policies and versions edit them. A draft may change or go
# entirely; what others rely on once published or opened (labels are evidence, rollouts
# cite versions) is archived instead: hidden from default lists, read-only, and
# unarchived by the same people.


def may_edit_session(user: User, session) -> bool:
    """POMs and admins edit a session's details until it is archived."""
    return may(user, Action.MANAGE_CALIBRATION) and not session.is_archived


def may_delete_session(user: User, session) -> bool:
    """A session is deleted, with its cases, only while a draft: nobody has labelled."""
    return may_edit_session(user, session) and session.is_draft


def may_archive_session(user: User, session) -> bool:
    """A session past draft is archived (or unarchived) instead of deleted."""
    return may(user, Action.MANAGE_CALIBRATION) and not session.is_draft


def may_edit_cases(user: User, session) -> bool:
    """A draft session's cases are edited or deleted; once open, raters label them as
    they are."""
    return may_delete_session(user, session)


def may_edit_policy(user: User, policy) -> bool:
    """POMs and admins edit a policy's title, area and description until it is archived."""
    return may(user, Action.MANAGE_ROLLOUTS) and not policy.is_archived


def may_delete_policy(user: User, policy) -> bool:
    """A policy is deleted only while nothing of it is published."""
    return may_edit_policy(user, policy) and not policy.is_published


def may_archive_policy(user: User, policy) -> bool:
    """A policy with a published version is archived (or unarchived) instead."""
    return may(user, Action.MANAGE_ROLLOUTS) and policy.is_published


def may_edit_version(user: User, version) -> bool:
    """A draft policy version's text and label options change, and it may be deleted;
    once published, rollouts and sessions cite it as it is."""
    return may(user, Action.MANAGE_ROLLOUTS) and version.is_draft and not version.is_archived


def may_archive_version(user: User, version) -> bool:
    """A published policy version is archived (or unarchived) instead of deleted."""
    return may(user, Action.MANAGE_ROLLOUTS) and not version.is_draft


def may_schedule_extra_round(user: User, flag) -> bool:
    """POMs and admins ask for an extra round on a drift flag about one site."""
    return (
        may(user, Action.SCHEDULE_CALIBRATION)
        and flag.site_id is not None
        and flag.kind in ("accuracy_drift", "alpha_drift")
    )
