"""Sign-off: the only code that writes sign-off requests and decisions.

A request freezes the readiness report as it stands: its content is fixed in the
request's transaction and rendered afterwards by a worker (never inside the write
transaction, nor in a web worker); those PDF bytes and their SHA-256 are what
stakeholders approve and what anyone can verify later, byte for byte.

Concurrent people get one outcome: a partial unique index allows one pending request per
rollout, so of two POMs asking at once one gets a conflict; a decision locks its request
first, so two stakeholders approving at once see each other's approval, and one
stakeholder's two decisions at once record one and refuse the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from rollcal import permissions
from rollcal.accounts.models import User
from rollcal.audit import AuditEvent, record
from rollcal.errors import Conflict, Forbidden, NotFound, ValidationError
from rollcal.events import signoff_decided
from rollcal.extensions import db
from rollcal.notifications.models import Kind
from rollcal.notifications.services import notify, path_for
from rollcal.permissions import Action, may_read_report, require
from rollcal.reports.queue import RenderStatus, ReportFile, request_report
from rollcal.types import utcnow
from rollout.models import (
    Decision,
    Rollout,
    RolloutStatus,
    SignOff,
    SignOffRequest,
    SignOffStatus,
)
from rollout.queries import build_board, visible_rollouts
from rollout.readiness import State
from rollout.report import readiness_source

MAX_PDF_BYTES = 50 * 1024 * 1024


def _pending_request(rollout: Rollout) -> SignOffRequest | None:
    return db.session.scalar(
        sa.select(SignOffRequest).where(
            SignOffRequest.rollout_id == rollout.id, SignOffRequest.status == SignOffStatus.PENDING
        )
    )


def request_signoff(
    actor: User,
    rollout: Rollout,
    *,
    stakeholder_ids: list[int],
    message: str = "",
    today: date | None = None,
) -> SignOffRequest:
    """Ask stakeholders to sign off a rollout whose every site is ready; freeze the report."""
    require(actor, Action.MANAGE_ROLLOUTS)
    today = today or utcnow().date()
    if rollout.status not in (
        RolloutStatus.IN_PROGRESS,
        RolloutStatus.AWAITING_SIGNOFF,
        RolloutStatus.PLANNING,
    ):
        raise ValidationError.field("rollout", f"the rollout is {rollout.status.title.lower()}.")
    if _pending_request(rollout) is not None:
        raise ValidationError.field("stakeholders", "a sign-off request is already pending.")
    board = build_board(None, rollout, today)
    not_ready = [row.site.label for row in board.rows if row.readiness.state != State.READY]
    if not_ready:
        raise ValidationError.field(
            "stakeholders",
            f"every site must be ready (or overridden) first; not yet: "
            f"{', '.join(not_ready[:5])}{' …' if len(not_ready) > 5 else ''}.",
        )
    stakeholders = list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.id.in_(stakeholder_ids or []),
                User.active.is_(True),
                permissions.holders_of(Action.SIGN_OFF),
            )
            .order_by(User.name)
        )
    )
    if not stakeholders or len(stakeholders) != len(set(stakeholder_ids)):
        raise ValidationError.field("stakeholders", "choose at least one active stakeholder.")

    request = SignOffRequest(rollout=rollout, requested_by=actor, message=(message or "").strip())
    request.sign_offs = [SignOff(stakeholder=person) for person in stakeholders]
    try:
        # Alone in a savepoint, so that a POM asking at the same moment waits on the
        # one-pending-request index and then gets this conflict, not a second request.
        with db.session.begin_nested():
            db.session.add(request)
    except sa.exc.IntegrityError:
        raise Conflict(
            "Someone else requested sign-off of this rollout at the same moment; "
            "their request is the one pending."
        ) from None
    before = rollout.status
    rollout.status = RolloutStatus.AWAITING_SIGNOFF
    db.session.flush()
    # The frozen copy shows the request and its (still empty) decisions.
    # Times on the frozen copy are in the zone of the POM who asked for it.
    request.report = request_report(
        readiness_source(rollout, None, today, zone=actor.timezone, frozen=True), frozen=True
    )
    db.session.flush()
    for sign_off in request.sign_offs:
        notify(
            sign_off.stakeholder,
            Kind.SIGNOFF_REQUESTED,
            about=f"sign-off:{sign_off.id}",
            title=f"Sign-off requested: {rollout.title}",
            body=f"{actor.name} asks you to sign off go-live on {rollout.go_live_date:%d %B %Y}."
            + (f" “{request.message}”" if request.message else ""),
            link=path_for("rollout.decide", sign_off_id=sign_off.id),
        )
    record(
        actor,
        "signoff.requested",
        rollout,
        f"Sign-off requested from {', '.join(p.name for p in stakeholders)}; the report is "
        "frozen as it stands",
        rollout_id=rollout.id,
        before={"status": before.value},
        after={"status": rollout.status.value, "report": request.report.token},
    )
    db.session.flush()
    return request


def decide(actor: User, sign_off: SignOff, decision: str, comment: str = "") -> SignOff:
    """A stakeholder approves or rejects; all approvals sign the rollout off, a rejection
    sends it back to in progress with the reason."""
    if not permissions.may_decide_sign_off(actor, sign_off):
        raise Forbidden("Only the stakeholder asked can decide this sign-off.")
    request = _locked_request(sign_off.request_id)
    if request.status != SignOffStatus.PENDING or sign_off.decision is not None:
        raise Conflict("This sign-off has already been decided.")
    if not request.report_ready:
        raise ValidationError.field(
            "decision", "the frozen report is still being prepared; decide once you can read it."
        )
    try:
        choice = Decision(decision)
    except ValueError:
        raise ValidationError.field("decision", "choose approve or reject.") from None
    comment = (comment or "").strip()
    if choice == Decision.REJECT and not comment:
        raise ValidationError.field("comment", "say why you reject, so the POM can act on it.")
    now = utcnow()
    sign_off.decision, sign_off.comment, sign_off.decided_at = choice, comment or None, now
    rollout = request.rollout
    before = rollout.status
    if choice == Decision.REJECT:
        request.status, request.decided_at = SignOffStatus.REJECTED, now
    elif all(s.decision == Decision.APPROVE for s in request.sign_offs):
        request.status, request.decided_at = SignOffStatus.APPROVED, now
    # The rollout's status follows the decision (``rollout.events``).
    signoff_decided.send(rollout, outcome=request.status.value)
    verb = "approved" if choice == Decision.APPROVE else "rejected"
    outcome = {
        SignOffStatus.APPROVED: " The rollout is signed off.",
        SignOffStatus.REJECTED: " The rollout is back in progress.",
    }.get(request.status, "")
    notify(
        request.requested_by,
        Kind.SIGNOFF_DECIDED,
        about=f"sign-off:{sign_off.id}:{choice.value}",
        title=f"{actor.name} {verb} the sign-off of {rollout.title}",
        body=(f"“{comment}”" if comment else "") + outcome,
        link=path_for("rollout.signoff", rollout_id=rollout.id),
    )
    record(
        actor,
        f"signoff.{verb}",
        rollout,
        f"{actor.name} {verb} the sign-off" + (f": {comment}" if comment else ""),
        rollout_id=rollout.id,
        before={"status": before.value},
        after={"status": rollout.status.value, "decision": choice.value},
    )
    db.session.flush()
    return sign_off


def _locked_request(request_id: int) -> SignOffRequest:
    """The request, locked for this transaction and read afresh with its decisions.

    Decisions on one request take turns: the second waits for the first to commit and
    then reads it, so the last approval signs the rollout off and a decision made twice
    at once is refused the second time. (On SQLite each transaction is the only writer.)
    """
    request = db.session.scalars(
        sa.select(SignOffRequest)
        .where(SignOffRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    db.session.scalars(
        sa.select(SignOff)
        .where(SignOff.request_id == request_id)
        .execution_options(populate_existing=True)
    ).all()
    return request


# What a frozen report is, in its file name, as its request stands.
FILE_STATES = {
    SignOffStatus.PENDING: "for-signoff",
    SignOffStatus.APPROVED: "signed",
    SignOffStatus.REJECTED: "rejected",
}


def frozen_filename(request: SignOffRequest) -> str:
    """The download name of a request's frozen report: "…-for-signoff-…" while pending,
    "…-signed-…" once approved, "…-rejected-…" after a rejection."""
    return (
        f"rollcal-readiness-{request.rollout_id}-{FILE_STATES[request.status]}-"
        f"{(request.report_sha256 or '')[:8]}.pdf"
    )


def signed_request(rollout: Rollout) -> SignOffRequest | None:
    """The approved request of a rollout (its signed report), if any."""
    return db.session.scalar(
        sa.select(SignOffRequest)
        .where(
            SignOffRequest.rollout_id == rollout.id, SignOffRequest.status == SignOffStatus.APPROVED
        )
        .order_by(SignOffRequest.decided_at.desc())
        .limit(1)
    )


def changes_since_signoff(rollout: Rollout) -> list[AuditEvent]:
    """What changed in a signed-off rollout after its signature, oldest first."""
    signed = signed_request(rollout)
    if signed is None:
        return []
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.rollout_id == rollout.id,
                AuditEvent.created_at > signed.decided_at,
                AuditEvent.action.not_like("signoff.%"),
            )
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
    )


@dataclass
class Verification:
    """What a PDF is: a signed rollcal report, a generated one, or unknown to rollcal."""

    sha256: str
    request: SignOffRequest | None = None
    report: ReportFile | None = None

    @property
    def known(self) -> bool:
        """Whether rollcal made this exact file."""
        return self.request is not None or self.report is not None


def verify(reader: User, content: bytes) -> Verification:
    """Identify an uploaded PDF by its SHA-256, within what the reader may see."""
    if not content:
        raise ValidationError.field("file", "choose a PDF file.")
    if len(content) > MAX_PDF_BYTES:
        raise ValidationError.field("file", "is larger than 50 MB; no rollcal report is.")
    if not content.startswith(b"%PDF-"):
        raise ValidationError.field("file", "is not a PDF.")
    digest = hashlib.sha256(content).hexdigest()
    visible = visible_rollouts(reader).with_only_columns(Rollout.id)
    request = db.session.scalar(
        sa.select(SignOffRequest)
        .join(SignOffRequest.report)
        .where(
            ReportFile.sha256 == digest,
            ReportFile.status == RenderStatus.READY,
            SignOffRequest.rollout_id.in_(visible),
        )
    )
    if request is not None and permissions.bound_to_vendor(reader):
        request = None  # frozen reports show every vendor; QA leads read only their own
    report = None
    if request is None:
        report = db.session.scalar(
            sa.select(ReportFile).where(
                ReportFile.sha256 == digest, ReportFile.status == RenderStatus.READY
            )
        )
        if report is not None and not may_read_report(reader, report):
            report = None
    return Verification(digest, request, report)


def get_sign_off(actor: User, sign_off_id: int) -> SignOff:
    """A sign-off the stakeholder was asked for (POMs and admins may read any)."""
    sign_off = db.session.get(SignOff, sign_off_id)
    if sign_off is None or not permissions.may_read_sign_off(actor, sign_off):
        raise NotFound("Sign-off was not found.")
    return sign_off
