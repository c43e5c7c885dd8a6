"""The JSON face of rollouts: list and read with readiness, update a checklist item."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, request, url_for
from pydantic import BaseModel, ConfigDict, Field

from rollcal import uow
from rollcal.api import (
    NO_NUL,
    PAGE_QUERY,
    api_blueprint,
    api_user,
    operation,
    parse_body,
    pdf_answer,
    respond,
)
from rollcal.inputs import LONG_TEXT, MAX_ID, int_arg, page_arg
from rollcal.pagecache import cached_page
from rollcal.reports.queue import request_report
from rollcal.types import utcnow
from rollout import queries, services
from rollout.models import ChecklistItem, Rollout
from rollout.readiness import State
from rollout.report import readiness_source

bp = api_blueprint("rollout_api", __name__)


class ReadinessOut(BaseModel):
    """A site's readiness and the reasons for it."""

    state: str
    reasons: list[str]
    overridden: bool
    override_justification: str | None


class ItemOut(BaseModel):
    """A checklist item."""

    id: int
    version: int
    site_id: int
    step: str
    category: str
    side: str
    required: bool
    evidence_required: bool
    gate: bool
    status: str
    status_reason: str | None
    # The vendor marked this required step not applicable; a POM has yet to approve.
    not_applicable_requested: bool = False
    due_date: date
    assignee: str | None
    evidence_url: str | None
    evidence_note: str | None


class SiteOut(BaseModel):
    """A site of a rollout with its checklist and readiness."""

    id: int
    name: str
    vendor: str
    markets: list[str]
    readiness: ReadinessOut
    gate: str
    items: list[ItemOut]


class RolloutSummary(BaseModel):
    """A rollout as listed."""

    id: int
    title: str
    policy_code: str
    version: str
    status: str
    go_live_date: date
    owner: str
    sites: int
    readiness: dict[str, int]


class RolloutList(BaseModel):
    """A page of rollouts."""

    rollouts: list[RolloutSummary]
    page: int
    pages: int
    total: int


class RolloutOut(RolloutSummary):
    """A rollout with the stored readiness of every site the caller may see, and one page
    of those sites (worst readiness first) with their checklist items."""

    change_summary: str
    alpha_threshold: float
    accuracy_target: float
    gate_uses_lower_bound: bool
    required_closed: int
    required_total: int
    site_details: list[SiteOut]
    page: int
    pages: int
    per_page: int
    matching: int
    next: str | None
    previous: str | None


class ItemPatch(BaseModel):
    """Changes to a checklist item; ``version`` is the version the caller last read."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, le=MAX_ID)
    status: str | None = Field(None, max_length=40, pattern=NO_NUL)
    reason: str | None = Field(None, max_length=500, pattern=NO_NUL)
    evidence_url: str | None = Field(None, max_length=500, pattern=NO_NUL)
    evidence_note: str | None = Field(None, max_length=LONG_TEXT, pattern=NO_NUL)
    comment: str | None = Field(None, max_length=LONG_TEXT, pattern=NO_NUL)


def _item(item: ChecklistItem) -> ItemOut:
    return ItemOut(
        id=item.id,
        version=item.version,
        site_id=item.site_id,
        step=item.title,
        category=item.category.value,
        side=item.side.value,
        required=item.required,
        evidence_required=item.evidence_required,
        gate=item.gate,
        status=item.status.value,
        status_reason=item.status_reason,
        not_applicable_requested=item.na_requested,
        due_date=item.due_date,
        assignee=item.assignee.name if item.assignee else None,
        evidence_url=item.evidence_url,
        evidence_note=item.evidence_note,
    )


def _summary(summary: queries.Summary) -> dict:
    rollout: queries.ListedRollout = summary.rollout
    return dict(
        id=rollout.id,
        title=rollout.title,
        policy_code=rollout.policy_code,
        version=rollout.version_label,
        status=rollout.status.value,
        go_live_date=rollout.go_live_date,
        owner=rollout.owner,
        sites=summary.sites,
        readiness={state.value: count for state, count in summary.counts.items()},
    )


@operation(
    bp,
    "/rollouts",
    "GET",
    "Rollouts the caller may see, with readiness counts",
    response=RolloutList,
    query=PAGE_QUERY,
)
@cached_page
def list_rollouts():
    """Rollouts the caller may see, newest go-live first; ``?page=N``."""
    user = api_user()
    page = queries.listed_page(
        queries.visible_rollouts(user).order_by(Rollout.go_live_date.desc(), Rollout.id.desc()),
        page_arg(),
        50,
    )
    return respond(
        RolloutList(
            rollouts=[RolloutSummary(**_summary(s)) for s in queries.summaries(user, page.items)],
            page=page.page,
            pages=page.pages,
            total=page.total,
        )
    )


# The detail reads a page of sites, as the board does: the answer's size is bounded
# however many sites the rollout has.
PER_PAGE, MAX_PER_PAGE = 50, 100
ROLLOUT_QUERY = {
    **PAGE_QUERY,
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": PER_PAGE},
    "vendor": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    "market": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    "state": {"type": "string", "enum": [state.value for state in State]},
}


def _detail_arguments() -> dict:
    """The detail's paging and filters from the address; 400 naming a bad one."""
    per_page = int_arg("per_page", PER_PAGE, minimum=1)
    if per_page > MAX_PER_PAGE:
        abort(400, description=f"“per_page” in the address must be from 1 to {MAX_PER_PAGE}.")
    state = request.args.get("state")
    if state is not None and state not in {s.value for s in State}:
        allowed = ", ".join(s.value for s in State)
        abort(400, description=f"“state” in the address must be one of {allowed}.")
    return {
        "page": page_arg(),
        "per_page": per_page,
        "vendor_id": int_arg("vendor"),
        "market_id": int_arg("market"),
        "state": state,
    }


