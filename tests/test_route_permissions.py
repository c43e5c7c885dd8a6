"""Every route, every kind of visitor: the answer each one gets.

A route without an entry here fails the suite, so no new page can forget its rule. URL
arguments point at objects of *another* vendor than the QA lead's, so isolation shows as
404 for QA leads.
"""

import secrets
from datetime import date

import pytest

from rollcal.accounts.models import ApiToken, Role
from rollcal.reports.queue import ReportFile
from tests.calibration_factories import permission_arguments, run_session, split_answers

ANON, ADMIN, POM, QA, STAKEHOLDER = "anon", "admin", "pom", "qa_lead", "stakeholder"
LOGIN = "login"  # a redirect to the sign-in page

ADMIN_ONLY = {ANON: LOGIN, ADMIN: 200, POM: 403, QA: 403, STAKEHOLDER: 403}
SIGNED_IN = {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 200, STAKEHOLDER: 200}
OTHER_VENDOR = {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200}
PUBLIC = {ANON: 200, ADMIN: 200, POM: 200, QA: 200, STAKEHOLDER: 200}
API_SIGNED_IN = {ANON: 401, ADMIN: 200, POM: 200, QA: 200, STAKEHOLDER: 200}
API_OTHER_VENDOR = {ANON: 401, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200}
MANAGERS = {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 403, STAKEHOLDER: 403}
MANAGERS_POST = {ANON: LOGIN, ADMIN: 302, POM: 302, QA: 403, STAKEHOLDER: 403}
ADMIN_POST = {ANON: LOGIN, ADMIN: 302, POM: 403, QA: 403, STAKEHOLDER: 403}
READERS = {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 403, STAKEHOLDER: 200}
NO_QA = {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200}
# Asking for a report queues it: the page of the report (302), or 202 from the API.
REPORT_ASKED = {ANON: LOGIN, ADMIN: 302, POM: 302, QA: 404, STAKEHOLDER: 302}
API_REPORT_ASKED = {ANON: 401, ADMIN: 202, POM: 202, QA: 404, STAKEHOLDER: 202}

