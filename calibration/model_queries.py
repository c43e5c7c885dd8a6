"""Reading AI models and their evaluations, scoped to what the person may see.

QA leads see no model at all (a model's human band names every vendor's raters): every
lookup answers "not found" for them. Evaluations are shown only from sessions whose
results the person may read.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from calibration import model_results
from calibration.model_eval import (
    Comparison,
    ModelGate,
    Share,
    Trend,
    TrendPoint,
    compare_versions,
    model_gate,
    version_trend,
)
from calibration.models import (
    AgreementSnapshot,
    AIModel,
    AIModelToken,
    AIModelVersion,
    CalibrationSession,
    ModelEvaluation,
    Rater,
    SessionStatus,
)
from rollcal.accounts.models import User
from rollcal.errors import NotFound
from rollcal.events import PolicyVersionFacts, calibration_subjects
from rollcal.extensions import db
from rollcal.permissions import Action, bound_to_vendor, may, may_see_model_evaluation


def _readable(user: User) -> None:
    if not may(user, Action.VIEW_MODELS):
        raise NotFound("Model was not found.")


def models(user: User) -> list[AIModel]:
    """Every model, by name, with its versions."""
    _readable(user)
    return list(
        db.session.scalars(
            sa.select(AIModel).options(selectinload(AIModel.versions)).order_by(AIModel.name)
        )
    )


def get_model(user: User, model_id: int) -> AIModel:
    """A model the person may read, or ``NotFound``."""
    _readable(user)
    model = db.session.scalar(
        sa.select(AIModel).options(selectinload(AIModel.versions)).where(AIModel.id == model_id)
    )
    if model is None:
        raise NotFound("Model was not found.")
    return model


def get_version(user: User, model_id: int, version_id: int) -> AIModelVersion:
    """A version of a model the person may read, or ``NotFound``."""
    model = get_model(user, model_id)
    version = next((v for v in model.versions if v.id == version_id), None)
    if version is None:
        raise NotFound("Model version was not found.")
    return version


def tokens_of(model: AIModel) -> list[AIModelToken]:
    """The model's service tokens, newest first."""
    return list(
        db.session.scalars(
            sa.select(AIModelToken)
            .where(AIModelToken.model_id == model.id)
            .order_by(AIModelToken.created_at.desc(), AIModelToken.id.desc())
        )
    )


@dataclass
class SessionEvaluation:
    """A version's stored evaluation in one session the person may read, and the model
    gate of the session's policy version when it requires one."""

    session: CalibrationSession
    rater: Rater
    evaluation: ModelEvaluation | None
    gate: ModelGate | None = None
    gate_of: str | None = None


def _session_order(session: CalibrationSession):
    moment = session.revealed_at or session.closed_at or session.created_at
    return (moment, session.id)


def version_sessions(user: User, version_ids: list[int]) -> dict[int, list[SessionEvaluation]]:
    """Per version id: the sessions it rates, oldest first, with the stored evaluation
    when the person may read the session's results (None otherwise)."""
    rows = db.session.execute(
        sa.select(Rater, CalibrationSession, ModelEvaluation)
        .join(CalibrationSession, CalibrationSession.id == Rater.session_id)
        .outerjoin(ModelEvaluation, ModelEvaluation.rater_id == Rater.id)
        .where(Rater.ai_version_id.in_(version_ids))
    ).all()
    found: dict[int, list[SessionEvaluation]] = {version_id: [] for version_id in version_ids}
    subjects = calibration_subjects()
    policy_versions: dict[int, PolicyVersionFacts | None] = {}
    for rater, session, evaluation in rows:
        shown = evaluation if may_see_model_evaluation(user, session) else None
        entry = SessionEvaluation(session, rater, shown)
        version_id = session.policy_version_id
        if shown is not None and version_id is not None:
            if version_id not in policy_versions:
                policy_versions[version_id] = subjects.policy_version(version_id)
            facts = policy_versions[version_id]
            if facts is not None and facts.model_gate_min_severity is not None:
                entry.gate_of = facts.name
                entry.gate = model_gate(
                    shown.figures,
                    min_severity=facts.model_gate_min_severity,
                    fnr_target=facts.model_gate_fnr_target,
                )
        found[rater.ai_version_id].append(entry)
    for entries in found.values():
        entries.sort(key=lambda entry: _session_order(entry.session))
    return found


