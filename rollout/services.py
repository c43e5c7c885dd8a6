"""The only code that writes policies, templates, rollouts and checklists.

Each function takes the acting person, checks the rule, changes state, records the audit
event and flushes — or raises a domain error. The unit of work (``rollcal.uow``) of the
request, command or job commits, or rolls back so a refused action writes nothing.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from calibration.models import CalibrationSession
from calibration.services import label_options_from_text
from rollcal import config, permissions
from rollcal.accounts.models import User
from rollcal.audit import AuditEvent, record, saved_first
from rollcal.errors import Conflict, Forbidden, NotFound, ValidationError
from rollcal.events import checklist_changed, go_live_moved, item_commented, item_reassigned
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Site
from rollcal.permissions import Action, may, require
from rollcal.types import utcnow
from rollout import model_gate, readiness
from rollout.models import (
    Category,
    ChecklistItem,
    ChecklistTemplate,
    Comment,
    ItemStatus,
    Policy,
    PolicyVersion,
    Rollout,
    RolloutSite,
    RolloutStatus,
    Side,
    TemplateItem,
    VersionStatus,
)
from rollout.queries import SiteRow, build_board

FROZEN = frozenset({RolloutStatus.CANCELLED, RolloutStatus.LIVE})


def _required(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError.field(field, "is required.")
    return value


def _url(value: str | None, field: str) -> str | None:
    value = (value or "").strip()
    if len(value) > 500:
        raise ValidationError.field(field, "must be at most 500 characters.")
    if value and not re.match(r"https?://\S+$", value):
        raise ValidationError.field(
            field, "must be a web address starting with http:// or https://."
        )
    return value or None


# Policies ----------------------------------------------------------------------------


# How policies are cited in documents and reports: SHOP-CF, LIVE-DA, IPR-2.
POLICY_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*")


def create_policy(
    actor: User,
    *,
    code: str,
    title: str,
    area: str,
    line_of_business_id: int,
    description: str = "",
) -> Policy:
    """Create a policy; its code is unique."""
    require(actor, Action.MANAGE_ROLLOUTS)
    code = _required(code, "code").upper()
    if not POLICY_CODE.fullmatch(code):
        raise ValidationError.field(
            "code", "Use letters, digits and hyphens only, starting with a letter, e.g. SHOP-CF."
        )
    if db.session.scalar(sa.select(Policy.id).where(Policy.code == code)):
        raise ValidationError.field("code", f"another policy already uses “{code}”.")
    line = db.session.get(LineOfBusiness, line_of_business_id or 0)
    if line is None:
        raise ValidationError.field("line_of_business", "choose a line of business.")
    policy = Policy(
        code=code,
        title=_required(title, "title"),
        area=_required(area, "area"),
        description=(description or "").strip(),
        line_of_business=line,
    )
    db.session.add(policy)
    db.session.flush()
    record(actor, "policy.created", policy, f"Created policy {code}: {policy.title}")
    db.session.flush()
    return policy


def create_version(
    actor: User,
    policy: Policy,
    *,
    version_label: str,
    change_summary: str,
    effective_date: date | None,
    document_url: str | None,
    label_options: str,
    label_level: str = "nominal",
    model_gate_min_severity: float | None = None,
    model_gate_fnr_target: float | None = None,
) -> PolicyVersion:
    """Add a version to a policy, with the label options its calibration uses and the
    model gate it requires, if any."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_policy_not_archived(policy, "add versions")
    version_label = _required(version_label, "version_label")
    if db.session.scalar(
        sa.select(PolicyVersion.id).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.version_label == version_label
        )
    ):
        raise ValidationError.field("version_label", f"{policy.code} already has {version_label}.")
    if effective_date is None:
        raise ValidationError.field("effective_date", "is required.")
    if label_level not in ("nominal", "ordinal"):
        raise ValidationError.field("label_level", "choose nominal or ordinal.")
    version = PolicyVersion(
        policy=policy,
        version_label=version_label,
        change_summary=_required(change_summary, "change_summary"),
        effective_date=effective_date,
        document_url=_url(document_url, "document_url"),
        label_options=label_options_from_text(label_options),
        label_level=label_level,
    )
    version.model_gate_min_severity, version.model_gate_fnr_target = (
        model_gate.model_gate_requirement(model_gate_min_severity, model_gate_fnr_target)
    )
    db.session.add(version)
    db.session.flush()
    record(
        actor,
        "policy_version.created",
        version,
        f"Added {policy.code} {version_label}: {version.change_summary}",
    )
    db.session.flush()
    return version


def set_version_status(actor: User, version: PolicyVersion, status: str) -> PolicyVersion:
    """Move a policy version along draft → rolling out → live → retired."""
    require(actor, Action.MANAGE_ROLLOUTS)
    if version.is_archived:
        raise Conflict(f"{version.label} is archived; unarchive it to change its status.")
    try:
        new = VersionStatus(status)
    except ValueError:
        raise ValidationError.field("status", "is not a version status.") from None
    before = version.status
    version.status = new
    record(
        actor,
        "policy_version.status",
        version,
        f"{version.label}: {before.value} → {new.value}",
        before={"status": before.value},
        after={"status": new.value},
    )
    db.session.flush()
    return version


# Editing, deleting and archiving policies and versions ---------------------------------
#
# A draft may change or go entirely; once a version is published (rolling out, live,
# retired) rollouts and sessions cite it as it is, so it and its policy are archived
# instead: hidden from the default list and from the choices of new rollouts and
# sessions, read-only, unarchived by the same people. Edits carry the version the person
# saw: a stale edit is a conflict naming who saved first, never a lost update.


