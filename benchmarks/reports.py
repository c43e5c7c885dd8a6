"""Readiness report cost at 20 and 200 sites, against WeasyPrint alone on the same HTML.

For each size it prints: our report end to end (query and build the HTML, render it in a
child process, return the bytes) in seconds, the web process's and the render child's peak
memory; and the floor — WeasyPrint rendering the very same HTML with the same options, in
a child of its own — measured in the same run.

Then the same reports through the queue web workers use: the web request's part (build
the HTML and queue it), a worker's part (claim, render in a child, store), a second ask
for the same content (a cache hit), each beside the same floor.
Run: ``.venv/bin/python benchmarks/reports.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from benchmarks.board import build_world
from rollcal import create_app
from rollcal.accounts.models import Role, User
from rollcal.extensions import db
from rollcal.org.models import LineOfBusiness, Market, Region
from rollcal.reports.pdf import (
    CHILD_THRESHOLD_BYTES,
    peak_memory_kib,
    render_in_child_measured,
    render_pdf,
    render_source,
)
from rollcal.reports.queue import ReportFile, render_queued, request_report
from rollcal.types import utcnow
from rollout import services
from rollout.models import Rollout
from rollout.report import readiness_source

SIZES = (20, 200)
REPEATS = 3


def _floor_child(connection, html, static_folder, attachments, variant):
    start = time.perf_counter()
    render_pdf(html, static_folder, attachments=attachments, pdf_variant=variant)
    connection.send((time.perf_counter() - start, peak_memory_kib()))
    connection.close()


def floor(html, static_folder, attachments, variant) -> tuple[float, int]:
    """WeasyPrint alone: seconds and peak KiB, in a fresh child of the fork server."""
    context = multiprocessing.get_context("forkserver")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_floor_child, args=(sender, html, static_folder, attachments, variant)
    )
    process.start()
    sender.close()
    seconds, peak = receiver.recv()
    process.join()
    return seconds, peak


def make_realistic(rollout: Rollout, pom: User) -> None:
    """Close most items, block and delay some, so the report has something to say."""
    for index, item in enumerate(sorted(rollout.items, key=lambda i: i.id)):
        if item.gate:
            continue
        if index % 7 == 0:
            item.status, item.status_reason = "blocked", "Vendor tooling ticket open"
        elif index % 3:
            item.status = "done"
    db.session.commit()
    services.refresh_rollout_status(rollout)
    db.session.commit()  # services flush; this script is the unit of work


def main() -> None:
    """Build data, then print the figures."""
    workdir = tempfile.mkdtemp(prefix="rollcal-reports-")
    os.environ["ROLLCAL_INSTANCE_PATH"] = workdir
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.sqlite", "SECRET_KEY": "bench"}
    )
    with app.app_context():
        upgrade()
        pom = User(email="pom@example.com", name="POM", role=Role.POM, password_hash="x")
        market = Market(code="ID", name="Indonesia", region=Region.APAC)
        line = LineOfBusiness(name="Shop: product listing")
        db.session.add_all([pom, market, line])
        db.session.commit()
        ids = {n: build_world(n, f"r{n}", pom, market, line) for n in SIZES}
        for rollout_id in ids.values():
            make_realistic(db.session.get(Rollout, rollout_id), pom)
        # Start the fork server once, outside the measurements, as a running app has.
        render_in_child_measured("<p>warm</p>", app.static_folder)

    print(
        f"{'sites':>5}  {'ours s':>7}  {'floor s':>7}  {'overhead':>8}  "
        f"{'web MiB':>7}  {'child MiB':>9}  {'floor MiB':>9}  pages-bytes"
    )
    for n, rollout_id in ids.items():
        ours, floors, children, floor_peaks = [], [], [], []
        size = 0
        for _ in range(REPEATS):
            with app.test_request_context():
                db.session.expire_all()
                rollout = db.session.get(Rollout, rollout_id)
                start = time.perf_counter()
                source = readiness_source(rollout, None, date.today() + timedelta(days=0))
                html = source.final_html(utcnow())
                if len(source.html) < CHILD_THRESHOLD_BYTES:
                    pdf, child_peak = render_source(source, app.static_folder), 0
                else:
                    pdf, child_peak = render_in_child_measured(
                        html,
                        app.static_folder,
                        attachments=source.attachments,
                        pdf_variant=source.pdf_variant,
                    )
                ours.append(time.perf_counter() - start)
                size = len(pdf)
                children.append(child_peak)
                seconds, peak = floor(
                    html, app.static_folder, source.attachments, source.pdf_variant
                )
                floors.append(seconds)
                floor_peaks.append(peak)
        ours_s, floor_s = statistics.median(ours), statistics.median(floors)
        print(
            f"{n:>5}  {ours_s:7.2f}  {floor_s:7.2f}  {(ours_s / floor_s - 1) * 100:7.0f}%  "
            f"{peak_memory_kib() / 1024:7.0f}  {max(children) / 1024:9.0f}  "
            f"{max(floor_peaks) / 1024:9.0f}  {size:,} bytes"
        )

    queued(app, ids)


def queued(app, ids: dict[int, int]) -> None:
    """The reports through the queue: asking (the web request), rendering (a worker), asking
    again (a cache hit), beside WeasyPrint alone on the same HTML."""
    print(
        f"\n{'sites':>5}  {'ask s':>7}  {'worker s':>8}  {'floor s':>7}  "
        f"{'worker/floor':>12}  {'ask again ms':>12}"
    )
    for n, rollout_id in ids.items():
        asks, renders, hits, floors = [], [], [], []
        for _ in range(REPEATS):
            with app.test_request_context():
                db.session.execute(sa.delete(ReportFile))
                db.session.commit()
                rollout = db.session.get(Rollout, rollout_id)
                start = time.perf_counter()
                source = readiness_source(rollout, None, date.today())
                request_report(source)
                db.session.commit()
                asks.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert render_queued(app) == 1
            renders.append(time.perf_counter() - start)
            with app.test_request_context():
                start = time.perf_counter()
                again = request_report(
                    readiness_source(db.session.get(Rollout, rollout_id), None, date.today())
                )
                hits.append(time.perf_counter() - start)
                assert again.pdf is not None
                db.session.rollback()
            floors.append(
                floor(
                    source.final_html(utcnow()),
                    app.static_folder,
                    source.attachments,
                    source.pdf_variant,
                )[0]
            )
        worker_s, floor_s = statistics.median(renders), statistics.median(floors)
        print(
            f"{n:>5}  {statistics.median(asks):7.2f}  {worker_s:8.2f}  {floor_s:7.2f}  "
            f"{worker_s / floor_s:11.2f}x  {statistics.median(hits) * 1000:12.0f}"
        )


if __name__ == "__main__":
    main()
