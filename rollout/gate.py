"""The calibration gate of each site of a rollout, as readiness reads it.

The gate reads the rollout's latest *revealed* calibration session and the site figures
stored with its latest results; nothing is recomputed here. Until a session linked to
the rollout is revealed, or when a site had no raters in it, the site's gate is pending.
"""

from __future__ import annotations

import sqlalchemy as sa

from calibration.model_eval import model_gate
from calibration.models import (
    AgreementSnapshot,
    AIModelVersion,
    CalibrationSession,
    ModelEvaluation,
    SessionStatus,
)
from rollcal.extensions import db
from rollout.models import Rollout
from rollout.readiness import Gate, ModelGateStep, calibration_gate, model_gate_step


def _latest_revealed(rollout_ids: list[int]) -> dict[int, sa.Row]:
    """Per rollout id: its latest revealed session's title and stored site figures.

    One statement, whatever the number of rollouts: the latest snapshot of each session
    is found by a correlated subquery, and only its small ``gate_figures`` column is read,
    never the full report.
    """
    latest_snapshot = (
        sa.select(sa.func.max(AgreementSnapshot.id))
        .where(AgreementSnapshot.session_id == CalibrationSession.id)
        .correlate(CalibrationSession)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(
            CalibrationSession.rollout_id,
            CalibrationSession.title,
            AgreementSnapshot.gate_figures,
        )
        .outerjoin(AgreementSnapshot, AgreementSnapshot.id == latest_snapshot)
        .where(
            CalibrationSession.rollout_id.in_(rollout_ids),
            CalibrationSession.status == SessionStatus.REVEALED,
        )
        .order_by(CalibrationSession.revealed_at.desc(), CalibrationSession.id.desc())
    )
    latest: dict[int, sa.Row] = {}
    for row in rows:
        latest.setdefault(row.rollout_id, row)
    return latest


def site_gates(rollouts: list[Rollout]) -> dict[tuple[int, int], Gate]:
    """The gate of every (rollout id, site id) pair, in a bounded number of statements.

    A site passes when its raters on the rollout's latest revealed session reach the
    rollout's alpha threshold (or its lower 95% bound, when the rollout says so) and
    accuracy target; see ``rollout.readiness.calibration_gate``.
    """
    if not rollouts:
        return {}
    sessions = _latest_revealed([rollout.id for rollout in rollouts])
    gates: dict[tuple[int, int], Gate] = {}
    for rollout in rollouts:
        site_ids = [rollout_site.site_id for rollout_site in rollout.rollout_sites]
        for site_id, gate in _gates(rollout, sessions.get(rollout.id), site_ids).items():
            gates[rollout.id, site_id] = gate
    return gates


def gates_of_sites(rollout: Rollout, site_ids: list[int]) -> dict[int, Gate]:
    """The gate of each of the rollout's sites ``site_ids``, by site id, in one statement
    (for a page that has read the sites already and need not load them again)."""
    session = _latest_revealed([rollout.id]).get(rollout.id)
    return _gates(rollout, session, site_ids)


def _gates(rollout: Rollout, session: sa.Row | None, site_ids: list[int]) -> dict[int, Gate]:
    figures_by_site = (session.gate_figures or {}) if session else {}
    gates: dict[int, Gate] = {}
    for site_id in site_ids:
        if session is None:
            gates[site_id] = Gate.pending()
            continue
        figures = figures_by_site.get(str(site_id))
        if figures is None:
            gates[site_id] = Gate.pending(f"no rater of this site took part in “{session.title}”")
            continue
        gates[site_id] = calibration_gate(
            alpha=figures["alpha"],
            alpha_lower=figures["alpha_lower"],
            accuracy=figures["accuracy"],
            alpha_threshold=rollout.alpha_threshold,
            accuracy_target=rollout.accuracy_target,
            use_lower_bound=rollout.gate_uses_lower_bound,
            session_title=f"“{session.title}”",
            evidence=figures.get("evidence"),
            evidence_missing=figures.get("evidence_missing", ()),
        )
    return gates


def model_gate_of(rollout: Rollout) -> ModelGateStep | None:
    """What the rollout's step bound to the model gate should be now (None: no binding).

    The gate reads the named version's stored evaluation on the latest revealed session
    linked to the rollout (or, failing one, calibrating its policy version), against the
    policy version's requirement; nothing is recomputed here.
    """
    if rollout.model_gate_item_id is None or rollout.model_gate_version_id is None:
        return None
    version = db.session.get(AIModelVersion, rollout.model_gate_version_id)
    policy_version = rollout.policy_version
    if not policy_version.requires_model_gate:
        return model_gate_step(
            version=version.name,
            passes=None,
            sentences=[f"{policy_version.label} sets no model gate"],
        )
    row = db.session.execute(
        sa.select(ModelEvaluation.figures, CalibrationSession.title)
        .join(CalibrationSession, CalibrationSession.id == ModelEvaluation.session_id)
        .where(
            ModelEvaluation.ai_version_id == version.id,
            CalibrationSession.status == SessionStatus.REVEALED,
            sa.or_(
                CalibrationSession.rollout_id == rollout.id,
                CalibrationSession.policy_version_id == rollout.policy_version_id,
            ),
        )
        .order_by(
            (CalibrationSession.rollout_id == rollout.id).desc(),
            CalibrationSession.revealed_at.desc(),
            CalibrationSession.id.desc(),
        )
        .limit(1)
    ).first()
    if row is None:
        return model_gate_step(
            version=version.name,
            passes=None,
            sentences=[f"{version.name} has no results on a revealed session of this rollout"],
        )
    gate = model_gate(
        row.figures,
        min_severity=policy_version.model_gate_min_severity,
        fnr_target=policy_version.model_gate_fnr_target,
    )
    sentences = gate.reasons if not gate.passes else [check.reason for check in gate.checks]
    return model_gate_step(
        version=version.name,
        passes=gate.passes,
        sentences=sentences,
        session_title=f"“{row.title}”",
    )
