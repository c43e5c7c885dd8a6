"""The calibration report of a session: context for its PDF template, and its source.

It reads the stored snapshot, as the results page does, scoped to the reader; nothing is
recomputed here.
"""

from __future__ import annotations

import io

from flask import render_template

from calibration import model_queries, queries
from calibration.charts import vendor_chart
from calibration.models import CalibrationSession, Case, Flag, ModelEvaluation
from rollcal import permissions
from rollcal.accounts.models import User
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.permissions import report_audience
from rollcal.reports.charts import band
from rollcal.reports.downloads import SafeCSVWriter
from rollcal.reports.pdf import PdfAttachment, ReportSource
from rollcal.timefmt import format_on_document, zone_label
from rollcal.types import utcnow

CONTESTED_IN_REPORT = 15
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _raters_csv(report: dict) -> bytes:
    out = io.StringIO()
    writer = SafeCSVWriter(out)
    writer.writerow(
        [
            "rater",
            "vendor",
            "site",
            "cases",
            "agreement",
            "accuracy",
            "kappa_vs_golden",
            "alpha_without",
            "loo_delta",
        ]
    )
    for rater in report["raters"]:
        writer.writerow(
            [
                rater["rater"],
                rater["group"],
                rater["site"],
                rater["n"],
                rater["agreement"],
                rater["accuracy"],
                rater["kappa_vs_golden"],
                rater["alpha_without"],
                rater["loo_delta"],
            ]
        )
    return out.getvalue().encode()


def calibration_source(session: CalibrationSession, reader: User | None) -> ReportSource:
    """The calibration report of ``session`` as ``reader`` may see it (None: everything).

    A reader who may not see the results yet gets ``NotFound``, as on every other face.
    Times are written in the reader's zone (UTC for the whole report without a reader),
    and the report says which zone it is in; each zone's copy has its own content key.
    """
    zone = (reader.timezone if reader is not None else None) or "UTC"
    if reader is not None and not permissions.may_see_results(reader, session):
        raise NotFound("The results of this session are not available to you yet.")
    snapshot = queries.latest_snapshot(session)
    # The stored summary holds every figure the report shows, the most contested cases
    # included: the full report (over a megabyte at thousands of cases) stays unread.
    report = None
    if snapshot is not None:
        report = (
            queries.scoped_summary(reader, snapshot)
            if reader is not None
            else queries.stored_summary(snapshot)
        )
    flags_query = queries.visible_flags(reader) if reader is not None else db.select(Flag)
    flags = sorted(
        db.session.scalars(flags_query.where(Flag.session_id == session.id)).all(),
        key=lambda flag: (SEVERITY_ORDER.get(flag.severity.value, 3), flag.id),
    )
    chart = None
    contested = []
    references = {}
    if report is not None:
        chart = vendor_chart(report, session.alpha_threshold)
        contested = report["contested"][:CONTESTED_IN_REPORT]
        references = dict(
            db.session.execute(
                db.select(Case.reference, Case.content_text).where(
                    Case.session_id == session.id,
                    Case.reference.in_([item["item"] for item in contested]),
                )
            ).all()
        )
    if reader is None:
        model_evaluations = list(
            db.session.scalars(
                db.select(ModelEvaluation)
                .where(ModelEvaluation.session_id == session.id)
                .order_by(ModelEvaluation.id)
            )
        )
    else:
        # A vendor's copy has no model section: the human band names every vendor's raters.
        model_evaluations = model_queries.session_model_evaluations(reader, session)
    html = render_template(
        "reports/calibration.html",
        model_evaluations=model_evaluations,
        session=session,
        snapshot=snapshot,
        report=report,
        flags=flags,
        vendor_chart=chart,
        contested=contested,
        contents=references,
        band=band,
        generated_at=ReportSource.generated_marker(zone),
        moment=lambda value: format_on_document(value, zone),
        zone_statement=f"{zone_label(zone, utcnow())} ({zone})" if zone != "UTC" else "UTC",
        scope_note=(
            f"This copy shows {reader.vendor.name}'s raters only."
            if reader is not None and reader.vendor is not None
            else None
        ),
    )
    attachments = ()
    if report is not None:
        attachments = (
            PdfAttachment("raters.csv", _raters_csv(report), "Per-rater figures of this session"),
        )
    return ReportSource(
        kind="calibration",
        subject_id=session.id,
        title=f"Calibration report — {session.title}",
        html=html,
        audience=report_audience(reader),
        attachments=attachments,
    )


def calibration_report_of(session_id: int) -> ReportSource | None:
    """The calibration report of a session (every vendor), as ``rollcal report
    calibration`` writes it; None for an unknown id."""
    session = db.session.get(CalibrationSession, session_id)
    return None if session is None else calibration_source(session, None)


def may_read_calibration(user: User, session_id: int) -> bool:
    """Whether the person may read calibration reports of this session: they see the
    session and, now, its results (POMs once closed, everyone else once revealed)."""
    session = db.session.scalar(
        queries.visible_sessions(user).where(CalibrationSession.id == session_id)
    )
    return session is not None and permissions.may_see_results(user, session)
