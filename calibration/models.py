"""Calibration sessions: raters, shared cases, blind labels, stored results and flags.

A session may name the policy version it calibrates and the rollout whose readiness gate
it feeds. Both are plain foreign keys to the ``policy_versions`` and ``rollouts`` tables:
``calibration`` never imports ``rollout`` (the rollout side reads calibration, not the
other way round).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollcal.accounts.models import User
from rollcal.config import DEFAULT_ACCURACY_TARGET, DEFAULT_ALPHA_THRESHOLD
from rollcal.extensions import db
from rollcal.org.models import Market, Site, Vendor
from rollcal.types import UTCDateTime, enum_type, utcnow


class SessionStatus(StrEnum):
    """Where a session is: prepared, labelling, closed (results computed), revealed."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    REVEALED = "revealed"

    @property
    def title(self) -> str:
        """The status as people read it."""
        return {
            "draft": "Draft",
            "open": "Open for labelling",
            "closed": "Closed",
            "revealed": "Revealed",
        }[self.value]


class LabelLevel(StrEnum):
    """How label options relate: unordered categories, or an ordered scale."""

    NOMINAL = "nominal"
    ORDINAL = "ordinal"


class RaterKind(StrEnum):
    """A person who labels, or a model whose labels are compared like anyone's."""

    HUMAN = "human"
    MODEL = "model"


class Severity(StrEnum):
    """How urgently a flag needs attention."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FlagStatus(StrEnum):
    """Where a flag is in triage."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def title(self) -> str:
        """The status as people read it."""
        return self.value.capitalize()