# rule -> (method, expected answer per visitor)
EXPECTED = {
    "/static/<path:filename>": ("GET", PUBLIC),
    "/login": ("GET", {ANON: 200, ADMIN: 302, POM: 302, QA: 302, STAKEHOLDER: 302}),
    "/logout": ("POST", {ANON: LOGIN, ADMIN: 302, POM: 302, QA: 302, STAKEHOLDER: 302}),
    "/account": ("GET", SIGNED_IN),
    "/forgot-password": ("GET", PUBLIC),
    # The token here is a report's, no account link's: not found, whoever asks.
    "/invitation/<token>": ("GET", {ANON: 404, ADMIN: 404, POM: 404, QA: 404, STAKEHOLDER: 404}),
    "/reset-password/<token>": (
        "GET",
        {ANON: 404, ADMIN: 404, POM: 404, QA: 404, STAKEHOLDER: 404},
    ),
    "/account/tokens": ("GET", SIGNED_IN),
    # Tokens are only ever one's own: someone else's token id is not found.
    "/account/tokens/<int:token_id>/revoke": (
        "POST",
        {ANON: LOGIN, ADMIN: 404, POM: 404, QA: 404, STAKEHOLDER: 404},
    ),
    "/": ("GET", SIGNED_IN),
    "/vendors/<int:vendor_id>": ("GET", OTHER_VENDOR),
    "/sites/<int:site_id>": ("GET", OTHER_VENDOR),
    "/admin/markets": ("GET", ADMIN_ONLY),
    "/admin/markets/new": ("GET", ADMIN_ONLY),
    "/admin/markets/<int:market_id>": ("GET", ADMIN_ONLY),
    "/admin/lines-of-business": ("GET", ADMIN_ONLY),
    "/admin/lines-of-business/new": ("GET", ADMIN_ONLY),
    "/admin/lines-of-business/<int:line_id>": ("GET", ADMIN_ONLY),
    "/admin/vendors": ("GET", ADMIN_ONLY),
    "/admin/vendors/new": ("GET", ADMIN_ONLY),
    "/admin/vendors/<int:vendor_id>/edit": ("GET", ADMIN_ONLY),
    "/admin/sites": ("GET", ADMIN_ONLY),
    "/admin/sites/new": ("GET", ADMIN_ONLY),
    "/admin/sites/<int:site_id>/edit": ("GET", ADMIN_ONLY),
    "/admin/users": ("GET", ADMIN_ONLY),
    "/admin/users/new": ("GET", ADMIN_ONLY),
    "/admin/users/<int:user_id>": ("GET", ADMIN_ONLY),
    # The person has a password already: refused with a message, back to the list.
    "/admin/users/<int:user_id>/invitation": ("POST", ADMIN_POST),
    "/api/v1/me": ("GET", API_SIGNED_IN),
    "/api/v1/openapi.json": ("GET", PUBLIC),
    # Rollouts
    "/rollouts": ("GET", SIGNED_IN),
    "/rollouts/new": ("GET", MANAGERS),
    "/rollouts/<int:rollout_id>": ("GET", OTHER_VENDOR),
    "/rollouts/<int:rollout_id>/board.csv": ("GET", OTHER_VENDOR),
    "/rollouts/<int:rollout_id>/activity": ("GET", OTHER_VENDOR),
    "/rollouts/<int:rollout_id>/go-live": ("POST", MANAGERS_POST),
    "/rollouts/<int:rollout_id>/bulk": ("POST", MANAGERS_POST),
    "/rollouts/<int:rollout_id>/sites/<int:site_id>/override": ("POST", MANAGERS_POST),
    "/rollouts/<int:rollout_id>/cancel": ("POST", MANAGERS_POST),
    "/rollouts/<int:rollout_id>/reopen": ("POST", MANAGERS_POST),
    "/items/<int:item_id>": ("GET", OTHER_VENDOR),
    # Stakeholders read checklists but do not comment.
    "/items/<int:item_id>/comments": (
        "POST",
        {ANON: LOGIN, ADMIN: 302, POM: 302, QA: 404, STAKEHOLDER: 403},
    ),
    "/items/<int:item_id>/assignee": ("POST", MANAGERS_POST),
    "/items/<int:item_id>/not-applicable": ("POST", MANAGERS_POST),
    "/not-applicable-requests": ("GET", MANAGERS),
    "/my-items": ("GET", SIGNED_IN),
    "/policies": ("GET", READERS),
    "/policies/new": ("GET", MANAGERS),
    "/policies/<int:policy_id>": ("GET", READERS),
    "/policies/<int:policy_id>/versions/new": ("GET", MANAGERS),
    "/versions/<int:version_id>/status": ("POST", MANAGERS_POST),
    "/policies/<int:policy_id>/edit": ("GET", MANAGERS),
    # The version is rolling out: it and its policy are archived, never deleted or edited,
    # so managers are sent back with a message.
    "/policies/<int:policy_id>/delete": ("GET", MANAGERS_POST),
    "/versions/<int:version_id>/edit": ("GET", MANAGERS_POST),
    "/versions/<int:version_id>/delete": ("GET", MANAGERS_POST),
    "/versions/<int:version_id>/model-gate": ("POST", MANAGERS_POST),
    "/rollouts/<int:rollout_id>/model-gate": ("POST", MANAGERS_POST),
    "/admin/templates": ("GET", ADMIN_ONLY),
    "/admin/templates/new": ("GET", ADMIN_ONLY),
    "/admin/templates/<int:template_id>/edit": ("GET", ADMIN_ONLY),
    "/admin/templates/<int:template_id>": ("GET", ADMIN_ONLY),
    "/admin/templates/<int:template_id>/steps/new": ("GET", ADMIN_ONLY),
    "/admin/templates/<int:template_id>/steps/<int:step_id>": ("GET", ADMIN_ONLY),
    "/api/v1/rollouts": ("GET", API_SIGNED_IN),
    "/api/v1/rollouts/<int:rollout_id>": ("GET", API_OTHER_VENDOR),
    # An empty body is refused (422) once the caller may edit the item at all.
    "/api/v1/checklist-items/<int:item_id>": (
        "PATCH",
        {ANON: 401, ADMIN: 422, POM: 422, QA: 404, STAKEHOLDER: 403},
    ),
    # Reports and sign-off
    "/rollouts/<int:rollout_id>/report.pdf": ("GET", REPORT_ASKED),
    # A whole copy of another vendor's rollout; more objects in test_report_pages_* below.
    "/reports/<token>": (
        "GET",
        {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200},
    ),
    "/reports/<token>/status": (
        "GET",
        {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200},
    ),
    "/reports/<token>/download": (
        "GET",
        {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200},
    ),
    "/rollouts/<int:rollout_id>/signoff": ("GET", READERS),
    "/signoff-requests/<int:request_id>/report.pdf": ("GET", READERS),
    "/signoffs": ("GET", {ANON: LOGIN, ADMIN: 403, POM: 403, QA: 403, STAKEHOLDER: 200}),
    "/signoffs/<int:sign_off_id>": (
        "GET",
        {ANON: LOGIN, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200},
    ),
    "/verify": ("GET", SIGNED_IN),
    "/api/v1/rollouts/<int:rollout_id>/report.pdf": ("GET", API_REPORT_ASKED),
    # Calibration: a revealed session whose raters work for the other vendor.
    "/calibration/sessions": ("GET", SIGNED_IN),
    "/calibration/sessions/new": ("GET", MANAGERS),
    "/calibration/sessions/<int:session_id>": ("GET", OTHER_VENDOR),
    "/calibration/sessions/<int:session_id>/edit": ("GET", MANAGERS),
    "/calibration/sessions/<int:session_id>/raters": ("GET", MANAGERS),
    "/calibration/sessions/<int:session_id>/import": ("GET", MANAGERS),
    "/calibration/sessions/<int:session_id>/import/sample-<kind>.csv": ("GET", MANAGERS),
    "/calibration/sessions/<int:session_id>/cases": ("GET", OTHER_VENDOR),
    "/calibration/sessions/<int:session_id>/cases/<int:case_id>": ("GET", OTHER_VENDOR),
    "/calibration/sessions/<int:session_id>/cases/<int:case_id>/golden": ("GET", MANAGERS),
    # A revealed session's cases stay as they are: managers are sent back with a message.
    "/calibration/sessions/<int:session_id>/cases/<int:case_id>/edit": ("GET", MANAGERS_POST),
    "/calibration/sessions/<int:session_id>/cases/<int:case_id>/delete": ("GET", MANAGERS_POST),
    # A revealed session is archived, never deleted: managers are sent back with a message.
    "/calibration/sessions/<int:session_id>/delete": ("GET", MANAGERS_POST),
    # Only raters label; a QA lead of another vendor does not find the session at all.
    "/calibration/sessions/<int:session_id>/label": (
        "GET",
        {ANON: LOGIN, ADMIN: 403, POM: 403, QA: 404, STAKEHOLDER: 403},
    ),
    "/calibration/sessions/<int:session_id>/label/<int:case_id>": (
        "GET",
        {ANON: LOGIN, ADMIN: 403, POM: 403, QA: 404, STAKEHOLDER: 403},
    ),
    "/calibration/sessions/<int:session_id>/results": ("GET", OTHER_VENDOR),
    "/calibration/sessions/<int:session_id>/labels.csv": ("GET", OTHER_VENDOR),
    "/calibration/sessions/<int:session_id>/results/<table>.csv": ("GET", OTHER_VENDOR),
    "/calibration/flags": ("GET", SIGNED_IN),
    "/scorecards/": ("GET", SIGNED_IN),
    "/scorecards/alignment": ("GET", READERS),
    "/scorecards/scorecards.csv": ("GET", SIGNED_IN),
    # Without a vendor, the review of every vendor: not for QA leads.
    "/scorecards/review.pdf": ("GET", REPORT_ASKED),
    "/scorecards/review.csv": ("GET", OTHER_VENDOR),
    "/scorecards/vendors/<int:vendor_id>": ("GET", OTHER_VENDOR),
    "/scorecards/sites/<int:site_id>": ("GET", OTHER_VENDOR),
    "/calibration/flags/acknowledge": ("POST", MANAGERS_POST),
    "/calibration/flags/<int:flag_id>": ("GET", OTHER_VENDOR),
    "/calibration/flags/<int:flag_id>/owner": ("POST", MANAGERS_POST),
    # Stakeholders read flags but work on none; the owner (a QA lead) may tick actions off.
    "/calibration/flags/<int:flag_id>/actions": (
        "POST",
        {ANON: LOGIN, ADMIN: 302, POM: 302, QA: 404, STAKEHOLDER: 403},
    ),
    "/calibration/flags/<int:flag_id>/actions/<int:action_id>": (
        "POST",
        {ANON: LOGIN, ADMIN: 302, POM: 302, QA: 404, STAKEHOLDER: 403},
    ),
    "/calibration/flags/<int:flag_id>/extra-round": ("POST", MANAGERS_POST),
    "/calibration/schedules": ("GET", MANAGERS),
    "/calibration/schedules/new": ("GET", MANAGERS),
    "/calibration/schedules/<int:schedule_id>/edit": ("GET", MANAGERS),
    "/calibration/schedules/<int:schedule_id>/pause": ("POST", MANAGERS_POST),
    "/calibration/schedules/<int:schedule_id>/resume": ("POST", MANAGERS_POST),
    # Last of the schedule's routes: it deletes the schedule the others use.
    "/calibration/schedules/<int:schedule_id>/delete": ("POST", MANAGERS_POST),
    # Steps on a revealed session change nothing and redirect back with a message.
    "/calibration/sessions/<int:session_id>/open": ("POST", MANAGERS_POST),
    "/calibration/sessions/<int:session_id>/close": ("POST", MANAGERS_POST),
    "/calibration/sessions/<int:session_id>/reveal": ("POST", MANAGERS_POST),
    "/calibration/sessions/<int:session_id>/recompute": ("POST", MANAGERS_POST),
    "/calibration/sessions/<int:session_id>/raters/<int:rater_id>/remove": (
        "POST",
        MANAGERS_POST,
    ),
    "/api/v1/sessions": ("GET", API_SIGNED_IN),
    "/api/v1/scorecards": ("GET", API_SIGNED_IN),
    "/api/v1/scorecards/review.pdf": ("GET", API_REPORT_ASKED),
    "/api/v1/sessions/<int:session_id>": ("GET", API_OTHER_VENDOR),
    "/api/v1/sessions/<int:session_id>/cases": ("GET", API_OTHER_VENDOR),
    # GET here; the PUT of the same path is pinned in tests/test_calibration_api.py.
    "/api/v1/sessions/<int:session_id>/labels": ("GET", API_OTHER_VENDOR),
    "/api/v1/sessions/<int:session_id>/agreement": ("GET", API_OTHER_VENDOR),
    # Notifications: someone else's notification is not found, whoever asks.
    "/notifications": ("GET", SIGNED_IN),
    "/notifications/preferences": ("GET", SIGNED_IN),
    "/notifications/read-all": (
        "POST",
        {ANON: LOGIN, ADMIN: 302, POM: 302, QA: 302, STAKEHOLDER: 302},
    ),
    # The bell's fragment: a signed-out browser gets no content, not the sign-in page.
    "/notifications/bell": ("GET", {ANON: 204, ADMIN: 200, POM: 200, QA: 200, STAKEHOLDER: 200}),
    "/notifications/<int:notification_id>": (
        "GET",
        {ANON: LOGIN, ADMIN: 404, POM: 404, QA: 404, STAKEHOLDER: 404},
    ),
    "/notifications/<int:notification_id>/open": (
        "GET",
        {ANON: LOGIN, ADMIN: 404, POM: 404, QA: 404, STAKEHOLDER: 404},
    ),
    "/notifications/<int:notification_id>/read": (
        "POST",
        {ANON: LOGIN, ADMIN: 404, POM: 404, QA: 404, STAKEHOLDER: 404},
    ),
    "/admin/outbox": ("GET", ADMIN_ONLY),
    "/admin/outbox/<int:email_id>": ("GET", ADMIN_ONLY),
    "/admin/outbox/<int:email_id>/html": ("GET", ADMIN_ONLY),
    "/admin/jobs": ("GET", ADMIN_ONLY),
    "/admin/jobs/<job_id>/run": ("POST", ADMIN_POST),
    "/calibration/sessions/<int:session_id>/report.pdf": ("GET", REPORT_ASKED),
    "/api/v1/sessions/<int:session_id>/report.pdf": ("GET", API_REPORT_ASKED),
    # Archived, then back: the rules above read the session as it was.
    "/calibration/sessions/<int:session_id>/archive": ("POST", MANAGERS_POST),
    "/calibration/sessions/<int:session_id>/unarchive": ("POST", MANAGERS_POST),
    "/versions/<int:version_id>/archive": ("POST", MANAGERS_POST),
    "/versions/<int:version_id>/unarchive": ("POST", MANAGERS_POST),
    "/policies/<int:policy_id>/archive": ("POST", MANAGERS_POST),
    "/policies/<int:policy_id>/unarchive": ("POST", MANAGERS_POST),
    # AI models: QA leads do not find them (a model's human band names every vendor's raters).
    "/calibration/models": ("GET", NO_QA),
    "/calibration/models/new": ("GET", MANAGERS),
    "/calibration/models/<int:model_id>": ("GET", NO_QA),
    "/calibration/models/<int:model_id>/versions/<int:model_version_id>": ("GET", NO_QA),
    "/calibration/models/<int:model_id>/versions/<int:model_version_id>/sessions": (
        "POST",
        MANAGERS_POST,
    ),
    "/calibration/models/<int:model_id>/versions/<int:model_version_id>/sessions/"
    "<int:session_id>/labels": ("POST", MANAGERS_POST),
    "/calibration/models/<int:model_id>/tokens/<int:model_token_id>/revoke": (
        "POST",
        MANAGERS_POST,
    ),
    "/api/v1/models/<int:model_id>/versions/<int:model_version_id>/evaluation": (
        "GET",
        {ANON: 401, ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200},
    ),
    # Only a model's service token labels as it; no personal token does.
    "/api/v1/model-versions/<int:model_version_id>/sessions/<int:session_id>/labels": (
        "PUT",
        {ANON: 401, ADMIN: 401, POM: 401, QA: 401, STAKEHOLDER: 401},
    ),
    # Last: it removes the step the rules above read.
    # Before the removal below: a removed step can no longer move.
    "/admin/templates/<int:template_id>/steps/<int:step_id>/move": ("POST", ADMIN_POST),
    "/admin/templates/<int:template_id>/steps/<int:step_id>/remove": ("POST", ADMIN_POST),
}


