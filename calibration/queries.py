"""Read-side rules and queries: who sees which session, label, golden answer and flag.

Blind labelling and vendor isolation are decided here, where the data is queried, so no
page, export or API answer can forget them:

* a QA lead sees a session once it is open and only if they, or a rater of their vendor,
  take part; another vendor's session is missing (404);
* until a session is revealed a rater sees only their own labels — never other people's
  labels, counts of them, or golden answers;
* after reveal a QA lead sees their vendor's labels, figures and flags, and the group's
  aggregate answer per case, never another vendor's rows.

What calibration needs of policy versions and rollouts it asks the provider rollout
registers (``rollcal.events.calibration_subjects``): ``calibration`` never imports
``rollout`` nor reads its tables.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from calibration.charts import has_tables, summary_of, vendor_chart
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
from rollcal.accounts.models import User
from rollcal.errors import NotFound
from rollcal.events import calibration_subjects
from rollcal.extensions import db
from rollcal.org.models import Site
from rollcal.permissions import (
    Action,
    bound_to_vendor,
    holders_of,
    may_see_all_labels,
    may_see_drafts,
)
from rollcal.timefmt import export_time

# Sessions ----------------------------------------------------------------------------


def visible_sessions(user: User) -> sa.Select:
    """Sessions the person may see, newest first.

    POMs and admins see every session; stakeholders every session past draft; QA leads
    sessions past draft in which a rater of their vendor takes part.
    """
    statement = sa.select(CalibrationSession).order_by(
        CalibrationSession.created_at.desc(), CalibrationSession.id.desc()
    )
    if may_see_drafts(user):
        return statement
    statement = statement.where(CalibrationSession.status != SessionStatus.DRAFT)
    if bound_to_vendor(user):
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
    if bound_to_vendor(user) and session.is_revealed:
        return statement.where(Rater.vendor_id == user.vendor_id)
    return statement.where(Rater.user_id == user.id)


# Labels are read from the database this many at a time when exported.
EXPORT_BATCH = 2000


def label_rows(labels: sa.Select, *, golden: bool) -> Iterator[list]:
    """Export rows of the labels ``labels`` (a ``visible_labels`` query) selects:
    reference, rater, vendor, site, label, comment, time (and the golden answer).

    A generator: nothing is queried until the first row is read, then labels arrive as
    plain rows ``EXPORT_BATCH`` at a time (a server-side cursor on PostgreSQL), so memory
    stays flat whatever the session's size. Raters — a few dozen — are named from one
    query first.
    """
    raters = {
        rater.id: (
            rater.name,
            rater.vendor.name if rater.vendor else "",
            rater.site.name if rater.site else "",
        )
        for rater in db.session.scalars(
            sa.select(Rater)
            .where(Rater.id.in_(labels.with_only_columns(Label.rater_id).order_by(None).distinct()))
            .options(selectinload(Rater.user), selectinload(Rater.vendor), selectinload(Rater.site))
        )
    }
    columns = [
        Case.reference,
        Label.rater_id,
        Label.option_key,
        Label.comment,
        Label.updated_at,
        Case.golden_label,
    ]
    result = db.session.execute(
        labels.with_only_columns(*columns).execution_options(yield_per=EXPORT_BATCH)
    )
    for reference, rater_id, option_key, comment, updated_at, golden_label in result:
        row = [reference, *raters[rater_id], option_key, comment or "", export_time(updated_at)]
        if golden:
            row.append(golden_label or "")
        yield row


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


def own_label_count(rater: Rater) -> int:
    """How many cases the rater has labelled."""
    return db.session.scalar(sa.select(sa.func.count(Label.id)).where(Label.rater_id == rater.id))


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
            # Joined: the sites' vendors are the raters' own, and a second select-in of
            # the same vendors would repeat a statement.
            selectinload(Rater.site).joinedload(Site.vendor),
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


def headline(snapshot: AgreementSnapshot) -> dict:
    """The headline figures of stored results (``SUMMARY_KEYS``), read from the stored
    summary without loading the full report; results stored before summaries were kept
    are summarised from their report. Empty when there was nothing to analyse."""
    if snapshot.summary is not None:
        return snapshot.summary
    return summary_of(snapshot.report) if snapshot.report is not None else {}


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
    return (
        sa.select(Flag)
        .join(CalibrationSession, CalibrationSession.id == Flag.session_id)
        .where(*visible_flag_rules(user))
        .options(
            selectinload(Flag.session),
            selectinload(Flag.vendor),
            selectinload(Flag.site).joinedload(Site.vendor),
        )
    )


def visible_flag_rules(user: User) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of ``visible_flags``, for queries of flag columns joined to their
    session (plain rows, without building a subquery of the whole flag)."""
    rules: list[sa.ColumnElement[bool]] = []
    if not may_see_drafts(user):
        rules.append(CalibrationSession.status == SessionStatus.REVEALED)
    if bound_to_vendor(user):
        rules.append(Flag.vendor_id == user.vendor_id)
    return rules


