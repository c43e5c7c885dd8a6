"""The scheduler: which jobs run when, where they run, and a record of every run.

Where jobs run: ``rollcal scheduler`` runs APScheduler as a process of its own (production,
beside gunicorn); ``rollcal demo`` runs it inside the demo process. Web workers never run
jobs: ``create_app`` starts a scheduler only when ``ROLLCAL_RUN_SCHEDULER`` is set, and it
is off by default. "Run now" on the admin page only records a request, which the
scheduler picks up within a few seconds.

Exactly once: every job may run twice, or in two scheduler processes at once, with the
effect of running once. Work items that change state (a session to close, a rollout to
take live, an e-mail to send) are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` one at
a time, so a second scheduler skips what the first is doing and then finds it done.
Messages are recorded under unique keys (one per notification, one per person and
digest period) inserted with ``ON CONFLICT DO NOTHING``, so a second scheduler's insert
waits for the first and then does nothing. On SQLite neither row locks nor concurrent
writers exist: one scheduler process is assumed (the demo's), and the unique keys still
keep a job that runs twice from doing anything twice.

Every job runs in an app context of its own and is recorded as a ``JobRun`` (started,
finished, outcome, summary, the traceback of a failure) and logged at start and end.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click
import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app

from rollcal import uow
from rollcal.accounts.models import User
from rollcal.audit import record
from rollcal.errors import NotFound
from rollcal.extensions import db
from rollcal.jobs.models import JobRun, RunOutcome
from rollcal.permissions import Action, require
from rollcal.registry import registry
from rollcal.types import utcnow

log = logging.getLogger("rollcal.jobs")

EXTENSION = "rollcal.scheduler"
REQUEST_POLL_SECONDS = 5
KEEP_RUNS = timedelta(days=30)
# No job has started for this long: the admin page warns that no scheduler is running.
QUIET_WARNING = timedelta(minutes=5)


@dataclass(frozen=True)
class Job:
    """A job the scheduler runs; ``run`` does the work and returns a one-line summary.

    Each room or domain registers its own jobs (``rollcal.registry.add_job``), so this
    module names none of them.
    """

    id: str
    title: str
    description: str
    schedule: str
    cron: dict
    run: Callable[[], str]

    @property
    def trigger(self) -> CronTrigger:
        """When APScheduler fires it, in UTC."""
        return CronTrigger(timezone=UTC, **self.cron)

    def next_run_at(self, now: datetime) -> datetime | None:
        """When the schedule next fires after ``now``. Cron schedules fire at the same
        times in every process, so the web app can say this without the scheduler."""
        # APScheduler answers "at or after"; a second on makes it "after" at its resolution.
        return self.trigger.get_next_fire_time(None, now + timedelta(seconds=1))


EVERY_MINUTE = {"minute": "*"}
EVERY_QUARTER = {"minute": "*/15"}


def registered_jobs(app: Flask | None = None) -> list[Job]:
    """Every job registered with the app, in registration order."""
    return list(registry(app).jobs.values())


def get_job(job_id: str, app: Flask | None = None) -> Job:
    """A job of the registry, or ``NotFound``."""
    job = registry(app).jobs.get(job_id)
    if job is None:
        raise NotFound("There is no such job.")
    return job


def claim_rows(statement: sa.Select) -> sa.Select:
    """Lock the selected rows for this transaction, skipping rows another transaction has
    locked: two schedulers never work on the same row at once.

    PostgreSQL only; SQLite ignores it, and rollcal assumes one scheduler there.
    """
    return statement.with_for_update(skip_locked=True)


def runner_name() -> str:
    """Which scheduler process this is: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


# Running ----------------------------------------------------------------------------


def run_job(app: Flask, job_id: str) -> int:
    """Run one job now, in this process and a fresh app context; return the run's id.

    A failure is recorded (with its traceback) and logged, never raised: the scheduler
    keeps going and the admin page shows the error.
    """
    job = get_job(job_id, app)
    with app.app_context():
        run = JobRun(
            job_id=job.id, outcome=RunOutcome.RUNNING, started_at=utcnow(), runner=runner_name()
        )
        db.session.add(run)
        uow.commit()
        return _execute(job, run.id)


