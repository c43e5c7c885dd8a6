"""Read-side rules and queries: who sees which session, label, golden answer and flag.

Blind labelling and vendor isolation are decided here, where the data is queried, so no
page, export or API answer can forget them:

* a QA lead sees a session once it is open and only if they, or a rater of their vendor,
  take part; another vendor's session is missing (404);
* until a session is revealed a rater sees only their own labels — never other people's
  labels, counts of them, or golden answers;
* after reveal a QA lead sees their vendor's labels, figures and flags, and the group's
  aggregate answer per case, never another vendor's rows.

Policy versions and rollouts are read through lightweight table clauses: ``calibration``
never imports ``rollout``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from calibration.models import (
    AgreementSnapshot,
    CalibrationSession,
    Case,
    Flag,
    FlagStatus,
    Label,
    Rater,
    SessionStatus,
    Severity,
)
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.org.models import Role, Site, User
from rollcal.permissions import Action, may

_policies = sa.table("policies", sa.column("id"), sa.column("code"), sa.column("title"))
_policy_versions = sa.table(
    "policy_versions",
    sa.column("id"),
    sa.column("policy_id"),
    sa.column("version_label"),
    sa.column("status"),
    sa.column("label_options", sa.JSON),
    sa.column("label_level"),
)
_rollouts = sa.table(
    "rollouts",
    sa.column("id"),
    sa.column("policy_version_id"),
    sa.column("go_live_date"),
    sa.column("status"),
    sa.column("alpha_threshold"),
    sa.column("accuracy_target"),
)
_rollout_sites = sa.table("rollout_sites", sa.column("rollout_id"), sa.column("site_id"))

SEES_RESULTS_WHEN_CLOSED = frozenset({Role.ADMIN, Role.POM})


# Sessions ----------------------------------------------------------------------------


def visible_sessions(user: User) -> sa.Select:
    """Sessions the person may see, newest first.

    POMs and admins see every session; stakeholders every session past draft; QA leads
    sessions past draft in which a rater of their vendor takes part.
    """
    statement = sa.select(CalibrationSession).order_by(
        CalibrationSession.created_at.desc(), CalibrationSession.id.desc()
    )
    if user.role in (Role.ADMIN, Role.POM):
        return statement
    statement = statement.where(CalibrationSession.status != SessionStatus.DRAFT)
    if user.role == Role.QA_LEAD:
        takes_part = sa.select(Rater.session_id).where(Rater.vendor_id == user.vendor_id)
        statement = statement.where(CalibrationSession.id.in_(takes_part))
    return statement


def get_session(user: User, session_id: int) -> CalibrationSession:
    """A session the person may see, or ``NotFound``."""
    session = db.session.scalar(visible_sessions(user).where(CalibrationSession.id == session_id))
    if session is None:
        raise NotFound("Calibration session was not found.")
    return session


def rater_for(user: User, session: CalibrationSession) -> Rater | None:
    """The person's rater in the session, if they label in it."""
    return db.session.scalar(
        sa.select(Rater)
        .where(Rater.session_id == session.id, Rater.user_id == user.id)
        .options(selectinload(Rater.site))
    )


def may_see_golden(user: User, session: CalibrationSession) -> bool:
    """Golden answers are for the POMs who set them, and for everyone after reveal."""
    return may(user, Action.MANAGE_CALIBRATION) or session.status == SessionStatus.REVEALED


def may_see_results(user: User, session: CalibrationSession) -> bool:
    """POMs and admins read results once closed; everyone else once revealed."""
    if session.status == SessionStatus.REVEALED:
        return True
    return session.status == SessionStatus.CLOSED and user.role in SEES_RESULTS_WHEN_CLOSED


def may_see_all_labels(user: User, session: CalibrationSession) -> bool:
    """Who may read every rater's labels: POMs and admins always (they are not raters);
    stakeholders after reveal. QA leads never see another vendor's labels."""
    if may(user, Action.MANAGE_CALIBRATION):
        return True
    return user.role == Role.STAKEHOLDER and session.status == SessionStatus.REVEALED


def visible_labels(user: User, session: CalibrationSession) -> sa.Select:
    """Labels of the session the person may read, with case and rater loaded.

    Before reveal a QA lead gets only their own; after reveal, their vendor's.
    """
    statement = (
        sa.select(Label)
        .join(Case, Case.id == Label.case_id)
        .join(Rater, Rater.id == Label.rater_id)
        .where(Case.session_id == session.id)
        .order_by(Case.position, Rater.id)
    )
    if may_see_all_labels(user, session):
        return statement
    if user.role == Role.QA_LEAD and session.status == SessionStatus.REVEALED:
        return statement.where(Rater.vendor_id == user.vendor_id)
    return statement.where(Rater.user_id == user.id)


def cases_of(session: CalibrationSession) -> sa.Select:
    """The session's cases in order, with their market."""
    return (
        sa.select(Case)
        .where(Case.session_id == session.id)
        .options(selectinload(Case.market))
        .order_by(Case.position, Case.id)
    )


