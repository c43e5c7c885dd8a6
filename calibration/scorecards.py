"""Scorecards: a vendor's or site's alpha and accuracy across revealed sessions.

Read from :class:`QualityPoint` rows (one per vendor and site per revealed session), so
each page costs a fixed number of statements however long the history. Only revealed
sessions have points, so nothing here can show a result before its reveal; QA leads see
their own vendor's rows only (``vendor_scope``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import sqlalchemy as sa

from calibration import drift
from calibration.models import CalibrationSession, Flag, FlagStatus, QualityPoint, SessionStatus
from calibration.quality import DRIFT_KINDS, judge, site_history
from rollcal.errors import ValidationError
from rollcal.extensions import db
from rollcal.inputs import MAX_ID
from rollcal.org.models import Market, Region, Site, Vendor, site_lines_of_business, site_markets
from rollcal.permissions import vendor_scope
from rollcal.reports.charts import TrendLine, trend_chart
from rollcal.timefmt import format_day
from rollcal.types import utcnow

# The default period: the last year, which a monthly business review looks back over.
DEFAULT_PERIOD_DAYS = 365

FILTER_NAMES = ("vendor", "site", "policy", "line", "market", "region", "since", "until")


@dataclass(frozen=True)
class Filters:
    """What a scorecard covers; ``since``/``until`` are days (inclusive) in UTC."""

    vendor: int | None = None
    site: int | None = None
    policy: int | None = None
    line: int | None = None
    market: int | None = None
    region: str | None = None
    since: date | None = None
    until: date | None = None

    def as_args(self, without: str | None = None) -> dict[str, str]:
        """The filters as query arguments (for links that keep them), but ``without``."""
        return {
            name: value.isoformat() if isinstance(value, date) else str(value)
            for name in FILTER_NAMES
            if (value := getattr(self, name)) is not None and name != without
        }


def parse_filters(args: Mapping[str, str], *, today: date | None = None) -> Filters:
    """Filters from query arguments; a ``ValidationError`` names each one that is wrong."""
    errors: dict[str, str] = {}  # field -> message
    values: dict = {}
    for name in ("vendor", "site", "policy", "line", "market"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            errors[name] = f"“{name}” must be the number of a {name}."
        else:
            values[name] = int(raw)
    region = (args.get("region") or "").strip()
    if region:
        if region not in {r.value for r in Region}:
            errors["region"] = "“region” must be one of " + ", ".join(r.value for r in Region) + "."
        else:
            values["region"] = region
    for name in ("since", "until"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            values[name] = date.fromisoformat(raw)
        except ValueError:
            errors[name] = f"“{name}” must be a date such as 2026-06-30."
    if "since" not in values and "since" not in errors:
        values["since"] = (today or utcnow().date()) - timedelta(days=DEFAULT_PERIOD_DAYS)
    if values.get("since") and values.get("until") and values["until"] < values["since"]:
        errors["until"] = "“until” must not be before “since”."
    if errors:
        raise ValidationError(
            " ".join(errors.values()),
            [{"field": name, "message": message} for name, message in errors.items()],
        )
    return Filters(**values)


@dataclass
class Series:
    """One subject's points in time order, with the headline figures of its latest."""

    key: str
    name: str
    vendor_id: int
    site_id: int | None
    points: list = field(default_factory=list)

    @property
    def latest(self):
        return self.points[-1] if self.points else None

    @property
    def previous(self):
        return self.points[-2] if len(self.points) > 1 else None

    def trend(self, figure: str) -> str:
        """ "up", "down" or "flat": the latest session against the one before, when the
        change is larger than both intervals allow (otherwise "flat")."""
        latest, previous = self.latest, self.previous
        if latest is None or previous is None:
            return "flat"
        now, before = getattr(latest, figure), getattr(previous, figure)
        if now is None or before is None:
            return "flat"
        low, high = getattr(latest, f"{figure}_low"), getattr(latest, f"{figure}_high")
        if low is not None and high is not None and low <= before <= high:
            return "flat"
        if abs(now - before) < 0.01:
            return "flat"
        return "up" if now > before else "down"


