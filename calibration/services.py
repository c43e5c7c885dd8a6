"""The only code that writes calibration data.

Each function takes the acting person (``None`` only for the scheduler and the command
line), checks the rule through ``rollcal.permissions``, changes state, records the audit
event and commits — or raises a domain error having written nothing.

The session moves ``draft → open → closed → revealed``. ``open_session``,
``close_session`` and ``reveal_session`` are idempotent, so a scheduler may call them
again safely: a session already past the step is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from calibration import imports, model_results, quality, queries
from calibration.agreement import AgreementInputError, Rating, compute_report
from calibration.charts import stored_charts, summary_of
from calibration.models import (
    AgreementSnapshot,
    CalibrationSession,
    Case,
    Flag,
    FlagStatus,
    Label,
    LabelLevel,
    Rater,
    RaterKind,
    RootCause,
    SessionStatus,
    Severity,
)
from rollcal import config
from rollcal.accounts.models import User
from rollcal.audit import record, saved_first
from rollcal.errors import Conflict, Forbidden, NotFound, ValidationError
from rollcal.events import calibration_subjects, flags_raised, session_results_changed
from rollcal.extensions import db
from rollcal.org.models import Market, Site
from rollcal.permissions import Action, may, require
from rollcal.types import utcnow

LABEL_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MAX_OPTIONS = 9  # one per number key on the labelling page
MAX_BATCH = 5_000
MAX_COMMENT = 2_000
BOOTSTRAP = 1_000


def _manager(actor: User | None) -> None:
    """POMs and admins manage sessions; ``None`` is the scheduler or an operator's CLI."""
    if actor is not None:
        require(actor, Action.MANAGE_CALIBRATION)


