"""The scheduler: where jobs run, how each run is recorded and logged, the admin's page of
jobs with "run now", and the ``rollcal scheduler`` command."""

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from rollcal import create_app
from rollcal.accounts.models import Role
from rollcal.jobs import scheduler
from rollcal.jobs.models import JobRun, RunOutcome
from rollcal.jobs.scheduler import Job
from rollcal.registry import registry
from rollcal.reports.queue import ReportFile

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def explode() -> str:
    """A job that fails, for the tests below."""
    raise RuntimeError("the SMTP relay is on fire")


def say_hello() -> str:
    """A job that succeeds, for the tests below."""
    return "said hello"


SEEN: dict = {}


def look_around() -> str:
    """A job that notes the app context it runs in."""
    from flask import current_app, g

    SEEN.update(app=current_app.name, marker=g.get("marker"))
    return "looked"


@pytest.fixture
def test_jobs(app, monkeypatch):
    """Extra jobs in the app's registry: one that fails, two that succeed."""
    jobs = {
        "explode": Job(
            "explode",
            "Explode",
            "Fails.",
            "every minute",
            {"minute": "*"},
            explode,
        ),
        "hello": Job(
            "hello",
            "Say hello",
            "Succeeds.",
            "every minute",
            {"minute": "*"},
            say_hello,
        ),
        "look": Job(
            "look",
            "Look around",
            "Succeeds.",
            "every minute",
            {"minute": "*"},
            look_around,
        ),
    }
    for job_id, job in jobs.items():
        monkeypatch.setitem(registry(app).jobs, job_id, job)
    return jobs


def _run(db, run_id: int) -> JobRun:
    return db.session.get(JobRun, run_id)


def test_web_workers_never_start_the_scheduler_by_default(app):
    assert app.config["ROLLCAL_RUN_SCHEDULER"] is False
    assert scheduler.EXTENSION not in app.extensions


def test_the_setting_starts_a_scheduler_in_the_app_process(tmp_path):
    from flask_migrate import upgrade

    # A database of its own, migrated first: this scheduler runs every job as it starts,
    # and nothing it does may touch the tests' data.
    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'own.sqlite'}",
        "SECRET_KEY": "x",
    }
    plain = create_app(settings)
    with plain.app_context():
        upgrade()
        from rollcal.extensions import db

        db.engine.dispose()
    app = create_app({**settings, "ROLLCAL_RUN_SCHEDULER": True})
    try:
        running = app.extensions[scheduler.EXTENSION]
        assert running.running
        assert {job.id for job in running.get_jobs()} == {
            *registry(app).jobs,
            "run_requested",
        }
        assert scheduler.start(app) is running  # once per app
    finally:
        scheduler.stop(app)
        with app.app_context():
            from rollcal.extensions import db

            db.engine.dispose()
    assert scheduler.EXTENSION not in app.extensions


def test_a_run_is_recorded_and_logged_from_start_to_outcome(app, db, test_jobs, caplog):
    with caplog.at_level(logging.INFO, logger="rollcal.jobs"):
        run = _run(db, scheduler.run_job(app, "hello"))
    assert run.outcome == RunOutcome.SUCCEEDED
    assert run.summary == "said hello"
    assert run.started_at <= run.finished_at
    assert run.runner.endswith(f":{os.getpid()}")
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == f"Job hello started (run {run.id} on {run.runner})"
    assert messages[-1].startswith("Job hello succeeded in ")
    assert messages[-1].endswith(f"(run {run.id}): said hello")


def test_a_failing_job_is_recorded_with_its_traceback_and_does_not_raise(
    app, db, test_jobs, caplog
):
    with caplog.at_level(logging.INFO, logger="rollcal.jobs"):
        run = _run(db, scheduler.run_job(app, "explode"))
    assert run.outcome == RunOutcome.FAILED
    assert run.summary == "RuntimeError: the SMTP relay is on fire"
    assert "Traceback (most recent call last)" in run.error
    assert 'in explode\n    raise RuntimeError("the SMTP relay is on fire")' in run.error
    assert any(
        r.levelno == logging.ERROR and "Job explode failed" in r.getMessage()
        for r in caplog.records
    )


def test_every_job_runs_in_an_app_context_of_its_own(app, db, test_jobs):
    from flask import g

    g.marker = "the test's context"
    scheduler.run_job(app, "look")
    assert SEEN == {"app": "rollcal", "marker": None}


def test_next_run_follows_the_schedule_in_any_process(app):
    every_minute, daily = (
        scheduler.get_job("email_delivery", app),
        scheduler.get_job("housekeeping", app),
    )
    assert every_minute.next_run_at(NOON) == datetime(2026, 3, 2, 12, 1, tzinfo=UTC)
    assert daily.next_run_at(NOON) == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    assert scheduler.get_job("daily_digest", app).next_run_at(NOON) == datetime(
        2026, 3, 2, 12, 15, tzinfo=UTC
    )


