"""The AI model API: a version's evaluation (personal tokens), and a model's labels sent
with the model's own service token, which labels as that model and does nothing else."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from calibration import model_queries, model_services, services
from calibration.api import LabelIn, LabelsSaved
from calibration.models import CalibrationSession
from rollcal.api import (
    API_PREFIX,
    _refuse_unknown_query_arguments,
    api_blueprint,
    api_user,
    operation,
    parse_body,
    respond,
)
from rollcal.errors import NotFound
from rollcal.extensions import csrf, db

bp = api_blueprint("calibration_models_api", __name__)


class ShareOut(BaseModel):
    """``hits`` of ``n``, the share and its 95% interval (``[low, high]``)."""

    hits: int
    n: int
    value: float | None
    interval: list[float] | None


class BandOut(BaseModel):
    """The spread of the calibrated humans."""

    n_humans: int
    low: float | None
    median: float | None
    high: float | None


class VerdictOut(BaseModel):
    """Where the version stands against the human band: ``inside``, ``below`` (the weakest
    human), ``above`` (the median), or ``insufficient`` evidence; in words, with why."""

    key: str
    text: str
    reason: str


class LabelErrorsOut(BaseModel):
    """One label's error rates, each with its interval."""

    label: str
    name: str
    severity: float
    enforcement: int
    n_golden: int
    precision: ShareOut
    recall: ShareOut
    fpr: ShareOut
    fnr: ShareOut
    evidence: str


class ErrorsOut(BaseModel):
    """Errors by direction of enforcement, raw and severity-weighted, and by label."""

    n: int
    over: ShareOut
    under: ShareOut
    lateral: ShareOut
    over_weighted: float | None
    over_weighted_interval: list[float] | None
    under_weighted: float | None
    under_weighted_interval: list[float] | None
    labels: list[LabelErrorsOut]


class GateCheckOut(BaseModel):
    """One condition of the model gate: a label's false-negative rate (upper 95% bound
    against the target) or agreement with golden against the human band."""

    label: str | None
    what: str
    value: float | None
    limit: float | None
    n: int
    passes: bool
    reason: str


class GateOut(BaseModel):
    """The model gate of the session's policy version, when it requires one."""

    policy_version: str
    passes: bool
    checks: list[GateCheckOut]


class SessionEvaluationOut(BaseModel):
    """The version in one session whose results the caller may read."""

    session_id: int
    title: str
    status: str
    replay: bool
    computed_at: datetime
    golden: ShareOut
    majority: ShareOut
    band_golden: BandOut
    band_majority: BandOut
    verdict_golden: VerdictOut
    verdict_majority: VerdictOut
    errors: ErrorsOut
    gate: GateOut | None


class EvaluationOut(BaseModel):
    """A model version measured against the human ceiling, session by session."""

    model_id: int
    model: str
    version_id: int
    version: str
    trend: str = Field(description="improving, declining, steady or too few sessions")
    sessions: list[SessionEvaluationOut]


@operation(
    bp,
    "/models/<int:model_id>/versions/<int:model_version_id>/evaluation",
    "GET",
    "A model version's evaluation against golden and the human band, per session",
    response=EvaluationOut,
)
def version_evaluation(model_id: int, model_version_id: int):
    """The version's stored evaluations in the sessions whose results the caller reads."""
    version = model_queries.get_version(api_user(), model_id, model_version_id)
    entries = model_queries.version_sessions(api_user(), [version.id])[version.id]
    shown = [entry for entry in entries if entry.evaluation is not None]
    return respond(
        EvaluationOut(
            model_id=version.model.id,
            model=version.model.name,
            version_id=version.id,
            version=version.version,
            trend=model_queries.trend_of(shown).direction,
            sessions=[
                SessionEvaluationOut(
                    session_id=entry.session.id,
                    title=entry.session.title,
                    status=entry.session.status.value,
                    replay=entry.rater.replay,
                    computed_at=entry.evaluation.computed_at,
                    gate=(
                        GateOut(policy_version=entry.gate_of, **entry.gate.to_dict())
                        if entry.gate
                        else None
                    ),
                    **{
                        key: entry.evaluation.figures[key]
                        for key in (
                            "golden",
                            "majority",
                            "band_golden",
                            "band_majority",
                            "verdict_golden",
                            "verdict_majority",
                            "errors",
                        )
                    },
                )
                for entry in shown
            ],
        )
    )


# Labels with a model's service token ----------------------------------------------------

labels_bp = Blueprint("calibration_model_labels_api", __name__, url_prefix=API_PREFIX)
csrf.exempt(labels_bp)


@labels_bp.before_request
def _authenticate_model():
    """Only a live model service token opens these routes; a personal token does not."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    row = model_services.model_token_for(token.strip()) if scheme.lower() == "bearer" else None
    if row is None:
        response = jsonify(
            {"error": {"status": 401, "message": "A valid model service token is required."}}
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="rollcal"'
        return response, 401
    g.model_token = row
    return None


labels_bp.before_request(_refuse_unknown_query_arguments)


class ModelLabelBatch(BaseModel):
    """Labels of one model version; each replaces its earlier label on the case."""

    model_config = ConfigDict(extra="forbid")

    labels: list[LabelIn] = Field(min_length=1, max_length=services.MAX_BATCH)


@operation(
    labels_bp,
    "/model-versions/<int:model_version_id>/sessions/<int:session_id>/labels",
    "PUT",
    "Save a model version's labels with the model's service token",
    body=ModelLabelBatch,
    response=LabelsSaved,
    errors={409: "The session does not take this version's labels now"},
)
def put_model_labels(model_version_id: int, session_id: int):
    """Upsert the version's labels (all or nothing); only the model's own versions."""
    session = db.session.get(CalibrationSession, session_id)
    if session is None:
        raise NotFound("Session was not found.")
    batch = parse_body(ModelLabelBatch)
    entries = [
        services.LabelInput(
            option=label.option,
            case_id=label.case_id,
            reference=label.reference,
            comment=label.comment,
        )
        for label in batch.labels
    ]
    saved = model_services.save_version_labels(g.model_token, session, model_version_id, entries)
    return respond(LabelsSaved(saved=saved))
