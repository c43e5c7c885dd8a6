"""The whole of rollcal in one journey through Chromium, every page checked with axe-core.

An admin adds a vendor, a site and a QA lead, who accepts the e-mailed invitation; a POM
rolls a new policy version out to that site and an existing one, calibrates both sites'
QA leads on imported cases (they label with the keyboard alone), reveals the results,
triages a flag and asks for sign-off; a stakeholder approves; the frozen PDF downloads
and verifies; and everyone concerned is told, under the bell and by e-mail.

E-mail goes the production way: queued in the outbox, sent by the ``email_delivery`` job
(run here as the scheduler runs it) to an SMTP server on loopback (aiosmtpd). Reports are
rendered by the render worker of this process.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, sign_in
from tests.conftest import Inbox, free_port

VENDOR = "Northwind Review"
SITE = "Davao"
QA_LEAD = ("Rosa Villanueva", "rosa@northwind.example.com")
QA_PASSWORD = "rosa-chose-this-password"
MERIDIAN_QA = "qa@meridian-cx.example.com"
POLICY_CODE = "SHOP-JRNY"
SESSION_TITLE = "Replica listings, round 1"
# Golden answers: violating (key 1) or not (key 2).
CASES = [
    ("JR-1", "Replica watch, brand logo shown, 'AAA quality'", "violating"),
    ("JR-2", "Second-hand handbag with receipt from the brand store", "authentic"),
    ("JR-3", "'Inspired by' sneakers with the brand's swoosh", "violating"),
    ("JR-4", "Unbranded phone case, generic listing", "authentic"),
    ("JR-5", "Perfume in copied packaging, price one tenth of retail", "violating"),
    ("JR-6", "Refurbished laptop sold by the maker's outlet", "authentic"),
]


@pytest.fixture(scope="module")
def inbox(live_app) -> Inbox:
    """An SMTP server on loopback; the app sends its e-mail there."""
    from aiosmtpd.controller import Controller

    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=free_port())
    controller.start()
    live_app.config.update(ROLLCAL_SMTP_HOST="127.0.0.1", ROLLCAL_SMTP_PORT=controller.port)
    try:
        yield received
    finally:
        live_app.config["ROLLCAL_SMTP_HOST"] = None
        controller.stop()


@pytest.fixture(scope="module")
def render_worker(live_app):
    """The render worker of this process, as the scheduler starts it."""
    from rollcal.reports import queue

    queue.start_in_process(live_app)
    yield
    queue.stop_in_process(live_app)


def _mail_to(app, inbox: Inbox, address: str, subject: str, timeout: float = 20):
    """The e-mail to ``address`` whose subject contains ``subject``, once the e-mail job
    has sent it (the job runs as the scheduler runs it, until the message arrives)."""
    from rollcal.jobs.scheduler import run_job

    deadline = time.monotonic() + timeout
    while True:
        run_job(app, "email_delivery")
        for message in inbox.messages:
            if message["To"] == address and subject in message["Subject"]:
                return message
        if time.monotonic() > deadline:
            sent = [(m["To"], m["Subject"]) for m in inbox.messages]
            raise AssertionError(f"no e-mail to {address} about {subject!r}; sent: {sent}")
        time.sleep(0.3)


def _site_id(app, label: str) -> int:
    """The id of the site named ``Vendor · Site``."""
    import sqlalchemy as sa

    from rollcal.extensions import db
    from rollcal.org.models import Site, Vendor

    vendor, site = label.split(" · ")
    with app.app_context():
        return db.session.scalar(
            sa.select(Site.id).join(Vendor).where(Vendor.name == vendor, Site.name == site)
        )


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _choose(page, label: str, contains: str) -> None:
    """Pick the option of the select ``#label`` whose text contains ``contains``."""
    select = page.locator(f"#{label}")
    value = select.evaluate(
        "(select, text) => [...select.options].find(o => o.text.includes(text)).value", contains
    )
    select.select_option(value)


