"""Main pages as the data grows: 20, 200, 1,000 and 2,000 sites, up to 5,000 cases.

For each size the script adds a world — vendors of ten sites with their QA leads, a
rollout to every site, and a revealed calibration session of the rollout with cases in
proportion (50 at 20 sites … 5,000 at 2,000) and four raters — and measures, in
process with Flask's test client, the median time and the SQL statements of one
request of each main page: the board, the rollout list, the API's list and rollout
(a page of 50 sites, first and second page), the POM's home page, my items, the results
and the session as a rater and as the POM, what the daily digest and weekly summary
read, and ``labels.csv`` (time and peak memory of the streamed file).
Beside them it prints the bare 50-row page (the admin site list) of the same run, and
each page's time at a size as a multiple of its time at 20 sites.

Targets (printed, never asserted): every page within 3× of its 20-site time at 2,000
sites, and the same number of statements at every size.

Run: ``.venv/bin/python benchmarks/board.py [--sqlite] [--sizes 20,200,1000,2000]``.
PostgreSQL by default, in a throwaway database on ``ROLLCAL_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432``), created and dropped by the script.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import os
import secrets
import statistics
import tempfile
import time
import tracemalloc
from datetime import date, timedelta

import sqlalchemy as sa
from flask_migrate import upgrade

from calibration import services as calibration_services
from calibration.models import Case
from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.accounts.services import create_token
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Market, Region, Site, Vendor
from rollcal.types import utcnow
from rollout import jobs as rollout_jobs
from rollout import queries, services
from rollout.models import Rollout

SIZES = (20, 200, 1000, 2000)
REPEATS = 3
RATERS = 4
OPTIONS = "remove | Remove\nallow | Allow\nescalate | Escalate"
PG_SERVER = os.environ.get("ROLLCAL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def build_world(n_sites: int, tag: str, pom: User, market: Market, line: LineOfBusiness) -> int:
    """Vendors of 10 sites each with a QA lead, and a rollout to every site; its id."""
    sites = []
    for v in range(max(1, n_sites // 10)):
        vendor = Vendor(name=f"Vendor {tag}-{v}", slug=f"vendor-{tag}-{v}")
        db.session.add(vendor)
        db.session.add(
            User(
                email=f"qa-{tag}-{v}@example.com",
                name=f"QA {tag}-{v}",
                role=Role.QA_LEAD,
                vendor=vendor,
                password_hash="x",
            )
        )
        for s in range(10):
            site = Site(
                vendor=vendor,
                name=f"Site {s}",
                city="City",
                markets=[market],
                lines_of_business=[line],
            )
            db.session.add(site)
            sites.append(site)
    db.session.commit()
    policy = services.create_policy(
        pom,
        code=f"BENCH-{tag}",
        title="Benchmark policy",
        area="Benchmark",
        line_of_business_id=line.id,
    )
    version = services.create_version(
        pom,
        policy,
        version_label="v1",
        change_summary="x",
        effective_date=date.today(),
        document_url=None,
        label_options="a\nb",
    )
    rollout = services.create_rollout(
        pom,
        policy_version_id=version.id,
        template_id=1,
        site_ids=[s.id for s in sites[:n_sites]],
        go_live_date=date.today() + timedelta(days=12),
    )
    db.session.commit()
    return rollout.id


def build_session(pom: User, rollout_id: int, n_cases: int, tag: str) -> tuple[int, str]:
    """A revealed session of the rollout: ``n_cases`` cases, four raters of its first
    vendor; the session id and the e-mail of one rater."""
    sites = db.session.scalars(
        sa.select(Site).join(Vendor).where(Vendor.slug == f"vendor-{tag}-0").order_by(Site.id)
    ).all()
    raters = []
    for k in range(RATERS):
        user = User(
            email=f"rater-{tag}-{k}@example.com",
            name=f"Rater {tag}-{k}",
            role=Role.QA_LEAD,
            vendor=sites[0].vendor,
            password_hash="x",
        )
        db.session.add(user)
        raters.append((user, sites[k % len(sites)]))
    db.session.commit()
    session = calibration_services.create_session(
        pom, title=f"Bench {tag}", rollout_id=rollout_id, label_options=OPTIONS
    )
    for user, site in raters:
        calibration_services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
    lines = ["reference,text,golden"] + [
        f"C-{i},Listing {i},{('remove', 'allow')[i % 2]}" for i in range(n_cases)
    ]
    calibration_services.import_cases(pom, session, ("\n".join(lines) + "\n").encode())
    calibration_services.open_session(pom, session)
    case_ids = db.session.scalars(
        sa.select(Case.id).where(Case.session_id == session.id).order_by(Case.position)
    ).all()
    for k, (user, _) in enumerate(raters):
        entries = [
            calibration_services.LabelInput(
                option=("remove", "allow", "escalate")[(i * (k + 1)) % 7 % 3], case_id=case_id
            )
            for i, case_id in enumerate(case_ids)
        ]
        calibration_services.save_labels(user, session, entries)
    calibration_services.close_session(pom, session)
    calibration_services.reveal_session(pom, session)
    db.session.commit()
    return session.id, raters[0][0].get_id()


def timed(app, client, path: str, headers: dict | None = None) -> tuple[float, int, int]:
    """Median seconds over REPEATS requests, the statements of one, its size in bytes."""
    statements = []
    listener = lambda *args: statements.append(1)  # noqa: E731
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        response = client.get(path, headers=headers or {})
        size = len(response.get_data())
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert response.status_code == 200, (path, response.status_code)
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        client.get(path, headers=headers or {}).get_data()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), len(statements), size


def streamed_peak(client, path: str) -> tuple[float, int, int]:
    """Seconds, peak traced KiB and lines of a streamed download read chunk by chunk."""
    tracemalloc.start()
    start = time.perf_counter()
    response = client.get(path, buffered=False)
    lines = sum(chunk.count(b"\n") for chunk in response.response)
    response.close()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] // 1024
    tracemalloc.stop()
    return seconds, peak, lines


def sign_in(client, user_id: str) -> None:
    """Sign the test client in as the person."""
    with client.session_transaction() as session:
        session["_user_id"] = user_id


def main() -> None:
    """Build the data size by size, printing the figures as they come."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    workdir = tempfile.mkdtemp(prefix="rollcal-bench-")
    os.environ["ROLLCAL_INSTANCE_PATH"] = workdir
    server = None
    if options.sqlite:
        url = f"sqlite:///{workdir}/bench.sqlite"
    else:
        name = f"rollcal_bench_{os.getpid()}_{secrets.token_hex(3)}"
        server = sa.create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = f"{PG_SERVER}/{name}".replace("postgresql://", "postgresql+psycopg://")
    try:
        run(url, sizes)
    finally:
        if server is not None:
            with server.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.dispose()


