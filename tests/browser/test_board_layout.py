"""The rollout board on a 1366 px laptop screen: every step column reachable by scrolling
the table sideways while the site column stays in view, due dates in the cells, and each
site's readiness on one line with its reasons on demand."""

from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, sign_in

# One line of summary (a badge and counts) and the cell's padding, with room to spare;
# the reasons in full used to take up to ten lines.
READINESS_CELL_MAX_PX = 90
# Where to keep a picture of the board, for a person to look at (unset: none).
SCREENSHOT = os.environ.get("ROLLCAL_BOARD_SCREENSHOT")
SHORT_DAY = re.compile(r"due \d{1,2} [A-Z][a-z]{2}( \d{4})?")


def _open_board(new_page):
    page = new_page()
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, "pom@example.com")
    page.goto("/rollouts")
    page.locator("main a[href^='/rollouts/']:not([href$='/new'])").first.click()
    page.wait_for_load_state()
    return page


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, "element is not rendered"
    return box


def test_last_step_column_scrolls_into_view_with_the_site_column_still_visible(new_page):
    page = _open_board(new_page)
    scroller = page.locator(".board-scroll")
    frame = _box(scroller)
    assert frame["x"] + frame["width"] <= 1366, "the board's box is wider than the screen"
    last_step = page.locator("table.board thead th.step").last
    site = page.locator("table.board tbody th[scope=row]").first
    before = _box(site)

    last_step.scroll_into_view_if_needed()
    scrolled = scroller.evaluate("element => element.scrollLeft")
    assert scrolled > 0, "the board did not need to scroll: the test proves nothing"

    step_box = _box(last_step)
    assert step_box["x"] >= frame["x"] - 1
    assert step_box["x"] + step_box["width"] <= frame["x"] + frame["width"] + 1
    site_box = _box(site)
    assert abs(site_box["x"] - before["x"]) <= 1, "the site column moved with the scroll"
    assert site_box["x"] >= frame["x"] - 1 and site_box["width"] > 0
    # The site column is drawn above the step cells scrolled under it.
    middle_x = site_box["x"] + site_box["width"] / 2
    middle_y = site_box["y"] + site_box["height"] / 2
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('th[scope=row]') !== null",
        [middle_x, middle_y],
    )
    assert on_top, "a scrolled cell covers the site column"
    check_accessibility(page)


def test_cells_show_their_due_date_and_readiness_is_one_line_with_reasons_on_demand(new_page):
    page = _open_board(new_page)
    open_cell = page.locator("table.board td.cell:has(.cell-due)").first
    expect(open_cell).to_contain_text(SHORT_DAY)
    overdue = page.locator("table.board td.cell-overdue")
    if overdue.count():
        expect(overdue.first).to_contain_text("overdue")

    readiness = page.locator("table.board td.readiness")
    for index in range(readiness.count()):
        height = _box(readiness.nth(index))["height"]
        assert height <= READINESS_CELL_MAX_PX, f"readiness cell {index} is {height}px tall"
    summary = readiness.first.locator("summary")
    expect(summary).to_have_text(re.compile(r"^\s*(Blocked|At risk|On track|Ready)\b"))
    reasons = readiness.first.locator("ul.reasons")
    expect(reasons).to_be_hidden()
    summary.click()
    expect(reasons).to_be_visible()
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)
    check_accessibility(page)
