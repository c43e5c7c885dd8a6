"""The bell in Chromium: its count is on the page without JavaScript, and htmx brings it
up to date when the tab comes back into view, under the strict CSP."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, sign_in

EMAIL = "pom2@example.com"


def _unread(app) -> int:
    from rollcal.accounts.models import User
    from rollcal.extensions import db
    from rollcal.notifications.services import unread_count

    with app.app_context():
        return unread_count(db.session.scalars(sa.select(User).where(User.email == EMAIL)).one())


def _tell(app, title: str) -> None:
    """A new notification for the signed-in person, made as a job would make it."""
    from rollcal.accounts.models import User
    from rollcal.extensions import db
    from rollcal.notifications.models import Kind
    from rollcal.notifications.services import notify
    from rollcal.uow import unit_of_work

    with app.app_context(), unit_of_work():
        person = db.session.scalars(sa.select(User).where(User.email == EMAIL)).one()
        notify(
            person,
            Kind.SIGNOFF_DECIDED,
            about=f"bell-test:{secrets.token_hex(4)}",
            title=title,
            link="/rollouts",
            email=False,
        )


def test_the_bell_catches_up_when_the_tab_comes_back_into_view(new_page, live_app):
    page = new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    sign_in(page, EMAIL)
    page.goto("/rollouts")
    bell = page.locator("a.bell")
    before = _unread(live_app)
    expect(bell).to_have_attribute("aria-label", f"Notifications: {before} unread")
    check_accessibility(page)

    _tell(live_app, "Sign-off approved while you were away")
    # The page is as it was: nothing reloads it. The tab becomes visible again.
    expect(bell).to_have_attribute("aria-label", f"Notifications: {before} unread")
    with page.expect_response(re.compile(r"/notifications/bell$")):
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")

    expect(page.locator("a.bell")).to_have_attribute(
        "aria-label", f"Notifications: {before + 1} unread"
    )
    expect(page.locator(".bell-count")).to_have_text(str(before + 1))
    check_accessibility(page)
    # Still a plain link to the list.
    page.locator("a.bell").click()
    page.wait_for_url(re.compile(r"/notifications$"))
    expect(page.get_by_role("link", name="Sign-off approved while you were away")).to_be_visible()
    assert problems == [], problems


def test_without_javascript_the_bell_shows_the_count_rendered_by_the_server(
    chromium, live_server, live_app
):
    context = chromium.new_context(base_url=live_server, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, EMAIL)
        page.goto("/rollouts")
        unread = _unread(live_app)
        expect(page.locator("a.bell")).to_have_attribute(
            "aria-label", f"Notifications: {unread} unread"
        )
        if unread:
            expect(page.locator(".bell-count")).to_have_text(str(min(unread, 99)))
    finally:
        context.close()


def test_a_days_reminder_lists_its_items_on_a_page_of_its_own(new_page, live_app):
    from rollcal.extensions import db
    from rollcal.notifications.models import Kind, Notification
    from rollout import jobs

    with live_app.app_context():
        jobs.remind_assignees()
        grouped = db.session.scalars(
            sa.select(Notification)
            .join(Notification.user)
            .where(Notification.kind == Kind.CHECKLIST_DUE)
            .order_by(Notification.id)
        ).all()
        reminder = next(n for n in grouped if n.entries and len(n.entries) > 1)
        email, title, entries = reminder.user.email, reminder.title, reminder.entries
    page = new_page()
    sign_in(page, email)
    page.goto("/notifications")
    check_accessibility(page)
    page.get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(re.compile(r"/notifications/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("ul.notification-entries > li")).to_have_count(len(entries))
    check_accessibility(page)
    page.get_by_role("link", name=entries[0]["title"], exact=True).first.click()
    page.wait_for_url(re.compile(r"/items/\d+$"))
