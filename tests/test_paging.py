"""A page of plain rows and the count of all of them, in one statement where it can."""

from __future__ import annotations

import sqlalchemy as sa

from rollcal.org.models import Vendor
from rollcal.paging import rows_page
from tests.test_statement_counts import _statements


def _vendors(db, create_vendor, n: int) -> sa.Select:
    for number in range(n):
        create_vendor(f"Paged {number:02d}")
    db.session.commit()
    return (
        sa.select(Vendor.id, Vendor.name).where(Vendor.name.like("Paged %")).order_by(Vendor.name)
    )


def test_a_page_and_the_count_of_all_rows_come_in_one_statement(db, create_vendor):
    listing = _vendors(db, create_vendor, 7)
    with _statements() as statements:
        rows, total = rows_page(listing, 2, 3)
    assert [row.name for row in rows] == ["Paged 03", "Paged 04", "Paged 05"]
    assert list(rows[0]._fields) == ["id", "name"]
    assert total == 7
    assert len(statements) == 1


def test_a_page_past_the_last_is_empty_and_still_counts_every_row(db, create_vendor):
    listing = _vendors(db, create_vendor, 4)
    assert rows_page(listing, 3, 3) == ([], 4)
    assert rows_page(listing.where(sa.false()), 1, 3) == ([], 0)


def test_a_distinct_listing_counts_its_distinct_rows(db, create_vendor):
    _vendors(db, create_vendor, 5)
    names = sa.select(sa.func.substr(Vendor.name, 1, 5).label("stem")).where(
        Vendor.name.like("Paged %")
    )
    rows, total = rows_page(names.distinct().order_by("stem"), 1, 10)
    assert [row.stem for row in rows] == ["Paged"]
    assert total == 1
