"""Scorecards at two years of history: the POM's home page, a vendor scorecard and the
quality review PDF of every vendor, beside a bare 50-row page and WeasyPrint alone.

The history is written directly as rows, not through the services: for each of
``--months`` months, two revealed sessions covering every vendor, with one quality point
per vendor and per site in each (``--vendors`` vendors of four sites each). Each point
carries the figures a session of 30 raters labelling 200 cases each would store (200
golden cases, 30 raters, intervals of that size); running those sessions through
labelling, agreement and reveal would take hours and measure other code. Every page and
the report then read these rows exactly as they read real ones.

Printed, in one run on this machine (in-process, Flask's test client, SQLite):

* the bare page (``benchmarks/bare.py``: Flask, SQLite, Jinja, 50 rows) — median time;
* the POM home page and a vendor scorecard over the whole history — median time, as a
  multiple of the bare page (target: within 5×), and the SQL statements each ran with a
  period of three months and of the whole history (target: the same number);
* the quality review of every vendor over the whole history: building its HTML, and
  rendering it in a child process as the workers do, beside WeasyPrint alone on the same
  HTML in a child of its own (target: within 1.3×).

Run: ``.venv/bin/python benchmarks/scorecards.py [--vendors 10] [--months 24]
[--repeats 5] [--pdf-repeats 2]``. The defaults (10 vendors, two years) take a few
minutes, most of it the PDF renders; ``--vendors 50`` is the issue's full size (the
every-vendor PDF then runs to hundreds of pages and takes far longer to render).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask_migrate import upgrade

from benchmarks import bare
from calibration import review
from calibration.models import CalibrationSession, QualityPoint, SessionStatus
from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Market, Region, Site, Vendor
from rollcal.reports.pdf import peak_memory_kib, render_in_child_measured, render_pdf
from rollcal.types import utcnow

SITES_PER_VENDOR = 4
RATERS, CASES = 30, 200
TARGET_PAGE_MULTIPLE = 5.0
TARGET_PDF_MULTIPLE = 1.3


def build_history(vendors: int, months: int) -> tuple[int, datetime]:
    """Vendors, sites, a POM and the revealed sessions with their points; the POM's id
    and the first session's time."""
    pom = User(email="pom@example.com", name="POM", role=Role.POM, password_hash="x")
    market = Market(code="ID", name="Indonesia", region=Region.APAC)
    line = LineOfBusiness(name="Shop: product listing")
    db.session.add_all([pom, market, line])
    owned = []
    for number in range(vendors):
        vendor = Vendor(name=f"Vendor {number:02d}", slug=f"vendor-{number:02d}", owners=[pom])
        db.session.add(vendor)
        for site_number in range(SITES_PER_VENDOR):
            db.session.add(
                Site(
                    vendor=vendor,
                    name=f"Site {site_number}",
                    city="Manila",
                    markets=[market],
                    lines_of_business=[line],
                )
            )
        owned.append(vendor)
    db.session.flush()
    sites = db.session.execute(sa.select(Site.id, Site.vendor_id).order_by(Site.id)).all()
    start = utcnow().replace(microsecond=0) - timedelta(days=30 * months)
    points = []
    for index in range(months * 2):
        revealed_at = start + timedelta(days=15 * index)
        session = CalibrationSession(
            title=f"Round {index + 1}",
            status=SessionStatus.REVEALED,
            label_options=[{"key": "remove", "name": "Remove"}, {"key": "allow", "name": "Allow"}],
            opened_at=revealed_at - timedelta(days=3),
            closed_at=revealed_at - timedelta(days=1),
            revealed_at=revealed_at,
        )
        db.session.add(session)
        db.session.flush()
        # A slow wave, different per subject, so charts and arrows have something to show.
        for subject, vendor_id, site_id in [
            *((f"v{v.id}", v.id, None) for v in owned),
            *((f"s{s.id}", s.vendor_id, s.id) for s in sites),
        ]:
            accuracy = 0.88 + 0.06 * ((index + vendor_id + (site_id or 0)) % 7) / 6
            alpha = 0.62 + 0.2 * ((index * 3 + vendor_id) % 9) / 8
            points.append(
                {
                    "session_id": session.id,
                    "subject": subject,
                    "vendor_id": vendor_id,
                    "site_id": site_id,
                    "policy_id": None,
                    "revealed_at": revealed_at,
                    "alpha": alpha,
                    "alpha_low": alpha - 0.05,
                    "alpha_high": alpha + 0.04,
                    "accuracy": accuracy,
                    "accuracy_low": accuracy - 0.03,
                    "accuracy_high": min(1.0, accuracy + 0.025),
                    "n_golden": CASES,
                    "n_raters": RATERS if site_id is None else RATERS // SITES_PER_VENDOR,
                    "evidence": True,
                    "details": {
                        "recall": {"remove": accuracy, "allow": accuracy},
                        "misreads": [],
                        "names": {"remove": "Remove", "allow": "Allow"},
                    },
                }
            )
    db.session.execute(sa.insert(QualityPoint), points)
    db.session.commit()
    return pom.id, start


def timed(client, path: str, repeats: int) -> float:
    """Median seconds of ``repeats`` GETs of ``path`` (after one warm-up)."""
    assert client.get(path).status_code == 200, path
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        response = client.get(path)
        runs.append(time.perf_counter() - began)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(runs)