def test_every_route_has_an_expected_answer(app):
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    missing = sorted(rules - EXPECTED.keys())
    assert not missing, f"add these routes to EXPECTED in {__name__}: {missing}"
    stale = sorted(EXPECTED.keys() - rules)
    assert not stale, f"these entries name routes that no longer exist: {stale}"


@pytest.fixture
def world(db, create_user, create_site, create_market, create_line):
    """One vendor for the QA lead, another vendor for the URLs, and a person of each role."""
    own_site, other_site = create_site(), create_site()
    people = {
        ADMIN: create_user(Role.ADMIN),
        POM: create_user(Role.POM),
        QA: create_user(Role.QA_LEAD, vendor=own_site.vendor),
        STAKEHOLDER: create_user(Role.STAKEHOLDER),
    }
    stranger = create_user(Role.POM)
    token = ApiToken(user=stranger, name="t", token_hash="0" * 64, prefix="rc_x")
    db.session.add(token)
    db.session.commit()
    rollout, version = _rollout_of(other_site, people[POM], create_line)
    template = rollout.template
    sign_off = _signed_request(db, rollout, people[POM], people[STAKEHOLDER])
    report = _ready_report(db, "readiness", rollout.id, "all")
    arguments = {
        "filename": "rollcal.css",
        "vendor_id": other_site.vendor_id,
        "site_id": other_site.id,
        "market_id": other_site.markets[0].id,
        "line_id": other_site.lines_of_business[0].id,
        "user_id": stranger.id,
        "token_id": token.id,
        "rollout_id": rollout.id,
        "item_id": rollout.items[0].id,
        "policy_id": version.policy_id,
        "version_id": version.id,
        "template_id": template.id,
        "step_id": template.items[0].id,
        "token": report.token,
        "request_id": sign_off.request_id,
        "sign_off_id": sign_off.id,
        "table": "raters",
    }
    arguments.update(permission_arguments(people[POM], other_site, create_user))
    arguments["schedule_id"] = _schedule_of(db, people[POM], version, other_site).id
    arguments.update(_notification_arguments(db, stranger))
    return people, arguments


