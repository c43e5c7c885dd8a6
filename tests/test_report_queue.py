"""The report queue: claims, leases, takeover, retention — as workers drive it."""

import io
from datetime import timedelta

import sqlalchemy as sa
from pypdf import PdfReader

from rollcal.jobs import scheduler
from rollcal.reports.pdf import PdfAttachment, ReportSource
from rollcal.reports.queue import (
    LEASE,
    MAX_ATTEMPTS,
    RenderStatus,
    ReportFile,
    claim_next,
    render_claimed,
    request_report,
)
from rollcal.types import utcnow


def source(text: str = "Hello", **details) -> ReportSource:
    return ReportSource(
        kind="readiness",
        subject_id=1,
        title="A report",
        html=f"<html><body><p>{text}</p><p>{ReportSource.GENERATED_MARKER}</p></body></html>",
        **details,
    )


def queued(db, text: str = "Hello", **details) -> ReportFile:
    report = request_report(source(text, **details))
    db.session.commit()
    return report


def test_a_worker_renders_a_queued_report_with_its_attachments(app, db, render_reports):
    report = queued(db, attachments=(PdfAttachment("data.csv", b"a,b\n1,2\n", "figures"),))
    assert report.status == RenderStatus.PREPARING
    assert render_reports() == 1
    db.session.expire_all()
    assert report.status == RenderStatus.READY and report.pdf.startswith(b"%PDF-")
    assert report.html is None and report.attachments is None  # dropped once rendered
    assert "data.csv" in PdfReader(io.BytesIO(report.pdf)).attachments


def test_a_report_whose_worker_stopped_is_taken_over_when_its_lease_runs_out(
    app, db, render_reports
):
    report = queued(db)
    abandoned = claim_next()  # a worker claims the report, then dies
    assert abandoned.report_id == report.id
    assert render_reports() == 0  # its lease still holds
    assert render_reports(utcnow() + LEASE + timedelta(seconds=1)) == 1
    db.session.expire_all()
    assert report.status == RenderStatus.READY and report.attempts == 2


def test_a_render_whose_claim_was_taken_over_is_not_stored(app, db):
    report = queued(db)
    slow = claim_next()
    taking_over = claim_next(utcnow() + LEASE + timedelta(seconds=1))
    assert taking_over.report_id == slow.report_id == report.id
    assert render_claimed(slow, app.static_folder) is False
    assert render_claimed(taking_over, app.static_folder) is True
    db.session.expire_all()
    assert report.status == RenderStatus.READY and report.claimed_by is None


def test_a_report_that_keeps_stopping_its_workers_is_marked_failed(app, db):
    report = queued(db)
    later = utcnow()
    for _ in range(MAX_ATTEMPTS):
        assert claim_next(later) is not None
        later += LEASE + timedelta(seconds=1)
    assert claim_next(later) is None
    db.session.expire_all()
    assert report.status == RenderStatus.FAILED
    assert f"stopped {MAX_ATTEMPTS} times" in report.error


def test_old_reports_are_pruned_but_frozen_and_waiting_ones_are_kept(
    app, db, render_reports, time_machine
):
    time_machine.move_to(utcnow() - timedelta(days=40), tick=False)
    old = queued(db, "old").id
    frozen = request_report(source("frozen"), frozen=True).id
    db.session.commit()
    render_reports()
    waiting = queued(db, "waiting").id
    time_machine.move_to(utcnow() + timedelta(days=40), tick=False)
    recent = queued(db, "recent").id
    assert claim_next().report_id == waiting  # a worker is rendering it right now
    assert render_reports() == 1
    scheduler.run_job(app, "report_retention")
    kept = set(db.session.scalars(sa.select(ReportFile.id)))
    assert kept == {frozen, waiting, recent}
    assert old not in kept
