"""Measure calibration sessions end to end on PostgreSQL, against one ``krippendorff.alpha``.

Run with ``python benchmarks/calibration.py``. It creates a throwaway database on
``ROLLCAL_BENCH_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``),
builds the schema with the real migrations, and prints:

- the baseline: one ``krippendorff.alpha`` call on the 2,000-case x 30-rater reliability
  matrix (nominal, 4 labels), this run;
- upserting 50,000 labels through the API: 25 raters each ``PUT`` 2,000 labels to
  ``/api/v1/sessions/<id>/labels`` (bearer token, JSON, pydantic, service,
  ``INSERT … ON CONFLICT``), first as new labels and then again as changed labels
  (target: 10 s for 50,000);
- closing the 2,000 x 30 session (60,000 labels): load the labels, compute the report with
  1,000 bootstrap resamples, store the snapshot and raise the flags, commit (target: 3 s);
  and the median of three recomputations, which do the same work.

The database is dropped afterwards, whatever happens. No timing is asserted anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import krippendorff
import numpy as np
import sqlalchemy as sa

from calibration import services
from calibration.models import CalibrationSession
from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.accounts.services import create_token
from rollcal.extensions import db
from rollcal.org.models import Site, Vendor

SERVER = os.environ.get(
    "ROLLCAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CASES, RATERS, API_RATERS = 2_000, 30, 25
OPTIONS = ["violating", "disclosed_replica", "authentic", "needs_review"]
CLOSE_TARGET, UPSERT_TARGET = 3.0, 10.0


def median_seconds(action: Callable[[], object], runs: int = 5) -> float:
    """Median wall time of ``runs`` calls, after one warm-up call."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def simulate(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Golden labels per case and each rater's label per case (positions into OPTIONS)."""
    rng = np.random.default_rng(seed)
    golden = rng.integers(0, len(OPTIONS), CASES)
    accuracy = np.linspace(0.97, 0.75, RATERS)
    right = rng.random((RATERS, CASES)) < accuracy[:, None]
    labels = np.where(right, golden[None, :], rng.integers(0, len(OPTIONS), (RATERS, CASES)))
    return golden, labels


def build_session(golden: np.ndarray) -> tuple[CalibrationSession, list[User], User]:
    """A POM, 30 QA leads over 3 vendors and 6 sites, and an open 2,000-case session."""
    password = "pbkdf2:sha256:1$x$" + "0" * 64
    pom = User(email="bench-pom@example.com", name="Bench POM", role=Role.POM)
    pom.password_hash = password
    vendors = [Vendor(name=f"Vendor {v}", slug=f"vendor-{v}") for v in range(3)]
    sites = [Site(vendor=vendors[s % 3], name=f"Site {s}", city="City") for s in range(6)]
    leads = [
        User(
            email=f"bench-{r}@example.com",
            name=f"Rater {r}",
            role=Role.QA_LEAD,
            vendor=sites[r % 6].vendor,
            password_hash=password,
        )
        for r in range(RATERS)
    ]
    db.session.add_all([pom, *vendors, *sites, *leads])
    db.session.commit()
    session = services.create_session(pom, title="Benchmark", label_options="\n".join(OPTIONS))
    for r, lead in enumerate(leads):
        services.add_human_rater(pom, session, user_id=lead.id, site_id=sites[r % 6].id)
    rows = ["reference,text,golden"] + [
        f"C-{i},Listing {i},{OPTIONS[golden[i]]}" for i in range(CASES)
    ]
    services.import_cases(pom, session, ("\n".join(rows) + "\n").encode())
    services.open_session(pom, session)
    db.session.commit()  # services flush; this script is the unit of work
    return session, leads, pom


def upsert_through_api(app, session_id: int, leads: list[User], labels: np.ndarray, shift: int):
    """Each of the first 25 raters PUTs all 2,000 of their labels in one request."""
    client = app.test_client()
    url = f"/api/v1/sessions/{session_id}/labels"
    headers = {}
    for lead in leads[:API_RATERS]:
        _, token = create_token(lead, "benchmark")
        headers[lead.id] = {"Authorization": f"Bearer {token}"}
    db.session.commit()
    bodies = [
        {
            "labels": [
                {"reference": f"C-{i}", "option": OPTIONS[(labels[r, i] + shift) % len(OPTIONS)]}
                for i in range(CASES)
            ]
        }
        for r in range(API_RATERS)
    ]
    start = time.perf_counter()
    for r, lead in enumerate(leads[:API_RATERS]):
        response = client.put(url, json=bodies[r], headers=headers[lead.id])
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return time.perf_counter() - start


def main() -> None:
    """Create the throwaway database, measure, print, drop it."""
    name = f"rollcal_bench_{os.getpid()}_{secrets.token_hex(3)}"
    server = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as instance:
            os.environ["ROLLCAL_INSTANCE_PATH"] = instance
            app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "benchmark"})
            with app.app_context():
                from flask_migrate import upgrade

                upgrade()
                run(app)
                db.engine.dispose()
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def line(what: str, seconds: float, note: str = "") -> None:
    """One figure, aligned."""
    print(f"  {what:<50} {seconds:7.3f} s  {note}".rstrip())


def verdict(seconds: float, target: float) -> str:
    """Whether a figure meets its target, in words."""
    return f"target ≤ {target:.0f} s: {'met' if seconds <= target else 'MISSED'}"


def run(app) -> None:
    """The measurements, printed as they come."""
    golden, labels = simulate()
    baseline = median_seconds(
        lambda: krippendorff.alpha(
            reliability_data=labels.astype(np.float64), level_of_measurement="nominal"
        )
    )
    print(f"PostgreSQL, {CASES:,} cases x {RATERS} raters, {len(OPTIONS)} labels")
    line("baseline: one krippendorff.alpha call", baseline)

    session, leads, pom = build_session(golden)
    count = API_RATERS * CASES
    first = upsert_through_api(app, session.id, leads, labels, shift=0)
    line(
        f"upsert {count:,} new labels through the API",
        first,
        f"({count / first:,.0f} labels/s; {verdict(first, UPSERT_TARGET)})",
    )
    again = upsert_through_api(app, session.id, leads, labels, shift=1)
    line(
        f"upsert {count:,} changed labels through the API",
        again,
        f"({count / again:,.0f} labels/s; {verdict(again, UPSERT_TARGET)})",
    )
    # The other raters label directly, so that the session holds 60,000 labels.
    for r in range(API_RATERS, RATERS):
        services.save_labels(
            leads[r],
            session,
            [
                services.LabelInput(option=OPTIONS[labels[r, i]], reference=f"C-{i}")
                for i in range(CASES)
            ],
        )
    db.session.commit()
    db.session.expire_all()
    session = db.session.get(CalibrationSession, session.id)
    start = time.perf_counter()
    services.close_session(pom, session)
    db.session.commit()
    closing = time.perf_counter() - start
    line(
        f"close: load {CASES * RATERS:,} labels, compute, store",
        closing,
        f"({closing / baseline:,.0f}x baseline; {verdict(closing, CLOSE_TARGET)})",
    )

    def recompute_and_commit() -> None:
        services.recompute_results(pom, session)
        db.session.commit()

    recompute = median_seconds(recompute_and_commit, runs=3)
    line(
        "recompute (the same work), median of 3",
        recompute,
        f"({recompute / baseline:,.0f}x baseline)",
    )


if __name__ == "__main__":
    main()
