"""The quality review reached from the scorecards in Chromium, each page checked with
axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, sign_in


def test_a_qa_lead_asks_for_the_quality_review_of_their_vendor(new_page, live_app):
    page = new_page()
    sign_in(page, "qa@meridian-cx.example.com")
    page.goto("/scorecards/")
    check_accessibility(page)
    # The list covers only her vendor, but "every vendor" is not hers to review.
    expect(page.get_by_role("link", name="Quality review PDF")).to_have_count(0)
    page.get_by_role("link", name="Meridian CX").first.click()
    page.wait_for_url(re.compile(r"/scorecards/vendors/\d+"))
    check_accessibility(page)
    csv_link = page.get_by_role("link", name="CSV", exact=True)
    expect(csv_link).to_have_attribute("href", re.compile(r"/scorecards/review\.csv\?"))
    page.get_by_role("link", name="Quality review PDF").click()
    page.wait_for_url(re.compile(r"/reports/[A-Za-z0-9_-]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quality review")
    check_accessibility(page)
    # A worker renders it; the page, still open, finds it ready without being reloaded.
    from rollcal.reports.queue import render_queued

    address = page.url
    render_queued(live_app)
    expect(page.get_by_role("link", name="Download the PDF")).to_be_visible()
    assert page.url == address
    check_accessibility(page)