def _scoped(user, filters: Filters) -> list:
    """WHERE clauses of a points query for the person and filters."""
    clauses = [
        vendor_scope(user, QualityPoint.vendor_id),
        CalibrationSession.status == SessionStatus.REVEALED,
        # Vendor and site rows; market and region rows are for the alignment page.
        QualityPoint.vendor_id.is_not(None),
        QualityPoint.market_id.is_(None),
        QualityPoint.region.is_(None),
    ]
    if filters.vendor is not None:
        clauses.append(QualityPoint.vendor_id == filters.vendor)
    if filters.site is not None:
        clauses.append(QualityPoint.site_id == filters.site)
    if filters.policy is not None:
        clauses.append(QualityPoint.policy_id == filters.policy)
    if filters.since is not None:
        clauses.append(
            QualityPoint.revealed_at >= datetime.combine(filters.since, time.min, tzinfo=UTC)
        )
    if filters.until is not None:
        clauses.append(
            QualityPoint.revealed_at
            < datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=UTC)
        )
    site_filters = []
    if filters.line is not None:
        site_filters.append(
            sa.select(site_lines_of_business.c.site_id).where(
                site_lines_of_business.c.line_of_business_id == filters.line
            )
        )
    if filters.market is not None:
        site_filters.append(
            sa.select(site_markets.c.site_id).where(site_markets.c.market_id == filters.market)
        )
    if filters.region is not None:
        site_filters.append(
            sa.select(site_markets.c.site_id)
            .join(Market, Market.id == site_markets.c.market_id)
            .where(Market.region == filters.region)
        )
    for sites in site_filters:
        # A site matches by its own markets and lines; a vendor's row counts when one of
        # its sites does.
        clauses.append(
            sa.or_(
                QualityPoint.site_id.in_(sites),
                sa.and_(
                    QualityPoint.site_id.is_(None),
                    QualityPoint.vendor_id.in_(sa.select(Site.vendor_id).where(Site.id.in_(sites))),
                ),
            )
        )
    return clauses


def points(
    user,
    filters: Filters,
    *,
    sites: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
):
    """The points the person may see under ``filters``, oldest first, as plain rows.

    ``sites`` True keeps site rows, False vendor rows, None both; ``limit`` and
    ``offset`` page through them."""
    statement = (
        sa.select(
            QualityPoint.session_id,
            QualityPoint.subject,
            QualityPoint.vendor_id,
            QualityPoint.site_id,
            QualityPoint.policy_id,
            QualityPoint.revealed_at,
            QualityPoint.alpha,
            QualityPoint.alpha_low,
            QualityPoint.alpha_high,
            QualityPoint.accuracy,
            QualityPoint.accuracy_low,
            QualityPoint.accuracy_high,
            QualityPoint.n_golden,
            QualityPoint.n_raters,
            QualityPoint.evidence,
            QualityPoint.details,
            CalibrationSession.title,
            CalibrationSession.accuracy_target,
            CalibrationSession.alpha_threshold,
            Vendor.name.label("vendor_name"),
            Site.name.label("site_name"),
        )
        .join(CalibrationSession, CalibrationSession.id == QualityPoint.session_id)
        .join(Vendor, Vendor.id == QualityPoint.vendor_id)
        .outerjoin(Site, Site.id == QualityPoint.site_id)
        .where(*_scoped(user, filters))
        .order_by(QualityPoint.revealed_at, QualityPoint.session_id, QualityPoint.subject)
    )
    if sites is True:
        statement = statement.where(QualityPoint.site_id.is_not(None))
    elif sites is False:
        statement = statement.where(QualityPoint.site_id.is_(None))
    if limit is not None:
        statement = statement.limit(limit).offset(offset)
    return db.session.execute(statement).all()


def series_of(rows) -> list[Series]:
    """Rows grouped into one series per subject, vendors and sites by name."""
    found: dict[str, Series] = {}
    for row in rows:
        series = found.get(row.subject)
        if series is None:
            name = (
                row.vendor_name if row.site_id is None else f"{row.vendor_name} · {row.site_name}"
            )
            series = found[row.subject] = Series(row.subject, name, row.vendor_id, row.site_id)
        series.points.append(row)
    return sorted(found.values(), key=lambda s: (s.site_id is not None, s.name))


def open_drift(user, filters: Filters) -> dict[int, list]:
    """Open drift flags per site id, for the sites the person may see."""
    statement = sa.select(
        Flag.id, Flag.site_id, Flag.kind, Flag.message, Flag.severity, Flag.session_id
    ).where(
        Flag.kind.in_(DRIFT_KINDS.values()),
        Flag.status != FlagStatus.RESOLVED,
        vendor_scope(user, Flag.vendor_id),
    )
    if filters.vendor is not None:
        statement = statement.where(Flag.vendor_id == filters.vendor)
    if filters.site is not None:
        statement = statement.where(Flag.site_id == filters.site)
    found: dict[int, list] = {}
    for row in db.session.execute(statement.order_by(Flag.id)):
        found.setdefault(row.site_id, []).append(row)
    return found


def drift_of(site_id: int, name: str, policy_id: int | None) -> dict[str, drift.Drift]:
    """The drift charts (accuracy and alpha) of a site over its whole history on a policy."""
    rows = site_history([site_id], policy_id)[site_id]
    return {metric: judge(rows, metric, name) for metric in (drift.ACCURACY, drift.ALPHA)}


