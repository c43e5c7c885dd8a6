"""Read-side helpers: scoped queries and the board, loaded in a bounded number of statements."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from rollcal import permissions
from rollcal.accounts.models import User
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.org.models import Market, Site, Vendor, site_markets
from rollcal.paging import RowsPage, rows_page
from rollcal.permissions import vendor_scope
from rollcal.timefmt import format_short_day
from rollout import readiness
from rollout.gate import gates_of_sites, site_gates
from rollout.models import (
    ChecklistItem,
    ItemStatus,
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
    # Joined, not select-in: one statement for the rollout and the few rows it names.
    rollout = db.session.scalar(
        visible_rollouts(user)
        .where(Rollout.id == rollout_id)
        .options(
            joinedload(Rollout.policy_version).joinedload(PolicyVersion.policy),
            joinedload(Rollout.owner),
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
        status=item.readiness_status,
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
    """Load the sites and items of several rollouts at once (a fixed number of statements).

    Sites, their vendors and markets, and items' assignees are joined to the rows that
    name them rather than loaded select-in: an IN list of every site id would be split
    every 500 ids, and the statement count would grow with the rollout.
    """
    if not rollouts:
        return
    db.session.scalars(
        sa.select(Rollout)
        .where(Rollout.id.in_([rollout.id for rollout in rollouts]))
        .options(
            selectinload(Rollout.rollout_sites)
            .joinedload(RolloutSite.site)
            .options(joinedload(Site.vendor), joinedload(Site.markets)),
            selectinload(Rollout.rollout_sites).joinedload(RolloutSite.overridden_by),
            selectinload(Rollout.items).joinedload(ChecklistItem.assignee),
            joinedload(Rollout.policy_version).joinedload(PolicyVersion.policy),
            joinedload(Rollout.owner),
        )
    ).unique().all()


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
            # In checklist order: the database returns a rollout's items in no set order
            # (PostgreSQL's changes after updates), and the reasons name items in turn.
            site_items = sorted(items_by_site[site.id], key=lambda item: (item.position, item.id))
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


@dataclass
class Summary:
    """A rollout as listings show it: the stored readiness of the sites a person sees."""

    rollout: Rollout | ListedRollout
    sites: int = 0
    progress: tuple[int, int] = (0, 0)
    counts: dict = field(default_factory=dict)


def summaries(user: User | None, rollouts: list[Rollout] | list[ListedRollout]) -> list[Summary]:
    """Listing rows of several rollouts from their sites' stored readiness, in one
    statement whatever the number of sites and items (QA leads: their vendor's sites)."""
    by_id = {
        rollout.id: Summary(rollout, counts=dict.fromkeys(readiness.State, 0))
        for rollout in rollouts
    }
    if not by_id:
        return []
    statement = (
        sa.select(
            RolloutSite.rollout_id,
            RolloutSite.readiness_state,
            sa.func.count(),
            sa.func.sum(RolloutSite.required_closed),
            sa.func.sum(RolloutSite.required_total),
        )
        .where(RolloutSite.rollout_id.in_(by_id))
        .group_by(RolloutSite.rollout_id, RolloutSite.readiness_state)
    )
    if user is not None and permissions.bound_to_vendor(user):
        statement = statement.join(Site, Site.id == RolloutSite.site_id).where(
            vendor_scope(user, Site.vendor_id)
        )
    for rollout_id, state, sites, closed, total in db.session.execute(statement):
        summary = by_id[rollout_id]
        summary.sites += sites
        summary.counts[readiness.State(state)] += sites
        done, required = summary.progress
        summary.progress = (done + (closed or 0), required + (total or 0))
    return list(by_id.values())


def listed(statement: sa.Select) -> sa.Select:
    """A listing's rollouts with what each row shows of them loaded."""
    return statement.options(
        selectinload(Rollout.policy_version).selectinload(PolicyVersion.policy),
        selectinload(Rollout.owner),
    )


# Listings ------------------------------------------------------------------------------
#
# The rollouts list, my items and the API's list write nothing: they read plain rows of
# the columns they show, a page at a time, rather than ORM instances.


@dataclass(frozen=True)
class ListedRollout:
    """A rollout as a listing row shows it."""

    id: int
    policy_code: str
    version_label: str
    policy_title: str
    status: RolloutStatus
    go_live_date: date
    owner: str

    @property
    def title(self) -> str:
        """What people call the rollout: the policy version it takes live."""
        return f"{self.policy_code} {self.version_label} — {self.policy_title}"

    @classmethod
    def of(cls, rollout: Rollout) -> ListedRollout:
        """The listing row of a rollout already loaded."""
        version = rollout.policy_version
        return cls(
            rollout.id,
            version.policy.code,
            version.version_label,
            version.policy.title,
            rollout.status,
            rollout.go_live_date,
            rollout.owner.name,
        )


@dataclass(frozen=True)
class MyItem:
    """An open checklist item as *My items* lists it."""

    id: int
    title: str
    due_date: date
    status: ItemStatus
    rollout_id: int
    site_label: str
    rollout_title: str


def listed_page(statement: sa.Select, page: int, per_page: int) -> RowsPage:
    """A page of the rollouts ``statement`` (``visible_rollouts``, filtered and ordered)
    selects, as ``ListedRollout`` rows."""
    columns = statement.with_only_columns(
        Rollout.id,
        Policy.code,
        PolicyVersion.version_label,
        Policy.title,
        Rollout.status,
        Rollout.go_live_date,
        User.name,
    ).select_from(Rollout)
    joined = (
        columns.join(PolicyVersion, PolicyVersion.id == Rollout.policy_version_id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .join(User, User.id == Rollout.owner_id)
    )
    rows, total = rows_page(joined, page, per_page)
    return RowsPage([ListedRollout(*row) for row in rows], page, per_page, total)


def my_items_page(
    user: User, page: int, per_page: int, *, statement: sa.Select | None = None
) -> RowsPage:
    """A page of ``my_items`` (or of ``statement``, ``my_items`` narrowed) as ``MyItem``
    rows: two statements. The page and the count of all items are chosen on the items
    and their rollouts alone; only the page's items are joined to the names they show,
    so a POM with 10,000 open items does not have 10,000 rows joined to be shown 50."""
    listing = statement if statement is not None else my_items(user)
    chosen, total = rows_page(listing, page, per_page)
    ids = [row.id for row in chosen]
    named = {
        row.id: row
        for row in db.session.execute(
            sa.select(
                ChecklistItem.id,
                ChecklistItem.title,
                ChecklistItem.due_date,
                ChecklistItem.status,
                ChecklistItem.rollout_id,
                Vendor.name.label("vendor"),
                Site.name.label("site"),
                Policy.code,
                PolicyVersion.version_label,
                Policy.title.label("policy"),
            )
            .select_from(ChecklistItem)
            .join(Site, Site.id == ChecklistItem.site_id)
            .join(Vendor, Vendor.id == Site.vendor_id)
            .join(Rollout, Rollout.id == ChecklistItem.rollout_id)
            .join(PolicyVersion, PolicyVersion.id == Rollout.policy_version_id)
            .join(Policy, Policy.id == PolicyVersion.policy_id)
            .where(ChecklistItem.id.in_(ids))
        )
    }
    items = [
        MyItem(
            row.id,
            row.title,
            row.due_date,
            row.status,
            row.rollout_id,
            f"{row.vendor} · {row.site}",
            f"{row.code} {row.version_label} — {row.policy}",
        )
        for row in (named[item_id] for item_id in ids)
    ]
    return RowsPage(items, page, per_page, total)


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


def item_details(rollout: Rollout, site_ids: list[int]) -> dict[int, sa.Row]:
    """What the API tells of the checklist items of some sites beyond what the board
    shows (version, category, side, evidence, reason), by item id: one statement over
    the sites of a page."""
    rows = db.session.execute(
        sa.select(
            ChecklistItem.id,
            ChecklistItem.version,
            ChecklistItem.category,
            ChecklistItem.side,
            ChecklistItem.evidence_required,
            ChecklistItem.status_reason,
            ChecklistItem.evidence_url,
            ChecklistItem.evidence_note,
        ).where(ChecklistItem.rollout_id == rollout.id, ChecklistItem.site_id.in_(site_ids))
    )
    return {row.id: row for row in rows}


def my_items(user: User) -> sa.Select:
    """Open items assigned to the person (QA leads: also unassigned items of their vendor),
    soonest due first, in rollouts still under way: each item's id and due date, joined
    to no more than the rules need (``my_items_page`` names a page of them)."""
    statement = (
        sa.select(ChecklistItem.id, ChecklistItem.due_date)
        .join(Rollout, Rollout.id == ChecklistItem.rollout_id)
        .where(
            ChecklistItem.status.not_in(["done", "not_applicable"]),
            ChecklistItem.gate.is_(False),
            Rollout.status.not_in([RolloutStatus.CANCELLED, RolloutStatus.LIVE]),
        )
        .order_by(ChecklistItem.due_date, ChecklistItem.position, ChecklistItem.id)
    )
    if permissions.bound_to_vendor(user):
        return statement.join(Site, Site.id == ChecklistItem.site_id).where(
            vendor_scope(user, Site.vendor_id),
            ChecklistItem.side == "vendor",
            sa.or_(ChecklistItem.assignee_id == user.id, ChecklistItem.assignee_id.is_(None)),
        )
    return statement.where(ChecklistItem.assignee_id == user.id)


def pending_not_applicable(user: User, rollout_id: int | None = None) -> sa.Select:
    """Steps whose vendor asked that they be not applicable and await a POM's answer,
    oldest request first, in rollouts still under way (optionally one rollout)."""
    statement = (
        visible_items(user)
        .join(Rollout, Rollout.id == ChecklistItem.rollout_id)
        .where(
            ChecklistItem.na_requested_at.is_not(None),
            Rollout.status.not_in([RolloutStatus.CANCELLED, RolloutStatus.LIVE]),
        )
        .options(
            selectinload(ChecklistItem.site).selectinload(Site.vendor),
            selectinload(ChecklistItem.na_requested_by),
            selectinload(ChecklistItem.rollout)
            .selectinload(Rollout.policy_version)
            .selectinload(PolicyVersion.policy),
        )
        .order_by(ChecklistItem.na_requested_at, ChecklistItem.id)
    )
    if rollout_id is not None:
        statement = statement.where(ChecklistItem.rollout_id == rollout_id)
    return statement


def pending_not_applicable_count(user: User, rollout_id: int) -> int:
    """How many steps of a rollout await an answer to a not-applicable request."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(
            pending_not_applicable(user, rollout_id).options().order_by(None).subquery()
        )
    )


def policies() -> sa.Select:
    """Every policy with its versions, by code."""
    return (
        sa.select(Policy)
        .options(selectinload(Policy.versions), selectinload(Policy.line_of_business))
        .order_by(Policy.code)
    )


# The board page -----------------------------------------------------------------------
#
# The board shows a page of sites at a time, worst readiness first. It reads plain rows
# (no ORM instances: nothing on the page is written) in a fixed number of statements:
# every visible site with its stored readiness (for the order, the filters and the
# figures), then the checklist items and gates of the page's sites only — an IN list no
# longer than a page.

STATE_ORDER = {state: position for position, state in enumerate(readiness.State)}


@dataclass(frozen=True)
class BoardCell:
    """A checklist item as a board cell shows it."""

    id: int
    template_item_id: int
    title: str
    status: ItemStatus
    due_date: date
    required: bool
    gate: bool
    assignee: str | None
    na_requested: bool = False

    @property
    def is_closed(self) -> bool:
        """Done or not applicable: nothing more to do."""
        return self.status in (ItemStatus.DONE, ItemStatus.NOT_APPLICABLE)

    def due_label(self, today: date) -> str:
        """The due date as the cell shows it: "due 2 Dec"."""
        return f"due {format_short_day(self.due_date, today=today)}"

    @property
    def status_title(self) -> str:
        """What the cell says: the status, or that the vendor asked for not applicable."""
        return "N/A requested" if self.na_requested else self.status.title


@dataclass
class BoardSite:
    """A site as the board names it."""

    id: int
    name: str
    vendor_id: int
    vendor: str
    override: readiness.Override | None
    markets: list[tuple[int, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Vendor and site, as people name a site."""
        return f"{self.vendor} · {self.name}"

    @property
    def market_codes(self) -> str:
        """The site's markets, as codes."""
        return ", ".join(code for _, code in self.markets)


@dataclass
class BoardRow:
    """One site on the board page: its cells (one per column, or None) and readiness."""

    site: BoardSite
    cells: list[BoardCell | None]
    readiness: readiness.Readiness
    gate: readiness.Gate


@dataclass
class BoardPage:
    """A page of a rollout's board, with figures over every site the person sees."""

    columns: list[Column]
    rows: list[BoardRow]
    sites: list[BoardSite]
    counts: dict
    progress: tuple[int, int]
    page: int
    pages: int
    total: int
    per_page: int

    @property
    def first(self) -> int:
        """The position of the page's first site among those matching, from 1."""
        return (self.page - 1) * self.per_page + 1

    @property
    def vendors(self) -> list[tuple[int, str]]:
        """(id, name) of the vendors on the board, by name."""
        return sorted({(site.vendor_id, site.vendor) for site in self.sites}, key=lambda v: v[1])

    @property
    def markets(self) -> list[tuple[int, str]]:
        """(id, code) of the markets of the board's sites, by code."""
        return sorted(
            {market for site in self.sites for market in site.markets}, key=lambda m: m[1]
        )


# What a step of a rollout's checklist is, as every site's item of it repeats it.
_STEP_COLUMNS = (
    ChecklistItem.template_item_id,
    ChecklistItem.position,
    ChecklistItem.title,
    ChecklistItem.side,
    ChecklistItem.category,
    ChecklistItem.gate,
)


def rollout_steps(rollout_id: int) -> list[Column]:
    """The steps of a rollout's checklist, in order: one statement reading one site's
    items, since every site of a rollout has every step (not a DISTINCT over the items
    of all its sites, which grows with them)."""
    first_site = (
        sa.select(sa.func.min(RolloutSite.site_id))
        .where(RolloutSite.rollout_id == rollout_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(*_STEP_COLUMNS)
        .where(ChecklistItem.rollout_id == rollout_id, ChecklistItem.site_id == first_site)
        .order_by(ChecklistItem.position, ChecklistItem.template_item_id)
    )
    return [
        Column(step, position, title, side.value, category.value, gate)
        for step, position, title, side, category, gate in rows
    ]


def board_page(
    user: User,
    rollout: Rollout,
    today: date,
    *,
    page: int = 1,
    per_page: int = 50,
    vendor_id: int | None = None,
    market_id: int | None = None,
    state: str | None = None,
) -> BoardPage:
    """One page of the board as the person may see it: sites matching the filters, worst
    readiness first, then by vendor and site; counts and progress cover every site the
    person sees. Five statements, whatever the number of sites."""
    scoped = permissions.bound_to_vendor(user)
    site_rows = (
        sa.select(
            Site.id,
            Site.name,
            Site.vendor_id,
            Vendor.name,
            RolloutSite.override_justification,
            User.name,
            RolloutSite.readiness_state,
            RolloutSite.required_closed,
            RolloutSite.required_total,
        )
        .select_from(RolloutSite)
        .join(Site, Site.id == RolloutSite.site_id)
        .join(Vendor, Vendor.id == Site.vendor_id)
        .outerjoin(User, User.id == RolloutSite.overridden_by_id)
        .where(RolloutSite.rollout_id == rollout.id)
    )
    if scoped:
        site_rows = site_rows.where(vendor_scope(user, Site.vendor_id))
    # Every site's stored state orders, filters and counts the board; the reasons are
    # not read here, since the rows of the page carry readiness computed from their items.
    sites: dict[int, BoardSite] = {}
    stored: dict[int, readiness.State] = {}
    closed = required_total = 0
    for row in db.session.execute(site_rows):
        site_id, name, site_vendor_id, vendor, justification, by = row[:6]
        state_value, required_closed, required = row[6:]
        override = readiness.Override(justification, by or "a POM") if justification else None
        sites[site_id] = BoardSite(site_id, name, site_vendor_id, vendor, override)
        stored[site_id] = readiness.State(state_value)
        closed += required_closed
        required_total += required
    markets = (
        sa.select(site_markets.c.site_id, Market.id, Market.code)
        .join(Market, Market.id == site_markets.c.market_id)
        .join(RolloutSite, RolloutSite.site_id == site_markets.c.site_id)
        .where(RolloutSite.rollout_id == rollout.id)
        .order_by(Market.code)
    )
    for site_id, market, code in db.session.execute(markets):
        if site_id in sites:
            sites[site_id].markets.append((market, code))
    counts = readiness.count_states(stored.values())
    matching = list(sites.values())
    if vendor_id:
        matching = [site for site in matching if site.vendor_id == vendor_id]
    if market_id:
        matching = [site for site in matching if any(m == market_id for m, _ in site.markets)]
    if state:
        matching = [site for site in matching if stored[site.id].value == state]
    matching.sort(key=lambda site: (STATE_ORDER[stored[site.id]], site.vendor, site.name))
    pages = max(1, -(-len(matching) // per_page))
    page = min(max(page, 1), pages)
    shown = matching[(page - 1) * per_page : page * per_page]
    items = (
        sa.select(
            ChecklistItem.id,
            ChecklistItem.site_id,
            *_STEP_COLUMNS,
            ChecklistItem.status,
            ChecklistItem.due_date,
            ChecklistItem.required,
            ChecklistItem.status_reason,
            User.name,
            ChecklistItem.na_requested_at,
        )
        .outerjoin(User, User.id == ChecklistItem.assignee_id)
        .where(
            ChecklistItem.rollout_id == rollout.id,
            ChecklistItem.site_id.in_([site.id for site in shown]),
        )
    )
    # The columns are read even when the page has no site.
    columns = rollout_steps(rollout.id)
    cells_by_site: dict[int, dict[int, BoardCell]] = defaultdict(dict)
    inputs_by_site: dict[int, list[readiness.Item]] = defaultdict(list)
    for row in db.session.execute(items):
        item_id, site_id, step, _, title, _, _, gate, status, due, required, reason = row[:12]
        na_requested = row[13] is not None
        cells_by_site[site_id][step] = BoardCell(
            item_id, step, title, status, due, required, gate, row[12], na_requested
        )
        if not gate:
            inputs_by_site[site_id].append(
                readiness.Item(
                    title=title,
                    status=readiness.NA_REQUESTED if na_requested else status.value,
                    due_date=due,
                    required=required,
                    reason=reason,
                )
            )
    gates = gates_of_sites(rollout, [site.id for site in shown])
    # The rows shown carry readiness computed now from what the page has read: the same
    # as the stored readiness that ordered them, unless the date moved on since it was
    # stored and the daily job has yet to store it again.
    rows = [
        BoardRow(
            site,
            [cells_by_site[site.id].get(column.template_item_id) for column in columns],
            readiness.site_readiness(inputs_by_site[site.id], gates[site.id], today, site.override),
            gates[site.id],
        )
        for site in shown
    ]
    return BoardPage(
        columns,
        rows,
        list(sites.values()),
        counts,
        (closed, required_total),
        page,
        pages,
        len(matching),
        per_page,
    )
