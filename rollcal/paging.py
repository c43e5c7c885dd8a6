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
    """A page of ``statement``'s rows and how many rows it selects in all: two
    statements. A page past the last is empty, as a listing's pager expects."""
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    )
    rows = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total
