"""The readiness report of a rollout: the context its PDF template needs, and its source.

The report is the document stakeholders sign, so it is built from the same board and
readiness rule the pages show, scoped to what its reader may see.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import render_template

from calibration import queries as calibration_queries
from calibration.models import CalibrationSession, Flag, SessionStatus
from rollcal import permissions
from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.permissions import report_audience
from rollcal.reports.charts import AlphaBar, alpha_chart, band
from rollcal.reports.downloads import SafeCSVWriter
from rollcal.reports.pdf import PdfAttachment, ReportSource
from rollcal.timefmt import format_day, format_on_document, zone_label
from rollcal.types import utcnow
from rollout.models import (
    Category,
    ChecklistItem,
    Decision,
    Rollout,
    SignOffRequest,
    SignOffStatus,
)
from rollout.queries import Board, SiteRow, build_board, visible_rollouts

CATEGORY_TITLES = {
    "documentation": "Documentation",
    "training": "Training",
    "testing": "Testing",
    "capacity": "Capacity",
    "reporting": "Reporting",
    "go_live": "Go-live",
}
# Above this many sites the per-site chart would run over pages; the table carries it.
SITE_CHART_LIMIT = 30


@dataclass
class CategoryCell:
    """One site's state in one category of steps, in a word."""

    word: str
    css: str


@dataclass
class VendorAttention:
    """What needs attention at one vendor; empty lists mean all done."""

    vendor: str
    sites: int
    # Grouped by step so a vendor of forty sites takes a few lines, not a few pages.
    blocked_by_step: dict[str, list[str]] = field(default_factory=dict)
    overdue_by_step: dict[str, list[str]] = field(default_factory=dict)
    open_by_step: dict[str, list[str]] = field(default_factory=dict)
    # Required steps the vendor marked not applicable, awaiting a POM's approval.
    awaiting_by_step: dict[str, list[str]] = field(default_factory=dict)
    overrides: list[SiteRow] = field(default_factory=list)

    @property
    def all_done(self) -> bool:
        """Nothing open, overdue, blocked or overridden."""
        return not (
            self.blocked_by_step
            or self.overdue_by_step
            or self.open_by_step
            or self.awaiting_by_step
            or self.overrides
        )


def _category_cell(items: list[ChecklistItem], today: date, gate_state: str) -> CategoryCell:
    required = [item for item in items if item.required]
    if not required:
        return CategoryCell("—", "none")
    if any(item.gate for item in required):
        manual = [item for item in required if not item.gate]
        if gate_state != "pass":
            return CategoryCell(f"gate {gate_state}", "bad" if gate_state == "fail" else "muted")
        required = manual or required
        if not manual:
            return CategoryCell("done", "ok")
    if any(item.status.value == "blocked" for item in required):
        return CategoryCell("blocked", "bad")
    open_items = [item for item in required if not item.is_closed]
    if not open_items:
        return CategoryCell("done", "ok")
    if any(item.due_date < today for item in open_items):
        return CategoryCell("overdue", "bad")
    return CategoryCell(f"{len(required) - len(open_items)}/{len(required)}", "muted")


def _matrix(board: Board, today: date) -> list[tuple[SiteRow, list[CategoryCell]]]:
    rows = []
    for row in board.rows:
        by_category: dict[str, list[ChecklistItem]] = defaultdict(list)
        for cell in row.cells:
            if cell is not None:
                by_category[cell.category.value].append(cell)
        rows.append(
            (
                row,
                [
                    _category_cell(by_category[c.value], today, row.gate.state.value)
                    for c in Category
                ],
            )
        )
    return rows


