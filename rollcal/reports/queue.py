"""Reports as claimed work: a web request only asks for a report; workers render it.

A request stores what the report is made of (its HTML, attachments and audience) as a
``ReportFile`` row, keyed by a hash of that content, and answers at once: the PDF if it
is ready, "preparing…" otherwise. Rendering happens in the scheduler process (one render
at a time; this is what serves the demo) and in any number of ``rollcal worker``
processes on any node.

Why a queue in the database rather than a queue library: the rows already are the cache
and the record of what each audience may read, PostgreSQL's ``FOR UPDATE SKIP LOCKED``
gives several workers one row each without a broker to run, and the same code serves the
single-process SQLite demo, where a broker would be one more thing to start.

Claiming: a worker locks the oldest report still to render whose lease has run out (or
that nobody holds), skipping rows another worker has locked, writes its name and a lease
on it and commits; it renders outside any transaction, in a child process with a time
limit shorter than the lease, and stores the PDF only if it still holds the claim. A
worker that dies mid-render leaves a lease that runs out; the next worker to look takes
the report over. After ``MAX_ATTEMPTS`` claims a report is marked failed, so a document
that kills its renderer cannot take every worker down in turn.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import click
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, mapped_column, undefer

from rollcal import uow
from rollcal.extensions import db
from rollcal.reports.pdf import PdfAttachment, ReportSource, render_pdf_in_child
from rollcal.types import UTCDateTime, enum_type, utcnow

log = logging.getLogger("rollcal.reports")

# A render that takes longer is stopped and the report marked failed.
RENDER_TIMEOUT = timedelta(minutes=5)
# Longer than any render may take, so a live worker never loses its claim; a dead
# worker's report is taken over this long after it was claimed.
LEASE = RENDER_TIMEOUT + timedelta(minutes=1)
MAX_ATTEMPTS = 3
# How often an idle worker looks for reports to render.
POLL_SECONDS = 1.0
EXTENSION = "rollcal.report_worker"


class RenderStatus(StrEnum):
    """Where a report is: waiting for or being rendered, ready, or failed."""

    PREPARING = "preparing"
    READY = "ready"
    FAILED = "failed"


def new_token() -> str:
    """A report's public id: random, so one report's address tells nothing of another's."""
    return secrets.token_urlsafe(16)


class ReportFile(db.Model):
    """One report: what it is made of, who it is for, and once rendered its PDF.

    ``content_key`` (a hash of the content) makes each distinct report one row, rendered
    once. ``audience`` is who the copy is for, ``"all"`` or ``"vendor:<id>"`` (a QA
    lead's vendor-scoped copy); every page that shows the report checks it and the
    reader's right to see its subject again. ``frozen`` reports (the copies people sign)
    are kept for ever; the others are a cache, pruned after a retention period.
    """

    __tablename__ = "report_files"
    __table_args__ = (sa.Index("ix_report_files_status_lease", "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_token)
    kind: Mapped[str] = mapped_column(sa.String(32))
    subject_id: Mapped[int] = mapped_column()
    audience: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(300))
    content_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[RenderStatus] = mapped_column(enum_type(RenderStatus, "render_status"))
    frozen: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # What to render; dropped once the PDF is stored.
    html: Mapped[str | None] = mapped_column(sa.Text, deferred=True)
    attachments: Mapped[list | None] = mapped_column(sa.JSON, deferred=True)
    pdf_variant: Mapped[str | None] = mapped_column(sa.String(16))
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(sa.String(160))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def filename(self) -> str:
        """A file name for downloads."""
        return f"rollcal-{self.kind}-{self.subject_id}-{(self.sha256 or '')[:8]}.pdf"


def _stored_attachments(attachments: tuple[PdfAttachment, ...]) -> list[dict]:
    return [
        {
            "name": item.name,
            "description": item.description,
            "content": base64.b64encode(item.content).decode(),
        }
        for item in attachments
    ]


def _loaded_attachments(stored: list | None) -> tuple[PdfAttachment, ...]:
    return tuple(
        PdfAttachment(item["name"], base64.b64decode(item["content"]), item["description"])
        for item in stored or ()
    )


def _queue(report: ReportFile, source: ReportSource) -> None:
    report.status, report.error = RenderStatus.PREPARING, None
    report.html = source.html
    report.attachments = _stored_attachments(source.attachments)
    report.pdf_variant = source.pdf_variant
    report.attempts, report.claimed_by, report.lease_expires_at = 0, None, None


def request_report(source: ReportSource, *, frozen: bool = False) -> ReportFile:
    """The report of this content: the stored one, or a new one queued for the workers.

    A failed report is queued again (asking again is trying again). ``frozen`` marks the
    report as a copy to keep for ever. Flushes; the caller's unit of work commits, after
    which a worker picks the report up.
    """
    key = source.content_key
    report = db.session.scalar(sa.select(ReportFile).where(ReportFile.content_key == key))
    if report is None:
        report = ReportFile(
            kind=source.kind,
            subject_id=source.subject_id,
            audience=source.audience,
            title=source.title[:300],
            content_key=key,
        )
        _queue(report, source)
        try:
            with db.session.begin_nested():
                db.session.add(report)
        except sa.exc.IntegrityError:
            # The same content asked for at the same moment by someone else: theirs it is.
            report = db.session.scalar(sa.select(ReportFile).where(ReportFile.content_key == key))
    elif report.status == RenderStatus.FAILED:
        _queue(report, source)
    if frozen:
        report.frozen = True
    db.session.flush()
    return report


# Rendering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A report a worker holds: its id, the mark of this claim (the worker's name) and what
    to render."""

    report_id: int
    worker: str
    source: ReportSource


def worker_name() -> str:
    """Which worker this is: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:160]


