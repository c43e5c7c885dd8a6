"""What rollout tells people: its kinds of notification, who gets each and why, and the
subscribers that tell them when a checklist item is commented on or reassigned or a
go-live moves (connected by the domain's ``init_app``; the services only send signals)."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from rollcal import events
from rollcal.accounts.models import Role, User
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.notifications.models import DIGEST_HOUR, EVERYONE, MANAGERS, Kind, KindInfo
from rollcal.notifications.services import notify, notify_each, path_for
from rollcal.org.models import Site, vendor_owners
from rollcal.timefmt import format_day

WORKERS = frozenset({Role.ADMIN, Role.POM, Role.QA_LEAD})

NOTIFICATION_KINDS: dict[Kind, KindInfo] = {
    Kind.CHECKLIST_DUE: KindInfo(
        "Checklist items due or overdue",
        "Once a day, one reminder listing your items due within two days or overdue.",
        WORKERS,
    ),
    Kind.ITEM_COMMENTED: KindInfo(
        "Comments on your items",
        "When someone comments on a checklist item assigned to you.",
        WORKERS,
    ),
    Kind.MENTIONED: KindInfo(
        "Mentions",
        "When someone mentions you in a comment on a checklist item (@ and your e-mail "
        "address, or the part of it before the @).",
        EVERYONE,
    ),
    Kind.ITEM_ASSIGNED: KindInfo(
        "Items assigned to you",
        "When a POM gives you a checklist item.",
        WORKERS,
    ),
    Kind.GO_LIVE_MOVED: KindInfo(
        "Go-live moved",
        "When the go-live date of a rollout you own, run or have open items in moves: "
        "the old and new date and why.",
        WORKERS,
    ),
    Kind.ROLLOUT_LIVE: KindInfo(
        "Rollout went live",
        "When a signed-off rollout you own, or signed off, reaches its go-live date.",
        frozenset({Role.ADMIN, Role.POM, Role.STAKEHOLDER}),
    ),
    Kind.SIGNOFF_REQUESTED: KindInfo(
        "Sign-off requested",
        "When a POM asks you to sign off a rollout's readiness report.",
        frozenset({Role.STAKEHOLDER}),
    ),
    Kind.SIGNOFF_DECIDED: KindInfo(
        "Sign-off decided",
        "When a stakeholder approves or rejects a rollout you asked them to sign off.",
        MANAGERS,
    ),
    Kind.DAILY_DIGEST: KindInfo(
        "Daily digest",
        f"An e-mail at {DIGEST_HOUR:02d}:00 your time: for POMs, rollouts at risk, overdue "
        "items and new flags; for everyone, what you chose to get in the digest.",
        EVERYONE - {Role.STAKEHOLDER},
        is_digest=True,
    ),
    Kind.WEEKLY_SUMMARY: KindInfo(
        "Weekly summary",
        f"An e-mail on Mondays at {DIGEST_HOUR:02d}:00 your time: rollouts, readiness, "
        "sign-offs and calibration across the organisation.",
        frozenset({Role.STAKEHOLDER}),
        is_digest=True,
    ),
}

# "@maria@meridian.example" or "@maria": not the "@" inside an address written out.
MENTION = re.compile(r"(?<![\w.+-])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")
# How much of a comment a notification quotes.
QUOTE_LENGTH = 200


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_LENGTH else text[: QUOTE_LENGTH - 1].rstrip() + "…"


def _may_see(person: User, item) -> bool:
    """Whether the person may open the item's page: the same rule the page applies."""
    from rollout import queries

    try:
        queries.get_item(person, item.id)
    except NotFound:
        return False
    return True


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def mentioned_people(text: str, item) -> list[User]:
    """The active people a comment mentions who may see the item, by id.

    A mention is "@" and a person's e-mail address, or the part before its "@" when that
    names one person only. Anyone who may not see the item (a QA lead of another vendor)
    is left out: being told would show them it exists.
    """
    words = {word.rstrip(".").lower() for word in MENTION.findall(text)}
    words.discard("")
    if not words:
        return []
    addresses = {word for word in words if "@" in word}
    names = words - addresses
    found: dict[int, User] = {}
    if addresses:
        for user in db.session.scalars(
            sa.select(User).where(User.active, sa.func.lower(User.email).in_(sorted(addresses)))
        ):
            found[user.id] = user
    if names:
        by_name: dict[str, list[User]] = {}
        starts = [
            sa.func.lower(User.email).like(_escape_like(name) + "@%", escape="\\")
            for name in sorted(names)
        ]
        for user in db.session.scalars(sa.select(User).where(User.active, sa.or_(*starts))):
            name = user.email.split("@", 1)[0].lower()
            if name in names:
                by_name.setdefault(name, []).append(user)
        for people in by_name.values():
            visible = [person for person in people if _may_see(person, item)]
            if len(visible) == 1:
                found[visible[0].id] = visible[0]
    return [found[user_id] for user_id in sorted(found) if _may_see(found[user_id], item)]


