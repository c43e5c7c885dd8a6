"""Every main page runs the same number of SQL statements whatever the size of the data:
pages are bounded, and nothing is loaded one row at a time or by an IN list that grows."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from calibration.models import CalibrationSession
from rollcal.accounts.models import Role, User
from rollcal.extensions import db as _db
from rollcal.org.models import LineOfBusiness, Market, Region, Site, Vendor
from rollcal.types import utcnow
from rollout import jobs as rollout_jobs
from rollout import services
from rollout.models import ChecklistItem, Policy, PolicyVersion, Rollout
from tests.calibration_factories import make_session, run_session, split_answers
from tests.conftest import PASSWORD_HASH

# What these tests count is drawing each page, not serving it again (test_page_cache.py).
pytestmark = pytest.mark.usefixtures("pages_drawn")

# 520 sites (5,200 checklist items, 1,040 labels) crosses the 500 rows at which
# select-in loading splits its IN lists, so a page that leans on it is caught here.
SMALL, LARGE = 6, 520


@contextmanager
def _statements():
    """The statements run meanwhile (the test transaction's savepoints aside)."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", count)


def _grow(db, pom: User, make_version, n_sites: int, tag: str) -> dict:
    """Vendors of ten sites with a QA lead each, a rollout to every site, and a revealed
    session with two raters labelling one case per site."""
    market = Market(code=f"S{tag}", name=f"Market {tag}", region=Region.APAC)
    line = LineOfBusiness(name=f"Line {tag}")
    vendors = [
        Vendor(name=f"Vendor {tag}-{v}", slug=f"vendor-{tag}-{v}")
        for v in range(max(1, n_sites // 10))
    ]
    sites = [
        Site(
            vendor=vendors[i % len(vendors)],
            name=f"Site {tag}-{i}",
            city="City",
            markets=[market],
            lines_of_business=[line],
        )
        for i in range(n_sites)
    ]
    leads = [
        User(
            email=f"qa-{tag}-{v}-{k}@example.com",
            name=f"QA {tag}-{v}-{k}",
            role=Role.QA_LEAD,
            vendor=vendor,
            password_hash=PASSWORD_HASH,
        )
        for v, vendor in enumerate(vendors)
        for k in range(2)
    ]
    db.session.add_all([market, line, *vendors, *sites, *leads])
    db.session.commit()
    version = make_version(pom, code=f"SIZE-{tag}")
    rollout = services.create_rollout(
        pom,
        policy_version_id=version.id,
        template_id=1,
        site_ids=[site.id for site in sites],
        go_live_date=utcnow().date() + timedelta(days=20),
    )
    db.session.commit()
    own_sites = [site for site in sites if site.vendor is vendors[0]]
    session = run_session(
        pom,
        [(leads[0], own_sites[0]), (leads[1], own_sites[-1])],
        cases=n_sites,
        answer=split_answers,
        golden=lambda i: "remove",
        title=f"Size {tag}",
        rollout_id=rollout.id,
    )
    db.session.commit()
    return {"rollout": rollout.id, "session": session.id, "qa": leads[0]}


PAGES = [
    ("admin", "/"),
    ("pom", "/"),
    ("stakeholder", "/"),
    ("qa", "/"),
    ("pom", "/rollouts"),
    ("qa", "/rollouts"),
    ("pom", "/rollouts/{rollout}"),
    ("qa", "/rollouts/{rollout}"),
    ("pom", "/my-items"),
    ("qa", "/my-items"),
    ("pom", "/calibration/sessions"),
    ("qa", "/calibration/sessions"),
    ("pom", "/calibration/sessions/{session}"),
    ("qa", "/calibration/sessions/{session}"),
    ("pom", "/calibration/sessions/{session}/results"),
    ("qa", "/calibration/sessions/{session}/results"),
    ("pom", "/calibration/sessions/{session}/results/raters.csv"),
    ("api", "/api/v1/rollouts"),
    ("api", "/api/v1/rollouts/{rollout}"),
    ("api", "/api/v1/rollouts/{rollout}?page=2&state=at_risk"),
    ("api", "/api/v1/sessions"),
    ("api", "/api/v1/sessions/{session}"),
]


def _count_pages(client, auth, people: dict, world: dict, token: dict) -> dict:
    counts = {}
    signed_in = None
    for who, page in PAGES:
        path = page.format(**world)
        headers = {}
        if who == "api":
            headers = token
        elif signed_in != who:
            auth.login(people[who])
            signed_in = who
        client.get(path, headers=headers)  # first visit: caches, the token's first use
        with _statements() as statements:
            response = client.get(path, headers=headers)
        assert response.status_code == 200, (who, path, response.status_code)
        counts[f"{who} {page}"] = len(statements)
    return counts


def _count_jobs(pom: User) -> dict:
    """Statements of what the daily digest and the weekly summary read."""
    counts = {}
    now = utcnow()
    for name, read in (
        ("daily digest", lambda: rollout_jobs.pom_report(pom, now.date(), now - timedelta(days=1))),
        ("weekly summary", lambda: rollout_jobs.weekly_report(now.date(), now)),
    ):
        _db.session.expire_all()
        with _statements() as statements:
            read()
        counts[name] = len(statements)
    return counts


@pytest.fixture
def readers(db, create_user, token_for):
    """A person of each role but QA lead (who comes with each world), and the POM's API
    token."""
    pom = create_user(Role.POM)
    people = {
        "admin": create_user(Role.ADMIN),
        "pom": pom,
        "stakeholder": create_user(Role.STAKEHOLDER),
    }
    token = token_for(pom)
    db.session.commit()
    return people, token


def test_main_pages_and_digests_run_the_same_statements_at_6_and_520_sites(
    client, auth, db, make_version, readers
):
    people, token = readers
    pom = people["pom"]
    small = _grow(db, pom, make_version, SMALL, "a")
    small_counts = _count_pages(client, auth, {**people, "qa": small["qa"]}, small, token)
    small_counts.update(_count_jobs(pom))
    large = _grow(db, pom, make_version, LARGE, "b")
    large_counts = _count_pages(client, auth, {**people, "qa": large["qa"]}, large, token)
    large_counts.update(_count_jobs(pom))
    differing = {
        page: (small_counts[page], large_counts[page])
        for page in small_counts
        if small_counts[page] != large_counts[page]
    }
    assert not differing, sorted(differing.items())


def test_listings_and_home_pages_read_plain_rows_not_orm_instances(
    client, auth, rollout_world, token_for
):
    """The rollouts list, my items, the API's lists and the home pages write nothing, so
    they build no ORM instance of what they list."""
    pom, maria = rollout_world["pom"], rollout_world["maria"]
    token = token_for(pom)
    title = rollout_world["rollout"].title
    make_session(pom, title="Plain round")
    visits = [
        (None, "/api/v1/sessions", "Plain round"),
        (pom, "/rollouts", title),
        (pom, "/my-items", title),
        (maria, "/my-items", title),
        (None, "/api/v1/rollouts", title),
        (pom, "/", "Dublin"),
        (maria, "/", "Cebu"),
    ]
    loaded: list[str] = []

    def keep(target, context):
        loaded.append(type(target).__name__)

    listened = (
        Rollout,
        ChecklistItem,
        PolicyVersion,
        Policy,
        Site,
        Market,
        LineOfBusiness,
        CalibrationSession,
    )
    for model in listened:
        sa.event.listen(model, "load", keep)
    try:
        for who, path, shown in visits:
            if who is not None:
                auth.login(who)
            _db.session.expunge_all()
            response = client.get(path, headers={} if who else token)
            assert response.status_code == 200, path
            assert shown in response.get_data(as_text=True), path
            assert not loaded, (path, loaded)
    finally:
        for model in listened:
            sa.event.remove(model, "load", keep)


def test_no_main_page_runs_the_same_statement_twice(client, auth, db, make_version, readers):
    people, token = readers
    pom = people["pom"]
    world = _grow(db, pom, make_version, SMALL, "a")
    people["qa"] = world["qa"]
    repeated = {}
    signed_in = None
    for who, page in PAGES:
        path = page.format(**world)
        headers = token if who == "api" else {}
        if who != "api" and signed_in != who:
            auth.login(people[who])
            signed_in = who
        client.get(path, headers=headers)
        with _statements() as statements:
            assert client.get(path, headers=headers).status_code == 200, path
        twice = [text for text, n in Counter(statements).items() if n > 1]
        if twice:
            repeated[f"{who} {page}"] = [" ".join(text.split())[:160] for text in twice]
    assert not repeated, repeated
