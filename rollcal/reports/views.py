"""Pages of rendered reports: "preparing…" while a report renders, then its download."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.reports.pdf import RenderStatus, ReportFile, audience_of, send_pdf

bp = Blueprint("reports", __name__)


def _readable_report(report_id: int) -> ReportFile:
    """A report rendered for the person's audience (their vendor's copy, or the full one)."""
    report = db.session.get(ReportFile, report_id)
    if report is None or report.audience != audience_of(current_user):
        raise NotFound("Report was not found.")
    return report


@bp.get("/reports/<int:report_id>")
@login_required
def status(report_id: int):
    """A report being prepared (the page refreshes itself), ready, or failed."""
    return render_template("reports/status.html", report=_readable_report(report_id))


@bp.get("/reports/<int:report_id>/download")
@login_required
def download(report_id: int):
    """A ready report's PDF."""
    report = _readable_report(report_id)
    if report.status != RenderStatus.READY:
        return render_template("reports/status.html", report=report), 409
    return send_pdf(report.pdf, report.filename, sha256=report.sha256)