def test_run_now_asks_the_scheduler_which_runs_it(app, client, auth, db, create_user):
    admin = auth.login(create_user(Role.ADMIN, name="Alex Morgan"))
    response = client.post("/admin/jobs/checklist_reminders/run", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "will run within 5 seconds" in page
    assert "Requested" in page
    client.post("/admin/jobs/checklist_reminders/run")  # asking twice asks once
    [requested] = db.session.scalars(sa.select(JobRun)).all()
    assert requested.outcome == RunOutcome.REQUESTED and requested.started_at is None

    assert scheduler.run_requested(app) == 1
    assert scheduler.run_requested(app) == 0

    db.session.refresh(requested)
    assert requested.outcome == RunOutcome.SUCCEEDED
    assert requested.requested_by_id == admin.id
    assert requested.summary == "no reminders"
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "asked by Alex Morgan" in page


def test_run_now_of_an_unknown_job_is_not_found(client, auth, db, create_user):
    auth.login(create_user(Role.ADMIN))
    assert client.post("/admin/jobs/no_such_job/run").status_code == 404


def test_the_jobs_page_shows_last_run_outcome_next_run_and_last_error(
    app, client, auth, db, create_user, test_jobs, time_machine
):
    time_machine.move_to(NOON, tick=False)
    auth.login(create_user(Role.ADMIN, timezone="Asia/Singapore"))
    scheduler.run_job(app, "explode")
    scheduler.run_job(app, "hello")

    page = client.get("/admin/jobs").get_data(as_text=True)

    for job in scheduler.registered_jobs(app):
        assert job.title in page
    # Next runs in the admin's time zone: 12:01 UTC is 20:01 in Singapore.
    assert "Mon 2 Mar, 20:01 (Singapore, UTC+8)" in page
    assert "Succeeded" in page and "said hello" in page
    assert "RuntimeError: the SMTP relay is on fire" in page
    assert "Traceback (most recent call last)" in page
    assert page.count("Run now</button>") == len(
        scheduler.registered_jobs(app)
    )  # with the test jobs
    assert "No scheduler seems to be running" not in page


def test_the_jobs_page_warns_when_no_scheduler_has_run_lately(client, auth, db, create_user):
    auth.login(create_user(Role.ADMIN))
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "No scheduler seems to be running." in page
    assert "No job has run yet." in page


def test_old_runs_are_pruned_by_housekeeping(app, db, test_jobs, time_machine):
    time_machine.move_to(NOON, tick=False)
    scheduler.run_job(app, "hello")
    time_machine.move_to(datetime(2026, 4, 10, tzinfo=UTC), tick=False)
    run_id = scheduler.run_job(app, "housekeeping")
    assert _run(db, run_id).summary == "removed 1 old job runs"
    assert [run.job_id for run in db.session.scalars(sa.select(JobRun))] == ["housekeeping"]


def test_the_scheduler_command_once_runs_every_job(app, runner, db):
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    for job in scheduler.registered_jobs(app):
        assert f"{job.id}: succeeded" in result.output
    assert "email_delivery: succeeded — SMTP is not configured" in result.output


def test_the_scheduler_process_starts_and_stops_cleanly_on_sigterm(app, tmp_path):
    rollcal = Path(sys.executable).with_name("rollcal")
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'scheduler.sqlite'}",
        "ROLLCAL_INSTANCE_PATH": str(tmp_path),
    }
    subprocess.run([rollcal, "db", "upgrade"], env=environment, check=True, capture_output=True)
    database = sa.create_engine(environment["DATABASE_URL"])
    with database.begin() as connection:
        connection.execute(
            sa.insert(ReportFile.__table__).values(
                token="queued-before-the-scheduler",
                kind="readiness",
                subject_id=1,
                audience="all",
                title="Queued",
                content_key="0" * 64,
                status="preparing",
                frozen=False,
                html="<p>Rendered by the scheduler's own render thread</p>",
                attempts=0,
                created_at=datetime.now(UTC),
            )
        )

    def report_status():
        with database.connect() as connection:
            status = connection.scalar(sa.select(ReportFile.__table__.c.status))
        return status if status != "preparing" else None

    process = subprocess.Popen(
        [rollcal, "scheduler"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        jobs = len(scheduler.registered_jobs(app))
        assert first_line.startswith(f"rollcal scheduler running {jobs} jobs")
        # The scheduler renders reports itself: the demo needs no worker of its own.
        assert _wait_for(report_status, "the queued report to render") == "ready"
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "SQLite database: run no other scheduler" in errors
    assert "Scheduler started on" in errors
    assert "Rendering reports on" in errors  # the demo's reports need no worker of their own
    # Every job runs once as the scheduler starts, and is logged.
    assert "Job session_deadlines started" in errors
    assert "Job session_deadlines succeeded" in errors
    assert "Scheduler received SIGTERM; stopping" in errors
    assert "Scheduler stopped on" in errors


def _wait_for(condition, what: str, limit: float = 120):
    """Poll ``condition`` until it returns something true (a deadline, not a measurement)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_the_demo_serves_with_the_scheduler_running_in_its_own_process(
    app, runner, db, monkeypatch
):
    events = []
    # The demo command sets the base URL on the shared app; later tests expect it unset.
    monkeypatch.setitem(app.config, "ROLLCAL_BASE_URL", app.config.get("ROLLCAL_BASE_URL"))

    def fake_start(app):
        events.append("scheduler started")
        app.extensions[scheduler.EXTENSION] = "running"

    def fake_serve(host, port, app, **options):
        events.append(f"serving {host}:{port} with {app.extensions[scheduler.EXTENSION]}")
        assert app.config["ROLLCAL_BASE_URL"] == f"http://{host}:{port}"

    def fake_stop(app):
        events.append("scheduler stopped")
        app.extensions.pop(scheduler.EXTENSION)

    monkeypatch.setattr(scheduler, "start", fake_start)
    monkeypatch.setattr(scheduler, "stop", fake_stop)
    monkeypatch.setattr("rollcal.cli.run_simple", fake_serve)
    # The test database is migrated already; a migration's own connection would wait for
    # the test transaction's lock on SQLite.
    monkeypatch.setattr("flask_migrate.upgrade", lambda: None)
    monkeypatch.delenv("ROLLCAL_BASE_URL", raising=False)

    result = runner.invoke(args=["demo", "--port", "5099"])

    assert result.exit_code == 0, result.output
    assert events == [
        "scheduler started",
        "serving 127.0.0.1:5099 with running",
        "scheduler stopped",
    ]
