"""Read-side helpers: scoped queries and the board, loaded in a bounded number of statements."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from rollcal import permissions
from rollcal.accounts.models import User
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.org.models import Site
from rollcal.permissions import vendor_scope
from rollout import readiness
from rollout.gate import site_gates
from rollout.models import (
    ChecklistItem,
    Policy,
    PolicyVersion,
    Rollout,
    RolloutSite,
    RolloutStatus,
)


def visible_rollouts(user: User) -> sa.Select:
    """Rollouts the person may see: QA leads only those that include their vendor's sites."""
    statement = sa.select(Rollout)
    if permissions.bound_to_vendor(user):
        includes_vendor = (
            sa.select(RolloutSite.rollout_id)
            .join(Site, Site.id == RolloutSite.site_id)
            .where(vendor_scope(user, Site.vendor_id))
        )
        statement = statement.where(Rollout.id.in_(includes_vendor))
    return statement


def visible_items(user: User) -> sa.Select:
    """Checklist items the person may see: QA leads only their own vendor's sites."""
    statement = sa.select(ChecklistItem)
    if permissions.bound_to_vendor(user):
        statement = statement.join(Site, Site.id == ChecklistItem.site_id).where(
            vendor_scope(user, Site.vendor_id)
        )
    return statement


def get_rollout(user: User, rollout_id: int) -> Rollout:
    """A rollout the person may see, or ``NotFound``."""
    rollout = db.session.scalar(
        visible_rollouts(user)
        .where(Rollout.id == rollout_id)
        .options(
            selectinload(Rollout.policy_version).selectinload(PolicyVersion.policy),
            selectinload(Rollout.owner),
        )
    )
    if rollout is None:
        raise NotFound("Rollout was not found.")
    return rollout


def get_item(user: User, item_id: int) -> ChecklistItem:
    """A checklist item the person may see, or ``NotFound``."""
    item = db.session.scalar(
        visible_items(user)
        .where(ChecklistItem.id == item_id)
        .options(
            selectinload(ChecklistItem.rollout)
            .selectinload(Rollout.policy_version)
            .selectinload(PolicyVersion.policy),
            selectinload(ChecklistItem.site).selectinload(Site.vendor),
            selectinload(ChecklistItem.comments),
            selectinload(ChecklistItem.assignee),
        )
    )
    if item is None:
        raise NotFound("Checklist item was not found.")
    return item


@dataclass
class Column:
    """One step of the checklist, as a board column."""

    template_item_id: int
    position: int
    title: str
    side: str
    category: str
    gate: bool


@dataclass
class SiteRow:
    """One site on the board: its cells (one per column, or None) and its readiness."""

    rollout_site: RolloutSite
    cells: list[ChecklistItem | None]
    readiness: readiness.Readiness
    gate: readiness.Gate

    @property
    def site(self) -> Site:
        """The site of this row."""
        return self.rollout_site.site

    @property
    def progress(self) -> tuple[int, int]:
        """(closed, total) required items, gate items excluded."""
        required = [cell for cell in self.cells if cell and cell.required and not cell.gate]
        return sum(cell.is_closed for cell in required), len(required)


@dataclass
class Board:
    """A rollout's matrix of sites × checklist steps, with readiness per site."""

    rollout: Rollout
    columns: list[Column]
    rows: list[SiteRow]
    counts: dict = field(default_factory=dict)

    @property
    def progress(self) -> tuple[int, int]:
        """(closed, total) required items across every site shown."""
        pairs = [row.progress for row in self.rows]
        return sum(done for done, _ in pairs), sum(total for _, total in pairs)


def _readiness_item(item: ChecklistItem) -> readiness.Item:
    return readiness.Item(
        title=item.title,
        status=item.status.value,
        due_date=item.due_date,
        required=item.required,
        reason=item.status_reason,
    )


def _override(rollout_site: RolloutSite) -> readiness.Override | None:
    if not rollout_site.override_justification:
        return None
    by = rollout_site.overridden_by.name if rollout_site.overridden_by else "a POM"
    return readiness.Override(rollout_site.override_justification, by)