class CalibrationSession(db.Model):
    """Raters label the same cases blind; once closed, their agreement is measured.

    ``label_options`` is an ordered list of ``{"key", "name", "description"}`` (at most
    nine, one per number key), copied from the policy version when the session is
    created so later edits to the version do not change a running session.
    ``golden_changed_at`` tells the results page that a golden answer changed after the
    stored results were computed.
    """

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    policy_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("policy_versions.id", ondelete="SET NULL"), index=True
    )
    rollout_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("rollouts.id", ondelete="SET NULL"), index=True
    )
    label_options: Mapped[list] = mapped_column(sa.JSON, default=list)
    label_level: Mapped[LabelLevel] = mapped_column(
        enum_type(LabelLevel, "label_level"), default=LabelLevel.NOMINAL
    )
    status: Mapped[SessionStatus] = mapped_column(
        enum_type(SessionStatus, "session_status"), default=SessionStatus.DRAFT, index=True
    )
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alpha_threshold: Mapped[float] = mapped_column(default=DEFAULT_ALPHA_THRESHOLD)
    accuracy_target: Mapped[float] = mapped_column(default=DEFAULT_ACCURACY_TARGET)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    golden_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Archived sessions are hidden from default lists and read-only; their labels and
    # results stay, and a rollout gate that reads them keeps reading them.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    created_by: Mapped[User | None] = relationship()
    raters: Mapped[list[Rater]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Rater.id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def option_keys(self) -> list[str]:
        """The label keys, in order."""
        return [option["key"] for option in self.label_options]

    def option_name(self, key: str | None) -> str:
        """The name people read for a label key (the key itself if unknown)."""
        if key is None:
            return "—"
        return next((o["name"] for o in self.label_options if o["key"] == key), key)

    @property
    def is_draft(self) -> bool:
        """Still being prepared: nobody has labelled, so it may change or go entirely."""
        return self.status == SessionStatus.DRAFT

    @property
    def is_archived(self) -> bool:
        """Put away: hidden from default lists and read-only until unarchived."""
        return self.archived_at is not None

    @property
    def is_closed(self) -> bool:
        """Labels frozen and results computed (closed, or closed and revealed)."""
        return self.status in (SessionStatus.CLOSED, SessionStatus.REVEALED)

    @property
    def is_revealed(self) -> bool:
        """Results, golden answers and everyone's labels shown to the raters."""
        return self.status == SessionStatus.REVEALED

    @property
    def is_labelling(self) -> bool:
        """Whether raters may label now: open, not archived, closing time not yet passed."""
        return (
            self.status == SessionStatus.OPEN
            and self.archived_at is None
            and (self.closes_at is None or utcnow() < self.closes_at)
        )

    def __str__(self) -> str:
        return self.title


class Rater(db.Model):
    """Someone, or some model, whose labels the session compares.

    A human rater is a QA lead labelling for one site of their vendor; the vendor and
    site are kept on the rater so results group by them as they were at the time.
    """

    __tablename__ = "calibration_raters"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "user_id", name="uq_calibration_raters_session_user"),
        sa.UniqueConstraint(
            "session_id",
            "model_name",
            "model_version",
            name="uq_calibration_raters_session_model",
        ),
        sa.CheckConstraint(
            "(kind = 'human' AND user_id IS NOT NULL AND vendor_id IS NOT NULL "
            "AND site_id IS NOT NULL AND model_name IS NULL) "
            "OR (kind = 'model' AND user_id IS NULL AND vendor_id IS NULL AND site_id IS NULL "
            "AND model_name IS NOT NULL AND model_version IS NOT NULL)",
            name="human_or_model",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[RaterKind] = mapped_column(enum_type(RaterKind, "rater_kind"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vendors.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    model_name: Mapped[str | None] = mapped_column(sa.String(120))
    model_version: Mapped[str | None] = mapped_column(sa.String(60))
    # The registered model version this rater is (None for a model named by hand).
    ai_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ai_model_versions.id", ondelete="SET NULL"), index=True
    )
    # Added after the session was revealed, to label its cases again ("replay"): its
    # labels are measured against the humans but never enter the humans' results.
    replay: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[CalibrationSession] = relationship(back_populates="raters")
    user: Mapped[User | None] = relationship()
    vendor: Mapped[Vendor | None] = relationship()
    site: Mapped[Site | None] = relationship()
    ai_version: Mapped[AIModelVersion | None] = relationship()

    @property
    def name(self) -> str:
        """The person's name, or the model's name and version."""
        if self.kind == RaterKind.MODEL:
            return f"{self.model_name} {self.model_version}"
        return self.user.name

    def __str__(self) -> str:
        return self.name


class Case(db.Model):
    """A piece of content every rater labels; the golden label is what it should get.

    ``version`` is checked when a case of a draft session is edited: two people editing
    at once get a conflict, not a lost update.
    """

    __tablename__ = "calibration_cases"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "reference", name="uq_calibration_cases_reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column()
    reference: Mapped[str] = mapped_column(sa.String(120))
    content_text: Mapped[str | None] = mapped_column(sa.Text)
    content_url: Mapped[str | None] = mapped_column(sa.String(500))
    market_id: Mapped[int | None] = mapped_column(sa.ForeignKey("markets.id"))
    policy_area: Mapped[str | None] = mapped_column(sa.String(120))
    golden_label: Mapped[str | None] = mapped_column(sa.String(40))
    golden_rationale: Mapped[str | None] = mapped_column(sa.Text)
    golden_set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    golden_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    market: Mapped[Market | None] = relationship()
    golden_set_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return self.reference


class Label(db.Model):
    """One rater's label on one case; one per pair, replaced until the session closes."""

    __tablename__ = "calibration_labels"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "rater_id", name="uq_calibration_labels_case_rater"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("calibration_cases.id", ondelete="CASCADE"))
    rater_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_raters.id", ondelete="CASCADE"), index=True
    )
    option_key: Mapped[str] = mapped_column(sa.String(40))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    rater: Mapped[Rater] = relationship()


class AgreementSnapshot(db.Model):
    """The results of a session as computed at one time; pages read these, never recompute.

    ``report`` is ``AgreementReport.to_dict()`` (None when there was nothing to analyse,
    with ``problem`` saying why). ``subjects`` maps the names the report uses back to
    ids — ``{"raters": {name: {"id", "vendor_id", "site_id", "user_id"}}, "groups":
    {vendor name: vendor id}, "sites": {site label: site id}}`` — so pages can scope
    rows to a vendor. ``gate_figures`` holds, per site id, just what the rollout gate
    reads (``alpha``, ``alpha_lower``, ``accuracy``), so a board of many rollouts never
    loads whole reports.

    ``charts`` holds the alpha-by-vendor chart drawn once when the results are stored:
    ``{"all": svg, "<vendor id>": svg}`` (the second for that vendor's QA leads, who see
    their own bar only). ``summary`` holds what pages and reports show
    (``calibration.charts.summary_of``): the headline figures, the tables that grow with
    raters and sites but not with cases, and the most contested cases. Results stored
    before they existed have neither (or a headline-only summary). ``report`` is loaded
    only when read (the API's agreement answer): it can exceed a megabyte.
    """

    __tablename__ = "agreement_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    n_labels: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict | None] = mapped_column(sa.JSON, deferred=True)
    subjects: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    gate_figures: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    problem: Mapped[str | None] = mapped_column(sa.Text)
    charts: Mapped[dict | None] = mapped_column(sa.JSON)
    summary: Mapped[dict | None] = mapped_column(sa.JSON)
    # Per vendor id: its errors against golden by direction of enforcement and severity,
    # and per label (``ErrorProfile.to_dict()`` with the vendor's name); None before 0018.
    error_directions: Mapped[dict | None] = mapped_column(sa.JSON)

    computed_by: Mapped[User | None] = relationship()


