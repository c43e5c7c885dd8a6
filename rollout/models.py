"""Policies and their versions, checklist templates, rollouts and their checklists."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollcal.accounts.models import User
from rollcal.config import DEFAULT_ACCURACY_TARGET, DEFAULT_ALPHA_THRESHOLD
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Site
from rollcal.reports.queue import RenderStatus, ReportFile
from rollcal.types import UTCDateTime, enum_type, utcnow
from rollout.readiness import NA_REQUESTED


class VersionStatus(StrEnum):
    """Where a policy version is in its life."""

    DRAFT = "draft"
    ROLLING_OUT = "rolling_out"
    LIVE = "live"
    RETIRED = "retired"


class Category(StrEnum):
    """What kind of readiness a checklist item proves."""

    DOCUMENTATION = "documentation"
    TRAINING = "training"
    TESTING = "testing"
    CAPACITY = "capacity"
    REPORTING = "reporting"
    GO_LIVE = "go_live"


class Side(StrEnum):
    """Who does a checklist item: the POM, or the vendor's QA lead."""

    POM = "pom"
    VENDOR = "vendor"


class ItemStatus(StrEnum):
    """Where a checklist item is."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"

    @property
    def title(self) -> str:
        """The status as people read it."""
        return self.value.replace("_", " ").capitalize().replace("Todo", "To do")


class RolloutStatus(StrEnum):
    """Where a rollout is; the first three follow from its sites."""

    PLANNING = "planning"
    IN_PROGRESS = "in_progress"
    AWAITING_SIGNOFF = "awaiting_signoff"
    SIGNED_OFF = "signed_off"
    LIVE = "live"
    CANCELLED = "cancelled"

    @property
    def title(self) -> str:
        """The status as people read it."""
        return {
            "planning": "Planning",
            "in_progress": "In progress",
            "awaiting_signoff": "Awaiting sign-off",
            "signed_off": "Signed off",
            "live": "Live",
            "cancelled": "Cancelled",
        }[self.value]


class Policy(db.Model):
    """A moderation policy, such as counterfeit goods on product listings.

    ``version`` is checked on every edit (a stale edit is a conflict); an archived policy
    is hidden from the default list and offers no new versions or rollouts.
    """

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    area: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    line_of_business_id: Mapped[int] = mapped_column(sa.ForeignKey("lines_of_business.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    line_of_business: Mapped[LineOfBusiness] = relationship()
    versions: Mapped[list[PolicyVersion]] = relationship(
        back_populates="policy", order_by="PolicyVersion.effective_date.desc()"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_archived(self) -> bool:
        """Put away: hidden from the default list, read-only until unarchived."""
        return self.archived_at is not None

    @property
    def is_published(self) -> bool:
        """Whether any of its versions has left draft (it can then only be archived)."""
        return any(v.status != VersionStatus.DRAFT for v in self.versions)

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"


class PolicyVersion(db.Model):
    """One version of a policy: what changed, when, and how calibration labels it.

    ``label_options`` is an ordered list of ``{"key", "name", "description"}``; the order
    matters for ordinal calibration. A draft version may be edited (``version`` guards
    against lost updates) or deleted; once published (rolling out, live, retired) it is
    only archived, since rollouts and sessions cite it.
    """

    __tablename__ = "policy_versions"
    __table_args__ = (sa.UniqueConstraint("policy_id", "version_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id"), index=True)
    version_label: Mapped[str] = mapped_column(sa.String(40))
    change_summary: Mapped[str] = mapped_column(sa.Text)
    effective_date: Mapped[date] = mapped_column()
    document_url: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[VersionStatus] = mapped_column(
        enum_type(VersionStatus, "version_status"), default=VersionStatus.DRAFT
    )
    label_options: Mapped[list] = mapped_column(sa.JSON, default=list)
    label_level: Mapped[str] = mapped_column(sa.String(16), default="nominal")
    # The model gate this version requires (both set, or neither): on every label of at
    # least this severity the model's false-negative rate must be below the target.
    model_gate_min_severity: Mapped[float | None] = mapped_column()
    model_gate_fnr_target: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    policy: Mapped[Policy] = relationship(back_populates="versions")

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_draft(self) -> bool:
        """Not yet published: its text and label options may still change."""
        return self.status == VersionStatus.DRAFT

    @property
    def is_archived(self) -> bool:
        """Put away: hidden from choices of new rollouts and sessions, read-only."""
        return self.archived_at is not None

    @property
    def requires_model_gate(self) -> bool:
        """Whether a model must pass a graduation gate for this version."""
        return self.model_gate_min_severity is not None and self.model_gate_fnr_target is not None

    @property
    def label(self) -> str:
        """Policy code and version, as people cite it."""
        return f"{self.policy.code} {self.version_label}"

    def __str__(self) -> str:
        return f"{self.policy.code} {self.version_label} — {self.policy.title}"


class ChecklistTemplate(db.Model):
    """The ordered steps every site of a rollout goes through."""

    __tablename__ = "checklist_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(default=True)

    # Removed steps stay in the table (rollouts made from the template still point at
    # them); the template itself shows only the steps in use.
    items: Mapped[list[TemplateItem]] = relationship(
        primaryjoin="and_(ChecklistTemplate.id == TemplateItem.template_id, "
        "TemplateItem.removed_at.is_(None))",
        order_by="TemplateItem.position",
        viewonly=True,
    )

    def __str__(self) -> str:
        return self.name


class TemplateItem(db.Model):
    """One step of a template. ``due_offset_days`` counts days before go-live (T-n).

    A ``gate`` item is the calibration gate: its state comes from calibration results,
    never from someone ticking it.
    """

    __tablename__ = "template_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("checklist_templates.id"), index=True)
    position: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[Category] = mapped_column(enum_type(Category, "category"))
    side: Mapped[Side] = mapped_column(enum_type(Side, "side"))
    required: Mapped[bool] = mapped_column(default=True)
    due_offset_days: Mapped[int] = mapped_column()
    evidence_required: Mapped[bool] = mapped_column(default=False)
    gate: Mapped[bool] = mapped_column(default=False)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    template: Mapped[ChecklistTemplate] = relationship()


class RolloutSite(db.Model):
    """A site taking part in a rollout, with a POM's readiness override if any.

    Its readiness (state, reasons, required items closed of total) is stored: the pure
    rule recomputes it whenever something it depends on changes (``rollout.events``) and
    once a day for the date, so listings read it instead of recounting every item.
    ``readiness_on`` is the day it was computed for.
    """

    __tablename__ = "rollout_sites"

    rollout_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rollouts.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), primary_key=True, index=True)
    override_justification: Mapped[str | None] = mapped_column(sa.Text)
    overridden_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    readiness_state: Mapped[str] = mapped_column(
        sa.String(20), default="on_track", server_default="on_track"
    )
    readiness_reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    required_closed: Mapped[int] = mapped_column(default=0, server_default="0")
    required_total: Mapped[int] = mapped_column(default=0, server_default="0")
    readiness_on: Mapped[date | None] = mapped_column()

    rollout: Mapped[Rollout] = relationship(back_populates="rollout_sites")
    site: Mapped[Site] = relationship()
    overridden_by: Mapped[User | None] = relationship()


class Rollout(db.Model):
    """One policy version taken to a set of sites by a go-live date."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_version_id: Mapped[int] = mapped_column(sa.ForeignKey("policy_versions.id"), index=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("checklist_templates.id"))
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    go_live_date: Mapped[date] = mapped_column()
    status: Mapped[RolloutStatus] = mapped_column(
        enum_type(RolloutStatus, "rollout_status"), default=RolloutStatus.PLANNING
    )
    alpha_threshold: Mapped[float] = mapped_column(default=DEFAULT_ALPHA_THRESHOLD)
    accuracy_target: Mapped[float] = mapped_column(default=DEFAULT_ACCURACY_TARGET)
    gate_uses_lower_bound: Mapped[bool] = mapped_column(default=False)
    # A checklist step (its template item) bound to the model gate, and the model version
    # that must pass it: the step's items follow the gate, nobody ticks them.
    model_gate_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("template_items.id"))
    model_gate_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ai_model_versions.id", ondelete="SET NULL"), index=True
    )
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    policy_version: Mapped[PolicyVersion] = relationship()
    template: Mapped[ChecklistTemplate] = relationship()
    owner: Mapped[User] = relationship()
    rollout_sites: Mapped[list[RolloutSite]] = relationship(
        back_populates="rollout", cascade="all, delete-orphan"
    )
    items: Mapped[list[ChecklistItem]] = relationship(
        back_populates="rollout", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def title(self) -> str:
        """What people call the rollout: the policy version it takes live."""
        version = self.policy_version
        return f"{version.policy.code} {version.version_label} — {version.policy.title}"

    def __str__(self) -> str:
        return self.title


class ChecklistItem(db.Model):
    """One template step for one site of one rollout.

    ``version`` is checked on every save: two people editing at once get a conflict,
    not a lost update.
    """

    __tablename__ = "checklist_items"
    __table_args__ = (sa.UniqueConstraint("rollout_id", "site_id", "template_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rollouts.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    template_item_id: Mapped[int] = mapped_column(sa.ForeignKey("template_items.id"))
    position: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[Category] = mapped_column(enum_type(Category, "category"))
    side: Mapped[Side] = mapped_column(enum_type(Side, "side"))
    required: Mapped[bool] = mapped_column(default=True)
    evidence_required: Mapped[bool] = mapped_column(default=False)
    gate: Mapped[bool] = mapped_column(default=False)
    due_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[ItemStatus] = mapped_column(
        enum_type(ItemStatus, "item_status"), default=ItemStatus.TODO
    )
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    evidence_url: Mapped[str | None] = mapped_column(sa.String(500))
    evidence_note: Mapped[str | None] = mapped_column(sa.Text)
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A vendor's request that a required step be not applicable: pending while set; the
    # status stays as it was until a POM approves (then not applicable) or refuses.
    na_requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    na_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    na_request_reason: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    rollout: Mapped[Rollout] = relationship(back_populates="items")
    site: Mapped[Site] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    na_requested_by: Mapped[User | None] = relationship(foreign_keys=[na_requested_by_id])
    comments: Mapped[list[Comment]] = relationship(
        back_populates="item", order_by="Comment.created_at", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_closed(self) -> bool:
        """Done or not applicable: nothing more to do."""
        return self.status in (ItemStatus.DONE, ItemStatus.NOT_APPLICABLE)

    @property
    def na_requested(self) -> bool:
        """Whether the vendor asked that this step be not applicable and a POM has yet to
        answer."""
        return self.na_requested_at is not None

    @property
    def readiness_status(self) -> str:
        """The status the readiness rule reads: a pending not-applicable request is a
        state of its own there, whatever the status it would return to."""
        return NA_REQUESTED if self.na_requested else self.status.value

    @property
    def is_vendor_side(self) -> bool:
        """A step the vendor does (its QA leads may edit it), not the POM."""
        return self.side == Side.VENDOR


class Comment(db.Model):
    """A comment in a checklist item's thread."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("checklist_items.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[ChecklistItem] = relationship(back_populates="comments")
    author: Mapped[User] = relationship()


class SignOffStatus(StrEnum):
    """Where a sign-off request is."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Decision(StrEnum):
    """A stakeholder's answer."""

    APPROVE = "approve"
    REJECT = "reject"

    @property
    def past(self) -> str:
        """The decision as something done: "approved", "rejected"."""
        return {"approve": "approved", "reject": "rejected"}[self.value]


class SignOffRequest(db.Model):
    """A POM's request that stakeholders sign off a rollout, with the report frozen then.

    The frozen report is rendered by a worker after the request is made; once rendered
    its bytes never change: they are the document people sign, and their SHA-256 lets
    anyone check a copy. A rollout has at most one pending request (a partial unique
    index), however many POMs ask at once.
    """

    __tablename__ = "signoff_requests"
    __table_args__ = (
        sa.Index(
            "uq_signoff_requests_one_pending",
            "rollout_id",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rollouts.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[SignOffStatus] = mapped_column(
        enum_type(SignOffStatus, "signoff_status"), default=SignOffStatus.PENDING
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set in the transaction that makes the request: the frozen report's content shows the
    # request itself, so the request row exists first.
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report_files.id"), index=True)

    rollout: Mapped[Rollout] = relationship()
    requested_by: Mapped[User] = relationship()
    report: Mapped[ReportFile | None] = relationship()
    sign_offs: Mapped[list[SignOff]] = relationship(
        back_populates="request", order_by="SignOff.id", cascade="all, delete-orphan"
    )

    @property
    def report_ready(self) -> bool:
        """Whether the frozen report has been rendered, so stakeholders can read it."""
        return self.report is not None and self.report.status == RenderStatus.READY

    @property
    def report_pdf(self) -> bytes | None:
        """The frozen report's bytes (``None`` until rendered)."""
        return self.report.pdf if self.report_ready else None

    @property
    def report_sha256(self) -> str | None:
        """The frozen report's SHA-256 (``None`` until rendered)."""
        return self.report.sha256 if self.report_ready else None


class SignOff(db.Model):
    """One stakeholder's decision on one sign-off request."""

    __tablename__ = "signoffs"
    __table_args__ = (sa.UniqueConstraint("request_id", "stakeholder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("signoff_requests.id", ondelete="CASCADE"), index=True
    )
    stakeholder_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    decision: Mapped[Decision | None] = mapped_column(enum_type(Decision, "decision"))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    request: Mapped[SignOffRequest] = relationship(back_populates="sign_offs")
    stakeholder: Mapped[User] = relationship()