def load_rollouts(rollouts: list[Rollout]) -> None:
    """Load the sites and items of several rollouts at once (a fixed number of statements)."""
    if not rollouts:
        return
    db.session.scalars(
        sa.select(Rollout)
        .where(Rollout.id.in_([rollout.id for rollout in rollouts]))
        .options(
            selectinload(Rollout.rollout_sites)
            .selectinload(RolloutSite.site)
            .options(selectinload(Site.vendor), selectinload(Site.markets)),
            selectinload(Rollout.rollout_sites).selectinload(RolloutSite.overridden_by),
            selectinload(Rollout.items).selectinload(ChecklistItem.assignee),
            selectinload(Rollout.policy_version).selectinload(PolicyVersion.policy),
            selectinload(Rollout.owner),
        )
    ).all()


def build_boards(user: User | None, rollouts: list[Rollout], today: date) -> list[Board]:
    """Boards of several rollouts, scoped to what the person may see (None: every site)."""
    load_rollouts(rollouts)
    gates = site_gates(rollouts)
    boards = []
    for rollout in rollouts:
        items_by_site: dict[int, list[ChecklistItem]] = defaultdict(list)
        for item in rollout.items:
            items_by_site[item.site_id].append(item)
        columns_by_id: dict[int, Column] = {}
        for item in rollout.items:
            columns_by_id.setdefault(
                item.template_item_id,
                Column(
                    item.template_item_id,
                    item.position,
                    item.title,
                    item.side.value,
                    item.category.value,
                    item.gate,
                ),
            )
        columns = sorted(columns_by_id.values(), key=lambda column: column.position)
        rows = []
        for rollout_site in rollout.rollout_sites:
            site = rollout_site.site
            if (
                user is not None
                and permissions.bound_to_vendor(user)
                and site.vendor_id != user.vendor_id
            ):
                continue
            site_items = items_by_site[site.id]
            by_column = {item.template_item_id: item for item in site_items}
            gate = gates.get((rollout.id, site.id), readiness.Gate.pending())
            state = readiness.site_readiness(
                [_readiness_item(item) for item in site_items if not item.gate],
                gate,
                today,
                _override(rollout_site),
            )
            rows.append(
                SiteRow(
                    rollout_site, [by_column.get(c.template_item_id) for c in columns], state, gate
                )
            )
        rows.sort(key=lambda row: (row.site.vendor.name, row.site.name))
        counts = readiness.summarise(row.readiness for row in rows)
        boards.append(Board(rollout, columns, rows, counts))
    return boards


def build_board(user: User | None, rollout: Rollout, today: date) -> Board:
    """The board of one rollout, scoped to what the person may see."""
    return build_boards(user, [rollout], today)[0]


def filter_rows(
    board: Board,
    *,
    vendor_id: int | None = None,
    market_id: int | None = None,
    state: str | None = None,
) -> list[SiteRow]:
    """The board's rows matching the filters a person chose."""
    rows = board.rows
    if vendor_id:
        rows = [row for row in rows if row.site.vendor_id == vendor_id]
    if market_id:
        rows = [row for row in rows if any(m.id == market_id for m in row.site.markets)]
    if state:
        rows = [row for row in rows if row.readiness.state.value == state]
    return rows


def my_items(user: User) -> sa.Select:
    """Open items assigned to the person (QA leads: also unassigned items of their vendor),
    soonest due first, in rollouts still under way."""
    statement = (
        visible_items(user)
        .join(Rollout, Rollout.id == ChecklistItem.rollout_id)
        .where(
            ChecklistItem.status.not_in(["done", "not_applicable"]),
            ChecklistItem.gate.is_(False),
            Rollout.status.not_in([RolloutStatus.CANCELLED, RolloutStatus.LIVE]),
        )
        .options(
            selectinload(ChecklistItem.site).selectinload(Site.vendor),
            selectinload(ChecklistItem.rollout)
            .selectinload(Rollout.policy_version)
            .selectinload(PolicyVersion.policy),
        )
        .order_by(ChecklistItem.due_date, ChecklistItem.position, ChecklistItem.id)
    )
    if permissions.bound_to_vendor(user):
        return statement.where(
            ChecklistItem.side == "vendor",
            sa.or_(ChecklistItem.assignee_id == user.id, ChecklistItem.assignee_id.is_(None)),
        )
    return statement.where(ChecklistItem.assignee_id == user.id)


def policies() -> sa.Select:
    """Every policy with its versions, by code."""
    return (
        sa.select(Policy)
        .options(selectinload(Policy.versions), selectinload(Policy.line_of_business))
        .order_by(Policy.code)
    )