def _attention(board: Board, today: date) -> list[VendorAttention]:
    vendors: dict[str, VendorAttention] = {}
    for row in board.rows:
        vendor = vendors.setdefault(row.site.vendor.name, VendorAttention(row.site.vendor.name, 0))
        vendor.sites += 1
        if row.readiness.overridden:
            vendor.overrides.append(row)
        for cell in row.cells:
            if cell is None or cell.gate or not cell.required or cell.is_closed:
                continue
            if cell.status.value == "blocked":
                reason = f" ({cell.status_reason})" if cell.status_reason else ""
                vendor.blocked_by_step.setdefault(cell.title, []).append(row.site.name + reason)
            elif cell.na_requested:
                vendor.awaiting_by_step.setdefault(cell.title, []).append(row.site.name)
            elif cell.due_date < today:
                step = f"{cell.title}, due {cell.due_date:%d %b}"
                vendor.overdue_by_step.setdefault(step, []).append(row.site.name)
            else:
                vendor.open_by_step.setdefault(cell.title, []).append(row.site.name)
    return sorted(vendors.values(), key=lambda vendor: vendor.vendor)


@dataclass
class Calibration:
    """The rollout's latest revealed calibration session, as the reader may see it."""

    session: CalibrationSession | None
    report: dict | None = None
    flags: list[Flag] = field(default_factory=list)
    vendor_chart: str | None = None
    site_chart: str | None = None


def _calibration(rollout: Rollout, reader: User | None) -> Calibration:
    session = db.session.scalar(
        sa.select(CalibrationSession)
        .where(
            CalibrationSession.rollout_id == rollout.id,
            CalibrationSession.status == SessionStatus.REVEALED,
        )
        .order_by(CalibrationSession.revealed_at.desc(), CalibrationSession.id.desc())
        .limit(1)
    )
    if session is None:
        return Calibration(None)
    snapshot = calibration_queries.latest_snapshot(session)
    # The stored summary holds every figure the report shows: the full report (over a
    # megabyte at thousands of cases) stays unread.
    report = None
    if snapshot is not None:
        report = (
            calibration_queries.scoped_summary(reader, snapshot)
            if reader is not None
            else calibration_queries.stored_summary(snapshot)
        )
    if report is None:
        return Calibration(session)
    flags_query = (
        calibration_queries.visible_flags(reader) if reader is not None else sa.select(Flag)
    )
    severity_order = {"high": 0, "medium": 1, "low": 2}
    flags = sorted(
        db.session.scalars(flags_query.where(Flag.session_id == session.id)).all(),
        key=lambda flag: (severity_order.get(flag.severity.value, 3), flag.id),
    )

    def bars(rows: list[dict], key: str) -> list[AlphaBar]:
        return [AlphaBar.of(row, row[key]) for row in rows]

    threshold = rollout.alpha_threshold
    vendor_chart = (
        alpha_chart(bars(report["groups"], "group"), title="Alpha by vendor", threshold=threshold)
        if report["groups"]
        else None
    )
    site_chart = None
    if report["sites"] and len(report["sites"]) <= SITE_CHART_LIMIT:
        site_chart = alpha_chart(
            bars(report["sites"], "site"), title="Alpha by site", threshold=threshold
        )
    return Calibration(session, report, flags, vendor_chart, site_chart)


def calibration_csv(calibration: Calibration) -> bytes:
    """The calibration figures behind the report, one row per vendor and per site."""
    out = io.StringIO()
    writer = SafeCSVWriter(out)
    writer.writerow(
        [
            "level",
            "name",
            "raters",
            "cases",
            "alpha",
            "alpha_ci_low",
            "alpha_ci_high",
            "percent_agreement",
            "accuracy",
            "majority_deviation",
        ]
    )
    if calibration.report:
        for level, key in (("vendor", "group"), ("site", "site")):
            for row in calibration.report[f"{key}s"]:
                low, high = row.get("alpha_ci") or (None, None)
                writer.writerow(
                    [
                        level,
                        row[key],
                        row["n_raters"],
                        row["n_items"],
                        row["alpha"],
                        low,
                        high,
                        row["percent_agreement"],
                        row["accuracy"],
                        row["majority_deviation"],
                    ]
                )
    return out.getvalue().encode()


