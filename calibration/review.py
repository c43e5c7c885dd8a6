"""The quality review report: one vendor's (or every vendor's) quality over a period, for
business reviews, as a PDF rendered through the report queue and as CSV.

Read from the stored quality points, flags and (through the rollout domain's provider)
rollouts with their stored readiness and sign-offs: nothing is recomputed, and the
number of statements does not grow with the history's length. The reader's scope
applies everywhere: a QA lead reviews their own vendor only, and "every vendor" is for
people who see every vendor.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import render_template

from calibration import queries, scorecards
from calibration.models import Flag, FlagStatus
from calibration.scorecards import Filters, Series
from rollcal.accounts.models import User
from rollcal.errors import NotFound
from rollcal.events import calibration_subjects
from rollcal.extensions import db
from rollcal.org.models import Vendor
from rollcal.permissions import (
    bound_to_vendor,
    may_read_sign_off,
    may_review_every_vendor,
    report_audience,
    visible_vendor,
    visible_vendors,
)
from rollcal.reports.downloads import SafeCSVWriter
from rollcal.reports.pdf import PdfAttachment, ReportSource
from rollcal.timefmt import export_time, format_day, format_moment, zone_label

KIND = "quality_review"
# The subject id of the review of every vendor (vendor ids start at 1).
ALL_VENDORS = 0

FLAG_KIND_TITLES = {
    "misaligned": "Agreement below the threshold",
    "tentative": "Agreement only tentative",
    "low_accuracy": "Accuracy below the target",
    "misreads": "Misreads one label as another",
    "pulls_down_agreement": "A rater pulls agreement down",
    "label_misaligned": "A label read inconsistently",
    "not_enough_evidence": "Too little evidence to judge",
    "too_few_cases": "Too few cases",
    "accuracy_drift": "Accuracy drifting down",
    "alpha_drift": "Agreement drifting down",
}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
# The arguments a review is asked for with.
REQUEST_NAMES = ("vendor", "since", "until")
ARROWS = {"up": "↑", "down": "↓", "flat": "→"}


def kind_title(kind: str) -> str:
    """A flag kind as people read it."""
    return FLAG_KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())


@dataclass(frozen=True)
class ReviewRequest:
    """What a review covers: one vendor (None: every vendor) and a period of days."""

    vendor_id: int | None
    since: date
    until: date | None

    def as_args(self) -> dict[str, str]:
        """The request as query arguments."""
        args = {"since": self.since.isoformat()}
        if self.vendor_id is not None:
            args["vendor"] = str(self.vendor_id)
        if self.until is not None:
            args["until"] = self.until.isoformat()
        return args


def parse_request(args: Mapping[str, str]) -> ReviewRequest:
    """The vendor and period from query arguments, checked as the scorecard filters are
    (a ``ValidationError`` names each wrong one); the period defaults to the last year."""
    filters = scorecards.parse_filters(
        {name: args[name] for name in REQUEST_NAMES if args.get(name)}
    )
    return ReviewRequest(filters.vendor, filters.since, filters.until)


def subject_of(reader: User, request: ReviewRequest) -> Vendor | None:
    """The vendor reviewed (None: every vendor), or ``NotFound`` when the reader may not
    review it: another vendor's QA lead, or a QA lead asking for every vendor."""
    if request.vendor_id is None:
        if not may_review_every_vendor(reader):
            raise NotFound("A review of every vendor is not available to you.")
        return None
    return visible_vendor(reader, request.vendor_id)


def trend_between(first, latest, figure: str) -> str:
    """ "up", "down" or "flat": the latest figure against the period's first, "flat"
    when the change is inside the latest figure's interval or below one point."""
    if first is None or latest is None or first is latest:
        return "flat"
    now, before = getattr(latest, figure), getattr(first, figure)
    if now is None or before is None:
        return "flat"
    low, high = getattr(latest, f"{figure}_low"), getattr(latest, f"{figure}_high")
    if (low is not None and high is not None and low <= before <= high) or abs(now - before) < 0.01:
        return "flat"
    return "up" if now > before else "down"


@dataclass
class Finding:
    """A flag of the period as the review lists it."""

    flag: Flag
    kind: str
    raised: str
    state: str


