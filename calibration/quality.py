"""Quality over time: each revealed session's figures per vendor and site, and drift.

When a revealed session's results are stored (on reveal, and on every recompute after),
:func:`follow_results` replaces the session's :class:`QualityPoint` rows from the stored
report and judges drift for every site in it against that site's own history on the
same policy (``calibration/drift.py``). A site that drifts gets one open ``drift`` flag
per figure (``accuracy_drift``, ``alpha_drift``), attached to the session where it was
first seen; it follows the figures of
later sessions and is closed, "No longer holds", when the chart recovers.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from calibration import alignment, drift
from calibration.models import (
    AgreementSnapshot,
    CalibrationSession,
    Flag,
    FlagStatus,
    QualityPoint,
    SessionStatus,
    Severity,
)
from rollcal.audit import record
from rollcal.events import calibration_subjects, flags_raised
from rollcal.extensions import db
from rollcal.org.models import Site
from rollcal.types import utcnow

# The flag kinds drift raises, one per figure watched.
DRIFT_KINDS = {drift.ACCURACY: "accuracy_drift", drift.ALPHA: "alpha_drift"}
NO_LONGER_HOLDS = "No longer holds: the chart is back within chance."


def _interval(value) -> tuple[float | None, float | None]:
    return (value[0], value[1]) if value else (None, None)


def _recall(entry: dict, categories: list) -> dict[str, float]:
    """Each golden label's share of the subject's ratings that gave it (None-free)."""
    recall = {}
    for index, row in enumerate(entry.get("confusion") or []):
        total = sum(row)
        if total and index < len(categories):
            recall[str(categories[index])] = row[index] / total
    return recall


def _misreads(report: dict, scope: str, subject: str) -> list[dict]:
    return [
        {key: flag.get(key) for key in ("golden", "given", "share", "others_share")}
        for flag in report.get("flags", [])
        if flag.get("kind") == "misreads"
        and flag.get("scope") == scope
        and flag.get("subject") == subject
    ]


def policy_of(session: CalibrationSession) -> int | None:
    if session.policy_version_id is None:
        return None
    facts = calibration_subjects().policy_version(session.policy_version_id)
    return facts.policy_id if facts else None


def store_points(session: CalibrationSession, snapshot: AgreementSnapshot) -> list[QualityPoint]:
    """Replace the session's quality points with those of ``snapshot``."""
    db.session.execute(sa.delete(QualityPoint).where(QualityPoint.session_id == session.id))
    report, subjects = snapshot.report, snapshot.subjects or {}
    if not report:
        return []
    categories = report.get("categories") or []
    # Labels are keyed by their stable key; the names people read go beside them.
    names_of_labels = {str(o["key"]): o["name"] for o in session.label_options or []}
    policy_id = policy_of(session)
    common = {
        "session_id": session.id,
        "policy_id": policy_id,
        "revealed_at": session.revealed_at or utcnow(),
    }
    points = []
    for scope, key, names, entries in (
        ("group", "group", subjects.get("groups", {}), report.get("groups", [])),
        ("site", "site", subjects.get("sites", {}), report.get("sites", [])),
    ):
        for entry in entries:
            facts = names.get(entry[key])
            if facts is None:
                continue
            if scope == "group":
                vendor_id = facts["id"] if isinstance(facts, dict) else facts
                site_id, subject = None, f"v{vendor_id}"
            else:
                vendor_id, site_id, subject = facts["vendor_id"], facts["id"], f"s{facts['id']}"
            alpha_low, alpha_high = _interval(entry.get("alpha_ci"))
            accuracy_low, accuracy_high = _interval(entry.get("accuracy_ci"))
            points.append(
                QualityPoint(
                    **common,
                    subject=subject,
                    vendor_id=vendor_id,
                    site_id=site_id,
                    alpha=entry.get("alpha"),
                    alpha_low=alpha_low,
                    alpha_high=alpha_high,
                    accuracy=entry.get("accuracy"),
                    accuracy_low=accuracy_low,
                    accuracy_high=accuracy_high,
                    n_golden=entry.get("n_golden") or 0,
                    n_raters=entry.get("n_raters") or 0,
                    evidence=entry.get("evidence") == "sufficient",
                    details={
                        "recall": _recall(entry, categories),
                        "misreads": _misreads(report, scope, entry[key]),
                        "names": names_of_labels,
                    },
                )
            )
    points += alignment.market_points(session, policy_id, common["revealed_at"])
    db.session.add_all(points)
    db.session.flush()
    return points