def run_requested(app: Flask) -> int:
    """Run the jobs an admin asked to run now; return how many ran.

    Each request is claimed under a row lock and marked running before the job starts,
    so with two schedulers one of them runs it.
    """
    ran = 0
    while True:
        with app.app_context():
            run = db.session.scalars(
                claim_rows(
                    sa.select(JobRun)
                    .where(JobRun.outcome == RunOutcome.REQUESTED)
                    .order_by(JobRun.id)
                    .limit(1)
                )
            ).first()
            if run is None:
                return ran
            run.outcome, run.started_at, run.runner = (
                RunOutcome.RUNNING,
                utcnow(),
                runner_name(),
            )
            uow.commit()
            job = registry(app).jobs.get(run.job_id)
            if job is None:
                run.outcome, run.finished_at = RunOutcome.FAILED, utcnow()
                run.summary = run.error = f"There is no job called {run.job_id} any more."
                uow.commit()
                continue
            _execute(job, run.id)
            ran += 1


def _execute(job: Job, run_id: int) -> int:
    """Do the job's work inside the current app context and record how it went."""
    log.info("Job %s started (run %s on %s)", job.id, run_id, runner_name())
    started = time.monotonic()
    try:
        summary = job.run()
    except Exception as error:
        uow.rollback()
        outcome, summary, details = (
            RunOutcome.FAILED,
            f"{type(error).__name__}: {error}",
            traceback.format_exc(),
        )
        log.exception("Job %s failed (run %s)", job.id, run_id)
    else:
        outcome, details = RunOutcome.SUCCEEDED, None
    run = db.session.get(JobRun, run_id)
    run.outcome, run.summary, run.error, run.finished_at = outcome, summary, details, utcnow()
    uow.commit()
    log.info(
        "Job %s %s in %.1f s (run %s): %s",
        job.id,
        outcome.value,
        time.monotonic() - started,
        run_id,
        summary,
    )
    return run_id


def prune_runs() -> str:
    """Forget finished runs older than ``KEEP_RUNS`` (the ``housekeeping`` job)."""
    result = db.session.execute(
        sa.delete(JobRun).where(
            JobRun.outcome.in_([RunOutcome.SUCCEEDED, RunOutcome.FAILED]),
            JobRun.started_at < utcnow() - KEEP_RUNS,
        )
    )
    uow.commit()
    return f"removed {result.rowcount} old job runs"


# The admin page ---------------------------------------------------------------------


def request_run(actor: User, job_id: str) -> JobRun:
    """Ask the scheduler to run a job now; asking again before it ran changes nothing."""
    require(actor, Action.MANAGE_JOBS)
    job = get_job(job_id)
    pending = db.session.scalar(
        sa.select(JobRun).where(JobRun.job_id == job.id, JobRun.outcome == RunOutcome.REQUESTED)
    )
    if pending is not None:
        return pending
    run = JobRun(
        job_id=job.id, outcome=RunOutcome.REQUESTED, requested_by=actor, requested_at=utcnow()
    )
    db.session.add(run)
    db.session.flush()
    record(actor, "job.run_requested", run, f"Asked for “{job.title}” to run now")
    uow.commit()
    return run


@dataclass
class JobStatus:
    """A job as the admin page shows it."""

    job: Job
    last_run: JobRun | None
    last_failure: JobRun | None
    pending: JobRun | None
    next_run_at: datetime | None


def _latest_by_job(*outcomes: RunOutcome) -> dict[str, JobRun]:
    newest = (
        sa.select(sa.func.max(JobRun.id))
        .where(JobRun.outcome.in_(outcomes))
        .group_by(JobRun.job_id)
        .scalar_subquery()
    )
    runs = db.session.scalars(sa.select(JobRun).where(JobRun.id.in_(newest)))
    return {run.job_id: run for run in runs}


def overview(now: datetime) -> list[JobStatus]:
    """Every job with its last run, last failure, pending request and next run."""
    last = _latest_by_job(RunOutcome.RUNNING, RunOutcome.SUCCEEDED, RunOutcome.FAILED)
    failures = _latest_by_job(RunOutcome.FAILED)
    pending = _latest_by_job(RunOutcome.REQUESTED)
    return [
        JobStatus(
            job, last.get(job.id), failures.get(job.id), pending.get(job.id), job.next_run_at(now)
        )
        for job in registered_jobs()
    ]


def last_activity() -> datetime | None:
    """When any scheduler last started a job."""
    return db.session.scalar(sa.select(sa.func.max(JobRun.started_at)))