class RootCause(StrEnum):
    """Why a finding happened, from a fixed list, so causes can be counted and recur."""

    POLICY_UNCLEAR = "policy_unclear"
    TRAINING_GAP = "training_gap"
    INDIVIDUAL_RATER = "individual_rater"
    TOOLING = "tooling"
    GOLDEN_WRONG = "golden_wrong"
    OTHER = "other"

    @property
    def title(self) -> str:
        """The cause as people read it."""
        return {
            "policy_unclear": "Policy unclear",
            "training_gap": "Training gap",
            "individual_rater": "Individual rater",
            "tooling": "Tooling",
            "golden_wrong": "Golden answer wrong",
            "other": "Other",
        }[self.value]


class ActionStatus(StrEnum):
    """Where an action item of a finding is."""

    OPEN = "open"
    DONE = "done"


class Flag(db.Model):
    """A misalignment the results raised, triaged by a POM: open → acknowledged → resolved.

    ``vendor_id`` and ``site_id`` (taken from the subject when it is a vendor, site or
    human rater) scope who may see the flag; session-wide and label flags have neither.
    ``cause`` is "scope|subject|kind", unique per session, so a recompute finds the flag
    it raised before and no cause is ever flagged twice. ``interval_low``/``interval_high``
    and ``n`` are the evidence behind ``value``; ``details`` keeps the rest of the
    engine's flag (a misreading's labels and shares, the q-value). A flag the latest
    results no longer raise is resolved with ``closed_by_recompute`` set.
    """

    __tablename__ = "calibration_flags"
    __table_args__ = (sa.UniqueConstraint("session_id", "cause"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True
    )
    snapshot_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("agreement_snapshots.id", ondelete="SET NULL")
    )
    scope: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str | None] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(40))
    cause: Mapped[str] = mapped_column(sa.String(300))
    severity: Mapped[Severity] = mapped_column(enum_type(Severity, "severity"))
    value: Mapped[float | None] = mapped_column()
    threshold: Mapped[float | None] = mapped_column()
    interval_low: Mapped[float | None] = mapped_column()
    interval_high: Mapped[float | None] = mapped_column()
    n: Mapped[int | None] = mapped_column()
    explained_by: Mapped[str | None] = mapped_column(sa.String(300))
    details: Mapped[dict | None] = mapped_column(sa.JSON)
    closed_by_recompute: Mapped[bool] = mapped_column(default=False)
    message: Mapped[str] = mapped_column(sa.Text)
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vendors.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    rater_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("calibration_raters.id", ondelete="SET NULL")
    )
    status: Mapped[FlagStatus] = mapped_column(
        enum_type(FlagStatus, "flag_status"), default=FlagStatus.OPEN, index=True
    )
    root_cause: Mapped[str | None] = mapped_column(sa.Text)
    action: Mapped[str | None] = mapped_column(sa.Text)
    # The finding as a piece of work: who owns it, by when, and the cause it was resolved
    # with (``RootCause``); its action items are ``FlagAction`` rows.
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    due_date: Mapped[date | None] = mapped_column()
    cause_category: Mapped[RootCause | None] = mapped_column(
        enum_type(RootCause, "root_cause_category")
    )
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    session: Mapped[CalibrationSession] = relationship()
    vendor: Mapped[Vendor | None] = relationship()
    site: Mapped[Site | None] = relationship()
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    actions: Mapped[list[FlagAction]] = relationship(
        back_populates="flag",
        cascade="all, delete-orphan",
        order_by="FlagAction.id",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def scope_title(self) -> str:
        """What the flag is about, as people say it."""
        return Flag.title_of(self.scope, self.subject)

    @staticmethod
    def title_of(scope: str, subject: str | None) -> str:
        """What a flag of ``scope`` about ``subject`` is about, as people say it (for
        pages that read flags as plain rows)."""
        where = {
            "session": "Whole session",
            "overall": "Whole session",
            "group": "Vendor",
            "site": "Site",
            "rater": "Rater",
            "label": "Label option",
        }.get(scope, scope.capitalize())
        return f"{where}: {subject}" if subject else where

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% interval of ``value``, when the figure has one."""
        if self.interval_low is None or self.interval_high is None:
            return None
        return (self.interval_low, self.interval_high)

    @staticmethod
    def cause_of(scope: str, subject: str | None, kind: str) -> str:
        """The key that names one cause within a session."""
        return f"{scope}|{subject or ''}|{kind}"


class QualityPoint(db.Model):
    """One vendor's or site's figures in one session, kept for scorecards and drift.

    Written from the stored results each time a revealed session's results are stored
    (and replaced on recompute), so the history of a site over two years is a few rows
    read by index, not dozens of megabyte-sized reports. ``subject`` (unique per session)
    is ``"v<vendor id>"`` or ``"s<site id>"`` for the scorecards, and for cross-market
    alignment ``"m<market id>"`` (every vendor's raters on that market's cases),
    ``"m<market id>v<vendor id>"`` (one vendor's) or ``"r<region>"``; ``site_id`` is
    None except on a site's row, ``market_id`` and ``region`` None except on market and
    region rows.
    ``policy_id`` groups sessions of the same policy (across its versions): a site's
    drift is judged against its own history on that policy. ``n_golden`` counts the
    golden cases the subject's raters labelled; ``details`` holds per-label recall
    (``{"recall": {label key: share}}``), the ``misreads`` the session found and the
    ``names`` of the labels.
    """

    __tablename__ = "quality_points"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "subject", name="uq_quality_points_session_subject"),
        sa.Index("ix_quality_points_site_policy", "site_id", "policy_id", "revealed_at"),
        sa.Index("ix_quality_points_vendor", "vendor_id", "revealed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="CASCADE")
    )
    subject: Mapped[str] = mapped_column(sa.String(24))
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vendors.id"))
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    market_id: Mapped[int | None] = mapped_column(sa.ForeignKey("markets.id"))
    region: Mapped[str | None] = mapped_column(sa.String(8))
    policy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("policies.id"))
    revealed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alpha: Mapped[float | None] = mapped_column()
    alpha_low: Mapped[float | None] = mapped_column()
    alpha_high: Mapped[float | None] = mapped_column()
    accuracy: Mapped[float | None] = mapped_column()
    accuracy_low: Mapped[float | None] = mapped_column()
    accuracy_high: Mapped[float | None] = mapped_column()
    n_golden: Mapped[int] = mapped_column(default=0)
    n_raters: Mapped[int] = mapped_column(default=0)
    evidence: Mapped[bool] = mapped_column(default=False)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    session: Mapped[CalibrationSession] = relationship()
    vendor: Mapped[Vendor | None] = relationship()
    site: Mapped[Site | None] = relationship()
    market: Mapped[Market | None] = relationship()


class FlagAction(db.Model):
    """One action item of a finding: what someone will do about it, open until done."""

    __tablename__ = "calibration_flag_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_flags.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[ActionStatus] = mapped_column(
        enum_type(ActionStatus, "flag_action_status"), default=ActionStatus.OPEN
    )
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    flag: Mapped[Flag] = relationship(back_populates="actions")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])


# AI raters -----------------------------------------------------------------------------


class AIModel(db.Model):
    """An automated labeller (an AI model) whose versions rate calibration sessions."""

    __tablename__ = "ai_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    owner: Mapped[str] = mapped_column(sa.String(120), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[AIModelVersion]] = relationship(
        back_populates="model", cascade="all, delete-orphan", order_by="AIModelVersion.id"
    )

    def __str__(self) -> str:
        return self.name


class AIModelVersion(db.Model):
    """One version of a model; in each session it labels, it is one rater."""

    __tablename__ = "ai_model_versions"
    __table_args__ = (sa.UniqueConstraint("model_id", "version", name="uq_ai_model_versions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ai_models.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(sa.String(60))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    model: Mapped[AIModel] = relationship(back_populates="versions")

    @property
    def name(self) -> str:
        """The model's name and this version, as raters show it."""
        return f"{self.model.name} {self.version}"

    def __str__(self) -> str:
        return self.name


class AIModelToken(db.Model):
    """A service token that labels as one model, and nothing else; only its hash is kept."""

    __tablename__ = "ai_model_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ai_models.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    model: Mapped[AIModel] = relationship()

    @property
    def is_revoked(self) -> bool:
        """Whether the token no longer authenticates."""
        return self.revoked_at is not None


class ModelEvaluation(db.Model):
    """A model rater measured against the humans of its session, as last computed.

    One per rater, replaced when the session's results are computed again or a replay's
    labels arrive. ``figures`` is ``VersionEvaluation.to_dict()`` of
    :mod:`calibration.model_eval`; the headline columns let the model page draw a trend
    across sessions without reading every figure.
    """

    __tablename__ = "ai_model_evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True
    )
    rater_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calibration_raters.id", ondelete="CASCADE"), unique=True
    )
    ai_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ai_model_versions.id", ondelete="SET NULL"), index=True
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    n_golden: Mapped[int] = mapped_column(default=0)
    accuracy: Mapped[float | None] = mapped_column()
    accuracy_low: Mapped[float | None] = mapped_column()
    accuracy_high: Mapped[float | None] = mapped_column()
    verdict: Mapped[str] = mapped_column(sa.String(16))
    figures: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    session: Mapped[CalibrationSession] = relationship()
    rater: Mapped[Rater] = relationship()
    ai_version: Mapped[AIModelVersion | None] = relationship()