def claim_next(now: datetime | None = None) -> Claim | None:
    """Claim the oldest report waiting to be rendered, or one whose worker's lease has run
    out; commit the claim. ``None`` when there is nothing to render."""
    now = now or utcnow()
    while True:
        report = db.session.scalars(
            sa.select(ReportFile)
            .where(
                ReportFile.status == RenderStatus.PREPARING,
                sa.or_(ReportFile.lease_expires_at.is_(None), ReportFile.lease_expires_at < now),
            )
            .order_by(ReportFile.id)
            .limit(1)
            # Each worker gets a row of its own; SQLite ignores this, and its BEGIN
            # IMMEDIATE already makes each claim transaction the only writer.
            .with_for_update(skip_locked=True)
            .options(undefer(ReportFile.html), undefer(ReportFile.attachments))
        ).first()
        if report is None:
            uow.commit()
            return None
        if report.attempts >= MAX_ATTEMPTS:
            report.status, report.finished_at = RenderStatus.FAILED, now
            report.error = f"rendering stopped {report.attempts} times without finishing"
            report.claimed_by = report.lease_expires_at = None
            log.error("Report %s failed: %s", report.id, report.error)
            uow.commit()
            continue
        if report.claimed_by is not None:
            log.warning("Report %s: taking over from %s", report.id, report.claimed_by)
        # The claim's own mark, so a worker that lost its lease cannot store over the
        # worker that took the report over, even in the same thread.
        name = f"{worker_name()}#{secrets.token_hex(4)}"
        report.attempts += 1
        report.claimed_by, report.lease_expires_at, report.started_at = name, now + LEASE, now
        claim = Claim(
            report.id,
            name,
            ReportSource(
                kind=report.kind,
                subject_id=report.subject_id,
                title=report.title,
                html=report.html or "",
                audience=report.audience,
                attachments=_loaded_attachments(report.attachments),
                pdf_variant=report.pdf_variant,
            ),
        )
        uow.commit()
        return claim


