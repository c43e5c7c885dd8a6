"""Scorecard pages: quality per vendor and site across revealed sessions, with drift."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from calibration import drift, review, scorecards
from calibration.scorecards import Filters
from rollcal import uow
from rollcal.errors import ValidationError
from rollcal.events import calibration_subjects
from rollcal.extensions import db
from rollcal.inputs import int_arg
from rollcal.org.models import LineOfBusiness, Market, Region
from rollcal.permissions import (
    Action,
    may,
    may_review_every_vendor,
    requires,
    visible_site,
    visible_vendor,
    visible_vendors,
)
from rollcal.reports.charts import data_uri
from rollcal.reports.downloads import csv_response
from rollcal.reports.queue import request_report
from rollcal.reports.views import answer_report
from rollcal.timefmt import export_time

bp = Blueprint("scorecards", __name__, url_prefix="/scorecards")


def _filters() -> tuple[Filters, ValidationError | None]:
    """The page's filters; on a wrong one, the defaults and the error to show."""
    try:
        return scorecards.parse_filters(request.args), None
    except ValidationError as error:
        return scorecards.parse_filters({}), error


def _choices() -> dict:
    """What the filter form offers."""
    return {
        "vendors": [
            (vendor.id, vendor.name) for vendor in db.session.scalars(visible_vendors(current_user))
        ],
        "policies": calibration_subjects().policy_choices(),
        "lines": db.session.execute(
            sa.select(LineOfBusiness.id, LineOfBusiness.name).order_by(LineOfBusiness.name)
        ).all(),
        "markets": db.session.execute(
            sa.select(Market.id, Market.code, Market.name).order_by(Market.code)
        ).all(),
        "regions": [region.value for region in Region],
    }


def _chart(series: scorecards.Series, *, figure: str, title: str, limits=None) -> str | None:
    """A trend chart of one figure of a series, as a data URI."""
    svg = scorecards.trend_svg(series, figure=figure, title=title, limits=limits)
    return data_uri(svg) if svg else None


def _limits(series: scorecards.Series, verdict: drift.Drift) -> list[float | None]:
    """The chart's lower alarm limit per point (None over the baseline sessions)."""
    by_session = {entry["session_id"]: entry["lower_limit"] for entry in verdict.chart}
    return [by_session.get(point.session_id) for point in series.points]


@bp.get("/")
@login_required
@requires(Action.VIEW_RESULTS)
def index():
    """Every vendor and site the person may see, with their latest figures and trend."""
    filters, error = _filters()
    rows = scorecards.points(current_user, filters)
    series = scorecards.series_of(rows)
    return render_template(
        "calibration/scorecards/index.html",
        filters=filters,
        error=error,
        vendors=[s for s in series if s.site_id is None],
        sites=[s for s in series if s.site_id is not None],
        drifting=scorecards.open_drift(current_user, filters),
        choices=_choices(),
        every_vendor=may(current_user, Action.SEE_EVERY_VENDOR),
        review_args=_review_args(filters),
    )


@bp.get("/vendors/<int:vendor_id>")
@login_required
@requires(Action.VIEW_RESULTS)
def vendor(vendor_id: int):
    """One vendor across sessions: its trend, its sites, and how it reads each label."""
    chosen = visible_vendor(current_user, vendor_id)
    filters, error = _filters()
    filters = Filters(**{**filters.__dict__, "vendor": chosen.id, "site": None})
    rows = scorecards.points(current_user, filters)
    series = scorecards.series_of(rows)
    own = next(
        (s for s in series if s.site_id is None),
        scorecards.Series("", chosen.name, chosen.id, None),
    )
    sites = [s for s in series if s.site_id is not None]
    labels, recall = scorecards.labels_over_time(own)
    return render_template(
        "calibration/scorecards/vendor.html",
        vendor=chosen,
        filters=filters,
        error=error,
        series=own,
        sites=sites,
        drifting=scorecards.open_drift(current_user, filters),
        accuracy_chart=_chart(
            own, figure="accuracy", title=f"{chosen.name}: accuracy against golden"
        ),
        alpha_chart=_chart(own, figure="alpha", title=f"{chosen.name}: agreement (alpha)"),
        labels=labels,
        recall=recall,
        choices=_choices(),
        review_args=_review_args(filters),
    )