def trend_of(entries: list[SessionEvaluation]) -> Trend:
    """A version's agreement with golden across the sessions shown."""
    points = [
        TrendPoint(
            entry.session.title,
            entry.rater.model_version or "",
            Share(
                round((entry.evaluation.accuracy or 0) * entry.evaluation.n_golden),
                entry.evaluation.n_golden,
                entry.evaluation.accuracy,
                (entry.evaluation.accuracy_low, entry.evaluation.accuracy_high)
                if entry.evaluation.accuracy_low is not None
                else None,
            ),
            entry.evaluation.verdict,
        )
        for entry in entries
        if entry.evaluation is not None
    ]
    return version_trend(points)


def revealed_sessions_to_join(version: AIModelVersion) -> list[CalibrationSession]:
    """Sessions the version may still join: draft, open, or revealed (a replay)."""
    taken = sa.select(Rater.session_id).where(Rater.ai_version_id == version.id)
    return list(
        db.session.scalars(
            sa.select(CalibrationSession)
            .where(
                CalibrationSession.status.in_(
                    [SessionStatus.DRAFT, SessionStatus.OPEN, SessionStatus.REVEALED]
                ),
                CalibrationSession.id.not_in(taken),
            )
            .order_by(CalibrationSession.created_at.desc(), CalibrationSession.id.desc())
            .limit(200)
        )
    )


def comparison(
    user: User, older: AIModelVersion, newer: AIModelVersion
) -> tuple[CalibrationSession, Comparison] | None:
    """The two versions side by side on the latest session both rated and the person may
    read: a paired comparison on the same golden cases. None without such a session."""
    both = db.session.execute(
        sa.select(CalibrationSession, Rater)
        .join(Rater, Rater.session_id == CalibrationSession.id)
        .where(Rater.ai_version_id.in_([older.id, newer.id]))
    ).all()
    by_session: dict[int, dict[int, Rater]] = {}
    sessions: dict[int, CalibrationSession] = {}
    for session, rater in both:
        sessions[session.id] = session
        by_session.setdefault(session.id, {})[rater.ai_version_id] = rater
    shared = [
        sessions[session_id]
        for session_id, raters in by_session.items()
        if len(raters) == 2 and may_see_model_evaluation(user, sessions[session_id])
    ]
    if not shared:
        return None
    session = max(shared, key=_session_order)
    labels, golden = model_results.session_labels(session)
    raters = by_session[session.id]
    return session, compare_versions(
        older.version,
        labels.get(raters[older.id].id, {}),
        newer.version,
        labels.get(raters[newer.id].id, {}),
        golden,
        model_results.label_options_of(session),
    )


def session_model_evaluations(user: User, session: CalibrationSession) -> list[ModelEvaluation]:
    """The stored evaluations of a session's model raters, if the person may read them."""
    if not may_see_model_evaluation(user, session):
        return []
    return list(
        db.session.scalars(
            sa.select(ModelEvaluation)
            .options(selectinload(ModelEvaluation.rater), selectinload(ModelEvaluation.ai_version))
            .where(ModelEvaluation.session_id == session.id)
            .order_by(ModelEvaluation.id)
        )
    )


def vendor_error_directions(user: User, snapshot: AgreementSnapshot | None) -> list[dict]:
    """Each vendor's stored errors by direction, by vendor name: a QA lead's own only."""
    if snapshot is None or not snapshot.error_directions:
        return []
    return [
        figures
        for vendor_id, figures in snapshot.error_directions.items()
        if not bound_to_vendor(user) or str(user.vendor_id) == vendor_id
    ]