def get_case(session: CalibrationSession, case_id: int) -> Case:
    """A case of a session already found visible, or ``NotFound``."""
    case = db.session.scalar(cases_of(session).where(Case.id == case_id))
    if case is None:
        raise NotFound("Case was not found.")
    return case


def case_count(session: CalibrationSession) -> int:
    """How many cases the session has."""
    return db.session.scalar(sa.select(sa.func.count(Case.id)).where(Case.session_id == session.id))


def own_labels(rater: Rater) -> dict[int, Label]:
    """The rater's labels by case id."""
    labels = db.session.scalars(sa.select(Label).where(Label.rater_id == rater.id))
    return {label.case_id: label for label in labels}


def next_case_to_label(rater: Rater, after_position: int = -1) -> Case | None:
    """The first case after ``after_position`` the rater has not labelled, wrapping round."""
    labelled = sa.select(Label.case_id).where(Label.rater_id == rater.id)
    unlabelled = (
        sa.select(Case)
        .where(Case.session_id == rater.session_id, Case.id.not_in(labelled))
        .order_by(Case.position, Case.id)
    )
    later = db.session.scalar(unlabelled.where(Case.position > after_position).limit(1))
    return later or db.session.scalar(unlabelled.limit(1))


def neighbours(case: Case) -> tuple[Case | None, Case | None]:
    """The cases before and after this one in the session's order."""
    same_session = sa.select(Case).where(Case.session_id == case.session_id)
    previous = db.session.scalar(
        same_session.where(Case.position < case.position).order_by(Case.position.desc()).limit(1)
    )
    following = db.session.scalar(
        same_session.where(Case.position > case.position).order_by(Case.position).limit(1)
    )
    return previous, following


def raters_of(session: CalibrationSession) -> list[Rater]:
    """Every rater of the session with person, vendor and site, humans by vendor first."""
    raters = db.session.scalars(
        sa.select(Rater)
        .where(Rater.session_id == session.id)
        .options(
            selectinload(Rater.user),
            selectinload(Rater.vendor),
            selectinload(Rater.site).selectinload(Site.vendor),
        )
    ).all()
    return sorted(
        raters,
        key=lambda r: (r.kind.value, r.vendor.name if r.vendor else "", r.name.lower()),
    )


def label_counts(session: CalibrationSession) -> dict[int, int]:
    """Labels given so far per rater id (for the POM's progress view only)."""
    rows = db.session.execute(
        sa.select(Label.rater_id, sa.func.count(Label.id))
        .join(Rater, Rater.id == Label.rater_id)
        .where(Rater.session_id == session.id)
        .group_by(Label.rater_id)
    )
    return dict(rows.all())


def latest_snapshot(session: CalibrationSession) -> AgreementSnapshot | None:
    """The most recently computed results of the session, if any."""
    return db.session.scalar(
        sa.select(AgreementSnapshot)
        .where(AgreementSnapshot.session_id == session.id)
        .order_by(AgreementSnapshot.id.desc())
        .limit(1)
    )


# Flags -------------------------------------------------------------------------------

# Most severe first and open before acknowledged before resolved (not alphabetical).
SEVERITY_ORDER = sa.case(
    {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}, value=Flag.severity
)
STATUS_ORDER = sa.case(
    {FlagStatus.OPEN: 0, FlagStatus.ACKNOWLEDGED: 1, FlagStatus.RESOLVED: 2}, value=Flag.status
)


def visible_flags(user: User) -> sa.Select:
    """Flags the person may see, most severe and newest first.

    POMs and admins see every flag; others only flags of revealed sessions, and QA leads
    only those about their own vendor.
    """
    statement = (
        sa.select(Flag)
        .join(CalibrationSession, CalibrationSession.id == Flag.session_id)
        .options(
            selectinload(Flag.session),
            selectinload(Flag.vendor),
            selectinload(Flag.site).selectinload(Site.vendor),
        )
    )
    if user.role not in (Role.ADMIN, Role.POM):
        statement = statement.where(CalibrationSession.status == SessionStatus.REVEALED)
    if user.role == Role.QA_LEAD:
        statement = statement.where(Flag.vendor_id == user.vendor_id)
    return statement


def get_flag(user: User, flag_id: int) -> Flag:
    """A flag the person may see, or ``NotFound``."""
    flag = db.session.scalar(visible_flags(user).where(Flag.id == flag_id))
    if flag is None:
        raise NotFound("Flag was not found.")
    return flag


# Policy versions and rollouts, read without importing rollout ------------------------


def policy_version_choices() -> list[tuple[int, str]]:
    """(id, "CODE version — title") of every policy version that is not retired."""
    rows = db.session.execute(
        sa.select(
            _policy_versions.c.id,
            _policies.c.code,
            _policy_versions.c.version_label,
            _policies.c.title,
        )
        .join(_policies, _policies.c.id == _policy_versions.c.policy_id)
        .where(_policy_versions.c.status != "retired")
        .order_by(_policies.c.code, _policy_versions.c.id.desc())
    )
    return [(row.id, f"{row.code} {row.version_label} — {row.title}") for row in rows]