def _schedule_of(db, pom, version, site):
    """A recurring schedule of the policy version at ``site``."""
    from datetime import timedelta

    from calibration import schedules
    from rollcal.types import utcnow

    schedule = schedules.create_schedule(
        pom,
        name="Every fortnight",
        policy_version_id=version.id,
        site_ids=[site.id],
        cadence_days=14,
        open_days=3,
        next_run_at=utcnow() + timedelta(days=1),
        source="contested",
        source_session_id=None,
        contested_count=10,
        contested_rounds=3,
        cases_csv=None,
    )
    db.session.commit()
    return schedule


def _notification_arguments(db, stranger) -> dict:
    """A notification and an e-mail of someone no visitor is."""
    from rollcal.notifications.models import Delivery, EmailMessage, Kind, Notification

    message = EmailMessage(
        user=stranger, to_address=stranger.email, kind="t", subject="s", text_body="t", html_body=""
    )
    notification = Notification(
        user=stranger, kind=Kind.CHECKLIST_DUE, key="k", title="t", delivery=Delivery.IMMEDIATELY
    )
    db.session.add_all([message, notification])
    db.session.commit()
    return {
        "notification_id": notification.id,
        "email_id": message.id,
        "job_id": "checklist_reminders",
    }


def _rollout_of(site, pom, create_line):
    from rollout import services

    policy = services.create_policy(
        pom,
        code="SHOP-CF",
        title="Counterfeit goods",
        area="Counterfeit",
        line_of_business_id=create_line().id,
    )
    version = services.create_version(
        pom,
        policy,
        version_label="v1",
        change_summary="New rule",
        effective_date=date.today(),
        document_url=None,
        label_options="violating\nnot_violating",
    )
    rollout = services.create_rollout(
        pom,
        policy_version_id=version.id,
        template_id=1,
        site_ids=[site.id],
        go_live_date=date.today(),
    )
    return rollout, version


