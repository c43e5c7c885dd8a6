"""The calibration API: sessions and cases visible to the caller, batch label upserts, and
a session's agreement once the caller may see it. The same services and scoping rules as
the pages, so the API can never show more than they do."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import selectinload

from calibration import queries, services
from calibration.models import CalibrationSession, Case, Flag, Label, Rater
from calibration.report import calibration_source
from rollcal import permissions, uow
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
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.inputs import MAX_ID, page_arg
from rollcal.pagecache import cached_page
from rollcal.paging import rows_page
from rollcal.permissions import Action, require
from rollcal.reports.queue import request_report

bp = api_blueprint("calibration_api", __name__)

SESSION = "/sessions/<int:session_id>"


class LabelOption(BaseModel):
    """One answer a rater may give."""

    key: str
    name: str
    description: str = ""


class SessionOut(BaseModel):
    """A calibration session as the caller may see it."""

    id: int
    title: str
    description: str
    status: str
    label_level: str
    label_options: list[LabelOption]
    opens_at: datetime | None
    closes_at: datetime | None
    policy_version_id: int | None
    rollout_id: int | None
    cases: int
    you_label: bool = Field(description="Whether the caller is a rater in this session.")
    your_labels: int | None = Field(description="How many cases the caller has labelled.")


class SessionList(BaseModel):
    """A page of the sessions visible to the caller, newest first."""

    sessions: list[SessionOut]
    page: int
    pages: int
    total: int


class CaseOut(BaseModel):
    """A case; golden answers only once the caller may see them."""

    id: int
    reference: str
    position: int
    text: str | None
    url: str | None
    market: str | None
    policy_area: str | None
    golden_label: str | None = None
    golden_rationale: str | None = None
    your_label: str | None = None
    your_comment: str | None = None


class CaseList(BaseModel):
    """The session's cases in order."""

    cases: list[CaseOut]


class LabelIn(BaseModel):
    """One label: the case by ``case_id`` or by ``reference``, and the option key."""

    model_config = ConfigDict(extra="forbid")

    case_id: int | None = Field(None, ge=0, le=MAX_ID)
    reference: str | None = Field(None, max_length=120, pattern=NO_NUL)
    option: str = Field(max_length=40, pattern=NO_NUL)
    comment: str | None = Field(None, max_length=2000, pattern=NO_NUL)

    @model_validator(mode="after")
    def one_case(self) -> LabelIn:
        """Exactly one way of naming the case."""
        if (self.case_id is None) == (self.reference is None):
            raise ValueError("give either case_id or reference")
        return self


class LabelBatch(BaseModel):
    """Labels to save for the caller; each replaces the caller's earlier label on the case."""

    model_config = ConfigDict(extra="forbid")

    labels: list[LabelIn] = Field(min_length=1, max_length=services.MAX_BATCH)


class LabelsSaved(BaseModel):
    """How many labels were saved."""

    saved: int


class LabelOut(BaseModel):
    """A label the caller may read."""

    case_id: int
    reference: str
    rater: str
    vendor: str | None
    site: str | None
    option: str
    comment: str | None
    updated_at: datetime


class LabelList(BaseModel):
    """Labels the caller may read: before reveal, a rater's own only."""

    labels: list[LabelOut]


class FlagOut(BaseModel):
    """A misalignment flag."""

    id: int
    scope: str
    subject: str | None
    kind: str
    severity: str
    value: float | None
    threshold: float | None
    interval: tuple[float, float] | None = Field(description="95% interval of value.")
    n: int | None = Field(description="Cases the figure rests on.")
    explained_by: str | None = Field(description="The finding that accounts for this one.")
    golden: str | None = Field(None, description="misreads: the reference label.")
    given: str | None = Field(None, description="misreads: the label given instead.")
    share: float | None = Field(None, description="misreads: how often it is given.")
    others_share: float | None = Field(None, description="misreads: how often others give it.")
    message: str
    status: str


class Agreement(BaseModel):
    """A session's stored results, scoped to what the caller may read."""

    session_id: int
    computed_at: datetime
    stale: bool = Field(description="A golden answer changed after these were computed.")
    problem: str | None
    report: dict | None = Field(description="AgreementReport.to_dict(), scoped to the caller.")
    flags: list[FlagOut]


