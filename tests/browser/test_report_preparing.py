"""Asking for a report: the "preparing…" page waits for a real worker, then starts the
download by itself, without a second click and without reloading."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, sign_in

# A deadline for the worker to start and render, not a measurement.
RENDER_DEADLINE_MS = 180_000


@pytest.fixture
def start_worker(live_database, tmp_path):
    """``start_worker()`` runs a real ``rollcal worker`` on the journeys' database; it is
    stopped (SIGTERM, as a process manager does) when the test ends."""
    workers = []

    def start() -> subprocess.Popen:
        rollcal = Path(sys.executable).with_name("rollcal")
        environment = {
            **os.environ,
            "DATABASE_URL": live_database,
            "ROLLCAL_INSTANCE_PATH": str(tmp_path),
        }
        worker = subprocess.Popen(
            [rollcal, "worker", "--renders", "1"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def test_the_preparing_page_starts_the_download_once_the_worker_has_rendered_it(
    new_page, start_worker
):
    page = new_page()
    sign_in(page, "pom@example.com")
    page.goto("/rollouts")
    page.locator("table a[href^='/rollouts/']").first.click()
    page.wait_for_url(re.compile(r"/rollouts/\d+$"))
    board = page.url
    # No worker runs yet, so the report is certainly still being prepared.
    page.get_by_role("link", name="Readiness report (PDF)").click()
    page.wait_for_url(re.compile(r"/reports/[\w-]+"))
    expect(page.get_by_text("Preparing…")).to_be_visible()
    check_accessibility(page)
    back = page.get_by_role("link", name="← Back to the rollout")
    expect(back).to_have_attribute("href", re.compile(r"^/rollouts/\d+$"))
    # A reload would lose this: the status is polled and swapped in, the page stays.
    page.evaluate("() => { window.preparingMarker = 'same page'; }")

    start_worker()
    download = page.wait_for_event("download", timeout=RENDER_DEADLINE_MS)

    assert download.suggested_filename.endswith(".pdf")
    assert Path(download.path()).read_bytes().startswith(b"%PDF-")
    assert page.evaluate("() => window.preparingMarker") == "same page"
    expect(page.get_by_role("link", name="Download the PDF")).to_be_visible()
    expect(page.get_by_text("The download has started")).to_be_visible()
    check_accessibility(page)
    back.click()
    page.wait_for_url(board)