def _check_policy_not_archived(policy: Policy, doing: str) -> None:
    if policy.is_archived:
        raise Conflict(f"{policy.code} is archived; unarchive it to {doing}.")


def _check_seen(actor: User, target, seen: int | None, what: str) -> None:
    if seen is not None and seen != target.version:
        message, current = saved_first(actor, target, what)
        raise Conflict(message, current=current)


def _flush_edit(what: str) -> None:
    """Flush, turning a concurrent writer's win on a versioned row into a conflict."""
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict(
            f"Someone else changed {what} at the same moment. Reload it and make your change again."
        ) from None


def _policy_facts(policy: Policy) -> dict:
    return {"title": policy.title, "area": policy.area, "description": policy.description}


def update_policy(
    actor: User,
    policy: Policy,
    *,
    version: int | None,
    title: str,
    area: str,
    description: str = "",
) -> Policy:
    """Change a policy's title, area and description (its code is how documents cite it,
    so it stays)."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_policy_not_archived(policy, "edit it")
    _check_seen(actor, policy, version, f"policy {policy.code}")
    before = _policy_facts(policy)
    policy.title = _required(title, "title")
    policy.area = _required(area, "area")
    policy.description = (description or "").strip()
    after = _policy_facts(policy)
    if before != after:
        record(
            actor,
            "policy.updated",
            policy,
            f"Edited policy {policy.code}",
            before=before,
            after=after,
        )
    _flush_edit(f"policy {policy.code}")
    return policy


def policy_deletion_refusal(policy: Policy) -> Conflict | None:
    """Why the policy cannot be deleted, if it cannot (for the service and its page)."""
    if policy.is_published:
        return Conflict(
            f"{policy.code} has a published version that rollouts and sessions cite, so it "
            "cannot be deleted. Archive it instead."
        )
    if policy.versions:
        return Conflict(f"{policy.code} still has draft versions: delete them first.")
    return None


def delete_policy(actor: User, policy: Policy) -> None:
    """Delete a policy that has no versions; one with a published version is archived."""
    require(actor, Action.MANAGE_ROLLOUTS)
    refused = policy_deletion_refusal(policy)
    if refused is not None:
        raise refused
    record(
        actor,
        "policy.deleted",
        policy,
        f"Deleted policy {policy.code}: {policy.title}",
        before={"code": policy.code, **_policy_facts(policy)},
    )
    db.session.delete(policy)
    _flush_edit(f"policy {policy.code}")


def archive_policy(actor: User, policy: Policy, *, archived: bool = True) -> Policy:
    """Archive a policy with a published version (or bring it back); twice changes nothing."""
    require(actor, Action.MANAGE_ROLLOUTS)
    if archived and not policy.is_published:
        raise Conflict(f"{policy.code} has nothing published: delete it rather than archive it.")
    if policy.is_archived == archived:
        return policy
    policy.archived_at = utcnow() if archived else None
    record(
        actor,
        "policy.archived" if archived else "policy.unarchived",
        policy,
        f"{'Archived' if archived else 'Unarchived'} policy {policy.code}",
    )
    _flush_edit(f"policy {policy.code}")
    return policy


def _version_facts(version: PolicyVersion) -> dict:
    return {
        "version_label": version.version_label,
        "change_summary": version.change_summary,
        "effective_date": version.effective_date.isoformat(),
        "document_url": version.document_url,
        "label_options": [o["key"] for o in version.label_options],
        "label_level": version.label_level,
    }


def draft_version_refusal(version: PolicyVersion, doing: str) -> Conflict | None:
    """Why the version can no longer be edited or deleted, if it cannot."""
    if version.policy.is_archived:
        return Conflict(f"{version.policy.code} is archived; unarchive it to {doing}.")
    if version.is_archived:
        return Conflict(f"{version.label} is archived; unarchive it to {doing}.")
    if not version.is_draft:
        return Conflict(
            f"{version.label} is published: rollouts and sessions cite it as it is, so you "
            f"can no longer {doing}. Add a new version instead."
        )
    return None


def _check_draft_version(version: PolicyVersion, doing: str) -> None:
    refused = draft_version_refusal(version, doing)
    if refused is not None:
        raise refused


def update_version(
    actor: User,
    version: PolicyVersion,
    *,
    seen: int | None,
    version_label: str,
    change_summary: str,
    effective_date: date | None,
    document_url: str | None,
    label_options: str,
    label_level: str = "nominal",
) -> PolicyVersion:
    """Change a draft version's text and label options, with the checks of creating one.
    ``seen`` is the row version the person saw (a stale edit is a conflict)."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_draft_version(version, "edit it")
    _check_seen(actor, version, seen, version.label)
    version_label = _required(version_label, "version_label")
    if version_label != version.version_label and db.session.scalar(
        sa.select(PolicyVersion.id).where(
            PolicyVersion.policy_id == version.policy_id,
            PolicyVersion.version_label == version_label,
        )
    ):
        raise ValidationError.field(
            "version_label", f"{version.policy.code} already has {version_label}."
        )
    if effective_date is None:
        raise ValidationError.field("effective_date", "is required.")
    if label_level not in ("nominal", "ordinal"):
        raise ValidationError.field("label_level", "choose nominal or ordinal.")
    before = _version_facts(version)
    version.version_label = version_label
    version.change_summary = _required(change_summary, "change_summary")
    version.effective_date = effective_date
    version.document_url = _url(document_url, "document_url")
    version.label_options = label_options_from_text(label_options)
    version.label_level = label_level
    after = _version_facts(version)
    changed = {key for key in before if before[key] != after[key]}
    if changed:
        record(
            actor,
            "policy_version.updated",
            version,
            f"Edited {version.label}",
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    _flush_edit(version.label)
    return version


def _version_users(version: PolicyVersion) -> tuple[int, int]:
    rollouts = db.session.scalar(
        sa.select(sa.func.count(Rollout.id)).where(Rollout.policy_version_id == version.id)
    )
    sessions = db.session.scalar(
        sa.select(sa.func.count(CalibrationSession.id)).where(
            CalibrationSession.policy_version_id == version.id
        )
    )
    return rollouts, sessions


def delete_version(actor: User, version: PolicyVersion, *, seen: int | None = None) -> None:
    """Delete a draft version nothing uses yet (recorded)."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_draft_version(version, "delete it")
    _check_seen(actor, version, seen, version.label)
    rollouts, sessions = _version_users(version)
    if rollouts or sessions:
        uses = [
            f"{count} {word}{'' if count == 1 else 's'}"
            for count, word in ((rollouts, "rollout"), (sessions, "calibration session"))
            if count
        ]
        raise Conflict(f"{version.label} is used by {' and '.join(uses)}, so it stays.")
    record(
        actor,
        "policy_version.deleted",
        version,
        f"Deleted the draft {version.label}",
        before=_version_facts(version),
    )
    db.session.delete(version)
    _flush_edit(version.label)


def archive_version(actor: User, version: PolicyVersion, *, archived: bool = True) -> PolicyVersion:
    """Archive a published version (or bring it back): new rollouts and sessions no longer
    offer it; those that use it keep it. Twice changes nothing."""
    require(actor, Action.MANAGE_ROLLOUTS)
    if version.is_draft:
        raise Conflict(f"{version.label} is a draft: delete it rather than archive it.")
    if archived is False:
        _check_policy_not_archived(version.policy, "unarchive its versions")
    if version.is_archived == archived:
        return version
    version.archived_at = utcnow() if archived else None
    record(
        actor,
        "policy_version.archived" if archived else "policy_version.unarchived",
        version,
        f"{'Archived' if archived else 'Unarchived'} {version.label}",
    )
    _flush_edit(version.label)
    return version


# Templates ---------------------------------------------------------------------------


def save_template(
    actor: User,
    *,
    name: str,
    description: str = "",
    active: bool = True,
    template: ChecklistTemplate | None = None,
    copy_from: ChecklistTemplate | None = None,
) -> ChecklistTemplate:
    """Create a checklist template (optionally with the steps of another), or rename,
    describe or retire one. Rollouts already made keep their own copy of the steps."""
    require(actor, Action.MANAGE_TEMPLATES)
    name = _required(name, "name")
    clash = db.session.scalar(
        sa.select(ChecklistTemplate.id).where(
            sa.func.lower(ChecklistTemplate.name) == name.lower(),
            ChecklistTemplate.id != (template.id if template else None),
        )
    )
    if clash is not None:
        raise ValidationError.field("name", f"another template is called “{name}”.")
    created = template is None
    template = template or ChecklistTemplate()
    template.name, template.description, template.active = name, (description or "").strip(), active
    db.session.add(template)
    db.session.flush()
    if created and copy_from is not None:
        for step in copy_from.items:
            db.session.add(
                TemplateItem(
                    template_id=template.id,
                    position=step.position,
                    title=step.title,
                    description=step.description,
                    category=step.category,
                    side=step.side,
                    required=step.required,
                    due_offset_days=step.due_offset_days,
                    evidence_required=step.evidence_required,
                    gate=step.gate,
                )
            )
    record(
        actor,
        "template.saved",
        template,
        f"{'Created' if created else 'Saved'} checklist template “{template.name}”"
        + (f" from “{copy_from.name}”" if created and copy_from else ""),
    )
    db.session.flush()
    db.session.expire(template, ["items"])
    return template


def save_template_item(
    actor: User,
    template: ChecklistTemplate,
    *,
    title: str,
    description: str,
    category: str,
    side: str,
    required: bool,
    due_offset_days: int | None,
    evidence_required: bool,
    gate: bool = False,
    item: TemplateItem | None = None,
) -> TemplateItem:
    """Add a step to a template, or change one. Rollouts already created keep their copy."""
    require(actor, Action.MANAGE_TEMPLATES)
    if category not in {c.value for c in Category}:
        raise ValidationError.field("category", "choose a category.")
    if side not in {s.value for s in Side}:
        raise ValidationError.field("side", "choose pom or vendor.")
    if due_offset_days is None or not 0 <= due_offset_days <= 365:
        raise ValidationError.field("due_offset_days", "give 0 to 365 days before go-live.")
    if item is None:
        item = TemplateItem(template_id=template.id, position=len(template.items) + 1)
        db.session.add(item)
    item.title, item.description = _required(title, "title"), (description or "").strip()
    item.category, item.side = Category(category), Side(side)
    item.required, item.due_offset_days = required, due_offset_days
    item.evidence_required, item.gate = evidence_required, gate
    db.session.flush()
    record(actor, "template_item.saved", item, f"{template.name}: saved step “{item.title}”")
    db.session.flush()
    db.session.expire(template, ["items"])
    return item


def remove_template_item(actor: User, item: TemplateItem) -> None:
    """Remove a step from a template; rollouts already created keep their copy."""
    require(actor, Action.MANAGE_TEMPLATES)
    template = item.template
    record(actor, "template_item.removed", item, f"{template.name}: removed “{item.title}”")
    item.removed_at = utcnow()
    remaining = [step for step in template.items if step.id != item.id]
    for position, step in enumerate(remaining, 1):
        step.position = position
    db.session.flush()
    db.session.expire(template, ["items"])


def move_template_item(actor: User, item: TemplateItem, direction: str) -> None:
    """Move a step one place up or down in its template; rollouts already created keep
    their own order."""
    require(actor, Action.MANAGE_TEMPLATES)
    if direction not in ("up", "down"):
        raise ValidationError.field("direction", "Move a step up or down.")
    steps = list(item.template.items)
    index = steps.index(item)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(steps):
        raise ValidationError.field(
            "direction", f"“{item.title}” is already the {'first' if other < 0 else 'last'} step."
        )
    steps[index], steps[other] = steps[other], steps[index]
    for position, step in enumerate(steps, 1):
        step.position = position
    record(
        actor,
        "template_item.moved",
        item,
        f"{item.template.name}: moved “{item.title}” {direction} to step {item.position}",
    )
    db.session.flush()
    db.session.expire(item.template, ["items"])


# Rollouts ----------------------------------------------------------------------------


def _qa_leads_by_vendor(vendor_ids: set[int]) -> dict[int, User]:
    leads = db.session.scalars(
        sa.select(User)
        .where(permissions.vendor_members(vendor_ids), User.active.is_(True))
        .order_by(User.name)
    )
    first: dict[int, User] = {}
    for lead in leads:
        first.setdefault(lead.vendor_id, lead)
    return first


def create_rollout(
    actor: User,
    *,
    policy_version_id: int,
    template_id: int,
    site_ids: list[int],
    go_live_date: date | None,
    alpha_threshold: float | None = None,
    accuracy_target: float | None = None,
    gate_uses_lower_bound: bool = False,
    today: date | None = None,
) -> Rollout:
    """Take a policy version to sites: one checklist item per site and template step.

    Vendor-side items go to the vendor's QA lead, POM-side items to the rollout's owner.
    Thresholds not given are the configured ones (``rollcal.config``).
    """
    require(actor, Action.MANAGE_ROLLOUTS)
    version = db.session.get(PolicyVersion, policy_version_id or 0)
    if version is None:
        raise ValidationError.field("policy_version", "choose a policy version.")
    if version.status == VersionStatus.RETIRED:
        raise ValidationError.field("policy_version", "this version is retired.")
    if version.is_archived or version.policy.is_archived:
        raise ValidationError.field("policy_version", "this version is archived.")
    template = db.session.get(ChecklistTemplate, template_id or 0)
    if template is None or not template.items:
        raise ValidationError.field("template", "choose a template with at least one step.")
    sites = list(
        db.session.scalars(
            sa.select(Site).where(Site.id.in_(site_ids or []), Site.active.is_(True))
        )
    )
    if not sites or len(sites) != len(set(site_ids)):
        raise ValidationError.field("sites", "choose at least one active site.")
    if go_live_date is None:
        raise ValidationError.field("go_live_date", "is required.")
    if today and go_live_date < today:
        raise ValidationError.field("go_live_date", "is in the past.")
    if alpha_threshold is None:
        alpha_threshold = config.alpha_threshold()
    if accuracy_target is None:
        accuracy_target = config.accuracy_target()
    if not 0 < alpha_threshold <= 1:
        raise ValidationError.field("alpha_threshold", "must be between 0 and 1.")
    if not 0 < accuracy_target <= 1:
        raise ValidationError.field("accuracy_target", "must be between 0 and 1.")

    rollout = Rollout(
        policy_version=version,
        template=template,
        owner=actor,
        go_live_date=go_live_date,
        alpha_threshold=alpha_threshold,
        accuracy_target=accuracy_target,
        gate_uses_lower_bound=gate_uses_lower_bound,
    )
    rollout.rollout_sites = [RolloutSite(site=site) for site in sites]
    leads = _qa_leads_by_vendor({site.vendor_id for site in sites})
    for site in sites:
        for step in template.items:
            assignee = leads.get(site.vendor_id) if step.side == Side.VENDOR else actor
            rollout.items.append(
                ChecklistItem(
                    site=site,
                    template_item_id=step.id,
                    position=step.position,
                    title=step.title,
                    description=step.description,
                    category=step.category,
                    side=step.side,
                    required=step.required,
                    evidence_required=step.evidence_required,
                    gate=step.gate,
                    due_date=go_live_date - timedelta(days=step.due_offset_days),
                    assignee=assignee,
                )
            )
    db.session.add(rollout)
    if version.status == VersionStatus.DRAFT:
        version.status = VersionStatus.ROLLING_OUT
    db.session.flush()
    record(
        actor,
        "rollout.created",
        rollout,
        f"Created the rollout of {version.label} to {len(sites)} sites, go-live "
        f"{go_live_date.isoformat()}",
        rollout_id=rollout.id,
        after={"sites": [site.label for site in sites], "go_live_date": go_live_date.isoformat()},
    )
    db.session.flush()
    checklist_changed.send(rollout)
    return rollout


def _check_not_frozen(rollout: Rollout) -> None:
    if rollout.status in FROZEN:
        raise ValidationError.field(
            "status",
            f"the rollout is {rollout.status.title.lower()}; its checklist no longer changes.",
        )


def check_may_edit_item(user: User, item: ChecklistItem) -> None:
    """Raise ``Forbidden`` unless the person may change the item."""
    if not permissions.may_edit_item(user, item):
        raise Forbidden("You may not change this item.")


def item_state(item: ChecklistItem) -> dict:
    """An item's current state, as a conflict answer and the audit trail show it."""
    return {
        "id": item.id,
        "version": item.version,
        "status": item.status.value,
        "status_reason": item.status_reason,
        "evidence_url": item.evidence_url,
        "evidence_note": item.evidence_note,
        "assignee": item.assignee.name if item.assignee else None,
        "due_date": item.due_date.isoformat(),
    }


def _last_editor(item: ChecklistItem) -> User | None:
    return db.session.scalar(
        sa.select(User)
        .join(AuditEvent, AuditEvent.actor_id == User.id)
        .where(AuditEvent.object_type == ChecklistItem.__name__, AuditEvent.object_id == item.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )


def _conflict_state(actor: User, item: ChecklistItem) -> dict:
    editor = _last_editor(item)
    return {
        **item_state(item),
        "changed_by": editor.name if editor else None,
        "changed_by_you": editor is not None and editor.id == actor.id,
    }


def _changed_since(actor: User, item: ChecklistItem) -> str:
    """Why a save was refused, naming who saved first — the person themselves, from
    another tab or device, is told so rather than blamed on "someone else"."""
    editor = _last_editor(item)
    if editor is not None and editor.id == actor.id:
        who = "You saved"
    elif editor is not None:
        who = f"{editor.name} saved"
    else:
        who = "Someone else saved"
    where = " in another tab or window" if editor is not None and editor.id == actor.id else ""
    return (
        f"{who} “{item.title}” at {item.site.label}{where} after you opened it. "
        "Here is its state now; make your change again if it is still needed."
    )


def update_item(
    actor: User,
    item: ChecklistItem,
    *,
    version: int | None,
    status: str | None = None,
    reason: str | None = None,
    evidence_url: str | None = None,
    evidence_note: str | None = None,
    comment: str | None = None,
) -> ChecklistItem:
    """Change an item's status and evidence, optionally commenting, if nobody changed it first.

    ``version`` is the version the person saw; a different current version is a conflict,
    answered with the item's current state so nothing is silently overwritten.
    """
    check_may_edit_item(actor, item)
    _check_not_frozen(item.rollout)
    if version is None:
        raise ValidationError.field("version", "is required (the version you last saw).")
    if version != item.version:
        raise Conflict(
            _changed_since(actor, item),
            current=_conflict_state(actor, item),
        )
    if item.gate:
        raise ValidationError.field(
            "status", "the calibration gate follows calibration results; it cannot be set by hand."
        )
    if model_gate.is_bound(item):
        raise ValidationError.field(
            "status", "this step follows the model gate; it cannot be set by hand."
        )
    before = item_state(item)
    new_status = item.status
    if status is not None:
        try:
            new_status = ItemStatus(status)
        except ValueError:
            raise ValidationError.field("status", f"“{status}” is not an item status.") from None
    new_url = _url(evidence_url, "evidence_url") if evidence_url is not None else item.evidence_url
    new_note = (evidence_note.strip() or None) if evidence_note is not None else item.evidence_note
    reason = (reason or "").strip() or None
    if new_status in (ItemStatus.BLOCKED, ItemStatus.NOT_APPLICABLE) and not reason:
        word = "blocked" if new_status == ItemStatus.BLOCKED else "not applicable"
        raise ValidationError.field("reason", f"say why the item is {word}.")
    if new_status == ItemStatus.DONE and item.evidence_required and not (new_url or new_note):
        raise ValidationError.field(
            "evidence_url", "this item needs evidence (a link or a note) before it can be done."
        )
    comment = (comment or "").strip()
    new_reason = reason if new_status in (ItemStatus.BLOCKED, ItemStatus.NOT_APPLICABLE) else None
    requesting = (
        new_status == ItemStatus.NOT_APPLICABLE
        and item.status != ItemStatus.NOT_APPLICABLE
        and permissions.must_request_not_applicable(actor, item)
    )
    if requesting:
        # The vendor asks; the status stays as it is until a POM answers.
        new_status, new_reason = item.status, item.status_reason
    with conflict_guard(item):
        if requesting and reason != item.na_request_reason:
            _request_not_applicable(actor, item, reason)
        elif not requesting and new_status != item.status and item.na_requested:
            _withdraw_not_applicable(actor, item, new_status)
        item.status = new_status
        item.status_reason = new_reason
        item.evidence_url, item.evidence_note = new_url, new_note
        if new_status == ItemStatus.DONE and before["status"] != "done":
            item.completed_by, item.completed_at = actor, utcnow()
        elif new_status != ItemStatus.DONE:
            item.completed_by, item.completed_at = None, None
        item.updated_at = utcnow()
        new_comment = Comment(author=actor, body=comment) if comment else None
        if new_comment is not None:
            item.comments.append(new_comment)
        after = item_state(item)
        after["version"] = item.version + 1
        changed = {key for key in before if before[key] != after[key] and key != "version"}
        if changed:
            record(
                actor,
                "checklist_item.updated",
                item,
                f"{item.site.label}: “{item.title}” {_describe(before, after)}",
                before={k: before[k] for k in changed},
                after={k: after[k] for k in changed},
                rollout_id=item.rollout_id,
                vendor_id=item.site.vendor_id,
            )
        elif comment:
            record(
                actor,
                "checklist_item.commented",
                item,
                f"{item.site.label}: comment on “{item.title}”",
                rollout_id=item.rollout_id,
                vendor_id=item.site.vendor_id,
            )
        db.session.flush()
    checklist_changed.send(item.rollout)
    if new_comment is not None:
        item_commented.send(item, comment=new_comment, actor=actor)
    return item


def _request_not_applicable(actor: User, item: ChecklistItem, reason: str) -> None:
    """Keep a vendor's request that a required step be not applicable, for a POM to answer."""
    renewed = item.na_requested
    item.na_requested_by, item.na_requested_at = actor, utcnow()
    item.na_request_reason = reason
    record(
        actor,
        "checklist_item.not_applicable_requested",
        item,
        f"{item.site.label}: “{item.title}” marked not applicable by {actor.name}, "
        f"awaiting POM approval ({reason})" + (" — request renewed" if renewed else ""),
        after={"not_applicable_requested": reason},
        rollout_id=item.rollout_id,
        vendor_id=item.site.vendor_id,
    )


def _clear_request(item: ChecklistItem) -> str | None:
    reason = item.na_request_reason
    item.na_requested_by, item.na_requested_at, item.na_request_reason = None, None, None
    return reason


def _withdraw_not_applicable(actor: User, item: ChecklistItem, new_status: ItemStatus) -> None:
    """A new status for the item answers the request itself: it is withdrawn (or, set by a
    POM to not applicable, granted)."""
    reason = _clear_request(item)
    record(
        actor,
        "checklist_item.not_applicable_withdrawn",
        item,
        f"{item.site.label}: “{item.title}” request to mark it not applicable closed: "
        f"{actor.name} set it to {new_status.title.lower()}",
        before={"not_applicable_requested": reason},
        rollout_id=item.rollout_id,
        vendor_id=item.site.vendor_id,
    )


def decide_not_applicable(
    actor: User,
    item: ChecklistItem,
    *,
    version: int | None,
    approve: bool,
    reason: str | None = None,
) -> ChecklistItem:
    """Answer a vendor's request that a required step be not applicable.

    Approved, the step is not applicable for the reason the vendor gave; refused, the
    request is closed with the POM's reason and the step stays open as it was. ``version``
    is the version the POM saw: two answers at once give one decision and one conflict.
    """
    if not permissions.may_decide_not_applicable(actor, item):
        raise Forbidden("Only a POM approves or refuses a request to mark a step not applicable.")
    _check_not_frozen(item.rollout)
    if version is None:
        raise ValidationError.field("version", "is required (the version you last saw).")
    if version != item.version:
        raise Conflict(_changed_since(actor, item), current=_conflict_state(actor, item))
    if not item.na_requested:
        raise ValidationError.field(
            "decision", f"“{item.title}” has no request to mark it not applicable."
        )
    refusal = (reason or "").strip()
    if not approve and not refusal:
        raise ValidationError.field(
            "reason", "Say why the step still applies: the vendor reads it in the history."
        )
    with conflict_guard(item):
        requested_by = item.na_requested_by.name if item.na_requested_by else "the vendor"
        asked = _clear_request(item)
        before = item.status.value
        if approve:
            item.status, item.status_reason = ItemStatus.NOT_APPLICABLE, asked
            item.completed_by, item.completed_at = None, None
            record(
                actor,
                "checklist_item.not_applicable_approved",
                item,
                f"{item.site.label}: “{item.title}” not applicable, as {requested_by} asked "
                f"({asked}); approved by {actor.name}",
                before={"status": before, "not_applicable_requested": asked},
                after={"status": "not_applicable"},
                rollout_id=item.rollout_id,
                vendor_id=item.site.vendor_id,
            )
        else:
            record(
                actor,
                "checklist_item.not_applicable_refused",
                item,
                f"{item.site.label}: “{item.title}” still applies: {actor.name} refused "
                f"{requested_by}'s request to mark it not applicable ({refusal})",
                before={"not_applicable_requested": asked},
                after={"refused": refusal},
                rollout_id=item.rollout_id,
                vendor_id=item.site.vendor_id,
            )
        item.updated_at = utcnow()
    checklist_changed.send(item.rollout)
    return item


def _describe(before: dict, after: dict) -> str:
    if before["status"] != after["status"]:
        text = f"{before['status'].replace('_', ' ')} → {after['status'].replace('_', ' ')}"
        if after["status_reason"]:
            text += f" ({after['status_reason']})"
        return text
    return "evidence updated"


@contextmanager
def conflict_guard(item: ChecklistItem):
    """Turn a concurrent writer's win into a ``Conflict`` carrying the item's current state.

    The version column makes an UPDATE of a row someone else changed match nothing; the
    flush that notices may come from any query in the block, so the block ends with one.
    The current state is read once the unit of work has rolled back.
    """
    title = item.title  # read now: after a failed flush nothing loads until the rollback
    try:
        yield
        db.session.flush()
    except StaleDataError:
        raise Conflict(
            f"Someone else changed “{title}” at the same moment. Here is its "
            "current state; make your change again.",
            current=lambda: item_state(item),
        ) from None


def add_comment(actor: User, item: ChecklistItem, body: str) -> Comment:
    """Add a comment to an item's thread; anyone who may see the item may comment."""
    if not may(actor, Action.COMMENT_ON_ITEMS):
        raise Forbidden("Stakeholders read checklists; they do not comment on them.")
    body = _required(body, "comment")
    comment = Comment(item=item, author=actor, body=body)
    db.session.add(comment)
    db.session.flush()
    record(
        actor,
        "checklist_item.commented",
        item,
        f"{item.site.label}: comment on “{item.title}”",
        rollout_id=item.rollout_id,
        vendor_id=item.site.vendor_id,
    )
    db.session.flush()
    item_commented.send(item, comment=comment, actor=actor)
    return comment


def reassign_item(actor: User, item: ChecklistItem, assignee_id: int | None) -> ChecklistItem:
    """Give an item to someone else: a QA lead of the site's vendor for vendor-side items,
    a POM or admin for POM-side items."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_not_frozen(item.rollout)
    assignee = db.session.get(User, assignee_id) if assignee_id else None
    if assignee is not None and (
        not permissions.may_be_assigned(assignee, item) or not assignee.active
    ):
        who = "a QA lead of " + item.site.vendor.name if item.side == Side.VENDOR else "a POM"
        raise ValidationError.field("assignee", f"assign this item to {who}.")
    previous = item.assignee
    before = previous.name if previous else None
    item.assignee = assignee
    record(
        actor,
        "checklist_item.reassigned",
        item,
        f"{item.site.label}: “{item.title}” assigned to {assignee.name if assignee else 'nobody'}",
        before={"assignee": before},
        after={"assignee": assignee.name if assignee else None},
        rollout_id=item.rollout_id,
        vendor_id=item.site.vendor_id,
    )
    with conflict_guard(item):
        db.session.flush()
    if assignee is not None and assignee != previous:
        item_reassigned.send(item, actor=actor, previous=previous)
    return item


def bulk_complete(
    actor: User,
    rollout: Rollout,
    *,
    template_item_id: int,
    site_ids: list[int],
    evidence_url: str | None = None,
    evidence_note: str | None = None,
) -> int:
    """Mark one POM-side step done at several sites at once; returns how many changed."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_not_frozen(rollout)
    items = [
        item
        for item in rollout.items
        if item.template_item_id == template_item_id and item.site_id in set(site_ids)
    ]
    if not items:
        raise ValidationError.field("sites", "choose at least one site.")
    if any(item.side != Side.POM or item.gate or model_gate.is_bound(item) for item in items):
        raise ValidationError.field("step", "only POM-side steps can be completed in bulk.")
    url = _url(evidence_url, "evidence_url")
    note = (evidence_note or "").strip() or None
    if items[0].evidence_required and not (url or note):
        raise ValidationError.field("evidence_url", "this step needs evidence (a link or a note).")
    changed = 0
    for item in items:
        if item.status == ItemStatus.DONE:
            continue
        before = item.status.value
        item.status, item.status_reason = ItemStatus.DONE, None
        item.evidence_url, item.evidence_note = url or item.evidence_url, note or item.evidence_note
        item.completed_by, item.completed_at, item.updated_at = actor, utcnow(), utcnow()
        record(
            actor,
            "checklist_item.updated",
            item,
            f"{item.site.label}: “{item.title}” {before.replace('_', ' ')} → done (bulk)",
            before={"status": before},
            after={"status": "done"},
            rollout_id=rollout.id,
            vendor_id=item.site.vendor_id,
        )
        changed += 1
    db.session.flush()
    checklist_changed.send(rollout)
    return changed


def required_overdue(rollout: Rollout, today: date) -> int:
    """How many required steps of a rollout are open and already past their due date."""
    return sum(
        1
        for item in rollout.items
        if item.required and not item.is_closed and item.due_date < today
    )


def move_go_live(
    actor: User,
    rollout: Rollout,
    new_date: date | None,
    *,
    reason: str | None = None,
    today: date | None = None,
) -> Rollout:
    """Move the go-live date; open items' due dates shift by the same number of days."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_not_frozen(rollout)
    if new_date is None:
        raise ValidationError.field("go_live_date", "is required.")
    shift = new_date - rollout.go_live_date
    if not shift:
        raise ValidationError.field("go_live_date", "is the current go-live date.")
    if new_date < (today or utcnow().date()):
        raise ValidationError.field("go_live_date", "Choose a date from today on.")
    if not (reason or "").strip():
        raise ValidationError.field(
            "reason", "Say why go-live moves: the activity and everyone told will read it."
        )
    old = rollout.go_live_date
    rollout.go_live_date = new_date
    moved = 0
    for item in rollout.items:
        if not item.is_closed:
            item.due_date += shift
            moved += 1
    text = (
        f"Moved go-live from {old.isoformat()} to {new_date.isoformat()}; "
        f"{moved} open items shifted"
    )
    if reason and reason.strip():
        text += f" ({reason.strip()})"
    record(
        actor,
        "rollout.go_live_moved",
        rollout,
        text,
        rollout_id=rollout.id,
        before={"go_live_date": old.isoformat()},
        after={"go_live_date": new_date.isoformat()},
    )
    db.session.flush()
    checklist_changed.send(rollout)
    go_live_moved.send(rollout, actor=actor, old_date=old, new_date=new_date, reason=reason.strip())
    return rollout


def override_site(actor: User, rollout: Rollout, site_id: int, justification: str) -> RolloutSite:
    """Mark a site ready despite open items or a failing gate, with a written justification."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_not_frozen(rollout)
    rollout_site = _rollout_site(rollout, site_id)
    justification = _required(justification, "justification")
    if len(justification) < 15:
        raise ValidationError.field("justification", "explain the decision in a sentence or two.")
    rollout_site.override_justification = justification
    rollout_site.overridden_by, rollout_site.overridden_at = actor, utcnow()
    record(
        actor,
        "rollout.site_overridden",
        rollout,
        f"{rollout_site.site.label} marked ready by override: {justification}",
        after={"site": rollout_site.site.label, "justification": justification},
        rollout_id=rollout.id,
        vendor_id=rollout_site.site.vendor_id,
    )
    db.session.flush()
    checklist_changed.send(rollout)
    return rollout_site


def clear_override(actor: User, rollout: Rollout, site_id: int) -> RolloutSite:
    """Withdraw a readiness override; the site's own readiness applies again."""
    require(actor, Action.MANAGE_ROLLOUTS)
    rollout_site = _rollout_site(rollout, site_id)
    before = rollout_site.override_justification
    rollout_site.override_justification = None
    rollout_site.overridden_by, rollout_site.overridden_at = None, None
    record(
        actor,
        "rollout.override_cleared",
        rollout,
        f"{rollout_site.site.label}: readiness override withdrawn",
        before={"justification": before},
        rollout_id=rollout.id,
        vendor_id=rollout_site.site.vendor_id,
    )
    db.session.flush()
    checklist_changed.send(rollout)
    return rollout_site


def _rollout_site(rollout: Rollout, site_id: int) -> RolloutSite:
    for rollout_site in rollout.rollout_sites:
        if rollout_site.site_id == site_id:
            return rollout_site
    raise NotFound("That site is not part of this rollout.")


def cancel_rollout(actor: User, rollout: Rollout, reason: str) -> Rollout:
    """Stop a rollout; its checklist freezes as it is."""
    require(actor, Action.MANAGE_ROLLOUTS)
    _check_not_frozen(rollout)
    rollout.cancel_reason = _required(reason, "reason")
    before = rollout.status
    rollout.status = RolloutStatus.CANCELLED
    record(
        actor,
        "rollout.cancelled",
        rollout,
        f"Cancelled: {rollout.cancel_reason}",
        before={"status": before.value},
        after={"status": "cancelled"},
        rollout_id=rollout.id,
    )
    db.session.flush()
    return rollout


def reopen_rollout(actor: User, rollout: Rollout) -> Rollout:
    """Take a cancelled rollout up again: it returns to planning, then follows its sites
    as any rollout does; the checklist is as it was when cancelled."""
    require(actor, Action.MANAGE_ROLLOUTS)
    if rollout.status != RolloutStatus.CANCELLED:
        raise ValidationError.field("status", "Only a cancelled rollout can be reopened.")
    reason = rollout.cancel_reason
    rollout.status, rollout.cancel_reason = RolloutStatus.PLANNING, None
    record(
        actor,
        "rollout.reopened",
        rollout,
        "Reopened after cancellation" + (f" ({reason})" if reason else ""),
        before={"status": "cancelled"},
        after={"status": "planning"},
        rollout_id=rollout.id,
    )
    db.session.flush()
    checklist_changed.send(rollout)
    return rollout


def following_status(
    rollout: Rollout, board_states: list[readiness.State], any_started: bool
) -> RolloutStatus:
    """The status a rollout's sites put it in (for the states that follow from them)."""
    if rollout.status not in (
        RolloutStatus.PLANNING,
        RolloutStatus.IN_PROGRESS,
        RolloutStatus.AWAITING_SIGNOFF,
    ):
        return rollout.status
    if board_states and all(state == readiness.State.READY for state in board_states):
        return RolloutStatus.AWAITING_SIGNOFF
    if any_started or rollout.status != RolloutStatus.PLANNING:
        return RolloutStatus.IN_PROGRESS
    return RolloutStatus.PLANNING


def refresh_rollout_status(
    rollout: Rollout, today: date | None = None, actor: User | None = None
) -> RolloutStatus:
    """Recompute and store every site's readiness, then move the rollout to the status its
    sites now put it in, recording any change."""
    today = today or utcnow().date()
    board = build_board(None, rollout, today)  # unscoped: status follows every site
    for row in board.rows:
        store_readiness(row, today)
    any_started = any(item.status != ItemStatus.TODO for item in rollout.items)
    new = following_status(rollout, [row.readiness.state for row in board.rows], any_started)
    if new != rollout.status:
        before = rollout.status
        rollout.status = new
        record(
            actor,
            "rollout.status",
            rollout,
            f"Status {before.title} → {new.title}",
            before={"status": before.value},
            after={"status": new.value},
            rollout_id=rollout.id,
        )
    db.session.flush()
    return new


def store_readiness(row: SiteRow, today: date) -> None:
    """Keep a site's readiness as the pure rule computed it for ``today``.

    Only what changed is written, so recomputing an unchanged site costs no UPDATE.
    """
    closed, total = row.progress
    stored = row.rollout_site
    fresh = {
        "readiness_state": row.readiness.state.value,
        "readiness_reasons": list(row.readiness.reasons),
        "required_closed": closed,
        "required_total": total,
        "readiness_on": today,
    }
    for name, value in fresh.items():
        if getattr(stored, name) != value:
            setattr(stored, name, value)


def follow_status(rollout: Rollout, outcome: str | None = None) -> RolloutStatus:
    """Put the rollout in the status its sites and its sign-off now call for.

    ``outcome`` is a sign-off request's decision: approved signs the rollout off, rejected
    sends it back to in progress (the decision itself is recorded by sign-off). Otherwise
    the status follows the sites' readiness.
    """
    if outcome == "approved":
        rollout.status = RolloutStatus.SIGNED_OFF
    elif outcome == "rejected":
        rollout.status = RolloutStatus.IN_PROGRESS
    elif outcome is None:
        refresh_rollout_status(rollout)
    return rollout.status


def mark_live(rollout: Rollout, actor: User | None = None) -> None:
    """Move a signed-off rollout to live, recording why. The caller commits, so that the
    scheduler's claim of the row, this change and the notifications are one transaction;
    the versioned UPDATE is flushed first so a concurrent change stops it here."""
    if rollout.status != RolloutStatus.SIGNED_OFF:
        raise ValidationError.field("status", "only a signed-off rollout can go live.")
    rollout.status = RolloutStatus.LIVE
    db.session.flush()
    record(
        actor,
        "rollout.status",
        rollout,
        f"Status Signed off → Live: go-live date {rollout.go_live_date:%d %b %Y} reached",
        before={"status": RolloutStatus.SIGNED_OFF.value},
        after={"status": RolloutStatus.LIVE.value},
        rollout_id=rollout.id,
    )