@dataclass
class VendorReview:
    """One vendor's part of the review."""

    vendor_id: int
    name: str
    series: Series
    sites: list[Series] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    open_findings: int = 0
    accuracy_chart: str | None = None
    alpha_chart: str | None = None

    @property
    def first(self):
        return self.series.points[0] if self.series.points else None

    @property
    def latest(self):
        return self.series.latest

    @property
    def accuracy_trend(self) -> str:
        return trend_between(self.first, self.latest, "accuracy")

    @property
    def alpha_trend(self) -> str:
        return trend_between(self.first, self.latest, "alpha")

    @property
    def recurring(self) -> list[tuple[str, int]]:
        """Kinds of finding raised in more than one session of the period: (kind, how
        many sessions), most sessions first."""
        sessions: dict[str, set[int]] = defaultdict(set)
        for finding in self.findings:
            sessions[finding.kind].add(finding.flag.session_id)
        counted = [(kind, len(ids)) for kind, ids in sessions.items() if len(ids) > 1]
        return sorted(counted, key=lambda entry: (-entry[1], entry[0]))


def _window(request: ReviewRequest) -> list:
    clauses = [Flag.raised_at >= datetime.combine(request.since, time.min, tzinfo=UTC)]
    if request.until is not None:
        end = datetime.combine(request.until + timedelta(days=1), time.min, tzinfo=UTC)
        clauses.append(Flag.raised_at < end)
    return clauses


def build(reader: User, request: ReviewRequest, vendor: Vendor | None) -> dict:
    """The review's content as ``reader`` may see it: per-vendor scorecards, findings
    and recurring causes, the rollouts touching the vendors and their sign-offs."""
    zone = reader.timezone or "UTC"
    filters = Filters(vendor=request.vendor_id, since=request.since, until=request.until)
    series = scorecards.series_of(scorecards.points(reader, filters))
    if vendor is not None:
        vendors = [(vendor.id, vendor.name)]
    else:
        vendors = [(v.id, v.name) for v in db.session.scalars(visible_vendors(reader))]
    reviews: dict[int, VendorReview] = {
        vendor_id: VendorReview(vendor_id, name, Series(f"v{vendor_id}", name, vendor_id, None))
        for vendor_id, name in vendors
    }
    for one in series:
        review = reviews.get(one.vendor_id)
        if review is None:
            continue
        if one.site_id is None:
            review.series = one
        else:
            review.sites.append(one)
    flags = queries.visible_flags(reader).where(Flag.vendor_id.in_(list(reviews)))
    for flag in db.session.scalars(flags.where(*_window(request))):
        reviews[flag.vendor_id].findings.append(
            Finding(flag, flag.kind, format_day(flag.raised_at, zone), flag.status.title)
        )
    # Open findings count whenever they were raised: still open is still to act on.
    for flag in db.session.scalars(flags.where(Flag.status != FlagStatus.RESOLVED)):
        reviews[flag.vendor_id].open_findings += 1
    for review in reviews.values():
        review.findings.sort(
            key=lambda f: (SEVERITY_ORDER.get(f.flag.severity.value, 3), f.flag.raised_at)
        )
        for figure, title in (
            ("accuracy", f"{review.name}: accuracy against golden"),
            ("alpha", f"{review.name}: agreement (alpha)"),
        ):
            # A figure never computed in the period gets no chart (it would be empty).
            if any(getattr(point, figure) is not None for point in review.series.points):
                svg = scorecards.trend_svg(review.series, figure=figure, title=title, zone=zone)
                setattr(review, f"{figure}_chart", svg)
    # Every vendor's review lists those with something in the period; a vendor's own
    # review always shows it, empty or not.
    shown = [
        r
        for r in reviews.values()
        if vendor is not None or r.series.points or r.findings or r.sites
    ]
    rollouts = calibration_subjects().rollouts_for_review(
        [vendor.id] if vendor is not None else None, request.since, request.until
    )
    sign_offs_shown = not bound_to_vendor(reader)
    return {
        "reader": reader,
        "vendor": vendor,
        "request": request,
        "zone": zone,
        "zone_name": zone_label(zone),
        "reviews": shown,
        "sessions": len({p.session_id for r in shown for p in r.series.points}),
        "open_findings": sum(r.open_findings for r in shown),
        "rollouts": rollouts,
        "sign_offs_shown": sign_offs_shown,
        "sign_offs": {
            rollout.id: [s for s in rollout.sign_offs if may_read_sign_off(reader, s)]
            for rollout in rollouts
        }
        if sign_offs_shown
        else {},
        "day": lambda value: format_day(value, zone),
        "moment": lambda value: format_moment(value, zone, with_zone=False),
    }


CSV_HEADER = [
    "table",
    "vendor",
    "site",
    "about",
    "time",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "alpha",
    "alpha_low",
    "alpha_high",
    "count",
    "state",
    "root_cause",
    "action",
]


