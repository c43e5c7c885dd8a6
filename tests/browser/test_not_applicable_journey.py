"""A QA lead marks a required step not applicable; the POM finds the request and approves
it — in Chromium, each page checked with axe-core."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, sign_in

REASON = "Our moderators already apply this rule under the previous version"


def test_qa_lead_requests_not_applicable_and_the_pom_approves(new_page):
    lead = new_page()
    sign_in(lead, "qa@meridian-cx.example.com")
    lead.goto("/my-items")
    lead.locator("main a[href^='/items/']").first.click()
    lead.wait_for_load_state()
    item_path = lead.url.split("://", 1)[1].split("/", 1)[1]
    expect(lead.get_by_text("asks a POM to approve it")).to_be_visible()
    lead.get_by_label("Status").select_option(label="Not applicable")
    lead.get_by_label("Reason (blocked or not applicable)").fill(REASON)
    lead.get_by_role("button", name="Save").click()
    lead.wait_for_load_state()
    awaiting = lead.get_by_role("heading", name="Not applicable: awaiting POM approval")
    expect(awaiting).to_be_visible()
    expect(lead.get_by_role("button", name="Approve: not applicable")).to_have_count(0)
    check_accessibility(lead)

    pom = new_page()
    sign_in(pom, "pom@example.com")
    pom.goto("/not-applicable-requests")
    check_accessibility(pom)
    pom.locator(f"main a[href^='/{item_path}']").first.click()
    pom.wait_for_load_state()
    expect(pom.get_by_text(REASON).first).to_be_visible()
    check_accessibility(pom)
    pom.get_by_role("button", name="Approve: not applicable").click()
    pom.wait_for_load_state()
    expect(pom.locator("dl.facts")).to_contain_text("Not applicable")
    expect(pom.locator("#history")).to_contain_text("approved by Dana Whitfield")
    check_accessibility(pom)