@bp.get("/sites/<int:site_id>")
@login_required
@requires(Action.VIEW_RESULTS)
def site(site_id: int):
    """One site across sessions of a policy: its trend with the drift chart's limits."""
    chosen = visible_site(current_user, site_id)
    filters, error = _filters()
    filters = Filters(**{**filters.__dict__, "vendor": None, "site": chosen.id})
    rows = scorecards.points(current_user, filters, sites=True)
    series = scorecards.series_of(rows)
    own = series[0] if series else scorecards.Series("", chosen.label, chosen.vendor_id, chosen.id)
    policies = {point.policy_id for point in own.points}
    policy = filters.policy if filters.policy is not None else next(iter(policies), None)
    verdicts = {}
    if filters.policy is not None or len(policies) == 1:
        # Judged over the site's whole history on the policy, as its drift flags are, not
        # just the period shown.
        verdicts = scorecards.drift_of(chosen.id, chosen.label, policy)
    labels, recall = scorecards.labels_over_time(own)
    return render_template(
        "calibration/scorecards/site.html",
        site=chosen,
        filters=filters,
        error=error,
        series=own,
        verdicts=verdicts,
        mixed_policies=not verdicts and bool(own.points),
        drifting=scorecards.open_drift(current_user, filters).get(chosen.id, []),
        accuracy_chart=_chart(
            own,
            figure="accuracy",
            title=f"{chosen.label}: accuracy against golden",
            limits=_limits(own, verdicts["accuracy"]) if verdicts else None,
        ),
        alpha_chart=_chart(
            own,
            figure="alpha",
            title=f"{chosen.label}: agreement (alpha)",
            limits=_limits(own, verdicts["alpha"]) if verdicts else None,
        ),
        labels=labels,
        recall=recall,
        choices=_choices(),
        rule=drift.DriftRule(),
    )


@bp.get("/scorecards.csv")
@login_required
@requires(Action.VIEW_RESULTS)
def export():
    """Every point the filters select, one row per vendor or site per session."""
    filters = scorecards.parse_filters(request.args)
    user = current_user._get_current_object()

    def rows():
        yield from scorecards.csv_rows(scorecards.points(user, filters), export_time)

    return csv_response(scorecards.CSV_HEADER, rows(), "scorecards.csv")


@bp.get("/alignment")
@login_required
@requires(Action.SEE_EVERY_VENDOR)
def alignment():
    """How one policy is read on each market's cases and in each region, in one revealed
    session, with the vendors serving several markets compared market by market."""
    from calibration import alignment as figures

    policy = int_arg("policy")
    chosen_session = int_arg("session")
    sessions = scorecards.alignment_sessions(policy)
    if policy is None and sessions:
        policy = sessions[0].policy_id
        sessions = [s for s in sessions if s.policy_id == policy]
    current = next((s for s in sessions if s.id == chosen_session), None) or (
        sessions[0] if sessions else None
    )
    rows = scorecards.alignment_rows([s.id for s in sessions])
    here = [row for row in rows if current is not None and row.session_id == current.id]
    markets = [row for row in here if row.market_id is not None and row.vendor_id is None]
    regions = [row for row in here if row.region is not None]
    by_vendor: dict[str, dict[int, object]] = {}
    for row in here:
        if row.vendor_id is not None:
            by_vendor.setdefault(row.vendor_name, {})[row.market_id] = row
    several = {name: cells for name, cells in by_vendor.items() if len(cells) > 1}
    trend: dict[int, dict[int, object]] = {}
    for row in rows:
        if row.market_id is not None and row.vendor_id is None:
            trend.setdefault(row.market_id, {})[row.session_id] = row
    return render_template(
        "calibration/scorecards/alignment.html",
        policies=calibration_subjects().policy_choices(),
        policy=policy,
        sessions=sessions,
        current=current,
        markets=markets,
        regions=regions,
        several=several,
        misreads=figures.misreads(markets),
        trend=trend,
        trend_sessions=list(reversed(sessions)),
        market_names={row.market_id: row.market_code for row in rows if row.market_id},
    )


def _review_args(filters: Filters) -> dict[str, str] | None:
    """The quality review's arguments for the vendor and period shown, or None when the
    person may not review what is shown (every vendor, for a QA lead)."""
    if filters.vendor is None and not may_review_every_vendor(current_user):
        return None
    return {
        name: value for name, value in filters.as_args().items() if name in review.REQUEST_NAMES
    }


@bp.get("/review.pdf")
@uow.commits_on_read
@login_required
@requires(Action.VIEW_RESULTS)
def review_pdf():
    """The quality review of a vendor (or every vendor) over a period, rendered once per
    content: the PDF when ready, else its "preparing…" page."""
    request_ = review.parse_request(request.args)
    return answer_report(request_report(review.review_source(current_user, request_)))


@bp.get("/review.csv")
@login_required
@requires(Action.VIEW_RESULTS)
def review_csv():
    """The quality review's tables as CSV."""
    request_ = review.parse_request(request.args)
    vendor = review.subject_of(current_user, request_)
    context = review.build(current_user, request_, vendor)
    return csv_response(
        review.CSV_HEADER,
        list(review.csv_rows(context)),
        f"{review.file_stem(vendor, request_)}.csv",
    )