def render_claimed(claim: Claim, static_folder: str) -> bool:
    """Render a claimed report outside any transaction and store the outcome if the claim
    still holds; whether it was stored."""
    try:
        pdf = render_pdf_in_child(
            claim.source.final_html(utcnow()),
            static_folder,
            attachments=claim.source.attachments,
            pdf_variant=claim.source.pdf_variant,
            timeout=RENDER_TIMEOUT.total_seconds(),
        )
    except Exception as error:
        log.exception("Report %s failed", claim.report_id)
        values = {"status": RenderStatus.FAILED, "error": str(error)}
    else:
        values = {
            "status": RenderStatus.READY,
            "pdf": pdf,
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "html": None,
            "attachments": None,
        }
    stored = db.session.execute(
        sa.update(ReportFile)
        .where(
            ReportFile.id == claim.report_id,
            ReportFile.claimed_by == claim.worker,
            ReportFile.status == RenderStatus.PREPARING,
        )
        .values(finished_at=utcnow(), claimed_by=None, lease_expires_at=None, **values)
    ).rowcount
    uow.commit()
    if not stored:
        log.warning(
            "Report %s was taken over by another worker; dropped this render", claim.report_id
        )
    return bool(stored)


def render_one(app: Flask, now: datetime | None = None) -> bool:
    """Claim and render one report in app contexts of its own; whether there was one."""
    with app.app_context():
        claim = claim_next(now)
    if claim is None:
        return False
    with app.app_context():
        render_claimed(claim, app.static_folder)
    return True


def render_queued(app: Flask, now: datetime | None = None) -> int:
    """Render reports in this thread until none is waiting; how many were rendered.

    ``now`` is the time leases are judged by (the current time unless given).
    """
    rendered = 0
    while render_one(app, now):
        rendered += 1
    return rendered


class RenderWorker:
    """Threads that each claim and render one report at a time: at most ``renders``
    reports of this process render at once."""

    def __init__(self, app: Flask, renders: int = 1):
        self.app = app
        self.renders = renders
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the render threads."""
        for number in range(self.renders):
            thread = threading.Thread(target=self._loop, name=f"render-{number + 1}", daemon=True)
            thread.start()
            self.threads.append(thread)
        log.info("Rendering reports on %s, %d at a time", socket.gethostname(), self.renders)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                rendered = render_one(self.app)
            except Exception:
                # A lost database connection, say: log it and look again shortly.
                log.exception("Looking for reports to render failed")
                rendered = False
            if not rendered:
                self.stopping.wait(POLL_SECONDS)

    def stop(self) -> None:
        """Stop looking for reports; wait for the renders under way to finish."""
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.threads.clear()


def start_in_process(app: Flask) -> RenderWorker:
    """Render reports in background threads of this process (the scheduler's), once."""
    worker = app.extensions.get(EXTENSION)
    if worker is None:
        worker = app.extensions[EXTENSION] = RenderWorker(app, renders=1)
        worker.start()
    return worker


def stop_in_process(app: Flask) -> None:
    """Stop this process's render threads, letting renders under way finish."""
    worker = app.extensions.pop(EXTENSION, None)
    if worker is not None:
        worker.stop()


# Retention ------------------------------------------------------------------------------


def prune_reports() -> str:
    """Forget rendered reports older than the retention period; never frozen ones (the
    ``report_retention`` job)."""
    days = current_app.config["ROLLCAL_REPORT_RETENTION_DAYS"]
    result = db.session.execute(
        sa.delete(ReportFile).where(
            ReportFile.frozen.is_(False),
            ReportFile.status != RenderStatus.PREPARING,
            ReportFile.created_at < utcnow() - timedelta(days=days),
        )
    )
    uow.commit()
    return f"removed {result.rowcount} reports older than {days} days"


# The command ----------------------------------------------------------------------------


@click.command("worker")
@click.option(
    "--renders",
    default=2,
    show_default=True,
    type=click.IntRange(1, 32),
    help="How many reports this process renders at once.",
)
def worker_command(renders: int) -> None:
    """Render reports until SIGINT or SIGTERM (run as many as you like, on any node)."""
    from rollcal.jobs.scheduler import configure_logging

    app = current_app._get_current_object()
    configure_logging()
    if db.engine.dialect.name == "sqlite":
        click.echo("SQLite database: workers must run on the database's own machine.", err=True)
    stopping = threading.Event()

    def on_signal(number, _frame):
        log.info("Worker received %s; finishing the renders under way", signal.Signals(number).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    worker = RenderWorker(app, renders=renders)
    worker.start()
    click.echo(f"rollcal worker rendering up to {renders} reports at once; stop with SIGTERM.")
    while not stopping.is_set():
        stopping.wait(1)
    worker.stop()
