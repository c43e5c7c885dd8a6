"""The record of every job run, and the "run now" requests admins make."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.types import UTCDateTime, enum_type


class RunOutcome(StrEnum):
    """Where a run is: asked for on the admin page, running, or finished either way."""

    REQUESTED = "requested"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def title(self) -> str:
        """The outcome as an admin reads it."""
        return {
            "requested": "Requested",
            "running": "Running",
            "succeeded": "Succeeded",
            "failed": "Failed",
        }[self.value]


class JobRun(db.Model):
    """One run of a job by one scheduler process (``runner`` is host and process id)."""

    __tablename__ = "job_runs"
    __table_args__ = (sa.Index("ix_job_runs_job_outcome", "job_id", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.String(64))
    outcome: Mapped[RunOutcome] = mapped_column(enum_type(RunOutcome, "run_outcome"))
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runner: Mapped[str | None] = mapped_column(sa.String(120))
    summary: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)

    requested_by: Mapped[User | None] = relationship()

    @property
    def duration(self) -> float | None:
        """Seconds the run took, once finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