def _site(row: queries.BoardRow, details: dict[int, sa.Row]) -> SiteOut:
    site = row.site
    return SiteOut(
        id=site.id,
        name=site.name,
        vendor=site.vendor,
        markets=[code for _, code in site.markets],
        readiness=ReadinessOut(
            state=row.readiness.state.value,
            reasons=list(row.readiness.reasons),
            overridden=row.readiness.overridden,
            override_justification=(
                row.readiness.override.justification if row.readiness.override else None
            ),
        ),
        gate=row.gate.state.value,
        items=[
            ItemOut(
                id=cell.id,
                version=details[cell.id].version,
                site_id=site.id,
                step=cell.title,
                category=details[cell.id].category.value,
                side=details[cell.id].side.value,
                required=cell.required,
                evidence_required=details[cell.id].evidence_required,
                gate=cell.gate,
                status=cell.status.value,
                status_reason=details[cell.id].status_reason,
                due_date=cell.due_date,
                assignee=cell.assignee,
                evidence_url=details[cell.id].evidence_url,
                evidence_note=details[cell.id].evidence_note,
            )
            for cell in row.cells
            if cell is not None
        ],
    )


@operation(
    bp,
    "/rollouts/<int:rollout_id>",
    "GET",
    "A rollout: the stored readiness of its sites, and a page of sites (worst first) "
    "with their checklist items and readiness with reasons",
    response=RolloutOut,
    query=ROLLOUT_QUERY,
    errors={404: "No such rollout, or not visible to the caller"},
)
@cached_page
def get_rollout(rollout_id: int):
    """One rollout with a page of the sites the caller may see, worst readiness first;
    ``?page=N&per_page=M`` (at most 100), ``vendor``, ``market`` and ``state`` filter."""
    user = api_user()
    arguments = _detail_arguments()
    rollout = queries.get_rollout(user, rollout_id)
    board = queries.board_page(user, rollout, utcnow().date(), **arguments)
    details = queries.item_details(rollout, [row.site.id for row in board.rows])
    filters = {
        name: value
        for name, value in (
            ("vendor", arguments["vendor_id"]),
            ("market", arguments["market_id"]),
            ("state", arguments["state"]),
        )
        if value
    }

    def page_url(page: int) -> str:
        return url_for(
            ".get_rollout", rollout_id=rollout.id, page=page, per_page=board.per_page, **filters
        )

    closed, required = board.progress
    return respond(
        RolloutOut(
            **_summary(
                queries.Summary(
                    queries.ListedRollout.of(rollout),
                    sites=len(board.sites),
                    progress=board.progress,
                    counts=board.counts,
                )
            ),
            change_summary=rollout.policy_version.change_summary,
            alpha_threshold=rollout.alpha_threshold,
            accuracy_target=rollout.accuracy_target,
            gate_uses_lower_bound=rollout.gate_uses_lower_bound,
            required_closed=closed,
            required_total=required,
            site_details=[_site(row, details) for row in board.rows],
            page=board.page,
            pages=board.pages,
            per_page=board.per_page,
            matching=board.total,
            next=page_url(board.page + 1) if board.page < board.pages else None,
            previous=page_url(board.page - 1) if board.page > 1 else None,
        )
    )


@operation(
    bp,
    "/checklist-items/<int:item_id>",
    "PATCH",
    "Update a checklist item's status, evidence or comment",
    body=ItemPatch,
    response=ItemOut,
    errors={
        403: "The caller may not change this item",
        404: "No such item, or not visible to the caller",
        409: "The item changed since the caller read it (current state included)",
        422: "Invalid field (named in the answer)",
    },
)
def patch_item(item_id: int):
    """Change an item if ``version`` is still current; 409 with the current state if not."""
    user = api_user()
    item = queries.get_item(user, item_id)
    services.check_may_edit_item(user, item)
    patch = parse_body(ItemPatch)
    services.update_item(
        user,
        item,
        version=patch.version,
        status=patch.status,
        reason=patch.reason,
        evidence_url=patch.evidence_url,
        evidence_note=patch.evidence_note,
        comment=patch.comment,
    )
    return respond(_item(item))


@operation(
    bp,
    "/rollouts/<int:rollout_id>/report.pdf",
    "GET",
    "The readiness report as PDF (202 while it is being prepared)",
    binary="application/pdf",
    errors={
        202: "Being prepared; ask again after Retry-After seconds",
        404: "No such rollout, or not visible to the caller",
    },
)
@uow.commits_on_read
def readiness_report(rollout_id: int):
    """The readiness report as the caller may see it."""
    user = api_user()
    rollout = queries.get_rollout(user, rollout_id)
    report = request_report(readiness_source(rollout, user, utcnow().date()))
    return pdf_answer(report)