def site_history(site_ids: Iterable[int], policy_id: int | None) -> dict[int, list]:
    """Each site's points on one policy, oldest first, from revealed sessions only.

    One statement whatever the history's length; rows carry the session's title and
    targets for the sentences and the severity."""
    ids = list(site_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(
            QualityPoint.site_id,
            QualityPoint.session_id,
            QualityPoint.accuracy,
            QualityPoint.accuracy_low,
            QualityPoint.accuracy_high,
            QualityPoint.alpha,
            QualityPoint.alpha_low,
            QualityPoint.alpha_high,
            QualityPoint.n_golden,
            QualityPoint.revealed_at,
            CalibrationSession.title,
            CalibrationSession.accuracy_target,
            CalibrationSession.alpha_threshold,
        )
        .join(CalibrationSession, CalibrationSession.id == QualityPoint.session_id)
        .where(
            QualityPoint.site_id.in_(ids),
            QualityPoint.policy_id.is_(None)
            if policy_id is None
            else QualityPoint.policy_id == policy_id,
            CalibrationSession.status == SessionStatus.REVEALED,
        )
        .order_by(QualityPoint.revealed_at, QualityPoint.session_id)
    ).all()
    history: dict[int, list] = {site_id: [] for site_id in ids}
    for row in rows:
        history[row.site_id].append(row)
    return history


def judge(rows: list, metric: str, subject: str) -> drift.Drift:
    """The drift chart over one site's history rows (as :func:`site_history` gives)."""
    points = []
    for row in rows:
        if metric == drift.ACCURACY:
            points.append(
                drift.Point(row.session_id, f"“{row.title}”", row.accuracy, n=row.n_golden)
            )
        else:
            interval = (
                (row.alpha_low, row.alpha_high)
                if row.alpha_low is not None and row.alpha_high is not None
                else None
            )
            points.append(
                drift.Point(row.session_id, f"“{row.title}”", row.alpha, interval=interval)
            )
    return drift.detect(points, metric, subject=subject)


def _cause(site_id: int, metric: str, policy_id: int | None) -> str:
    return f"site|{site_id}|drift|{metric}|{policy_id if policy_id is not None else '-'}"