def tell_of_comment(item, comment=None, actor: User | None = None, **_facts) -> None:
    """A comment tells the people it mentions, and the item's assignee (once: a mentioned
    assignee hears of the mention). Nobody is told of their own comment."""
    link = path_for("rollout.item", item_id=item.id) + "#comments"
    where = f"{item.site.label} · {item.rollout.title}"
    quote = f"“{_quote(comment.body)}”"
    author = actor.name if actor else "Someone"
    mentioned = mentioned_people(comment.body, item)
    notify_each(
        mentioned,
        Kind.MENTIONED,
        about=f"comment:{comment.id}",
        leave_out=actor,
        title=f"{author} mentioned you on “{item.title}”",
        body=f"{where}: {quote}",
        link=link,
    )
    assignee = item.assignee
    if assignee is not None and assignee not in mentioned and assignee != actor:
        notify(
            assignee,
            Kind.ITEM_COMMENTED,
            about=f"comment:{comment.id}",
            title=f"{author} commented on “{item.title}”",
            body=f"{where}: {quote}",
            link=link,
        )


def tell_of_reassignment(item, actor: User | None = None, **_facts) -> None:
    """The new assignee hears that the item is theirs now (not when they took it
    themselves)."""
    assignee = item.assignee
    if assignee is None or assignee == actor:
        return
    notify(
        assignee,
        Kind.ITEM_ASSIGNED,
        # The item's version changes with every save: each assignment is told once.
        about=f"item:{item.id}:v{item.version}",
        title=f"Assigned to you: {item.title}",
        body=f"{item.site.label} · {item.rollout.title}. Due {format_day(item.due_date)}"
        + (f"; {actor.name} gave it to you." if actor else "."),
        link=path_for("rollout.item", item_id=item.id),
    )


def go_live_audience(rollout) -> list[User]:
    """Who hears of a go-live moving: the rollout's owner, the POMs who own its sites'
    vendors, and the assignees of its open items."""
    vendor_ids = sa.select(Site.vendor_id).where(
        Site.id.in_([rollout_site.site_id for rollout_site in rollout.rollout_sites])
    )
    owners = db.session.scalars(
        sa.select(User)
        .join(vendor_owners, vendor_owners.c.user_id == User.id)
        .where(vendor_owners.c.vendor_id.in_(vendor_ids))
    ).all()
    assignees = [item.assignee for item in rollout.items if not item.is_closed and item.assignee]
    return [rollout.owner, *owners, *assignees]


def tell_of_go_live_move(
    rollout,
    actor: User | None = None,
    old_date: date | None = None,
    new_date: date | None = None,
    reason: str = "",
    **_facts,
) -> None:
    """Everyone working on the rollout hears the old and new date and why."""
    by = f" {actor.name} moved it" if actor else " It moved"
    notify_each(
        go_live_audience(rollout),
        Kind.GO_LIVE_MOVED,
        about=f"rollout:{rollout.id}:v{rollout.version}",
        leave_out=actor,
        title=f"Go-live moved to {format_day(new_date)}: {rollout.title}",
        body=f"From {format_day(old_date)} to {format_day(new_date)}.{by}: “{_quote(reason)}” "
        "Due dates of open items moved with it.",
        link=path_for("rollout.board", rollout_id=rollout.id),
    )


def subscribe() -> None:
    """Tell people what the rollout services signal (called by ``rollout.init_app``)."""
    events.item_commented.connect(tell_of_comment)
    events.item_reassigned.connect(tell_of_reassignment)
    events.go_live_moved.connect(tell_of_go_live_move)