def _submit(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def _accept_dialogs(page):
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def _admin_adds_vendor_site_and_qa_lead(page) -> None:
    sign_in(page, "admin@example.com")
    check_accessibility(page)
    page.goto("/admin/vendors/new")
    check_accessibility(page)
    page.locator("#name").fill(VENDOR)
    page.get_by_label("Dana Whitfield").check()
    _submit(page, "Save vendor")
    expect(page.locator(".flashes")).to_contain_text(f"Vendor “{VENDOR}” is saved.")
    check_accessibility(page)

    page.goto("/admin/sites/new")
    _choose(page, "vendor", VENDOR)
    page.locator("#name").fill(SITE)
    page.locator("#city").fill("Davao City")
    page.get_by_label("PH — Philippines").check()
    page.get_by_label("Shop: product listing").check()
    check_accessibility(page)
    _submit(page, "Save site")
    expect(page.locator(".flashes")).to_contain_text(f"Site “{SITE}” is saved.")
    check_accessibility(page)

    page.goto("/admin/users")
    page.get_by_role("link", name="Invite a person").click()
    check_accessibility(page)
    name, email = QA_LEAD
    page.locator("#email").fill(email)
    page.locator("#name").fill(name)
    page.locator("#role").select_option(label="QA lead")
    _choose(page, "vendor", VENDOR)
    page.locator("#timezone").select_option("Asia/Manila")
    assert page.locator("input[type=password]").count() == 0
    _submit(page, "Invite person")
    expect(page.locator(".flashes")).to_contain_text(f"is on its way to {email}")
    row = page.locator("tr", has_text=name)
    expect(row).to_contain_text("Invited, not accepted yet")
    check_accessibility(page)


def _qa_lead_accepts_invitation(page, live_app, inbox) -> None:
    name, email = QA_LEAD
    message = _mail_to(live_app, inbox, email, "You are invited to rollcal")
    [link] = re.findall(r"https?://\S+/invitation/[\w-]+", _text(message))
    page.goto(urlsplit(link).path)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome to rollcal, {name}")
    check_accessibility(page)
    page.locator("#password").fill(QA_PASSWORD)
    page.locator("#confirm").fill(QA_PASSWORD)
    page.locator("#confirm").press("Enter")
    page.wait_for_load_state()
    expect(page.locator(".flashes")).to_contain_text("Welcome to rollcal. Your password is set.")
    check_accessibility(page)


def _pom_prepares_rollout_and_session(page) -> tuple[str, str]:
    """Returns the paths of the rollout's board and of the session."""
    sign_in(page, "pom@example.com")
    page.goto("/policies/new")
    check_accessibility(page)
    page.locator("#code").fill(POLICY_CODE)
    page.locator("#title").fill("Replica goods in listings")
    page.locator("#area").fill("Counterfeit")
    _choose(page, "line_of_business", "Shop: product listing")
    _submit(page, "Create policy")
    check_accessibility(page)
    page.locator("#version_label").fill("v1.0")
    page.locator("#change_summary").fill("Listings that copy a brand's logo are violating.")
    page.locator("#effective_date").fill(date.today().isoformat())
    page.locator("#label_options").fill("violating | Violating\nauthentic | Not violating")
    _submit(page, "Add version")
    check_accessibility(page)

    page.goto("/rollouts/new")
    check_accessibility(page)
    _choose(page, "policy_version", POLICY_CODE)
    page.locator("#go_live_date").fill((date.today() + timedelta(days=21)).isoformat())
    page.get_by_label(re.compile(f"{VENDOR} · {SITE}")).check()
    page.get_by_label(re.compile("Meridian CX · Cebu")).check()
    _submit(page, "Create rollout")
    expect(page).to_have_url(re.compile(r"/rollouts/\d+$"))
    board = urlsplit(page.url).path
    check_accessibility(page)

    page.goto("/calibration/sessions/new")
    check_accessibility(page)
    page.locator("#title").fill(SESSION_TITLE)
    _choose(page, "rollout", POLICY_CODE)
    _submit(page, "Save session")
    expect(page).to_have_url(re.compile(r"/raters$"))
    check_accessibility(page)
    for box in page.locator("#proposed input[type=checkbox]").all():
        box.check()
    _submit(page, "Add the ticked QA leads")
    raters = page.locator("main")
    expect(raters).to_contain_text(QA_LEAD[0])
    check_accessibility(page)
    session = urlsplit(page.url).path.removesuffix("/raters")

    page.goto(f"{session}/import")
    check_accessibility(page)
    csv = "reference,text,market,policy_area,golden\n" + "".join(
        f'{ref},"{text}",PH,Counterfeit,{golden}\n' for ref, text, golden in CASES
    )
    page.locator("form", has=page.get_by_role("button", name="Import cases")).locator(
        "input[type=file]"
    ).set_input_files({"name": "cases.csv", "mimeType": "text/csv", "buffer": csv.encode()})
    _submit(page, "Import cases")
    expect(page.locator(".flashes")).to_contain_text(f"{len(CASES)} cases are added.")
    check_accessibility(page)

    # The import went back to the session's page.
    _submit(page, "Open for labelling now")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Open")
    check_accessibility(page)
    return board, session


def _label_all_by_keyboard(page, email: str, password: str | None, keys: list[str]) -> None:
    """Sign in and label every case of the session by pressing one key per case."""
    sign_in(page, email, password)
    page.goto("/calibration/sessions")
    check_accessibility(page)
    page.get_by_role("link", name=SESSION_TITLE).click()
    check_accessibility(page)
    start = page.get_by_role("link", name=re.compile("(Start|Continue) labelling"))
    start.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/label/\d+"))
    check_accessibility(page)
    for key in keys:
        here = page.url
        page.keyboard.press(key)
        page.wait_for_url(lambda url, here=here: url != here)
    expect(page.locator(".flashes")).to_contain_text("You have labelled every case.")
    check_accessibility(page)


def test_from_a_new_vendor_to_a_verified_sign_off(new_page, live_app, inbox, render_worker):
    admin = _accept_dialogs(new_page())
    _admin_adds_vendor_site_and_qa_lead(admin)
    _qa_lead_accepts_invitation(new_page(), live_app, inbox)

    pom = _accept_dialogs(new_page())
    board, session = _pom_prepares_rollout_and_session(pom)

    golden_keys = ["1" if golden == "violating" else "2" for *_, golden in CASES]
    # Rosa reads every case the other way round from golden; Meridian's lead matches it.
    flipped = ["2" if key == "1" else "1" for key in golden_keys]
    _label_all_by_keyboard(new_page(), QA_LEAD[1], QA_PASSWORD, flipped)
    _label_all_by_keyboard(new_page(), MERIDIAN_QA, None, golden_keys)

    # The POM closes and reveals the session, reads the results and triages a flag.
    pom.goto(session)
    _submit(pom, "Close and compute results")
    _submit(pom, "Reveal to raters")
    expect(pom.get_by_role("heading", level=1)).to_contain_text("Revealed")
    check_accessibility(pom)
    pom.get_by_role("link", name="Results", exact=True).first.click()
    expect(pom.get_by_role("heading", level=1)).to_contain_text("Results")
    check_accessibility(pom)
    pom.goto("/calibration/flags?status=open")
    check_accessibility(pom)
    pom.locator("tr", has_text=SESSION_TITLE).locator(
        "a[href*='/calibration/flags/']"
    ).first.click()
    check_accessibility(pom)
    pom.locator("#status").select_option("resolved")
    pom.locator("#cause").select_option("training_gap")
    pom.locator("#root_cause").fill("The site's training deck showed replicas as allowed.")
    pom.locator("#action").fill("Retrain Davao on the new deck before go-live.")
    _submit(pom, "Save")
    expect(pom.get_by_role("heading", level=1)).to_contain_text("Resolved")
    check_accessibility(pom)

    # Both sites are marked ready by override, and the POM asks for sign-off.
    sites = {
        label: _site_id(live_app, label) for label in (f"{VENDOR} · {SITE}", "Meridian CX · Cebu")
    }
    for site in sites:
        pom.goto(f"{board}?override={sites[site]}#override")
        pom.locator("#override-justification").fill(
            "Checklist steps are tracked offline with the vendor; calibration was reviewed."
        )
        _submit(pom, "Mark ready by override")
    check_accessibility(pom)
    pom.goto(f"{board}/signoff")
    check_accessibility(pom)
    pom.get_by_label("Sam Okafor").check()
    pom.locator("#message").fill("Please sign off the replica listings rollout.")
    _submit(pom, "Request sign-off and freeze the report")
    check_accessibility(pom)

    # The stakeholder is told in rollcal and by e-mail, reads the frozen report, approves.
    _mail_to(live_app, inbox, "stakeholder@example.com", "Sign-off requested")
    stakeholder = new_page()
    sign_in(stakeholder, "stakeholder@example.com")
    expect(stakeholder.locator("a[href='/notifications']")).to_contain_text(re.compile(r"\d"))
    stakeholder.goto("/notifications")
    check_accessibility(stakeholder)
    stakeholder.get_by_role(
        "link", name=re.compile("Sign-off requested: .*" + POLICY_CODE)
    ).first.click()
    expect(stakeholder).to_have_url(re.compile(r"/signoffs/\d+"))
    decide = stakeholder.url
    pdf_link = stakeholder.get_by_role("link", name="Open the readiness report (PDF)")
    for _ in range(60):
        if pdf_link.count():
            break
        time.sleep(0.5)
        stakeholder.reload()
    check_accessibility(stakeholder)
    pdf = stakeholder.request.get(pdf_link.get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    stakeholder.get_by_label("Approve go-live").check()
    stakeholder.locator("#comment").fill("Ready: overrides are explained.")
    _submit(stakeholder, "Record my decision")
    stakeholder.goto(decide)
    expect(stakeholder.locator("main")).to_contain_text("You approved this")
    check_accessibility(stakeholder)

    # The frozen PDF verifies on the verify page.
    stakeholder.goto("/verify")
    check_accessibility(stakeholder)
    stakeholder.locator("#file").set_input_files(
        {"name": "readiness.pdf", "mimeType": "application/pdf", "buffer": pdf.body()}
    )
    _submit(stakeholder, "Verify")
    result = stakeholder.get_by_role("status")
    expect(result).to_contain_text("A frozen rollcal readiness report")
    expect(result).to_contain_text("approved")
    check_accessibility(stakeholder)

    # The POM is told of the decision, in rollcal and by e-mail.
    message = _mail_to(live_app, inbox, "pom@example.com", "approved the sign-off")
    assert "Sam Okafor approved" in message["Subject"]
    pom.goto("/notifications")
    expect(pom.locator("main")).to_contain_text("Sam Okafor approved the sign-off")
    check_accessibility(pom)


def test_a_forgotten_password_is_reset_from_the_sign_in_page(new_page, live_app, inbox):
    """Mateo asks for a link, chooses a new password through it, and the link then says
    it was used; each page passes axe."""
    page = new_page()
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    check_accessibility(page)
    page.locator("#email").fill("pom2@example.com")
    page.locator("#email").press("Enter")
    page.wait_for_load_state()
    expect(page.locator(".flashes")).to_contain_text("If an account uses that address")
    check_accessibility(page)

    message = _mail_to(live_app, inbox, "pom2@example.com", "Choose a new rollcal password")
    [link] = re.findall(r"https?://\S+/reset-password/[\w-]+", _text(message))
    page.goto(urlsplit(link).path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    check_accessibility(page)
    page.locator("#password").fill("mateo-new-password")
    page.locator("#confirm").fill("mateo-new-password")
    _submit(page, "Save password and sign in")
    expect(page.locator(".flashes")).to_contain_text("Your new password is set.")

    again = new_page()
    again.goto(urlsplit(link).path)
    expect(again.locator("main")).to_contain_text("This link was used already")
    check_accessibility(again)
    sign_in(again, "pom2@example.com", "mateo-new-password")
