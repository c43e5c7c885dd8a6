"""Rollout board render time at 20, 200 and 1,000 sites, and the rollouts list.

Prints each board's time beside a bare 50-row page (the admin site list, 50 per page)
measured in the same run on the same database, and the SQL statement count of each
board load. Run: ``.venv/bin/python benchmarks/board.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import os
import statistics
import tempfile
import time
from datetime import date, timedelta

import sqlalchemy as sa
from flask_migrate import upgrade

from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Market, Region, Site, Vendor
from rollout import queries, services
from rollout.models import Rollout

SIZES = (20, 200, 1000)
REPEATS = 5


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
    db.session.commit()  # services flush; this script is the unit of work
    return rollout.id


def timed(client, path: str) -> tuple[float, int]:
    """Median seconds over REPEATS requests, and the statements of one request."""
    statements = []
    listener = lambda *args: statements.append(1)  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    response = client.get(path)
    sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert response.status_code == 200, (path, response.status_code)
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        client.get(path)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), len(statements)


def main() -> None:
    """Build the data, then print the figures."""
    workdir = tempfile.mkdtemp(prefix="rollcal-bench-")
    os.environ["ROLLCAL_INSTANCE_PATH"] = workdir
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.sqlite",
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        pom = User(email="pom@example.com", name="POM", role=Role.POM, password_hash="x")
        admin = User(email="admin@example.com", name="Admin", role=Role.ADMIN, password_hash="x")
        market = Market(code="ID", name="Indonesia", region=Region.APAC)
        line = LineOfBusiness(name="Shop: product listing")
        db.session.add_all([pom, admin, market, line])
        db.session.commit()
        rollouts = {n: build_world(n, str(n), pom, market, line) for n in SIZES}
        pom_id, admin_id = pom.get_id(), admin.get_id()

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = admin_id
    with app.app_context():
        baseline, baseline_statements = timed(client, "/admin/sites")
    with client.session_transaction() as session:
        session["_user_id"] = pom_id
    print(
        f"bare 50-row page (admin site list): {baseline * 1000:7.1f} ms, "
        f"{baseline_statements} statements"
    )
    for n, rollout_id in rollouts.items():
        with app.app_context():
            seconds, statements = timed(client, f"/rollouts/{rollout_id}")
        print(
            f"board {n:>5} sites × 10 items:     {seconds * 1000:7.1f} ms, "
            f"{statements} statements, {seconds / baseline:5.1f}× the bare page"
        )
    with app.app_context():
        seconds, statements = timed(client, "/rollouts")
    print(
        f"rollouts list, {len(SIZES)} rollouts, {sum(SIZES):,} sites: {seconds * 1000:7.1f} ms, "
        f"{statements} statements, {seconds / baseline:5.1f}× the bare page"
    )
    # The listing's readiness figures two ways, in-process: recounting every item of every
    # listed rollout (what the listing did before readiness was stored) and reading the
    # stored readiness.
    with app.app_context():
        recount = _median(lambda: queries.build_boards(None, _listed(), date.today()))
        stored = _median(lambda: queries.summaries(None, _listed()))
    print(
        f"listing readiness: recounted {recount * 1000:7.1f} ms, stored {stored * 1000:7.1f} ms "
        f"({recount / stored:,.0f}× faster)"
    )


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