def rollout_choices() -> list[tuple[int, str]]:
    """(id, "CODE version — title, go-live date") of every rollout still in progress."""
    rows = db.session.execute(
        sa.select(
            _rollouts.c.id,
            _policies.c.code,
            _policy_versions.c.version_label,
            _policies.c.title,
            _rollouts.c.go_live_date,
        )
        .join(_policy_versions, _policy_versions.c.id == _rollouts.c.policy_version_id)
        .join(_policies, _policies.c.id == _policy_versions.c.policy_id)
        .where(_rollouts.c.status.not_in(["cancelled", "live"]))
        .order_by(_rollouts.c.go_live_date, _rollouts.c.id)
    )
    return [
        (row.id, f"{row.code} {row.version_label} — {row.title} (go-live {row.go_live_date})")
        for row in rows
    ]


def policy_version(version_id: int) -> sa.Row | None:
    """A policy version's id, label options, scale and name, or None."""
    return db.session.execute(
        sa.select(
            _policy_versions.c.id,
            _policy_versions.c.label_options,
            _policy_versions.c.label_level,
            _policy_versions.c.version_label,
            _policies.c.code,
            _policies.c.title,
        )
        .join(_policies, _policies.c.id == _policy_versions.c.policy_id)
        .where(_policy_versions.c.id == version_id)
    ).first()


def rollout(rollout_id: int) -> sa.Row | None:
    """A rollout's id, policy version and gate thresholds, or None."""
    return db.session.execute(
        sa.select(
            _rollouts.c.id,
            _rollouts.c.policy_version_id,
            _rollouts.c.alpha_threshold,
            _rollouts.c.accuracy_target,
        ).where(_rollouts.c.id == rollout_id)
    ).first()


def rollout_site_ids(rollout_id: int) -> set[int]:
    """The sites a rollout takes the policy to."""
    rows = db.session.scalars(
        sa.select(_rollout_sites.c.site_id).where(_rollout_sites.c.rollout_id == rollout_id)
    )
    return set(rows)


def describe_links(session: CalibrationSession) -> dict[str, str | None]:
    """Names of the session's policy version and rollout for its pages."""
    version = policy_version(session.policy_version_id) if session.policy_version_id else None
    linked_rollout = None
    if session.rollout_id:
        row = rollout(session.rollout_id)
        rollout_version = policy_version(row.policy_version_id) if row else None
        if rollout_version is not None:
            linked_rollout = (
                f"{rollout_version.code} {rollout_version.version_label} — {rollout_version.title}"
            )
    return {
        "version": f"{version.code} {version.version_label} — {version.title}" if version else None,
        "rollout": linked_rollout,
    }


# Results -----------------------------------------------------------------------------


def scoped_report(user: User, snapshot: AgreementSnapshot) -> dict | None:
    """The stored report as the person may read it.

    Everyone who may see results reads the session-wide figures, the per-label figures
    and the per-case splits (aggregates, naming nobody). A QA lead reads only their own
    vendor's rows of the per-vendor, per-site, per-rater and pairwise tables; the notes,
    which name raters, and the flags (read from the flag table, scoped there) are left out.
    """
    if snapshot.report is None:
        return None
    report = dict(snapshot.report)
    report["flags"] = []
    if user.role != Role.QA_LEAD:
        return report
    subjects = snapshot.subjects or {}
    own_raters = {
        name
        for name, facts in subjects.get("raters", {}).items()
        if facts.get("vendor_id") == user.vendor_id
    }
    own_groups = {
        name for name, facts in subjects.get("groups", {}).items() if facts["id"] == user.vendor_id
    }
    own_sites = {
        name
        for name, facts in subjects.get("sites", {}).items()
        if facts["vendor_id"] == user.vendor_id
    }
    report["raters"] = [r for r in report["raters"] if r["rater"] in own_raters]
    report["groups"] = [g for g in report["groups"] if g["group"] in own_groups]
    report["sites"] = [s for s in report["sites"] if s["site"] in own_sites]
    report["cohen_kappa"] = [
        pair
        for pair in report["cohen_kappa"]
        if pair["rater_a"] in own_raters and pair["rater_b"] in own_raters
    ]
    report["notes"] = []
    return report


def own_answers(rater: Rater) -> list[sa.Row]:
    """The rater's labels with each case's reference, golden answer, in case order."""
    return db.session.execute(
        sa.select(
            Case.id,
            Case.reference,
            Case.golden_label,
            Label.option_key,
            Label.comment,
        )
        .join(Label, sa.and_(Label.case_id == Case.id, Label.rater_id == rater.id))
        .where(Case.session_id == rater.session_id)
        .order_by(Case.position, Case.id)
    ).all()