def _signed_request(db, rollout, pom, stakeholder):
    from rollout.models import SignOff, SignOffRequest

    request = SignOffRequest(
        rollout=rollout,
        requested_by=pom,
        report=_ready_report(db, "readiness", rollout.id, "all", frozen=True),
    )
    request.sign_offs = [SignOff(stakeholder=stakeholder)]
    db.session.add(request)
    db.session.flush()
    return request.sign_offs[0]


def _ready_report(db, kind: str, subject_id: int, audience: str, frozen: bool = False):
    """A rendered report of a subject, for one audience."""
    report = ReportFile(
        kind=kind,
        subject_id=subject_id,
        audience=audience,
        title="r",
        content_key=secrets.token_hex(32),
        status="ready",
        frozen=frozen,
        pdf=b"%PDF-1.7",
        sha256=secrets.token_hex(32),
    )
    db.session.add(report)
    db.session.commit()
    return report


def _url(rule: str, arguments: dict) -> str:
    url = rule
    for name, value in arguments.items():
        for converter in ("int:", "path:", ""):
            url = url.replace(f"<{converter}{name}>", str(value))
    assert "<" not in url, f"no test value for an argument of {rule}"
    return url


@pytest.mark.parametrize("visitor", [ANON, ADMIN, POM, QA, STAKEHOLDER])
def test_each_visitor_gets_the_expected_answer_on_every_route(
    app, client, auth, world, token_for, visitor
):
    people, arguments = world
    headers = {}
    if visitor != ANON:
        auth.login(people[visitor])
        headers = token_for(people[visitor])
    wrong = []
    for rule, (method, answers) in EXPECTED.items():
        url = _url(rule, arguments)
        request_headers = headers if rule.startswith("/api/") else {}
        with client.open(url, method=method, headers=request_headers) as response:
            status, location = response.status_code, response.headers.get("Location", "")
        expected = answers[visitor]
        redirected_to_login = status == 302 and "/login" in location
        if not (redirected_to_login if expected == LOGIN else status == expected):
            wrong.append(f"{method} {rule}: expected {expected}, got {status}")
        if rule == "/logout" and visitor != ANON:
            auth.login(people[visitor])
    assert not wrong, "\n".join(wrong)