def trend_svg(
    series: Series,
    *,
    figure: str,
    title: str,
    limits: list[float | None] | None = None,
    zone: str | None = None,
) -> str | None:
    """The trend chart (SVG) of one figure ("accuracy" or "alpha") of a series, days in
    ``zone``; the scorecard pages and the quality review draw the same one."""
    if not series.points:
        return None
    labels = [format_day(point.revealed_at, zone) for point in series.points]
    lines = [
        TrendLine(
            "Accuracy against golden" if figure == "accuracy" else "Alpha",
            tuple(getattr(p, figure) for p in series.points),
            tuple(
                (getattr(p, f"{figure}_low"), getattr(p, f"{figure}_high"))
                if getattr(p, f"{figure}_low") is not None
                else None
                for p in series.points
            ),
        )
    ]
    if limits:
        lines.append(TrendLine("Drift alarm limit", tuple(limits), dashed=True))
    latest = series.latest
    target = latest.accuracy_target if figure == "accuracy" else latest.alpha_threshold
    return _drawn(tuple(lines), tuple(labels), title, target, figure == "accuracy")


# Drawing a chart of two years of sessions costs about 20 ms, most of a scorecard page.
# The same figures always give the same SVG (its id is made from them), and a subject's
# figures change only when a session is revealed or recomputed, so each process keeps
# the charts it drew lately; new figures are a new key, never a stale chart.
@lru_cache(maxsize=256)
def _drawn(
    lines: tuple[TrendLine, ...], labels: tuple[str, ...], title: str, target, percent: bool
) -> str:
    return trend_chart(
        list(lines), x_labels=list(labels), title=title, target=target, percent=percent
    )


def labels_over_time(series: Series) -> tuple[dict[str, str], list[tuple]]:
    """Per-label recall per session: ({label key: name}, [(point, {label key: recall})]).

    A label keeps the name its latest session gives it."""
    labels: dict[str, str] = {}
    rows = []
    for point in series.points:
        details = point.details or {}
        recall = details.get("recall", {})
        for key in recall:
            labels[key] = details.get("names", {}).get(key, key)
        rows.append((point, recall))
    return labels, rows


CSV_HEADER = [
    "revealed_at",
    "session_id",
    "session",
    "vendor",
    "site",
    "alpha",
    "alpha_low",
    "alpha_high",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "golden_cases",
    "raters",
    "evidence",
]


def csv_rows(rows, export_time):
    """The points as CSV rows (``CSV_HEADER``), times in ISO 8601 with offset."""
    for row in rows:
        yield [
            export_time(row.revealed_at),
            row.session_id,
            row.title,
            row.vendor_name,
            row.site_name or "",
            row.alpha,
            row.alpha_low,
            row.alpha_high,
            row.accuracy,
            row.accuracy_low,
            row.accuracy_high,
            row.n_golden,
            row.n_raters,
            "sufficient" if row.evidence else "insufficient",
        ]


# Cross-market alignment -------------------------------------------------------------

ALIGNMENT_SESSIONS = 12


def alignment_sessions(policy_id: int | None) -> list:
    """Revealed sessions with market rows, newest first (of one policy when given)."""
    statement = (
        sa.select(
            CalibrationSession.id,
            CalibrationSession.title,
            CalibrationSession.revealed_at,
            QualityPoint.policy_id,
        )
        .join(QualityPoint, QualityPoint.session_id == CalibrationSession.id)
        .where(
            CalibrationSession.status == SessionStatus.REVEALED,
            QualityPoint.market_id.is_not(None),
            QualityPoint.vendor_id.is_(None),
        )
        .group_by(
            CalibrationSession.id,
            CalibrationSession.title,
            CalibrationSession.revealed_at,
            QualityPoint.policy_id,
        )
        .order_by(CalibrationSession.revealed_at.desc(), CalibrationSession.id.desc())
        .limit(ALIGNMENT_SESSIONS)
    )
    if policy_id is not None:
        statement = statement.where(QualityPoint.policy_id == policy_id)
    return db.session.execute(statement).all()


def alignment_rows(session_ids: list[int]):
    """The market, market × vendor and region rows of the sessions, as plain rows."""
    if not session_ids:
        return []
    return db.session.execute(
        sa.select(
            QualityPoint.session_id,
            QualityPoint.subject,
            QualityPoint.market_id,
            QualityPoint.region,
            QualityPoint.vendor_id,
            QualityPoint.alpha,
            QualityPoint.alpha_low,
            QualityPoint.alpha_high,
            QualityPoint.accuracy,
            QualityPoint.accuracy_low,
            QualityPoint.accuracy_high,
            QualityPoint.n_golden,
            QualityPoint.n_raters,
            QualityPoint.evidence,
            QualityPoint.details,
            Market.code.label("market_code"),
            Market.name.label("market_name"),
            Vendor.name.label("vendor_name"),
        )
        .outerjoin(Market, Market.id == QualityPoint.market_id)
        .outerjoin(Vendor, Vendor.id == QualityPoint.vendor_id)
        .where(
            QualityPoint.session_id.in_(session_ids),
            sa.or_(QualityPoint.market_id.is_not(None), QualityPoint.region.is_not(None)),
        )
        .order_by(QualityPoint.session_id, Market.code, QualityPoint.region, Vendor.name)
    ).all()