def get_flag(user: User, flag_id: int) -> Flag:
    """A flag the person may see, or ``NotFound``."""
    flag = db.session.scalar(visible_flags(user).where(Flag.id == flag_id))
    if flag is None:
        raise NotFound("Flag was not found.")
    return flag


# Policy versions and rollouts, as rollout provides them ----------------------------


def describe_links(session: CalibrationSession) -> dict[str, str | None]:
    """Names of the session's policy version and rollout for its pages."""
    subjects = calibration_subjects()
    version_id, rollout_id = session.policy_version_id, session.rollout_id
    version = subjects.policy_version(version_id) if version_id else None
    linked = subjects.rollout(rollout_id) if rollout_id else None
    return {
        "version": version.name if version else None,
        "rollout": linked.name if linked else None,
    }


def proposed_raters(session: CalibrationSession) -> list[tuple[User, Site]]:
    """The QA leads a rollout's session should have: for each of the rollout's sites, the
    active QA leads of its vendor not yet rating in the session (empty without a rollout)."""
    if not session.rollout_id:
        return []
    linked = calibration_subjects().rollout(session.rollout_id)
    if linked is None or not linked.site_ids:
        return []
    rating = sa.select(Rater.user_id).where(
        Rater.session_id == session.id, Rater.user_id.is_not(None)
    )
    rows = db.session.execute(
        sa.select(User, Site)
        .join(Site, Site.vendor_id == User.vendor_id)
        .where(
            Site.id.in_(linked.site_ids),
            holders_of(Action.LABEL_CASES),
            User.active.is_(True),
            User.id.not_in(rating),
        )
        .options(selectinload(Site.vendor))
        .order_by(Site.id, User.name)
    ).all()
    return sorted(
        ((user, site) for user, site in rows), key=lambda pair: (pair[1].label, pair[0].name)
    )


def site_rater_warnings(session: CalibrationSession) -> list[str]:
    """Sentences for the rollout's sites that have fewer than two raters in the session.

    A site needs two raters for its agreement, and so for its calibration gate; a site
    with one or none would fail the gate for want of evidence once the session is
    revealed. Empty when the session is not linked to a rollout.
    """
    if not session.rollout_id:
        return []
    linked = calibration_subjects().rollout(session.rollout_id)
    if linked is None or not linked.site_ids:
        return []
    counts = dict(
        db.session.execute(
            sa.select(Rater.site_id, sa.func.count(Rater.id))
            .where(Rater.session_id == session.id, Rater.site_id.in_(linked.site_ids))
            .group_by(Rater.site_id)
        ).all()
    )
    sites = db.session.scalars(
        sa.select(Site)
        .where(Site.id.in_(linked.site_ids))
        .options(selectinload(Site.vendor))
        .order_by(Site.id)
    ).all()
    warnings = []
    for site in sorted(sites, key=lambda site: site.label):
        count = counts.get(site.id, 0)
        if count == 0:
            warnings.append(
                f"{site.label} has no rater: add two of its QA leads, or its calibration gate "
                "will fail for want of evidence."
            )
        elif count == 1:
            warnings.append(
                f"{site.label} has one rater: add a second QA lead, since agreement needs two "
                "and its calibration gate will fail without."
            )
    return warnings


# Results -----------------------------------------------------------------------------


def scoped_report(user: User, snapshot: AgreementSnapshot) -> dict | None:
    """The full stored report as the person may read it (it can exceed a megabyte: the
    API's agreement answer and the PDF read it; pages read ``scoped_summary``).

    Everyone who may see results reads the session-wide figures, the per-label figures
    and the per-case splits (aggregates, naming nobody). A QA lead reads only their own
    vendor's rows of the per-vendor, per-site, per-rater and pairwise tables; the notes,
    which name raters, and the flags (read from the flag table, scoped there) are left out.
    """
    if snapshot.report is None:
        return None
    report = dict(snapshot.report)
    report["flags"] = []
    return _scoped(user, snapshot, report)