def test_report_pages_recheck_the_audience_and_the_subject_of_each_report(
    app, client, auth, db, world, create_site, create_user
):
    """Object-level access for report pages: the answer depends on the report's audience
    and on whether the reader may see its subject now, not on holding its address."""
    from rollout import services

    people, arguments = world
    qa_vendor = people[QA].vendor
    own_site = create_site(vendor=qa_vendor)
    other_rollout = arguments["rollout_id"]
    own_rollout = services.create_rollout(
        people[POM],
        policy_version_id=arguments["version_id"],
        template_id=1,
        site_ids=[own_site.id],
        go_live_date=date.today(),
    )
    raters = [(create_user(Role.QA_LEAD, vendor=qa_vendor), own_site) for _ in range(2)]
    closed = run_session(people[POM], raters, cases=4, answer=split_answers, until="closed")
    revealed = arguments["session_id"]
    vendor = f"vendor:{qa_vendor.id}"
    nobody = {ADMIN: 404, POM: 404, QA: 404, STAKEHOLDER: 404}
    cases = [
        ("readiness", other_rollout, "all", {ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200}),
        ("readiness", own_rollout.id, vendor, {ADMIN: 404, POM: 404, QA: 200, STAKEHOLDER: 404}),
        # Another vendor's copy, even of a rollout the QA lead may see.
        ("readiness", own_rollout.id, "vendor:0", nobody),
        # Results not revealed yet: only those who read results once closed.
        ("calibration", closed.id, "all", {ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 404}),
        ("calibration", closed.id, vendor, nobody),
        ("calibration", revealed, "all", {ADMIN: 200, POM: 200, QA: 404, STAKEHOLDER: 200}),
    ]
    wrong = []
    for kind, subject_id, audience, answers in cases:
        report = _ready_report(db, kind, subject_id, audience)
        for visitor, expected in answers.items():
            auth.login(people[visitor])
            for url in (f"/reports/{report.token}", f"/reports/{report.token}/download"):
                status = client.get(url).status_code
                if status != expected:
                    wrong.append(f"{visitor} {kind} {audience} {url}: {status}, not {expected}")
    assert not wrong, "\n".join(wrong)
