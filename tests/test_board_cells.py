"""What a board cell says of its step: its status, or the vendor's pending request, and
its due date in few characters."""

from datetime import date

from rollout.models import ItemStatus
from rollout.queries import BoardCell

TODAY = date(2026, 12, 1)


def cell(due: date, status=ItemStatus.TODO, na_requested=False) -> BoardCell:
    return BoardCell(1, 1, "Trainers upskilled", status, due, True, False, None, na_requested)


def test_a_cell_shows_its_due_date_short_with_the_year_only_when_not_this_year():
    assert cell(date(2026, 12, 9)).due_label(TODAY) == "due 9 Dec"
    assert cell(date(2027, 1, 4)).due_label(TODAY) == "due 4 Jan 2027"


def test_a_cell_with_a_pending_request_says_na_requested_not_its_status():
    assert cell(TODAY, na_requested=True).status_title == "N/A requested"
    assert cell(TODAY, status=ItemStatus.IN_PROGRESS).status_title == "In progress"