def statements(app, client, path: str) -> int:
    """How many SQL statements one GET of ``path`` runs."""
    count = 0

    def counted(*_args, **_kwargs):
        nonlocal count
        count += 1

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", counted)
    try:
        assert client.get(path).status_code == 200, path
    finally:
        sa.event.remove(engine, "before_cursor_execute", counted)
    return count


def _floor_child(connection, html, static_folder, attachments):
    began = time.perf_counter()
    render_pdf(html, static_folder, attachments=attachments)
    connection.send((time.perf_counter() - began, peak_memory_kib()))
    connection.close()


def floor(html: str, static_folder: str, attachments) -> tuple[float, int]:
    """WeasyPrint alone on ``html``: seconds and peak KiB, in a child of the fork server."""
    context = multiprocessing.get_context("forkserver")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_floor_child, args=(sender, html, static_folder, attachments))
    process.start()
    sender.close()
    seconds, peak = receiver.recv()
    process.join()
    return seconds, peak


def main() -> None:
    """Build the history, then print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vendors", type=int, default=10)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pdf-repeats", type=int, default=2)
    options = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="rollcal-scorecards-")
    os.environ["ROLLCAL_INSTANCE_PATH"] = workdir
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.sqlite",
            "SECRET_KEY": "bench",
            "ROLLCAL_LOGIN_LIMIT": "100000 per minute",
            # Each request draws its page: the cost of drawing is what is measured.
            "ROLLCAL_PAGE_CACHE_BYTES": 0,
        }
    )
    with app.app_context():
        upgrade()
        began = time.perf_counter()
        pom_id, start = build_history(options.vendors, options.months)
        pom = db.session.get(User, pom_id)
        session_id = pom.get_id()
        vendor_id = db.session.scalar(sa.select(Vendor.id).order_by(Vendor.id).limit(1))
        print(
            f"History: {options.vendors} vendors × {SITES_PER_VENDOR} sites, "
            f"{options.months * 2} revealed sessions over {options.months} months, "
            f"{db.session.scalar(sa.select(sa.func.count()).select_from(QualityPoint)):,} "
            f"quality points (written in {time.perf_counter() - began:.1f} s)"
        )

    os.environ["BARE_DATABASE"] = f"{workdir}/bare.sqlite"
    bare.build(os.environ["BARE_DATABASE"])
    bare_seconds = timed(bare.create_app().test_client(), "/sites", options.repeats)
    print(f"Bare 50-row page: {bare_seconds * 1000:.1f} ms")

    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"], cookie["_fresh"] = session_id, True
    since_all = start.date().isoformat()
    since_quarter = (utcnow() - timedelta(days=90)).date().isoformat()
    for name, path in (
        ("POM home page", "/"),
        ("Vendor scorecard", f"/scorecards/vendors/{vendor_id}?since={{since}}"),
    ):
        seconds = timed(client, path.format(since=since_all), options.repeats)
        short = statements(app, client, path.format(since=since_quarter))
        whole = statements(app, client, path.format(since=since_all))
        multiple = seconds / bare_seconds
        verdict = "within" if multiple <= TARGET_PAGE_MULTIPLE else "OVER"
        print(
            f"{name}: {seconds * 1000:.1f} ms = {multiple:.1f}× the bare page "
            f"({verdict} {TARGET_PAGE_MULTIPLE:.0f}×); SQL statements {short} over three "
            f"months, {whole} over the whole history"
            + (" (constant)" if short == whole else " (NOT constant)")
        )

    with app.test_request_context():
        pom = db.session.get(User, pom_id)
        request = review.ReviewRequest(None, start.date(), None)
        began = time.perf_counter()
        source = review.review_source(pom, request)
        build_seconds = time.perf_counter() - began
    html = source.final_html(datetime.now(UTC))
    render_in_child_measured("<p>warm</p>", app.static_folder)  # start the fork server
    # Ours and the floor in turn, the best of each: on a shared machine a neighbour's
    # burst would otherwise land on one side only.
    renders, floors = [], []
    for _ in range(options.pdf_repeats):
        began = time.perf_counter()
        pdf, ours_kib = render_in_child_measured(
            html, app.static_folder, attachments=source.attachments
        )
        renders.append(time.perf_counter() - began)
        floor_seconds, floor_kib = floor(html, app.static_folder, source.attachments)
        floors.append(floor_seconds)
    render_seconds, floor_seconds = min(renders), min(floors)
    ours = build_seconds + render_seconds
    multiple = ours / floor_seconds
    verdict = "within" if multiple <= TARGET_PDF_MULTIPLE else "OVER"
    print(
        f"Quality review PDF, every vendor ({len(pdf):,} bytes, {len(html):,} bytes of HTML): "
        f"{ours:.2f} s (HTML {build_seconds:.2f} s + render {render_seconds:.2f} s, child "
        f"{ours_kib // 1024} MiB) against WeasyPrint alone {floor_seconds:.2f} s "
        f"({floor_kib // 1024} MiB) = {multiple:.2f}× ({verdict} {TARGET_PDF_MULTIPLE}×)"
    )


if __name__ == "__main__":
    main()
