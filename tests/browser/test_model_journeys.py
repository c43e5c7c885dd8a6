"""The AI model pages in Chromium, each checked with axe-core."""

from __future__ import annotations

from playwright.sync_api import expect

from calibration.demo import ROUND_1
from tests.browser.conftest import check_accessibility, sign_in


def test_pom_reads_a_model_and_its_newer_version_side_by_side(new_page):
    """Dana opens ListingGuard, then version 2.5 against 2.4 on the revealed round."""
    page = new_page()
    sign_in(page, "pom@example.com")
    page.goto("/calibration/models")
    check_accessibility(page)
    page.get_by_role("link", name="ListingGuard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ListingGuard")
    check_accessibility(page)
    page.get_by_role("link", name="2.5", exact=True).click()
    expect(page.get_by_role("heading", name="Against ListingGuard 2.4")).to_be_visible()
    check_accessibility(page)


def test_stakeholder_reads_the_model_section_of_the_results(new_page):
    """A stakeholder sees the AI raters beside the humans' results of the revealed round."""
    page = new_page()
    sign_in(page, "stakeholder@example.com")
    page.goto("/calibration/sessions")
    page.get_by_role("link", name=ROUND_1).click()
    page.get_by_role("link", name="Results", exact=True).first.click()
    expect(page.get_by_role("heading", name="AI raters")).to_be_visible()
    expect(page.get_by_role("heading", name="Errors by direction, per vendor")).to_be_visible()
    check_accessibility(page)
