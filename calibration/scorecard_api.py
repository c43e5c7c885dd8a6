"""``GET /api/v1/scorecards``: the scorecard points the caller may see, as JSON."""

from __future__ import annotations

from datetime import datetime

from flask import request
from pydantic import BaseModel

from calibration import review, scorecards
from rollcal import uow
from rollcal.api import MAX_ID, api_blueprint, api_user, operation, pdf_answer, respond
from rollcal.inputs import page_arg
from rollcal.permissions import Action, require
from rollcal.reports.queue import request_report

bp = api_blueprint("scorecards_api", __name__)

PER_PAGE = 500

_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_DAY = {"type": "string", "format": "date"}
QUERY = {
    "vendor": _ID,
    "site": _ID,
    "policy": _ID,
    "line": _ID,
    "market": _ID,
    "region": {"type": "string", "enum": ["APAC", "EMEA", "AMER"]},
    "since": _DAY,
    "until": _DAY,
    "page": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "default": 1},
}


class ScorecardPoint(BaseModel):
    """One vendor's (``site`` null) or site's figures in one revealed session."""

    session_id: int
    session: str
    revealed_at: datetime
    vendor_id: int
    vendor: str
    site_id: int | None
    site: str | None
    policy_id: int | None
    alpha: float | None
    alpha_interval: tuple[float, float] | None
    accuracy: float | None
    accuracy_interval: tuple[float, float] | None
    golden_cases: int
    raters: int
    evidence_sufficient: bool
    recall: dict[str, float]


class ScorecardPage(BaseModel):
    """A page of points, oldest first; ``next_page`` is null on the last."""

    points: list[ScorecardPoint]
    page: int
    next_page: int | None
    since: str | None
    until: str | None


def _interval(low, high) -> tuple[float, float] | None:
    return (low, high) if low is not None and high is not None else None


@operation(
    bp,
    "/scorecards",
    "GET",
    "Alpha and accuracy per vendor and site across revealed sessions",
    response=ScorecardPage,
    errors={422: "A filter is not valid (the message names it)"},
    query=QUERY,
)
def list_points():
    """Points of revealed sessions, filtered like the scorecard pages, 500 a page."""
    user = api_user()
    require(user, Action.VIEW_RESULTS)
    filters = scorecards.parse_filters({k: v for k, v in request.args.items() if k != "page"})
    page = page_arg()
    rows = scorecards.points(user, filters, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    more = len(rows) > PER_PAGE
    return respond(
        ScorecardPage(
            points=[
                ScorecardPoint(
                    session_id=row.session_id,
                    session=row.title,
                    revealed_at=row.revealed_at,
                    vendor_id=row.vendor_id,
                    vendor=row.vendor_name,
                    site_id=row.site_id,
                    site=row.site_name,
                    policy_id=row.policy_id,
                    alpha=row.alpha,
                    alpha_interval=_interval(row.alpha_low, row.alpha_high),
                    accuracy=row.accuracy,
                    accuracy_interval=_interval(row.accuracy_low, row.accuracy_high),
                    golden_cases=row.n_golden,
                    raters=row.n_raters,
                    evidence_sufficient=row.evidence,
                    recall=(row.details or {}).get("recall", {}),
                )
                for row in rows[:PER_PAGE]
            ],
            page=page,
            next_page=page + 1 if more else None,
            since=filters.since.isoformat() if filters.since else None,
            until=filters.until.isoformat() if filters.until else None,
        )
    )


@operation(
    bp,
    "/scorecards/review.pdf",
    "GET",
    "The quality review of a vendor, or of every vendor, over a period, as PDF "
    "(202 while it is being prepared)",
    binary="application/pdf",
    errors={
        202: "Being prepared; ask again after Retry-After seconds",
        404: "No such vendor, or not one the caller may review (QA leads review their own "
        "vendor only)",
        422: "A filter is not valid (the message names it)",
    },
    query={"vendor": _ID, "since": _DAY, "until": _DAY},
)
@uow.commits_on_read
def review_pdf():
    """The quality review as the caller may see it; without ``vendor``, every vendor."""
    user = api_user()
    require(user, Action.VIEW_RESULTS)
    request_ = review.parse_request(request.args)
    return pdf_answer(request_report(review.review_source(user, request_)))
