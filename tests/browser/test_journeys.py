"""Journeys through rollcal in Chromium, each page checked with axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from calibration.demo import ROUND_1, ROUND_2
from tests.browser.conftest import check_accessibility, sign_in


def _label_by_keyboard(page, email: str) -> None:
    sign_in(page, email)
    page.goto("/calibration/sessions")
    check_accessibility(page)
    page.get_by_role("link", name=ROUND_2).click()
    check_accessibility(page)
    start = page.get_by_role("link", name=re.compile("(Start|Continue) labelling"))
    start.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/label/\d+"))
    check_accessibility(page)
    progress = page.locator(".label-progress")
    before = progress.inner_text()
    first_case = page.url
    # A reload would lose this: the save must swap the next case into the same page.
    page.evaluate("() => { window.labellingMarker = 'same page'; }")
    page.keyboard.press("1")
    page.wait_for_url(lambda url: url != first_case)
    expect(progress).not_to_have_text(before)
    assert page.evaluate("() => window.labellingMarker") == "same page"
    expect(page.locator("#labelling h1")).to_be_focused()
    check_accessibility(page)
    # Back to the first case: the label chosen by key 1 is marked as this rater's own.
    page.goto(first_case)
    chosen = page.locator('button.option[aria-pressed="true"]')
    expect(chosen).to_have_count(1)
    expect(chosen).to_have_attribute("data-key", "1")


def _rater_of(app, vendor_slug: str, title: str) -> str:
    """The e-mail of a QA lead of the vendor who rates in the session called ``title``."""
    import sqlalchemy as sa

    from calibration.models import CalibrationSession, Rater
    from rollcal.accounts.models import User
    from rollcal.extensions import db

    with app.app_context():
        return db.session.scalars(
            sa.select(User.email)
            .join(Rater, Rater.user_id == User.id)
            .join(CalibrationSession, CalibrationSession.id == Rater.session_id)
            .where(CalibrationSession.title == title, User.email.like(f"%@{vendor_slug}.%"))
            .order_by(User.email)
        ).first()


def test_two_qa_leads_label_an_open_session_with_the_keyboard_alone(new_page, live_app):
    """Two vendors' QA leads each label a case by pressing 1 on the case page."""
    _label_by_keyboard(new_page(), "qa@meridian-cx.example.com")
    _label_by_keyboard(new_page(), _rater_of(live_app, "lumen-ops", ROUND_2))


def test_pom_reads_results_and_acknowledges_a_flag(new_page):
    """Dana opens round 1's results, then acknowledges an open flag from the flags list."""
    page = new_page()
    sign_in(page, "pom@example.com")
    check_accessibility(page)
    page.goto("/calibration/sessions")
    page.get_by_role("link", name=ROUND_1).click()
    page.get_by_role("link", name="Results", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Results")
    check_accessibility(page)
    page.goto("/calibration/flags?status=open")
    check_accessibility(page)
    page.locator("main a[href*='/calibration/flags/']").first.click()
    check_accessibility(page)
    flag_page = page.url
    page.get_by_label("Status").select_option("acknowledged")
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    page.wait_for_load_state()
    page.goto(flag_page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acknowledged")


def test_pom_board_and_rollouts_pass_accessibility(new_page):
    """The rollouts list, a board and My items have no serious accessibility violation."""
    page = new_page()
    sign_in(page, "pom@example.com")
    page.goto("/rollouts")
    check_accessibility(page)
    page.locator("main a[href^='/rollouts/']:not([href$='/new'])").first.click()
    check_accessibility(page)
    page.goto("/my-items")
    check_accessibility(page)


def test_stakeholder_and_admin_pages_pass_accessibility(new_page):
    """The stakeholder's home and sign-offs, the admin's people and jobs pages."""
    page = new_page()
    sign_in(page, "stakeholder@example.com")
    check_accessibility(page)
    page.goto("/signoffs")
    check_accessibility(page)
    admin = new_page()
    sign_in(admin, "admin@example.com")
    for path in ("/", "/admin/users", "/admin/vendors", "/admin/jobs"):
        admin.goto(path)
        check_accessibility(admin)


def test_unbroken_text_wraps_inside_the_item_page(new_page):
    """A 400-character comment with no space stays inside the page's width."""
    page = new_page()
    sign_in(page, "pom@example.com")
    page.goto("/my-items")
    page.locator("main a[href^='/items/']").first.click()
    page.locator("#comments textarea").fill("x" * 400)
    page.locator("#comments form button[type=submit], #comments form input[type=submit]").click()
    page.wait_for_load_state()
    expect(page.get_by_text("x" * 400)).to_be_visible()
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width[0]}px in {width[1]}px"
    check_accessibility(page)


def test_pom_schedules_recurring_calibration_from_the_sessions_page(new_page):
    """Dana reaches the schedules from the sessions page, sees the demo's fortnightly
    schedule, and sets up a weekly one through the form."""
    from calibration.demo import SCHEDULE

    page = new_page()
    sign_in(page, "pom@example.com")
    page.goto("/calibration/sessions")
    page.get_by_role("link", name="Recurring").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recurring calibration")
    expect(page.get_by_role("link", name=SCHEDULE)).to_be_visible()
    check_accessibility(page)
    page.get_by_role("link", name="New schedule").click()
    check_accessibility(page)
    page.get_by_label("Name").fill("Counterfeit weekly")
    page.get_by_label("Policy version").select_option(index=1)
    page.locator("input[name=sites]").first.check()
    page.get_by_label("Every (days)").fill("7")
    page.get_by_label("Open for (days)").fill("10")
    page.get_by_label("Next round opens at").fill("2099-01-05T09:00")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_text("cannot stay open longer than the days between rounds")).to_be_visible()
    check_accessibility(page)
    page.get_by_label("Open for (days)").fill("2")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_role("link", name="Counterfeit weekly")).to_be_visible()
