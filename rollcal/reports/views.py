"""Pages of rendered reports: "preparing…" while a report renders, then its download.

Reports are addressed by their random token, and each page asks again whether the
person may read the report: its audience must be theirs and its subject visible to them.
"""

import re

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.permissions import may_read_report
from rollcal.reports.pdf import send_pdf
from rollcal.reports.queue import RenderStatus, ReportFile

bp = Blueprint("reports", __name__)
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,32}")


def readable_report(token: str) -> ReportFile:
    """A report the signed-in person may read, or ``NotFound``."""
    # Anything that cannot be a token is not looked up (a NUL byte would upset PostgreSQL).
    if not TOKEN.fullmatch(token):
        raise NotFound("Report was not found.")
    report = db.session.scalar(sa.select(ReportFile).where(ReportFile.token == token))
    if report is None or not may_read_report(current_user, report):
        raise NotFound("Report was not found.")
    return report


def answer_report(report: ReportFile):
    """Download a ready report, or send the person to its "preparing…" or failed page."""
    if report.status == RenderStatus.READY:
        return send_pdf(report.pdf, report.filename, sha256=report.sha256)
    return redirect(url_for("reports.status", token=report.token))


@bp.get("/reports/<token>")
@login_required
def status(token: str):
    """A report being prepared (the page checks again by itself), ready, or failed."""
    return render_template("reports/status.html", report=readable_report(token))


@bp.get("/reports/<token>/download")
@login_required
def download(token: str):
    """A ready report's PDF."""
    report = readable_report(token)
    if report.status != RenderStatus.READY:
        return render_template("reports/status.html", report=report), 409
    return send_pdf(report.pdf, report.filename, sha256=report.sha256)