def reconcile_drift(actor, session: CalibrationSession) -> list[Flag]:
    """Raise, update or close the drift flags of every site in ``session``."""
    policy_id = policy_of(session)
    site_ids = db.session.scalars(
        sa.select(QualityPoint.site_id).where(
            QualityPoint.session_id == session.id, QualityPoint.site_id.is_not(None)
        )
    ).all()
    if not site_ids:
        return []
    sites = {
        site.id: site for site in db.session.scalars(sa.select(Site).where(Site.id.in_(site_ids)))
    }
    history = site_history(site_ids, policy_id)
    causes = {
        _cause(site_id, metric, policy_id): (site_id, metric)
        for site_id in site_ids
        for metric in (drift.ACCURACY, drift.ALPHA)
    }
    existing: dict[str, list[Flag]] = {}
    for flag in db.session.scalars(
        sa.select(Flag)
        .where(Flag.kind.in_(DRIFT_KINDS.values()), Flag.cause.in_(list(causes)))
        .order_by(Flag.id)
    ):
        existing.setdefault(flag.cause, []).append(flag)
    now = utcnow()
    raised = []
    created = []
    for cause, (site_id, metric) in causes.items():
        # The whole history is judged even when an older session was recomputed: its
        # figures may be in the baseline.
        rows = history.get(site_id, [])
        site = sites[site_id]
        verdict = judge(rows, metric, site.label)
        flags = existing.get(cause, [])
        live = [f for f in flags if f.status != FlagStatus.RESOLVED]
        if not verdict.drifting:
            for flag in live:
                _close(actor, flag, now)
            continue
        latest = rows[-1]
        flag = live[-1] if live else None
        if flag is None:
            at_latest = next((f for f in flags if f.session_id == latest.session_id), None)
            if at_latest is not None:
                flag = at_latest
                flag.status, flag.closed_by_recompute = FlagStatus.OPEN, False
                flag.resolved_by, flag.resolved_at, flag.root_cause = None, None, None
            else:
                flag = Flag(
                    session_id=latest.session_id,
                    scope="site",
                    subject=site.label,
                    kind=DRIFT_KINDS[metric],
                    cause=cause,
                    raised_at=now,
                )
                db.session.add(flag)
                created.append(flag)
        target = latest.accuracy_target if metric == drift.ACCURACY else latest.alpha_threshold
        flag.severity = Severity.HIGH if verdict.current < target else Severity.MEDIUM
        flag.value, flag.threshold = verdict.current, verdict.baseline
        if metric == drift.ACCURACY:
            flag.interval_low, flag.interval_high = latest.accuracy_low, latest.accuracy_high
            flag.n = latest.n_golden
        else:
            flag.interval_low, flag.interval_high = latest.alpha_low, latest.alpha_high
            flag.n = None
        flag.message = verdict.sentence
        flag.details = {"policy_id": policy_id, **verdict.to_dict()}
        flag.vendor_id, flag.site_id = site.vendor_id, site.id
        flag.explained_by, flag.updated_at = None, now
        raised.append(flag)
    db.session.flush()
    # A drift newly found is told like any new flag (the session's POM; the vendor's QA
    # leads, who may see it: drift is only judged on revealed sessions).
    for session_id in sorted({flag.session_id for flag in created}):
        flags_raised.send(
            db.session.get(CalibrationSession, session_id),
            flags=[flag for flag in created if flag.session_id == session_id],
            actor=actor,
        )
    return raised


def _close(actor, flag: Flag, now) -> None:
    before = {"status": flag.status.value}
    flag.status, flag.closed_by_recompute = FlagStatus.RESOLVED, True
    flag.root_cause = NO_LONGER_HOLDS
    flag.resolved_by, flag.resolved_at, flag.updated_at = actor, now, now
    record(
        actor,
        "calibration.flag_closed",
        flag,
        f"Flag “{flag.scope_title}” ({flag.kind}) closed: no longer holds",
        before=before,
        after={"status": FlagStatus.RESOLVED.value},
        session_id=flag.session_id,
        vendor_id=flag.vendor_id,
    )


def follow_results(session: CalibrationSession, actor=None, **_facts) -> None:
    """Subscriber to ``session_results_changed``: keep the points and drift flags of a
    revealed session in step with its latest stored results."""
    if session.status != SessionStatus.REVEALED:
        return
    snapshot = db.session.scalars(
        sa.select(AgreementSnapshot)
        .where(AgreementSnapshot.session_id == session.id)
        .order_by(AgreementSnapshot.computed_at.desc(), AgreementSnapshot.id.desc())
        .limit(1)
    ).first()
    if snapshot is None:
        return
    store_points(session, snapshot)
    reconcile_drift(actor, session)


def rebuild() -> int:
    """Write the quality points and drift flags of every revealed session from its stored
    results, oldest first; returns how many sessions were read."""
    sessions = db.session.scalars(
        sa.select(CalibrationSession)
        .where(CalibrationSession.status == SessionStatus.REVEALED)
        .order_by(CalibrationSession.revealed_at, CalibrationSession.id)
    ).all()
    for session in sessions:
        follow_results(session)
    return len(sessions)
