"""Pages of rendered reports: "preparing…" while a report renders, then its download.

Reports are addressed by their random token, and each page asks again whether the
person may read the report: its audience must be theirs and its subject visible to them.

The "preparing…" page asks for its status fragment every two seconds with htmx (a read
that never commits); once the report is ready the fragment brings the download link and
the page starts the download itself (``static/reports.js``). Without JavaScript a meta
refresh inside ``<noscript>`` reloads the page instead, which then offers the link. The
page links back to the report's subject (the rollout's board, the session), whose page
each domain registers (``register_report_origin``): the shell imports no domain.
"""

import re
from typing import NamedTuple

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


class Origin(NamedTuple):
    """The page a report is asked from: its address and what people call it."""

    url: str
    name: str


# kind of report -> (endpoint, name of its id argument, what people call the page).
REPORT_ORIGINS: dict[str, tuple[str, str, str]] = {}


def register_report_origin(kind: str, endpoint: str, argument: str, name: str) -> None:
    """Say which page reports of ``kind`` come from — ``url_for(endpoint, argument=subject)``,
    called ``name`` ("the rollout") — for their pages' way back."""
    REPORT_ORIGINS[kind] = (endpoint, argument, name)


def origin_of(report: ReportFile) -> Origin | None:
    """The page of the report's subject, where its "preparing…" page leads back to."""
    if report.kind not in REPORT_ORIGINS:
        return None
    endpoint, argument, name = REPORT_ORIGINS[report.kind]
    return Origin(url_for(endpoint, **{argument: report.subject_id}), name)


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
    """A report being prepared (the page polls its status), ready, or failed."""
    report = readable_report(token)
    return render_template("reports/status.html", report=report, back=origin_of(report))


@bp.get("/reports/<token>/status")
@login_required
def progress(token: str):
    """The status fragment the "preparing…" page polls: still preparing (and polling on),
    ready with the download the page then starts, or failed. A read: it never commits."""
    report = readable_report(token)
    return render_template(
        "reports/_status.html", report=report, back=origin_of(report), polled=True
    )


@bp.get("/reports/<token>/download")
@login_required
def download(token: str):
    """A ready report's PDF."""
    report = readable_report(token)
    if report.status != RenderStatus.READY:
        return render_template("reports/status.html", report=report, back=origin_of(report)), 409
    return send_pdf(report.pdf, report.filename, sha256=report.sha256)