def scheduler_seems_stopped(now: datetime) -> bool:
    """Whether no job has started lately, so no scheduler seems to be running."""
    latest = last_activity()
    return latest is None or now - latest > QUIET_WARNING


def recent_runs(limit: int = 25) -> list[JobRun]:
    """The latest runs of every job, newest first."""
    return list(
        db.session.scalars(
            sa.select(JobRun)
            .where(JobRun.outcome != RunOutcome.REQUESTED)
            .order_by(JobRun.id.desc())
            .limit(limit)
        )
    )


# Starting the scheduler -------------------------------------------------------------


def create_scheduler(app: Flask) -> BackgroundScheduler:
    """An APScheduler with every job, not yet started."""
    with app.app_context():
        is_sqlite = db.engine.dialect.name == "sqlite"
    scheduler = BackgroundScheduler(
        timezone=UTC,
        # SQLite has one writer at a time: jobs take turns rather than wait on each other.
        executors={"default": ThreadPoolExecutor(1 if is_sqlite else 4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    started = datetime.now(UTC)
    for job in registered_jobs(app):
        # Each job also runs once at start: work that fell due while no scheduler ran is
        # done now rather than at the next tick (safe, as every job is idempotent).
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(app, job.id),
            id=job.id,
            name=job.title,
            next_run_time=started,
        )
    scheduler.add_job(
        run_requested,
        IntervalTrigger(seconds=REQUEST_POLL_SECONDS),
        args=(app,),
        id="run_requested",
        name="Run jobs asked for on the admin page",
    )
    return scheduler


def start(app: Flask) -> BackgroundScheduler:
    """Start the scheduler in background threads of this process (once per app), and a
    thread rendering reports one at a time, so one process serves the demo."""
    from rollcal.reports import queue as report_queue

    scheduler = app.extensions.get(EXTENSION)
    if scheduler is not None:
        return scheduler
    configure_logging()
    scheduler = create_scheduler(app)
    scheduler.start()
    report_queue.start_in_process(app)
    app.extensions[EXTENSION] = scheduler
    log.info("Scheduler started on %s with %d jobs", runner_name(), len(registered_jobs(app)))
    return scheduler


def stop(app: Flask) -> None:
    """Stop this app's scheduler, letting running jobs and renders finish."""
    from rollcal.reports import queue as report_queue

    scheduler = app.extensions.pop(EXTENSION, None)
    if scheduler is not None:
        report_queue.stop_in_process(app)
        scheduler.shutdown(wait=True)
        log.info("Scheduler stopped on %s", runner_name())


def configure_logging() -> None:
    """Job logs at INFO on standard error, unless logging is configured already; the
    scheduler's own per-run chatter only at WARNING."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    log.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def serve(app: Flask, on_ready: Callable[[], None] | None = None) -> None:
    """Run the scheduler until SIGINT or SIGTERM, then let running jobs finish;
    ``on_ready`` is called once the signals are handled and the scheduler is running."""
    stopping = threading.Event()

    def on_signal(number, _frame):
        log.info("Scheduler received %s; stopping", signal.Signals(number).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    start(app)
    if on_ready is not None:
        on_ready()
    # Wake every second rather than wait() forever, so a signal is acted on promptly.
    while not stopping.is_set():
        stopping.wait(1)
    stop(app)


@click.command("scheduler")
@click.option(
    "--once", is_flag=True, help="Run every job once now and render waiting reports, then exit."
)
def scheduler_command(once: bool) -> None:
    """Run the jobs on their schedules in this process (run exactly one beside the web app;
    on SQLite, only one at all)."""
    app = current_app._get_current_object()
    configure_logging()
    if once:
        failed = []
        for job in registered_jobs(app):
            run = db.session.get(JobRun, run_job(app, job.id))
            click.echo(f"{job.id}: {run.outcome.value} — {run.summary}")
            if run.outcome == RunOutcome.FAILED:
                failed.append(job.id)
        from rollcal.reports.queue import render_queued

        click.echo(f"reports: rendered {render_queued(app)}")
        if failed:
            raise click.ClickException(f"failed: {', '.join(failed)}")
        return
    if db.engine.dialect.name == "sqlite":
        click.echo("SQLite database: run no other scheduler (or demo) against it.", err=True)
    serve(
        app,
        on_ready=lambda: click.echo(
            f"rollcal scheduler running {len(registered_jobs(app))} jobs; "
            "stop with Ctrl-C or SIGTERM."
        ),
    )