def signoff_state(
    latest: SignOffRequest | None,
    signed: SignOffRequest | None,
    *,
    frozen: bool,
    day: Callable[[datetime | None], str],
) -> str:
    """Where sign-off stands, in a line the report's footer and cover show.

    A frozen copy is the document stakeholders decide on; its bytes never change, so it
    says what it is rather than a state its decisions will overtake.
    """
    if frozen and latest is not None:
        return (
            f"Copy for sign-off, requested {day(latest.requested_at)}; "
            "its decisions are recorded in rollcal"
        )
    if signed is not None:
        sha = signed.report_sha256
        return f"Signed off {day(signed.decided_at)} · signed version SHA-256 {sha}"
    if latest is None:
        return "Not submitted for sign-off"
    if latest.status == SignOffStatus.REJECTED:
        by = [s.stakeholder.name for s in latest.sign_offs if s.decision == Decision.REJECT]
        return f"Sign-off rejected {day(latest.decided_at)}" + (
            f" by {', '.join(by)}" if by else ""
        )
    return f"Sign-off requested {day(latest.requested_at)}, awaiting decisions"


def readiness_source(
    rollout: Rollout,
    reader: User | None,
    today: date,
    *,
    zone: str | None = None,
    frozen: bool = False,
) -> ReportSource:
    """The readiness report of ``rollout`` as ``reader`` may see it (None: everything).

    Times are written in ``zone``: by default the reader's, UTC for the whole report
    without a reader. A ``frozen`` report is the copy a sign-off request freezes.
    """
    zone = zone or (reader.timezone if reader is not None else None) or "UTC"

    def moment(value: datetime | None) -> str:
        return format_on_document(value, zone)

    def day(value: datetime | None) -> str:
        return format_day(value, zone)

    board = build_board(reader, rollout, today)
    calibration = _calibration(rollout, reader)
    requests = db.session.scalars(
        sa.select(SignOffRequest)
        .where(SignOffRequest.rollout_id == rollout.id)
        .order_by(SignOffRequest.requested_at.desc())
    ).all()
    latest_request = requests[0] if requests else None
    signed = next((r for r in requests if r.status == SignOffStatus.APPROVED), None)
    risks = [row for row in board.rows if row.readiness.state.value in ("blocked", "at_risk")]
    scope_note = None
    if reader is not None and permissions.bound_to_vendor(reader):
        scope_note = f"This copy shows {reader.vendor.name}'s sites only."
    html = render_template(
        "reports/readiness.html",
        rollout=rollout,
        board=board,
        today=today,
        matrix=_matrix(board, today),
        categories=[CATEGORY_TITLES[c.value] for c in Category],
        attention=_attention(board, today),
        calibration=calibration,
        risks=risks,
        latest_request=latest_request,
        signed=signed,
        signoff_state=signoff_state(latest_request, signed, frozen=frozen, day=day),
        moment=moment,
        day=day,
        local=format_on_document,
        zone_statement=f"{zone_label(zone, utcnow())} ({zone})" if zone != "UTC" else "UTC",
        generated_at=ReportSource.generated_marker(zone),
        scope_note=scope_note,
        band=band,
    )
    return ReportSource(
        kind="readiness",
        subject_id=rollout.id,
        title=f"Readiness report — {rollout.title}",
        html=html,
        audience=report_audience(reader),
        attachments=(
            PdfAttachment(
                "calibration.csv",
                calibration_csv(calibration),
                "Calibration figures per vendor and per site",
            ),
        ),
        pdf_variant="pdf/a-3b",
    )


def readiness_report_of(rollout_id: int) -> ReportSource | None:
    """The readiness report of a rollout (every site), as ``rollcal report readiness``
    writes it; None for an unknown id."""
    rollout = db.session.get(Rollout, rollout_id)
    return None if rollout is None else readiness_source(rollout, None, utcnow().date())


def may_read_readiness(user: User, rollout_id: int) -> bool:
    """Whether the person may read readiness reports of this rollout: they may see it."""
    visible = visible_rollouts(user).where(Rollout.id == rollout_id)
    return db.session.scalar(visible.with_only_columns(Rollout.id)) is not None