class CaseSource(StrEnum):
    """Where a scheduled round's cases come from."""

    SESSION = "session"
    CONTESTED = "contested"
    CSV = "csv"

    @property
    def title(self) -> str:
        """The source as people read it."""
        return {
            "session": "A copy of a previous session's cases",
            "contested": "The most contested cases of the last rounds",
            "csv": "A CSV file uploaded with the schedule",
        }[self.value]


class CalibrationSchedule(db.Model):
    """Recurring calibration: every ``cadence_days`` a round of the same policy version
    for the QA leads of ``site_ids``, open for ``open_days``.

    ``next_run_at`` is when the next round opens; the scheduler creates it then and moves
    this on by the cadence. ``site_ids`` is a list of site ids (every active QA lead of a
    site's vendor rates for that site). Cases come from ``source``: a copy of
    ``source_session_id``'s cases, the ``contested_count`` most contested cases of the last
    ``contested_rounds`` revealed sessions of the policy, or the CSV kept in ``cases_csv``.
    """

    __tablename__ = "calibration_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    policy_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("policy_versions.id", ondelete="SET NULL"), index=True
    )
    site_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    cadence_days: Mapped[int] = mapped_column()
    open_days: Mapped[int] = mapped_column()
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    source: Mapped[CaseSource] = mapped_column(enum_type(CaseSource, "case_source"))
    source_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="SET NULL")
    )
    contested_count: Mapped[int | None] = mapped_column()
    contested_rounds: Mapped[int | None] = mapped_column()
    cases_csv: Mapped[str | None] = mapped_column(sa.Text, deferred=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    created_by: Mapped[User | None] = relationship()
    source_session: Mapped[CalibrationSession | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return self.name


class CalibrationRound(db.Model):
    """A session the scheduler or a drift flag created: one per schedule and round time,
    one per flag. The unique rules are what make a round exactly once when two schedulers
    (or two clicks) create it at the same instant."""

    __tablename__ = "calibration_rounds"
    __table_args__ = (
        sa.UniqueConstraint("schedule_id", "round_at", name="uq_calibration_rounds_schedule_at"),
        sa.UniqueConstraint("flag_id", name="uq_calibration_rounds_flag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("calibration_schedules.id", ondelete="CASCADE")
    )
    flag_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("calibration_flags.id", ondelete="CASCADE")
    )
    round_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("calibration_sessions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[CalibrationSession | None] = relationship()
