"""Pages of plain rows: listings that write nothing read the columns they show, a page at
a time, with what a pager needs (the same attributes as Flask-SQLAlchemy's pagination,
which pages ORM instances only)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from rollcal.extensions import db


@dataclass
class RowsPage:
    """One page of rows, with what a pager needs."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (0 when there is nothing)."""
        return -(-self.total // self.per_page)

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        """The number of the page before."""
        return self.page - 1

    @property
    def next_num(self) -> int:
        """The number of the page after."""
        return self.page + 1


def rows_page(statement: sa.Select, page: int, per_page: int) -> tuple[list[sa.Row], int]:
    """A page of ``statement``'s rows and how many rows it selects in all. A page past
    the last is empty, as a listing's pager expects.

    One statement: each row of the page also carries the count of all rows
    (``count(*) OVER ()``, computed before LIMIT), so the page and its total need no
    second, counting statement around a subquery of the listing. The count is read
    separately only where a window would count something else (a DISTINCT listing,
    whose window counts rows before duplicates go) or where the page is past the last
    and has no row to carry it.
    """
    offset = (page - 1) * per_page
    if statement._distinct or statement._distinct_on:
        return _counted_apart(statement, per_page, offset)
    result = db.session.execute(
        statement.add_columns(sa.func.count().over().label("rows_in_all"))
        .limit(per_page)
        .offset(offset)
    )
    width = len(result.keys()) - 1
    frozen = result.freeze()
    found = frozen().all()
    if not found:
        return [], 0 if offset == 0 else _count(statement)
    return frozen().columns(*range(width)).all(), found[0][width]


def _counted_apart(statement: sa.Select, per_page: int, offset: int) -> tuple[list[sa.Row], int]:
    rows = db.session.execute(statement.limit(per_page).offset(offset)).all()
    return rows, _count(statement)


def _count(statement: sa.Select) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    )
