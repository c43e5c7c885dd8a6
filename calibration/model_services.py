"""The only code that writes AI models, their versions and service tokens, and their labels.

A model version joins a session as a rater (``add_version_rater``). While the session is
open it labels with the humans; once the session is revealed it may still label the
session's cases as a *replay*: its labels are measured against the humans the moment they
arrive, and the humans' results, flags and gate stay as they were.

Labels arrive as a CSV (``services.import_model_labels``, which names the rater) or over
the API with a model's service token (``save_version_labels``): a token labels only as
versions of its own model, and does nothing else.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa

from calibration import model_results, queries, services
from calibration.models import (
    AIModel,
    AIModelToken,
    AIModelVersion,
    CalibrationSession,
    Rater,
    RaterKind,
    SessionStatus,
)
from rollcal.accounts.models import User
from rollcal.audit import record
from rollcal.errors import Conflict, NotFound, ValidationError
from rollcal.extensions import db
from rollcal.permissions import Action, require
from rollcal.types import utcnow

TOKEN_PREFIX = "rcm_"
TOKEN_USE_EVERY = timedelta(minutes=1)


def _required(value: str | None, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError.field(field, "is required.")
    if len(value) > max_length:
        raise ValidationError.field(field, f"is longer than {max_length} characters.")
    return value


def _optional(value: str | None, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if len(value) > max_length:
        raise ValidationError.field(field, f"is longer than {max_length} characters.")
    return value


# Models and versions -----------------------------------------------------------------


def create_model(actor: User, *, name: str, owner: str = "", description: str = "") -> AIModel:
    """Register a model by a name no other model has."""
    require(actor, Action.MANAGE_MODELS)
    name = _required(name, "name", 120)
    if db.session.scalar(sa.select(AIModel.id).where(AIModel.name == name)) is not None:
        raise ValidationError.field("name", f"A model called {name} already exists.")
    model = AIModel(
        name=name,
        owner=_optional(owner, "owner", 120),
        description=_optional(description, "description", 5000),
        created_by_id=actor.id,
    )
    db.session.add(model)
    db.session.flush()
    record(actor, "calibration.model_created", model, f"Registered the model {name}")
    db.session.flush()
    return model


def add_version(actor: User, model: AIModel, *, version: str, notes: str = "") -> AIModelVersion:
    """Add a version to a model; each version is a rater of the sessions it labels."""
    require(actor, Action.MANAGE_MODELS)
    version = _required(version, "version", 60)
    clash = db.session.scalar(
        sa.select(AIModelVersion.id).where(
            AIModelVersion.model_id == model.id, AIModelVersion.version == version
        )
    )
    if clash is not None:
        raise ValidationError.field("version", f"{model.name} already has a version {version}.")
    row = AIModelVersion(model=model, version=version, notes=_optional(notes, "notes", 5000))
    db.session.add(row)
    db.session.flush()
    record(actor, "calibration.model_version_added", row, f"Added version {row.name}")
    db.session.flush()
    return row


def add_version_rater(actor: User, session: CalibrationSession, version: AIModelVersion) -> Rater:
    """Make a model version a rater of the session.

    In a draft or open session it labels with the humans; in a revealed one it replays
    the cases, measured against the humans without changing their results. A closed
    session, not yet revealed, takes no new raters.
    """
    require(actor, Action.MANAGE_CALIBRATION)
    require(actor, Action.MANAGE_MODELS)
    if session.status == SessionStatus.CLOSED:
        raise Conflict(
            "The session is closed; reveal its results before a model replays its cases."
        )
    clash = db.session.scalar(
        sa.select(Rater.id).where(
            Rater.session_id == session.id,
            sa.or_(
                Rater.ai_version_id == version.id,
                sa.and_(
                    Rater.model_name == version.model.name,
                    Rater.model_version == version.version,
                ),
            ),
        )
    )
    if clash is not None:
        raise ValidationError.field("version", f"{version.name} is already a rater.")
    replay = session.status == SessionStatus.REVEALED
    rater = Rater(
        session=session,
        kind=RaterKind.MODEL,
        model_name=version.model.name,
        model_version=version.version,
        ai_version_id=version.id,
        replay=replay,
    )
    db.session.add(rater)
    db.session.flush()
    record(
        actor,
        "calibration.rater_added",
        rater,
        f"Added {version.name} as a {'replaying ' if replay else ''}rater",
        session_id=session.id,
    )
    db.session.flush()
    return rater


def evaluate_replays(session: CalibrationSession, rater_ids: Sequence[int]) -> None:
    """Measure replaying raters whose labels just arrived (the humans' results stay)."""
    raters = queries.raters_of(session)
    model_results.evaluate_models(session, raters, services.rater_names(raters), only=rater_ids)


# Service tokens -------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_model_token(
    actor: User, model: AIModel, name: str = "Labelling"
) -> tuple[AIModelToken, str]:
    """A new service token of the model; returns the row and the token, shown only once."""
    require(actor, Action.MANAGE_MODELS)
    name = _required(name, "name", 120)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AIModelToken(
        model=model,
        name=name,
        token_hash=_digest(token),
        prefix=token[:10],
        created_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    record(actor, "calibration.model_token_created", model, f"Created the token {name}")
    db.session.flush()
    return row, token


def revoke_model_token(actor: User, model: AIModel, token_id: int) -> AIModelToken:
    """Revoke one of the model's tokens; it labels nothing from then on."""
    require(actor, Action.MANAGE_MODELS)
    row = db.session.scalar(
        sa.select(AIModelToken).where(
            AIModelToken.id == token_id, AIModelToken.model_id == model.id
        )
    )
    if row is None:
        raise NotFound("Token was not found.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(actor, "calibration.model_token_revoked", model, f"Revoked the token {row.name}")
        db.session.flush()
    return row


def model_token_for(token: str) -> AIModelToken | None:
    """The live model token a bearer token names, or None (reads only)."""
    if not (token or "").startswith(TOKEN_PREFIX):
        return None
    row = db.session.scalar(
        sa.select(AIModelToken).where(AIModelToken.token_hash == _digest(token))
    )
    if row is None or row.revoked_at is not None:
        return None
    return row


def record_model_token_use(row: AIModelToken) -> None:
    """Note the token's use, at most once a minute."""
    now = utcnow()
    if row.last_used_at is None or row.last_used_at <= now - TOKEN_USE_EVERY:
        row.last_used_at = now
        db.session.flush()


# Labels over the API -------------------------------------------------------------------


def save_version_labels(
    token: AIModelToken,
    session: CalibrationSession,
    version_id: int,
    entries: Sequence[services.LabelInput],
) -> int:
    """Save a model version's labels with the model's token, all or nothing.

    The version must be one of the token's own model and a rater of the session; anything
    else is not found, so a token learns nothing of other models. The session takes the
    labels while open for labelling, or, for a replaying rater, once revealed.
    """
    rater = db.session.scalar(
        sa.select(Rater)
        .join(AIModelVersion, AIModelVersion.id == Rater.ai_version_id)
        .where(
            Rater.session_id == session.id,
            Rater.ai_version_id == version_id,
            AIModelVersion.model_id == token.model_id,
        )
    )
    if rater is None:
        raise NotFound("That model version is not a rater of this session.")
    status = db.session.scalar(
        sa.select(CalibrationSession.status)
        .where(CalibrationSession.id == session.id)
        .with_for_update(read=True)
    )
    if rater.replay:
        if status != SessionStatus.REVEALED:
            raise Conflict("This session is not revealed; a replay labels revealed sessions.")
    elif not (status == SessionStatus.OPEN and session.is_labelling):
        raise Conflict(
            "This session is not open for labelling."
            if status == SessionStatus.DRAFT
            else "This session has closed; labels can no longer be changed."
        )
    saved = services.write_rater_labels(session, rater, entries)
    if rater.replay:
        evaluate_replays(session, [rater.id])
    record_model_token_use(token)
    return saved