def csv_rows(context: dict):
    """The review's tables as CSV rows (``CSV_HEADER``): a ``table`` column names each
    (headline, session, site, finding, recurring, rollout, sign-off); ISO 8601 times."""
    blank = [""] * 6
    for review in context["reviews"]:
        latest = review.latest
        yield [
            "headline",
            review.name,
            "",
            "latest session",
            export_time(latest.revealed_at) if latest else "",
            *(
                [getattr(latest, k) for k in ("accuracy", "accuracy_low", "accuracy_high")]
                if latest
                else ["", "", ""]
            ),
            *(
                [getattr(latest, k) for k in ("alpha", "alpha_low", "alpha_high")]
                if latest
                else ["", "", ""]
            ),
            len(review.series.points),
            f"accuracy {review.accuracy_trend}, alpha {review.alpha_trend}",
            f"{review.open_findings} open findings",
            "",
        ]
        for one in [review.series, *review.sites]:
            for p in one.points:
                yield [
                    "session" if one.site_id is None else "site",
                    review.name,
                    p.site_name or "",
                    p.title,
                    export_time(p.revealed_at),
                    p.accuracy,
                    p.accuracy_low,
                    p.accuracy_high,
                    p.alpha,
                    p.alpha_low,
                    p.alpha_high,
                    p.n_golden,
                    "sufficient" if p.evidence else "insufficient",
                    "",
                    "",
                ]
        for finding in review.findings:
            flag = finding.flag
            yield [
                "finding",
                review.name,
                flag.site.name if flag.site else "",
                f"{kind_title(flag.kind)}: {flag.message}",
                export_time(flag.raised_at),
                *blank,
                flag.n if flag.n is not None else "",
                finding.state,
                flag.root_cause or "",
                flag.action or "",
            ]
        for kind, count in review.recurring:
            yield ["recurring", review.name, "", kind_title(kind), "", *blank, count, "", "", ""]
    for rollout in context["rollouts"]:
        for site in rollout.sites:
            yield [
                "rollout",
                site.site.split(" · ")[0],
                site.site.split(" · ")[-1],
                rollout.name,
                rollout.go_live_date.isoformat(),
                *blank,
                site.required_closed,
                site.state,
                "; ".join(site.reasons),
                "",
            ]
        for sign_off in context["sign_offs"].get(rollout.id, []):
            yield [
                "sign-off",
                "",
                "",
                f"{rollout.name}: {sign_off.stakeholder}",
                export_time(sign_off.decided_at or sign_off.requested_at),
                *blank,
                "",
                sign_off.decision or "Pending",
                sign_off.comment or "",
                "",
            ]


def review_csv(context: dict) -> bytes:
    """The review's tables as one CSV file."""
    out = io.StringIO()
    writer = SafeCSVWriter(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(context))
    return out.getvalue().encode()


def file_stem(vendor: Vendor | None, request: ReviewRequest) -> str:
    """A download's name without extension: the vendor's id (or "all") and the period;
    nothing of any other vendor."""
    who = f"vendor-{vendor.id}" if vendor is not None else "all-vendors"
    until = request.until.isoformat() if request.until else "now"
    return f"quality-review-{who}-{request.since.isoformat()}-{until}"


def review_source(reader: User, request: ReviewRequest) -> ReportSource:
    """The quality review PDF's source as ``reader`` may see it (``NotFound`` outside
    their scope), cached by its content like every report."""
    vendor = subject_of(reader, request)
    context = build(reader, request, vendor)
    title = f"Quality review — {vendor.name if vendor else 'every vendor'}"
    html = render_template(
        "reports/quality_review.html",
        title=title,
        kind_title=kind_title,
        arrows=ARROWS,
        generated_at=ReportSource.GENERATED_MARKER,
        **context,
    )
    return ReportSource(
        kind=KIND,
        subject_id=vendor.id if vendor is not None else ALL_VENDORS,
        title=title,
        html=html,
        audience=report_audience(reader),
        attachments=(
            PdfAttachment(
                f"{file_stem(vendor, request)}.csv",
                review_csv(context),
                "The tables of this quality review",
            ),
        ),
    )


def may_read_review(user: User, subject_id: int) -> bool:
    """Whether the person may read a rendered quality review: of every vendor, if they
    see every vendor; of one vendor, if they see that vendor."""
    if subject_id == ALL_VENDORS:
        return may_review_every_vendor(user)
    return (
        db.session.scalar(
            visible_vendors(user).where(Vendor.id == subject_id).with_only_columns(Vendor.id)
        )
        is not None
    )