def _session_out(session, cases: int, rater: Rater | bool | None, own: int) -> SessionOut:
    """``session`` is a session or a plain row of its columns; ``rater`` says whether
    the caller labels in it."""
    return SessionOut(
        id=session.id,
        title=session.title,
        description=session.description,
        status=session.status.value,
        label_level=session.label_level.value,
        label_options=session.label_options,
        opens_at=session.opens_at,
        closes_at=session.closes_at,
        policy_version_id=session.policy_version_id,
        rollout_id=session.rollout_id,
        cases=cases,
        you_label=bool(rater),
        your_labels=own if rater else None,
    )


# Sessions a page at a time, read as plain rows: the listing writes nothing.
SESSIONS_PER_PAGE = 50


@operation(
    bp,
    "/sessions",
    "GET",
    "Calibration sessions visible to the caller, a page at a time",
    response=SessionList,
    query=PAGE_QUERY,
)
@cached_page
def list_sessions():
    """The sessions the caller may see, newest first, with their own progress; ``?page=N``."""
    user = api_user()
    page = page_arg()
    found, total = rows_page(
        queries.visible_sessions(user).with_only_columns(
            CalibrationSession.id,
            CalibrationSession.title,
            CalibrationSession.description,
            CalibrationSession.status,
            CalibrationSession.label_level,
            CalibrationSession.label_options,
            CalibrationSession.opens_at,
            CalibrationSession.closes_at,
            CalibrationSession.policy_version_id,
            CalibrationSession.rollout_id,
        ),
        page,
        SESSIONS_PER_PAGE,
    )
    ids = [session.id for session in found]
    cases = dict(
        db.session.execute(
            sa.select(Case.session_id, sa.func.count(Case.id))
            .where(Case.session_id.in_(ids))
            .group_by(Case.session_id)
        ).all()
    )
    # The caller's raters with their labels counted (none: 0), in one statement.
    own = dict(
        db.session.execute(
            sa.select(Rater.session_id, sa.func.count(Label.id))
            .outerjoin(Label, Label.rater_id == Rater.id)
            .where(Rater.session_id.in_(ids), Rater.user_id == user.id)
            .group_by(Rater.session_id)
        ).all()
    )
    return respond(
        SessionList(
            sessions=[
                _session_out(s, cases.get(s.id, 0), s.id in own, own.get(s.id, 0)) for s in found
            ],
            page=page,
            pages=-(-total // SESSIONS_PER_PAGE),
            total=total,
        )
    )


@operation(
    bp,
    SESSION,
    "GET",
    "One calibration session",
    response=SessionOut,
    errors={404: "No such session visible to the caller"},
)
def get_session(session_id: int):
    """One session with the caller's progress."""
    user = api_user()
    session = queries.get_session(user, session_id)
    rater = queries.rater_for(user, session)
    own = queries.own_label_count(rater) if rater else 0
    return respond(_session_out(session, queries.case_count(session), rater, own))


@operation(
    bp,
    f"{SESSION}/cases",
    "GET",
    "The cases of a session, with the caller's labels",
    response=CaseList,
    errors={404: "No such session visible to the caller"},
)
def list_cases(session_id: int):
    """The session's cases; golden answers only once the caller may see them."""
    user = api_user()
    session = queries.get_session(user, session_id)
    rater = queries.rater_for(user, session)
    own = queries.own_labels(rater) if rater else {}
    golden = permissions.may_see_golden(user, session)
    cases = []
    for case in db.session.scalars(queries.cases_of(session)):
        mine = own.get(case.id)
        cases.append(
            CaseOut(
                id=case.id,
                reference=case.reference,
                position=case.position,
                text=case.content_text,
                url=case.content_url,
                market=case.market.code if case.market else None,
                policy_area=case.policy_area,
                golden_label=case.golden_label if golden else None,
                golden_rationale=case.golden_rationale if golden else None,
                your_label=mine.option_key if mine else None,
                your_comment=mine.comment if mine else None,
            )
        )
    return respond(CaseList(cases=cases))


@operation(
    bp,
    f"{SESSION}/labels",
    "GET",
    "Labels of a session the caller may read",
    response=LabelList,
    errors={404: "No such session visible to the caller"},
)
def list_labels(session_id: int):
    """Before reveal a rater reads only their own labels; after reveal, their vendor's."""
    user = api_user()
    session = queries.get_session(user, session_id)
    labels = db.session.scalars(
        queries.visible_labels(user, session).options(
            selectinload(Label.case),
            selectinload(Label.rater).selectinload(Rater.user),
            selectinload(Label.rater).selectinload(Rater.vendor),
            selectinload(Label.rater).selectinload(Rater.site),
        )
    ).all()
    return respond(
        LabelList(
            labels=[
                LabelOut(
                    case_id=label.case_id,
                    reference=label.case.reference,
                    rater=label.rater.name,
                    vendor=label.rater.vendor.name if label.rater.vendor else None,
                    site=label.rater.site.name if label.rater.site else None,
                    option=label.option_key,
                    comment=label.comment,
                    updated_at=label.updated_at,
                )
                for label in labels
            ]
        )
    )


@operation(
    bp,
    f"{SESSION}/labels",
    "PUT",
    "Save a batch of the caller's labels (upsert, all or nothing)",
    body=LabelBatch,
    response=LabelsSaved,
    errors={
        403: "The caller is not a rater in this session",
        404: "No such session visible to the caller",
        409: "The session is not open for labelling",
        422: "A label names an unknown case or option; nothing was saved",
    },
)
def save_labels(session_id: int):
    """Upsert up to 5,000 of the caller's labels; a bad one refuses the batch."""
    user = api_user()
    require(user, Action.LABEL_CASES)
    session = queries.get_session(user, session_id)
    batch = parse_body(LabelBatch)
    saved = services.save_labels(
        user,
        session,
        [
            services.LabelInput(
                option=entry.option,
                case_id=entry.case_id,
                reference=entry.reference,
                comment=entry.comment,
            )
            for entry in batch.labels
        ],
    )
    return respond(LabelsSaved(saved=saved))


@operation(
    bp,
    f"{SESSION}/agreement",
    "GET",
    "A session's agreement results",
    response=Agreement,
    errors={404: "No such session, or its results are not available to the caller yet"},
)
@cached_page
def agreement(session_id: int):
    """The stored results once the caller may see them (POMs after close, others after
    reveal), scoped like the results page."""
    user = api_user()
    session = queries.get_session(user, session_id)
    snapshot = queries.latest_snapshot(session)
    if not permissions.may_see_results(user, session) or snapshot is None:
        # Not 409: before reveal even the existence of results is not the rater's to know.
        raise NotFound("Results were not found.")
    flags = db.session.scalars(
        queries.visible_flags(user).where(Flag.session_id == session.id).order_by(Flag.id)
    ).all()
    return respond(
        Agreement(
            session_id=session.id,
            computed_at=snapshot.computed_at,
            stale=bool(
                session.golden_changed_at and session.golden_changed_at > snapshot.computed_at
            ),
            problem=snapshot.problem,
            report=queries.scoped_report(user, snapshot),
            flags=[
                FlagOut(
                    id=flag.id,
                    scope=flag.scope,
                    subject=flag.subject,
                    kind=flag.kind,
                    severity=flag.severity.value,
                    value=flag.value,
                    threshold=flag.threshold,
                    interval=flag.interval,
                    n=flag.n,
                    explained_by=flag.explained_by,
                    message=flag.message,
                    status=flag.status.value,
                    **{
                        key: (flag.details or {}).get(key)
                        for key in ("golden", "given", "share", "others_share")
                    },
                )
                for flag in flags
            ],
        )
    )


@operation(
    bp,
    f"{SESSION}/report.pdf",
    "GET",
    "The calibration report as PDF (202 while it is being prepared)",
    binary="application/pdf",
    errors={
        202: "Being prepared; ask again after Retry-After seconds",
        404: "No such session, or its results are not available to the caller yet",
    },
)
@uow.commits_on_read
def report_pdf(session_id: int):
    """The calibration report as the caller may see it."""
    user = api_user()
    session = queries.get_session(user, session_id)
    report = request_report(calibration_source(session, user))
    return pdf_answer(report)