def run(url: str, sizes: list[int]) -> None:
    """Measure every page at every size on the database at ``url``."""
    # Each request draws its page: what is measured is the cost of drawing as the data
    # grows, not of serving a page again (benchmarks/pages.py measures both).
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "ROLLCAL_PAGE_CACHE_BYTES": 0}
    )
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        upgrade()
        pom = User(email="pom@example.com", name="POM", role=Role.POM, password_hash="x")
        admin = User(email="admin@example.com", name="Admin", role=Role.ADMIN, password_hash="x")
        market = Market(code="ID", name="Indonesia", region=Region.APAC)
        line = LineOfBusiness(name="Shop: product listing")
        db.session.add_all([pom, admin, market, line])
        db.session.commit()
        _, token = create_token(pom, "bench")
        db.session.commit()
        pom_id, admin_id, pom_pk = pom.get_id(), admin.get_id(), pom.id
    api = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    first: dict[str, float] = {}
    first_statements: dict[str, int] = {}
    print(f"database: {sa.make_url(url).get_backend_name()}, median of {REPEATS} requests")
    for n in sizes:
        tag = str(n)
        start = time.perf_counter()
        with app.app_context():
            pom = db.session.get(User, pom_pk)
            rollout_id = build_world(
                n, tag, pom, db.session.get(Market, 1), db.session.get(LineOfBusiness, 1)
            )
            session_id, rater_id = build_session(pom, rollout_id, n * 5 // 2, tag)
            if db.engine.dialect.name == "postgresql":
                # Statistics, as autovacuum gathers them after a bulk load in production:
                # without them the planner takes 10,000 rows for 4.
                with db.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "ANALYZE"
                    )
        built = time.perf_counter() - start
        sign_in(client, admin_id)
        bare, bare_statements, _ = timed(app, client, "/admin/sites")
        print(
            f"\n{n:,} sites, {n * 5 // 2:,} cases (built in {built:.0f} s); bare 50-row page "
            f"{bare * 1000:.1f} ms, {bare_statements} statements"
        )
        pages = [
            ("board", pom_id, f"/rollouts/{rollout_id}", None),
            ("rollouts", pom_id, "/rollouts", None),
            ("API rollouts", None, "/api/v1/rollouts", api),
            ("API rollout", None, f"/api/v1/rollouts/{rollout_id}", api),
            ("home (POM)", pom_id, "/", None),
            ("my items (POM)", pom_id, "/my-items", None),
            ("API rollout p. 2", None, f"/api/v1/rollouts/{rollout_id}?page=2", api),
            ("results (rater)", rater_id, f"/calibration/sessions/{session_id}/results", None),
            ("results (POM)", pom_id, f"/calibration/sessions/{session_id}/results", None),
            ("session (POM)", pom_id, f"/calibration/sessions/{session_id}", None),
            ("session (rater)", rater_id, f"/calibration/sessions/{session_id}", None),
        ]
        for what, who, path, headers in pages:
            if who is not None:
                sign_in(client, who)
            seconds, statements, size = timed(app, client, path, headers)
            first.setdefault(what, seconds)
            first_statements.setdefault(what, statements)
            growth = seconds / first[what]
            same = "same" if statements == first_statements[what] else "GROWS"
            print(
                f"  {what:<17}{seconds * 1000:8.1f} ms {seconds / bare:6.1f}× bare "
                f"{growth:5.1f}× its first size{'' if growth <= 3 else ' (over 3×)'}  "
                f"{statements:3} statements ({same})  {size / 1024:7.0f} KiB"
            )
        for what, read in (
            (
                "daily digest",
                lambda: rollout_jobs.pom_report(_pom(pom_pk), *_digest_day()),
            ),
            ("weekly summary", lambda: rollout_jobs.weekly_report(date.today(), utcnow())),
        ):
            with app.app_context():
                seconds, statements = _read_figures(read)
            first.setdefault(what, seconds)
            first_statements.setdefault(what, statements)
            growth = seconds / first[what]
            same = "same" if statements == first_statements[what] else "GROWS"
            print(
                f"  {what:<17}{seconds * 1000:8.1f} ms {seconds / bare:6.1f}× bare "
                f"{growth:5.1f}× its first size{'' if growth <= 3 else ' (over 3×)'}  "
                f"{statements:3} statements ({same})"
            )
        sign_in(client, pom_id)
        seconds, peak, lines = streamed_peak(
            client, f"/calibration/sessions/{session_id}/labels.csv"
        )
        print(
            f"  {'labels.csv':<17}{seconds * 1000:8.1f} ms for {lines - 1:,} labels, "
            f"peak {peak:,} KiB traced while streaming"
        )
    # The listing's readiness figures two ways, in-process: recounting every item of every
    # listed rollout (what the listing did before readiness was stored) and reading the
    # stored readiness.
    with app.app_context():
        recount = _median(lambda: queries.build_boards(None, _listed(), date.today()))
        stored = _median(lambda: queries.summaries(None, _listed()))
    print(
        f"\nlisting readiness of every rollout: recounted {recount * 1000:7.1f} ms, "
        f"stored {stored * 1000:7.1f} ms ({recount / stored:,.0f}× faster)"
    )


def _pom(pom_pk: int) -> User:
    return db.session.get(User, pom_pk)


def _digest_day():
    """Today, and the time since which the digest counts flags as new."""
    return date.today(), utcnow() - timedelta(days=1)


def _read_figures(read) -> tuple[float, int]:
    """Median seconds of REPEATS runs of ``read`` and the statements of one."""
    statements = []
    listener = lambda *args: statements.append(1)  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    db.session.expunge_all()
    read()
    sa.event.remove(db.engine, "before_cursor_execute", listener)
    return _median(read), len(statements)


def _listed() -> list[Rollout]:
    return list(db.session.scalars(queries.listed(sa.select(Rollout))))


def _median(work) -> float:
    """Median seconds of REPEATS runs, each on an empty identity map."""
    samples = []
    for _ in range(REPEATS):
        db.session.expunge_all()
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


if __name__ == "__main__":
    main()
