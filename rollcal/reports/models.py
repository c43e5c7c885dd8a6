"""The cache of rendered reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rollcal.extensions import db
from rollcal.types import UTCDateTime, enum_type, utcnow


class RenderStatus(StrEnum):
    """Where a cached report is."""

    PREPARING = "preparing"
    READY = "ready"
    FAILED = "failed"


class ReportFile(db.Model):
    """One rendered report, keyed by a hash of its content so it is rendered once."""

    __tablename__ = "report_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    subject_id: Mapped[int] = mapped_column()
    # Who the copy is for: "all", or "vendor:<id>" for a QA lead's vendor-scoped copy.
    audience: Mapped[str] = mapped_column(sa.String(32), default="all")
    title: Mapped[str] = mapped_column(sa.String(300))
    content_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[RenderStatus] = mapped_column(enum_type(RenderStatus, "render_status"))
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def filename(self) -> str:
        """A file name for downloads."""
        return f"rollcal-{self.kind}-{self.subject_id}-{(self.sha256 or '')[:8]}.pdf"
