"""Checks that services of several rooms share."""

from __future__ import annotations

import sqlalchemy as sa

from rollcal.errors import ValidationError
from rollcal.extensions import db


def unique(model, column, value, current_id: int | None, field: str, what: str) -> None:
    """Refuse a value another row of ``model`` already has (case-insensitively)."""
    clash = db.session.scalar(
        sa.select(model.id).where(sa.func.lower(column) == value.lower(), model.id != current_id)
    )
    if clash is not None:
        raise ValidationError.field(field, f"another {what} already uses “{value}”.")


def required(value: str | None, field: str) -> str:
    """The value without surrounding spaces; refused when nothing is left."""
    value = (value or "").strip()
    if not value:
        raise ValidationError.field(field, "is required.")
    return value