def _required(value: str | None, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError.field(field, "is required.")
    if len(value) > max_length:
        raise ValidationError.field(field, f"is longer than {max_length} characters.")
    return value


def _flush(what: str) -> None:
    """Flush, turning a lost race on a versioned row into a ``Conflict`` (the unit of work
    then rolls back)."""
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict(
            f"Someone else changed this {what} at the same time. Reload and try again."
        ) from None


# Sessions ----------------------------------------------------------------------------


def parse_label_options(text: str) -> list[dict]:
    """Label options from lines ``key | name | description | severity | enforcement``
    (all but the key optional).

    The order of the lines is the order of the labels, which matters for ordinal scales.
    ``severity`` is the harm weight of the label (a number, 0 for no harm) and
    ``enforcement`` its order of enforcement (a whole number, 0 for no action, higher for
    stronger): model and vendor errors are split into over- and under-enforcement by it.
    """
    options, seen = [], set()
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        key = parts[0].lower()
        if not LABEL_KEY.fullmatch(key):
            raise ValidationError.field(
                "label_options",
                f"line {number}: the key “{parts[0]}” must be lower-case letters, digits, "
                "- or _ (up to 40).",
            )
        if key in seen:
            raise ValidationError.field("label_options", f"line {number}: “{key}” is repeated.")
        seen.add(key)
        name = parts[1] if len(parts) > 1 and parts[1] else key.replace("_", " ").capitalize()
        description = parts[2] if len(parts) > 2 else ""
        option = {"key": key, "name": name, "description": description}
        option.update(_harm_of(parts[3:], number))
        options.append(option)
    return options


def _harm_of(parts: list[str], number: int) -> dict:
    """The optional severity and order of enforcement of one label option line."""
    harm: dict = {}
    if len(parts) > 2:
        raise ValidationError.field(
            "label_options",
            f"line {number}: give at most five parts: key | name | description | severity "
            "| enforcement.",
        )
    if parts and parts[0]:
        try:
            severity = float(parts[0])
        except ValueError:
            severity = -1.0
        if not 0 <= severity <= 100 or severity != severity:
            raise ValidationError.field(
                "label_options",
                f"line {number}: the severity “{parts[0]}” must be a number from 0 to 100.",
            )
        harm["severity"] = severity
    if len(parts) > 1 and parts[1]:
        if not parts[1].isdigit() or int(parts[1]) > 99:
            raise ValidationError.field(
                "label_options",
                f"line {number}: the enforcement order “{parts[1]}” must be a whole number "
                "from 0 to 99.",
            )
        harm["enforcement"] = int(parts[1])
    return harm


def format_label_options(options: list[dict]) -> str:
    """Label options as the lines ``parse_label_options`` reads."""
    lines = []
    for option in options:
        parts = [
            option["key"],
            option["name"],
            option.get("description", ""),
            _number_text(option.get("severity")),
            _number_text(option.get("enforcement")),
        ]
        # Empty parts at the end are dropped; inner ones keep their place.
        while parts and not parts[-1]:
            parts.pop()
        lines.append(" | ".join(parts))
    return "\n".join(lines)


def _number_text(value: float | int | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def label_options_from_text(text: str) -> list[dict]:
    """Parse label option lines and check there are two to nine of them."""
    return _check_options(parse_label_options(text))


def _check_options(options: list[dict]) -> list[dict]:
    if len(options) < 2:
        raise ValidationError.field("label_options", "give at least two label options.")
    if len(options) > MAX_OPTIONS:
        raise ValidationError.field(
            "label_options", f"give at most {MAX_OPTIONS} label options (one per number key)."
        )
    return options


def _threshold(value: float | None, default: float, field: str) -> float:
    if value is None:
        return default
    if not 0 < value <= 1:
        raise ValidationError.field(field, "must be more than 0 and at most 1.")
    return float(value)


def _check_times(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at and closes_at and closes_at <= opens_at:
        raise ValidationError.field("closes_at", "must be after the opening time.")


def _check_closing_ahead(closes_at: datetime | None) -> None:
    # A closing time already past would close the session at the scheduler's next minute,
    # before anyone labels: refuse it rather than let the session end unseen.
    if closes_at is not None and closes_at <= utcnow():
        raise ValidationError.field(
            "closes_at", "This time has already passed: choose a closing time still to come."
        )


def create_session(
    actor: User,
    *,
    title: str,
    description: str = "",
    policy_version_id: int | None = None,
    rollout_id: int | None = None,
    label_options: str = "",
    label_level: str | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    alpha_threshold: float | None = None,
    accuracy_target: float | None = None,
) -> CalibrationSession:
    """Create a draft session.

    Linked to a rollout, the session calibrates the rollout's policy version and takes its
    gate thresholds unless given others. Left blank, the label options and scale are
    copied from the policy version, so later edits to the version leave it unchanged.
    """
    _manager(actor)
    title = _required(title, "title", 200)
    alpha_default, accuracy_default = config.alpha_threshold(), config.accuracy_target()
    subjects = calibration_subjects()
    if rollout_id:
        linked = subjects.rollout(rollout_id)
        if linked is None:
            raise ValidationError.field("rollout", "choose a rollout.")
        if policy_version_id and policy_version_id != linked.policy_version_id:
            raise ValidationError.field(
                "policy_version", "the rollout takes another policy version; choose that one."
            )
        policy_version_id = linked.policy_version_id
        alpha_default, accuracy_default = linked.alpha_threshold, linked.accuracy_target
    version = None
    if policy_version_id:
        version = subjects.policy_version(policy_version_id)
        if version is None:
            raise ValidationError.field("policy_version", "choose a policy version.")
        if version.archived and not rollout_id:
            raise ValidationError.field(
                "policy_version", "this version is archived; choose one in use."
            )
    options = parse_label_options(label_options)
    if not options and version is not None:
        options = list(version.label_options or [])
        label_level = label_level or version.label_level
    if not options:
        raise ValidationError.field(
            "label_options", "give the label options, or choose a policy version that has them."
        )
    _check_options(options)
    level = _level(label_level)
    _check_times(opens_at, closes_at)
    _check_closing_ahead(closes_at)
    session = CalibrationSession(
        title=title,
        description=(description or "").strip(),
        policy_version_id=policy_version_id or None,
        rollout_id=rollout_id or None,
        label_options=options,
        label_level=level,
        opens_at=opens_at,
        closes_at=closes_at,
        alpha_threshold=_threshold(alpha_threshold, alpha_default, "alpha_threshold"),
        accuracy_target=_threshold(accuracy_target, accuracy_default, "accuracy_target"),
        created_by=actor,
    )
    db.session.add(session)
    db.session.flush()
    record(
        actor,
        "calibration.session_created",
        session,
        f"Created calibration session “{session.title}”",
        after=_session_facts(session),
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    db.session.flush()
    return session


def _level(value: str | None) -> LabelLevel:
    try:
        return LabelLevel(value or "nominal")
    except ValueError:
        raise ValidationError.field("label_level", "choose nominal or ordinal.") from None


def _session_facts(session: CalibrationSession) -> dict:
    return {
        "title": session.title,
        "status": session.status.value if session.status else "draft",
        "label_options": [o["key"] for o in session.label_options],
        "label_level": session.label_level.value,
        "opens_at": session.opens_at.isoformat() if session.opens_at else None,
        "closes_at": session.closes_at.isoformat() if session.closes_at else None,
        "alpha_threshold": session.alpha_threshold,
        "accuracy_target": session.accuracy_target,
    }


def update_session(
    actor: User,
    session: CalibrationSession,
    *,
    title: str,
    description: str = "",
    label_options: str | None = None,
    label_level: str | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    alpha_threshold: float | None = None,
    accuracy_target: float | None = None,
    version: int | None = None,
) -> CalibrationSession:
    """Change a session's details. Label options, scale, thresholds and opening time
    change only while it is a draft: once raters label, the question they answer and the
    bar they are judged by stay the same. After closing only the title and description
    change; an archived session changes not at all.

    ``version`` is the version the person saw: a different current version is a
    conflict naming who saved first, never a silent overwrite.
    """
    _manager(actor)
    _check_not_archived(session, "edit it")
    _check_version(actor, session, version, f"“{session.title}”")
    before = _session_facts(session)
    session.title = _required(title, "title", 200)
    session.description = (description or "").strip()
    if session.status == SessionStatus.DRAFT:
        if label_options is not None:
            session.label_options = _check_options(parse_label_options(label_options))
        session.label_level = _level(label_level or session.label_level.value)
        session.alpha_threshold = _threshold(
            alpha_threshold, session.alpha_threshold, "alpha_threshold"
        )
        session.accuracy_target = _threshold(
            accuracy_target, session.accuracy_target, "accuracy_target"
        )
        session.opens_at = opens_at
        golden = set(
            db.session.scalars(
                sa.select(Case.golden_label).where(
                    Case.session_id == session.id, Case.golden_label.is_not(None)
                )
            )
        )
        used = set(
            db.session.scalars(
                sa.select(Label.option_key)
                .join(Case, Case.id == Label.case_id)
                .where(Case.session_id == session.id)
                .distinct()
            )
        )
        missing = sorted((golden | used) - set(session.option_keys))
        if missing:
            raise ValidationError.field(
                "label_options",
                f"golden answers or model labels use {', '.join(missing)}; keep those options.",
            )
    if session.status in (SessionStatus.DRAFT, SessionStatus.OPEN):
        _check_times(session.opens_at, closes_at)
        if closes_at != session.closes_at:
            _check_closing_ahead(closes_at)
        session.closes_at = closes_at
    record(
        actor,
        "calibration.session_updated",
        session,
        f"Edited calibration session “{session.title}”",
        before=before,
        after=_session_facts(session),
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    _flush("session")
    return session


def _check_not_archived(session: CalibrationSession, doing: str) -> None:
    if session.is_archived:
        raise Conflict(f"“{session.title}” is archived; unarchive it to {doing}.")


def _check_version(actor: User, target, version: int | None, what: str) -> None:
    """Refuse an edit made from a stale copy, naming who saved first."""
    if version is not None and version != target.version:
        message, current = saved_first(actor, target, what)
        raise Conflict(message, current=current)


def delete_session(actor: User, session: CalibrationSession, *, version: int | None = None) -> None:
    """Delete a draft session with its raters and cases (recorded). Once opened its
    labels are evidence: it can be archived, never deleted."""
    _manager(actor)
    if not session.is_draft:
        raise Conflict(
            f"“{session.title}” is {session.status.title.lower()}: its labels are evidence, "
            "so it cannot be deleted. Archive it instead."
        )
    _check_version(actor, session, version, f"“{session.title}”")
    case_ids = sa.select(Case.id).where(Case.session_id == session.id)
    cases = db.session.scalar(
        sa.select(sa.func.count(Case.id)).where(Case.session_id == session.id)
    )
    record(
        actor,
        "calibration.session_deleted",
        session,
        f"Deleted the draft session “{session.title}” with its {cases} cases",
        before={**_session_facts(session), "cases": cases},
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    # Model labels may have been imported into a draft; they go with their cases.
    db.session.execute(
        sa.delete(Label)
        .where(Label.case_id.in_(case_ids))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.delete(Case)
        .where(Case.session_id == session.id)
        .execution_options(synchronize_session=False)
    )
    db.session.delete(session)
    _flush("session")


def archive_session(actor: User, session: CalibrationSession) -> CalibrationSession:
    """Archive a session past draft: hidden from default lists and read-only. Its labels
    and results stay, and a rollout gate reading it keeps reading it. Archiving twice
    changes nothing."""
    _manager(actor)
    if session.is_draft:
        raise Conflict(f"“{session.title}” is a draft: delete it rather than archive it.")
    if session.is_archived:
        return session
    session.archived_at = utcnow()
    record(
        actor,
        "calibration.session_archived",
        session,
        f"Archived “{session.title}”",
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    _flush("session")
    return session


def unarchive_session(actor: User, session: CalibrationSession) -> CalibrationSession:
    """Bring an archived session back to the lists, editable as its status allows."""
    _manager(actor)
    if not session.is_archived:
        return session
    session.archived_at = None
    record(
        actor,
        "calibration.session_unarchived",
        session,
        f"Unarchived “{session.title}”",
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    _flush("session")
    return session


def _refuse_unless(session: CalibrationSession, *allowed: SessionStatus, doing: str) -> None:
    _check_not_archived(session, doing)
    if session.status not in allowed:
        raise Conflict(f"The session is {session.status.title.lower()}; you can no longer {doing}.")


# Raters ------------------------------------------------------------------------------


def add_human_rater(
    actor: User, session: CalibrationSession, *, user_id: int, site_id: int
) -> Rater:
    """Add a QA lead as a rater for one site of their vendor."""
    _manager(actor)
    _refuse_unless(session, SessionStatus.DRAFT, SessionStatus.OPEN, doing="add raters")
    person = db.session.get(User, user_id or 0)
    if person is None or not may(person, Action.LABEL_CASES) or not person.active:
        raise ValidationError.field("person", "choose an active QA lead.")
    site = db.session.get(Site, site_id or 0)
    if site is None or site.vendor_id != person.vendor_id:
        raise ValidationError.field("site", f"choose a site of {person.vendor.name}.")
    clash = db.session.scalar(
        sa.select(Rater.id).where(Rater.session_id == session.id, Rater.user_id == person.id)
    )
    if clash is not None:
        raise ValidationError.field("person", f"{person.name} already labels in this session.")
    rater = Rater(
        session=session,
        kind=RaterKind.HUMAN,
        user=person,
        vendor_id=person.vendor_id,
        site=site,
    )
    db.session.add(rater)
    db.session.flush()
    record(
        actor,
        "calibration.rater_added",
        rater,
        f"Added {person.name} ({site.label}) as a rater",
        session_id=session.id,
        vendor_id=person.vendor_id,
    )
    db.session.flush()
    return rater


def add_human_raters(
    actor: User, session: CalibrationSession, pairs: list[tuple[int, int]]
) -> list[Rater]:
    """Add several QA leads at once, each for a site of their vendor: all or none."""
    if not pairs:
        raise ValidationError.field("propose", "Tick at least one QA lead to add.")
    people = [person for person, _ in pairs]
    if len(set(people)) != len(people):
        raise ValidationError.field(
            "propose", "A QA lead labels for one site only: tick each person once."
        )
    return [add_human_rater(actor, session, user_id=person, site_id=site) for person, site in pairs]


def add_model_rater(actor: User, session: CalibrationSession, *, name: str, version: str) -> Rater:
    """Add a model as a rater; its labels are imported from a file."""
    _manager(actor)
    _refuse_unless(session, SessionStatus.DRAFT, SessionStatus.OPEN, doing="add raters")
    name = _required(name, "model_name", 120)
    version = _required(version, "model_version", 60)
    clash = db.session.scalar(
        sa.select(Rater.id).where(
            Rater.session_id == session.id,
            Rater.model_name == name,
            Rater.model_version == version,
        )
    )
    if clash is not None:
        raise ValidationError.field("model_name", f"{name} {version} is already a rater.")
    rater = Rater(session=session, kind=RaterKind.MODEL, model_name=name, model_version=version)
    db.session.add(rater)
    db.session.flush()
    record(
        actor,
        "calibration.rater_added",
        rater,
        f"Added the model {name} {version} as a rater",
        session_id=session.id,
    )
    db.session.flush()
    return rater


def remove_rater(actor: User, session: CalibrationSession, rater_id: int) -> Rater:
    """Remove a rater who has not labelled yet."""
    _manager(actor)
    _refuse_unless(session, SessionStatus.DRAFT, SessionStatus.OPEN, doing="remove raters")
    rater = db.session.scalar(
        sa.select(Rater).where(Rater.id == rater_id, Rater.session_id == session.id)
    )
    if rater is None:
        raise NotFound("Rater was not found.")
    labelled = db.session.scalar(
        sa.select(sa.func.count(Label.id)).where(Label.rater_id == rater.id)
    )
    if labelled:
        raise Conflict(f"{rater.name} has already labelled {labelled} cases and stays a rater.")
    record(
        actor,
        "calibration.rater_removed",
        rater,
        f"Removed {rater.name} as a rater",
        session_id=session.id,
        vendor_id=rater.vendor_id,
    )
    db.session.delete(rater)
    db.session.flush()
    return rater


# Cases and golden answers ------------------------------------------------------------


def import_cases(actor: User, session: CalibrationSession, content: bytes) -> int:
    """Add the cases of a CSV file to the session; a file with any problem adds none."""
    _manager(actor)
    _refuse_unless(session, SessionStatus.DRAFT, SessionStatus.OPEN, doing="add cases")
    existing = set(
        db.session.scalars(sa.select(Case.reference).where(Case.session_id == session.id))
    )
    markets = dict(db.session.execute(sa.select(Market.code, Market.id)).all())
    rows = imports.read_cases_csv(
        content,
        option_keys=session.option_keys,
        market_codes=markets.keys(),
        existing_references=existing,
    )
    start = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(Case.position), -1)).where(
            Case.session_id == session.id
        )
    )
    now = utcnow()
    golden_given = 0
    for offset, row in enumerate(rows, 1):
        golden_given += row.golden is not None
        db.session.add(
            Case(
                session_id=session.id,
                position=start + offset,
                reference=row.reference,
                content_text=row.text,
                content_url=row.url,
                market_id=markets.get(row.market) if row.market else None,
                policy_area=row.policy_area,
                golden_label=row.golden,
                golden_rationale=row.rationale,
                golden_set_by=actor if row.golden else None,
                golden_set_at=now if row.golden else None,
            )
        )
    record(
        actor,
        "calibration.cases_imported",
        session,
        f"Imported {len(rows)} cases ({golden_given} with golden answers)",
        after={"cases": len(rows), "golden": golden_given},
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    db.session.flush()
    return len(rows)


def set_golden(
    actor: User, case: Case, *, golden_label: str | None, rationale: str | None = None
) -> Case:
    """Set, change or clear a case's golden answer; recorded, and marks stored results as
    out of date when the session is already closed."""
    _manager(actor)
    session = db.session.get(CalibrationSession, case.session_id)
    _check_not_archived(session, "change golden answers")
    golden_label = (golden_label or "").strip().lower() or None
    rationale = (rationale or "").strip() or None
    if golden_label is not None and golden_label not in session.option_keys:
        raise ValidationError.field("golden_label", "choose one of the session's label options.")
    if rationale and golden_label is None:
        raise ValidationError.field("golden_rationale", "explains a golden label; choose one.")
    before = {"golden_label": case.golden_label, "rationale": case.golden_rationale}
    after = {"golden_label": golden_label, "rationale": rationale}
    if before == after:
        return case
    now = utcnow()
    case.golden_label, case.golden_rationale = golden_label, rationale
    case.golden_set_by, case.golden_set_at = actor, now
    if session.status in (SessionStatus.CLOSED, SessionStatus.REVEALED):
        session.golden_changed_at = now
    record(
        actor,
        "calibration.golden_set",
        case,
        f"Golden answer of {case.reference}: {session.option_name(before['golden_label'])} → "
        f"{session.option_name(golden_label)}",
        before=before,
        after=after,
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    _flush("case")
    return case


def _case_facts(case: Case) -> dict:
    return {"text": case.content_text, "url": case.content_url}


def _draft_case_session(case: Case, doing: str) -> CalibrationSession:
    """The case's session, refused unless a draft. Read FOR SHARE: opening the session
    waits for a case edit under way, and an edit after the opening sees it open
    (PostgreSQL; SQLite serialises writers anyway)."""
    session = db.session.get(CalibrationSession, case.session_id)
    db.session.execute(
        sa.select(CalibrationSession.id)
        .where(CalibrationSession.id == session.id)
        .with_for_update(read=True)
    )
    db.session.refresh(session)
    _check_not_archived(session, doing)
    if not session.is_draft:
        raise Conflict(
            f"“{session.title}” is {session.status.title.lower()}: its cases stay as raters "
            f"see them, so you can no longer {doing}."
        )
    return session


def update_case(
    actor: User,
    case: Case,
    *,
    version: int | None,
    content_text: str | None,
    content_url: str | None,
    golden_label: str | None,
    rationale: str | None = None,
) -> Case:
    """Edit a case of a draft session: its text, link and golden answer (the golden
    answer recorded as ``set_golden`` records it). Once the session opens, raters label
    the case as it is. A stale edit is a conflict naming who saved first."""
    _manager(actor)
    session = _draft_case_session(case, "edit cases")
    _check_version(actor, case, version, f"case {case.reference}")
    text = (content_text or "").strip() or None
    url = (content_url or "").strip() or None
    if text is None and url is None:
        raise ValidationError.field("content_text", "give the case's text, a link, or both.")
    if url is not None:
        if len(url) > 500:
            raise ValidationError.field("content_url", "must be at most 500 characters.")
        if not re.match(r"https?://\S+$", url):
            raise ValidationError.field(
                "content_url", "must be a web address starting with http:// or https://."
            )
    before = _case_facts(case)
    case.content_text, case.content_url = text, url
    after = _case_facts(case)
    if before != after:
        record(
            actor,
            "calibration.case_updated",
            case,
            f"Edited case {case.reference}",
            before=before,
            after=after,
            rollout_id=session.rollout_id,
            session_id=session.id,
        )
    set_golden(actor, case, golden_label=golden_label, rationale=rationale)
    _flush("case")
    return case


def delete_case(actor: User, case: Case, *, version: int | None = None) -> None:
    """Delete a case of a draft session (recorded); not once the session is open."""
    _manager(actor)
    session = _draft_case_session(case, "delete cases")
    _check_version(actor, case, version, f"case {case.reference}")
    record(
        actor,
        "calibration.case_deleted",
        case,
        f"Deleted case {case.reference}",
        before={"reference": case.reference, **_case_facts(case), "golden": case.golden_label},
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    db.session.execute(
        sa.delete(Label)
        .where(Label.case_id == case.id)
        .execution_options(synchronize_session=False)
    )
    db.session.delete(case)
    _flush("case")


# Labels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelInput:
    """One label to save: the case by id or by reference, the option key, a comment."""

    option: str
    case_id: int | None = None
    reference: str | None = None
    comment: str | None = None


def save_labels(
    actor: User,
    session: CalibrationSession,
    entries: Sequence[LabelInput],
    *,
    field_prefix: str | None = "labels",
) -> int:
    """Save the acting rater's labels: one per case, replacing an earlier one.

    All or nothing: any bad entry refuses the whole batch, naming the entry and field.
    Two requests saving the same case at once leave one label (the unique constraint and
    ``INSERT … ON CONFLICT DO UPDATE``), never two and never an error.
    """
    require(actor, Action.LABEL_CASES)
    rater = queries.rater_for(actor, session)
    if rater is None:
        raise Forbidden("You are not a rater in this session.")
    if len(entries) > MAX_BATCH:
        raise ValidationError.field(
            field_prefix or "labels", f"send at most {MAX_BATCH:,} labels at a time."
        )
    # FOR SHARE: a close waits for labels being saved, and labels saved after it see the
    # session closed, so no label slips in after the results are computed (PostgreSQL;
    # SQLite serialises writers anyway).
    status, closes_at, archived_at = db.session.execute(
        sa.select(
            CalibrationSession.status,
            CalibrationSession.closes_at,
            CalibrationSession.archived_at,
        )
        .where(CalibrationSession.id == session.id)
        .with_for_update(read=True)
    ).one()
    now = utcnow()
    if archived_at is not None:
        raise Conflict("This session is archived; labels can no longer be changed.")
    if status != SessionStatus.OPEN or (closes_at is not None and now >= closes_at):
        raise Conflict(
            "This session is not open for labelling."
            if status == SessionStatus.DRAFT
            else "This session has closed; labels can no longer be changed."
        )
    return write_rater_labels(session, rater, entries, field_prefix=field_prefix)


def write_rater_labels(
    session: CalibrationSession,
    rater: Rater,
    entries: Sequence[LabelInput],
    *,
    field_prefix: str | None = "labels",
) -> int:
    """Check and save one rater's labels, all or nothing; the caller has checked who
    labels and that the session takes labels now."""
    if len(entries) > MAX_BATCH:
        raise ValidationError.field(
            field_prefix or "labels", f"send at most {MAX_BATCH:,} labels at a time."
        )
    now = utcnow()
    by_reference = dict(
        db.session.execute(
            sa.select(Case.reference, Case.id).where(Case.session_id == session.id)
        ).all()
    )
    case_ids = set(by_reference.values())
    options = session.option_keys
    rows: dict[int, dict] = {}
    problems = []

    def field(index: int, name: str) -> str:
        """The field an error names: ``labels.3.option`` in a batch, ``option`` alone."""
        return f"{field_prefix}.{index}.{name}" if field_prefix else name

    for index, entry in enumerate(entries):
        case_id = entry.case_id if entry.case_id is not None else by_reference.get(entry.reference)
        option = (entry.option or "").strip().lower()
        comment = (entry.comment or "").strip() or None
        if case_id is None or case_id not in case_ids:
            problems.append(
                {"field": field(index, "case"), "message": "is not a case of this session"}
            )
        elif case_id in rows:
            problems.append(
                {"field": field(index, "case"), "message": "is labelled twice in this batch"}
            )
        if option not in options:
            problems.append(
                {
                    "field": field(index, "option"),
                    "message": f"choose one of {', '.join(options)}",
                }
            )
        if comment and len(comment) > MAX_COMMENT:
            problems.append(
                {
                    "field": field(index, "comment"),
                    "message": f"is longer than {MAX_COMMENT} characters",
                }
            )
        if case_id in case_ids and case_id not in rows:
            rows[case_id] = {
                "case_id": case_id,
                "rater_id": rater.id,
                "option_key": option,
                "comment": comment,
                "created_at": now,
                "updated_at": now,
            }
    if problems:
        first = problems[0]
        raise ValidationError(f"{first['field']}: {first['message']}.", problems)
    _upsert_labels([rows[case_id] for case_id in sorted(rows)])
    db.session.flush()
    return len(rows)


def _upsert_labels(rows: list[dict]) -> None:
    """INSERT … ON CONFLICT (case, rater) DO UPDATE for many rows.

    One statement executed with many parameter sets: SQLAlchemy compiles it once and sends
    the rows in batches (``insertmanyvalues`` on PostgreSQL), which is several times faster
    than compiling a multi-row VALUES clause. Rows come sorted by case so two concurrent
    batches lock rows in the same order and cannot deadlock each other on PostgreSQL.
    """
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Label.__table__
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.case_id, table.c.rater_id],
        set_={
            "option_key": statement.excluded.option_key,
            "comment": statement.excluded.comment,
            "updated_at": statement.excluded.updated_at,
        },
    )
    db.session.execute(statement, rows)


def save_label(
    actor: User, session: CalibrationSession, case: Case, *, option: str, comment: str | None
) -> None:
    """Save the acting rater's label on one case (the labelling page)."""
    save_labels(
        actor,
        session,
        [LabelInput(option=option, case_id=case.id, comment=comment)],
        field_prefix=None,
    )


def import_model_labels(
    actor: User, session: CalibrationSession, content: bytes, *, ai_version_id: int | None = None
) -> int:
    """Save model raters' labels from a CSV; a file with any problem saves none.

    A revealed session takes the labels of its replaying model raters only, which are
    measured against the humans at once (their results stay as they were). With
    ``ai_version_id``, only that model version's rater may be named in the file.
    """
    _manager(actor)
    _refuse_unless(
        session,
        SessionStatus.DRAFT,
        SessionStatus.OPEN,
        SessionStatus.REVEALED,
        doing="import labels",
    )
    revealed = session.status == SessionStatus.REVEALED
    models = {
        rater.name: rater
        for rater in queries.raters_of(session)
        if rater.kind == RaterKind.MODEL
        and (rater.replay or not revealed)
        and (ai_version_id is None or rater.ai_version_id == ai_version_id)
    }
    if not models:
        raise ValidationError.field(
            "file",
            "add the model version as a replaying rater first."
            if revealed
            else "add the model as a rater of the session first.",
        )
    by_reference = dict(
        db.session.execute(
            sa.select(Case.reference, Case.id).where(Case.session_id == session.id)
        ).all()
    )
    rows = imports.read_labels_csv(
        content,
        option_keys=session.option_keys,
        references=by_reference.keys(),
        rater_names=models.keys(),
    )
    now = utcnow()
    values = sorted(
        (
            {
                "case_id": by_reference[row.reference],
                "rater_id": models[row.rater].id,
                "option_key": row.label,
                "comment": row.comment,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
        ),
        key=lambda value: (value["case_id"], value["rater_id"]),
    )
    _upsert_labels(values)
    record(
        actor,
        "calibration.model_labels_imported",
        session,
        f"Imported {len(rows)} model labels",
        after={"labels": len(rows)},
        session_id=session.id,
    )
    db.session.flush()
    if revealed:
        raters = queries.raters_of(session)
        model_results.evaluate_models(
            session, raters, rater_names(raters), only=[rater.id for rater in models.values()]
        )
    return len(rows)


# Opening, closing, revealing ---------------------------------------------------------


def open_session(actor: User | None, session: CalibrationSession) -> CalibrationSession:
    """Open a draft session for labelling; a session already open or later is unchanged.

    It needs cases and at least two raters, since agreement needs someone to agree with.
    """
    _manager(actor)
    if session.status != SessionStatus.DRAFT:
        return session
    _check_not_archived(session, "open it")
    if queries.case_count(session) == 0:
        raise ValidationError.field("cases", "import the cases before opening the session.")
    raters = db.session.scalar(
        sa.select(sa.func.count(Rater.id)).where(Rater.session_id == session.id)
    )
    if raters < 2:
        raise ValidationError.field("raters", "add at least two raters before opening.")
    now = utcnow()
    if session.closes_at is not None and session.closes_at <= now:
        raise ValidationError.field("closes_at", "the closing time has passed; move it first.")

    def change() -> None:
        session.status, session.opened_at = SessionStatus.OPEN, now
        record(
            actor,
            "calibration.session_opened",
            session,
            f"Opened “{session.title}” for labelling",
            rollout_id=session.rollout_id,
            session_id=session.id,
        )

    return _transition(session, SessionStatus.OPEN, change)


def _transition(
    session: CalibrationSession, reached: SessionStatus, change: Callable[[], object]
) -> CalibrationSession:
    """Make a status change; if a concurrent caller made it first, that is success.

    The change is made and flushed in a savepoint, so losing the race drops only the
    change (and its audit event) and leaves the rest of the unit of work (a scheduler's
    claim of the row) usable.
    """
    try:
        with db.session.begin_nested():
            change()
    except StaleDataError:
        return _lost_race(session, reached)
    return session


def _lost_race(session: CalibrationSession, reached: SessionStatus) -> CalibrationSession:
    """Another caller changed the session first: fine if it got at least as far."""
    db.session.refresh(session)
    order = list(SessionStatus)
    if order.index(session.status) < order.index(reached):
        raise Conflict("Someone else changed this session at the same time. Reload.")
    return session


def close_session(actor: User | None, session: CalibrationSession) -> CalibrationSession:
    """Close an open session: labels freeze, results are computed and stored with their
    flags. A session already closed or revealed is unchanged."""
    _manager(actor)
    if session.status in (SessionStatus.CLOSED, SessionStatus.REVEALED):
        return session
    if session.status == SessionStatus.DRAFT:
        raise Conflict("The session was never opened, so there is nothing to close.")
    _check_not_archived(session, "close it")

    def change() -> None:
        session.status, session.closed_at = SessionStatus.CLOSED, utcnow()
        # The UPDATE takes the session's row lock before the labels are read, so labels
        # saved concurrently are either committed and counted, or refused as too late.
        db.session.flush()
        snapshot = _store_snapshot(actor, session)
        record(
            actor,
            "calibration.session_closed",
            session,
            f"Closed “{session.title}”: {snapshot.n_labels} labels, results computed",
            rollout_id=session.rollout_id,
            session_id=session.id,
        )

    return _transition(session, SessionStatus.CLOSED, change)


def reveal_session(actor: User | None, session: CalibrationSession) -> CalibrationSession:
    """Reveal a closed session: raters now see golden answers, the group's answers and
    their results. A session already revealed is unchanged."""
    _manager(actor)
    if session.status == SessionStatus.REVEALED:
        return session
    if session.status != SessionStatus.CLOSED:
        raise Conflict("Close the session before revealing its results.")
    _check_not_archived(session, "reveal it")

    def change() -> None:
        session.status, session.revealed_at = SessionStatus.REVEALED, utcnow()
        record(
            actor,
            "calibration.session_revealed",
            session,
            f"Revealed the results of “{session.title}”",
            rollout_id=session.rollout_id,
            session_id=session.id,
        )
        session_results_changed.send(session)

    return _transition(session, SessionStatus.REVEALED, change)


def recompute_results(actor: User, session: CalibrationSession) -> AgreementSnapshot:
    """Compute and store the results again, after golden answers changed."""
    _manager(actor)
    if session.status not in (SessionStatus.CLOSED, SessionStatus.REVEALED):
        raise Conflict("Results are computed when the session closes.")
    _check_not_archived(session, "recompute its results")
    try:
        snapshot = _store_snapshot(actor, session)
    except (IntegrityError, StaleDataError):
        # Another recompute added or changed the same flag first (cause is unique per
        # session, and flags are versioned rows); the unit of work rolls back.
        raise Conflict("Someone else recomputed these results at the same time. Reload.") from None
    record(
        actor,
        "calibration.results_recomputed",
        session,
        f"Recomputed the results of “{session.title}”",
        rollout_id=session.rollout_id,
        session_id=session.id,
    )
    _flush("session")
    session_results_changed.send(session)
    return snapshot


def rater_names(raters: Sequence[Rater]) -> dict[int, str]:
    """A name per rater id, unique within the session (two people may share a name)."""
    counts: dict[str, int] = {}
    for rater in raters:
        counts[rater.name] = counts.get(rater.name, 0) + 1
    return {
        rater.id: rater.name if counts[rater.name] == 1 else f"{rater.name} (#{rater.id})"
        for rater in raters
    }


def _store_snapshot(actor: User | None, session: CalibrationSession) -> AgreementSnapshot:
    """Compute the session's results from its labels and store them, with their flags.

    The results are the humans': model raters are measured against them apart
    (:mod:`calibration.model_results`), so adding or replaying a model changes nothing here.
    """
    raters = queries.raters_of(session)
    names = rater_names(raters)
    labels = db.session.execute(
        sa.select(Case.reference, Label.rater_id, Label.option_key)
        .join(Case, Case.id == Label.case_id)
        .join(Rater, Rater.id == Label.rater_id)
        .where(Case.session_id == session.id, Rater.kind == RaterKind.HUMAN)
    ).all()
    golden = dict(
        db.session.execute(
            sa.select(Case.reference, Case.golden_label).where(
                Case.session_id == session.id, Case.golden_label.is_not(None)
            )
        ).all()
    )
    humans = [rater for rater in raters if rater.kind == RaterKind.HUMAN]
    subjects = {
        "raters": {
            names[r.id]: {
                "id": r.id,
                "user_id": r.user_id,
                "vendor_id": r.vendor_id,
                "site_id": r.site_id,
            }
            for r in raters
        },
        "groups": {r.vendor.name: {"id": r.vendor_id} for r in humans},
        "sites": {r.site.label: {"id": r.site_id, "vendor_id": r.vendor_id} for r in humans},
    }
    snapshot = AgreementSnapshot(
        session_id=session.id,
        computed_at=utcnow(),
        computed_by_id=actor.id if actor else None,
        n_labels=len(labels),
        subjects=subjects,
        gate_figures={},
    )
    try:
        report = compute_report(
            [Rating(reference, names[rater_id], key) for reference, rater_id, key in labels],
            categories=session.option_keys,
            level=session.label_level.value,
            golden=golden,
            rater_groups={names[r.id]: r.vendor.name for r in humans},
            rater_sites={names[r.id]: r.site.label for r in humans},
            bootstrap=BOOTSTRAP,
            # Seeded by the session, so recomputing unchanged labels gives the same interval.
            seed=session.id,
            accuracy_target=session.accuracy_target,
            alpha_threshold=session.alpha_threshold,
            label_names={option["key"]: option["name"] for option in session.label_options},
            model_raters=[names[r.id] for r in raters if r.kind == RaterKind.MODEL],
        )
    except AgreementInputError as error:
        snapshot.problem = f"Nothing to analyse: {error}."
        db.session.add(snapshot)
        db.session.flush()
        model_results.evaluate_models(session, raters, names)
        return snapshot
    snapshot.report = report.to_dict()
    snapshot.charts = stored_charts(snapshot.report, subjects, session.alpha_threshold)
    snapshot.summary = summary_of(snapshot.report)
    if golden:
        snapshot.error_directions = model_results.vendor_error_directions(session, raters)
    snapshot.gate_figures = {
        str(subjects["sites"][site.site]["id"]): {
            "alpha": site.alpha,
            "alpha_lower": site.alpha_ci[0] if site.alpha_ci else None,
            "accuracy": site.accuracy,
            "n_raters": site.n_raters,
            "evidence": site.evidence,
            "evidence_missing": site.evidence_missing,
        }
        for site in report.sites
    }
    db.session.add(snapshot)
    db.session.flush()
    _reconcile_flags(actor, session, snapshot, report.flags, subjects)
    model_results.evaluate_models(session, raters, names)
    return snapshot


NO_LONGER_HOLDS = "No longer holds after recompute."


def _reconcile_flags(actor, session, snapshot, found, subjects) -> None:
    """Make the stored flags follow the new results, cause by cause (scope, subject, kind).

    A flag raised again keeps its triage state and notes and shows the new figures; one
    closed earlier because it no longer held is reopened. An open or acknowledged flag
    the results no longer raise is resolved as "no longer holds after recompute", with an
    audit event. New causes get new flags. ``cause`` is unique per session, so two
    recomputes at once cannot both add a flag for one cause: the second gets a conflict.
    """
    existing = {
        flag.cause: flag
        for flag in db.session.scalars(
            # Drift flags span sessions; calibration/quality.py keeps them.
            sa.select(Flag).where(
                Flag.session_id == session.id, Flag.kind.not_in(quality.DRIFT_KINDS.values())
            )
        )
    }
    now = utcnow()
    raised: set[str] = set()
    new_flags: list[Flag] = []
    for item in found:
        cause = Flag.cause_of(item.scope, item.subject, item.kind)
        if cause in raised:
            continue
        raised.add(cause)
        vendor_id = site_id = rater_id = None
        if item.scope == "group":
            vendor_id = subjects["groups"].get(item.subject, {}).get("id")
        elif item.scope == "site":
            site = subjects["sites"].get(item.subject, {})
            vendor_id, site_id = site.get("vendor_id"), site.get("id")
        elif item.scope == "rater":
            rater = subjects["raters"].get(item.subject, {})
            vendor_id, site_id, rater_id = (
                rater.get("vendor_id"),
                rater.get("site_id"),
                rater.get("id"),
            )
        flag = existing.get(cause)
        if flag is None:
            flag = Flag(
                session_id=session.id,
                scope=item.scope,
                subject=item.subject,
                kind=item.kind,
                cause=cause,
                raised_at=now,
            )
            db.session.add(flag)
            new_flags.append(flag)
        elif flag.closed_by_recompute:
            flag.status, flag.closed_by_recompute = FlagStatus.OPEN, False
            flag.resolved_by, flag.resolved_at = None, None
            flag.root_cause = None
            record(
                actor,
                "calibration.flag_reopened",
                flag,
                f"Flag “{flag.scope_title}” ({flag.kind}) holds again after recompute",
                after={"status": FlagStatus.OPEN.value},
                session_id=session.id,
                vendor_id=vendor_id,
            )
        flag.snapshot_id = snapshot.id
        flag.severity = Severity(item.severity)
        flag.value, flag.threshold, flag.message = item.value, item.threshold, item.message
        flag.interval_low, flag.interval_high = item.interval or (None, None)
        flag.n, flag.explained_by = item.n, item.explained_by
        flag.details = {
            key: getattr(item, key)
            for key in ("golden", "given", "share", "others_share", "q_value")
            if getattr(item, key) is not None
        }
        flag.vendor_id, flag.site_id, flag.rater_id = vendor_id, site_id, rater_id
        flag.updated_at = now
    for cause, flag in existing.items():
        if cause in raised or flag.status == FlagStatus.RESOLVED:
            continue
        before = {"status": flag.status.value}
        flag.status, flag.closed_by_recompute = FlagStatus.RESOLVED, True
        flag.root_cause = NO_LONGER_HOLDS
        flag.resolved_by, flag.resolved_at, flag.updated_at = actor, now, now
        record(
            actor,
            "calibration.flag_closed",
            flag,
            f"Flag “{flag.scope_title}” ({flag.kind}) closed: no longer holds after recompute",
            before=before,
            after={"status": FlagStatus.RESOLVED.value},
            session_id=session.id,
            vendor_id=flag.vendor_id,
        )
    db.session.flush()
    if new_flags:
        flags_raised.send(session, flags=new_flags, actor=actor)


# Flags -------------------------------------------------------------------------------


def triage_flag(
    actor: User,
    flag: Flag,
    *,
    status: str,
    root_cause: str | None = None,
    action: str | None = None,
    version: int | None = None,
    cause: str | None = None,
) -> Flag:
    """Acknowledge, resolve or reopen a flag. Resolving needs the root cause — its category
    (``cause``, a ``RootCause``) and in words — and the action taken. ``version`` is the
    one the person saw: if someone changed the flag since, they get a conflict rather than
    overwriting it."""
    require(actor, Action.MANAGE_CALIBRATION)
    if version is not None and version != flag.version:
        raise Conflict(
            "Someone else updated this flag while you were editing it. Your changes were not "
            "saved; here is the flag as it is now.",
            current={"status": flag.status.value, "version": flag.version},
        )
    try:
        new_status = FlagStatus(status)
    except ValueError:
        raise ValidationError.field("status", "choose open, acknowledged or resolved.") from None
    root_cause = (root_cause or "").strip() or None
    action = (action or "").strip() or None
    category = None
    if new_status == FlagStatus.RESOLVED:
        if not root_cause:
            raise ValidationError.field("root_cause", "say what caused the misalignment.")
        if not action:
            raise ValidationError.field("action", "say what was done about it.")
        try:
            category = RootCause((cause or "").strip())
        except ValueError:
            raise ValidationError.field(
                "cause", "choose the kind of root cause from the list."
            ) from None
    before = {"status": flag.status.value, "root_cause": flag.root_cause, "action": flag.action}
    flag.status, flag.root_cause, flag.action = new_status, root_cause, action
    flag.cause_category = category
    flag.closed_by_recompute = False
    flag.updated_at = utcnow()
    if new_status == FlagStatus.RESOLVED:
        flag.resolved_by, flag.resolved_at = actor, flag.updated_at
    else:
        flag.resolved_by, flag.resolved_at = None, None
    record(
        actor,
        "calibration.flag_updated",
        flag,
        f"Flag “{flag.scope_title}” ({flag.kind}): {before['status']} → {new_status.value}",
        before=before,
        after={
            "status": new_status.value,
            "root_cause": root_cause,
            "cause": category.value if category else None,
            "action": action,
        },
        session_id=flag.session_id,
        vendor_id=flag.vendor_id,
    )
    _flush("flag")
    return flag


def acknowledge_flags(actor: User, flags: Sequence[Flag]) -> int:
    """Acknowledge every open flag among ``flags`` at once; returns how many changed.

    Flags already acknowledged or resolved are left as they are, so acknowledging a page
    twice, or a page someone else has just worked on, changes nothing they did.
    """
    require(actor, Action.MANAGE_CALIBRATION)
    now = utcnow()
    changed = 0
    for flag in flags:
        if flag.status != FlagStatus.OPEN:
            continue
        flag.status, flag.updated_at = FlagStatus.ACKNOWLEDGED, now
        record(
            actor,
            "calibration.flag_updated",
            flag,
            f"Flag “{flag.scope_title}” ({flag.kind}): open → acknowledged",
            before={"status": FlagStatus.OPEN.value},
            after={"status": FlagStatus.ACKNOWLEDGED.value},
            session_id=flag.session_id,
            vendor_id=flag.vendor_id,
        )
        changed += 1
    _flush("flag")
    return changed