def stored_summary(snapshot: AgreementSnapshot) -> dict | None:
    """The stored summary of the results (every vendor): the headline, the tables and
    the most contested cases (``calibration.charts.summary_of``), without loading the
    full report. Results stored before summaries held the tables are summarised from
    their report. None when there was nothing to analyse."""
    if has_tables(snapshot.summary):
        return dict(snapshot.summary)
    if snapshot.problem is not None or snapshot.report is None:
        return None
    return summary_of(snapshot.report)


def scoped_summary(user: User, snapshot: AgreementSnapshot) -> dict | None:
    """The stored summary as the person may read it, scoped as ``scoped_report`` is."""
    summary = stored_summary(snapshot)
    return None if summary is None else _scoped(user, snapshot, summary)


def _scoped(user: User, snapshot: AgreementSnapshot, figures: dict) -> dict:
    """A QA lead's rows only of the tables that name vendors, sites and raters."""
    if not bound_to_vendor(user):
        return figures
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
    figures["raters"] = [r for r in figures["raters"] if r["rater"] in own_raters]
    figures["groups"] = [g for g in figures["groups"] if g["group"] in own_groups]
    figures["sites"] = [s for s in figures["sites"] if s["site"] in own_sites]
    figures["cohen_kappa"] = [
        pair
        for pair in figures["cohen_kappa"]
        if pair["rater_a"] in own_raters and pair["rater_b"] in own_raters
    ]
    figures["notes"] = []
    return figures


def case_splits(session: CalibrationSession, case_ids: list[int]) -> dict[int, dict]:
    """How the labels split on some cases of a closed session, by case id: ``labels``
    (count per label, in the session's order), ``majority`` (None on a tie) and
    ``majority_share`` — the figures the stored results hold per case, counted for these
    cases only. Labels are frozen once a session closes, so the counts are those the
    results were computed from."""
    counts: dict[int, dict[str, int]] = {case_id: {} for case_id in case_ids}
    rows = db.session.execute(
        sa.select(Label.case_id, Label.option_key, sa.func.count())
        .join(Case, Case.id == Label.case_id)
        .where(Case.session_id == session.id, Label.case_id.in_(case_ids))
        .group_by(Label.case_id, Label.option_key)
    )
    for case_id, option_key, n in rows:
        counts[case_id][option_key] = n
    order = {key: position for position, key in enumerate(session.option_keys)}
    splits = {}
    for case_id, given in counts.items():
        if not given:
            continue
        labels = dict(sorted(given.items(), key=lambda pair: order.get(pair[0], len(order))))
        top = max(labels.values())
        leaders = [key for key, n in labels.items() if n == top]
        splits[case_id] = {
            "labels": labels,
            "majority": leaders[0] if len(leaders) == 1 else None,
            "majority_share": top / sum(labels.values()),
        }
    return splits


def results_chart(user: User, snapshot: AgreementSnapshot, report: dict) -> str | None:
    """The alpha-by-vendor chart the person may see (a QA lead: their vendor's bar),
    as drawn when the results were stored; drawn now for results stored before charts
    were kept."""
    if snapshot.charts is None:
        session = db.session.get(CalibrationSession, snapshot.session_id)
        return vendor_chart(report, session.alpha_threshold)
    key = str(user.vendor_id) if bound_to_vendor(user) else "all"
    return snapshot.charts.get(key)


def own_answers(rater: Rater, limit: int) -> tuple[list[sa.Row], int, int]:
    """The first ``limit`` of the rater's labels with each case's reference and golden
    answer — those that differ from golden first, each group in case order — and how
    many labels the rater gave and how many differ: two statements, whatever the number
    of cases."""
    differs = sa.and_(Case.golden_label.is_not(None), Case.golden_label != Label.option_key)
    labelled = (
        sa.select(Case.id, Case.reference, Case.golden_label, Label.option_key, Label.comment)
        .join(Label, sa.and_(Label.case_id == Case.id, Label.rater_id == rater.id))
        .where(Case.session_id == rater.session_id)
    )
    rows = db.session.execute(
        labelled.order_by(sa.case((differs, 0), else_=1), Case.position, Case.id).limit(limit)
    ).all()
    total, differing = db.session.execute(
        labelled.with_only_columns(
            sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((differs, 1), else_=0)), 0)
        )
    ).one()
    return rows, total, differing
