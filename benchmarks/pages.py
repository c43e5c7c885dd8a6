"""Main pages under gunicorn on PostgreSQL, as a share of a bare Flask page's throughput.

Creates a throwaway PostgreSQL database (dropped at the end), migrates it and loads the
demo, then serves rollcal under gunicorn with its production settings
(``rollcal.gunicorn_conf``) and, beside it, ``benchmarks/bare.py`` — Flask, SQLite and
Jinja rendering 50 rows — with the same number of workers. A load generator on loopback
drives every page in turn, signed in as the role the page is for, and the script prints
each page's requests per second and 99th-percentile latency beside the bare page's,
measured before and after the pages in the same run.

The load generator is ``wrk`` when it is installed (``apt-get install -y wrk``), else a
bounded Python loop (threads, a fixed number of requests and a time limit per page).

Each page is measured twice, from two rollcal servers on the same database: one as
configured (a page read again while nothing was written is served from what the worker
drew, ``rollcal/pagecache.py``) and one with ``ROLLCAL_PAGE_CACHE_BYTES=0``, drawing
every page on every request, which is what the first read after any write costs.

Targets (printed, never asserted): every page at 50% or more of the bare page's
throughput with a p99 under 60 ms.

Run: ``.venv/bin/python benchmarks/pages.py [--seconds 5] [--workers 2] [--connections 16]``
(``ROLLCAL_BENCH_PG_URL`` names the server; default ``postgresql://postgres@127.0.0.1:5432``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import http.client
import http.cookiejar
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import sqlalchemy as sa

from benchmarks import bare

BIN = Path(sys.executable).parent
PG_SERVER = os.environ.get("ROLLCAL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
DEMO_PASSWORD = "rollcal-demo-2026"
PEOPLE = {
    "admin": "admin@example.com",
    "pom": "pom@example.com",
    "stakeholder": "stakeholder@example.com",
    "qa": "qa@meridian-cx.example.com",
}
# Sign-in and load say the same User-Agent, as one browser would: Flask-Login ties a
# session to the address and agent it was signed in from, and marks it no longer fresh
# (a changed cookie) on a request from any other.
AGENT = "rollcal-pages-benchmark"
TARGET_SHARE = 0.5
TARGET_P99_MS = 60.0


@dataclass
class Figures:
    """What one load run measured."""

    requests_per_second: float
    p99_ms: float
    errors: int


def free_port() -> int:
    """A port nobody listens on, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int, path: str, deadline: float = 60.0) -> None:
    """Block until the server on ``port`` answers ``path``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def serve(app: str, port: int, workers: int, env: dict, log: Path) -> subprocess.Popen:
    """gunicorn serving ``app`` with rollcal's settings file."""
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            "python:rollcal.gunicorn_conf",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
            app,
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    """Stop a server started by ``serve`` and wait for it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def sign_in(port: int, email: str) -> str:
    """The Cookie header of a signed-in browser session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", AGENT)]
    base = f"http://127.0.0.1:{port}"
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    form = {"email": email, "password": DEMO_PASSWORD}
    if token:
        form["csrf_token"] = token.group(1)
    opener.open(f"{base}/login", urllib.parse.urlencode(form).encode()).read()
    # As a browser does, keep the cookie the first page after signing in sets (it holds
    # the session's CSRF secret, which the pages' forms are signed with).
    opener.open(f"{base}/").read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if not cookie:
        raise RuntimeError(f"signing in as {email} gave no cookie")
    return cookie


def check(port: int, path: str, headers: dict) -> int:
    """One request: the status code (the benchmark refuses to time an error page)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def load_wrk(port: int, path: str, headers: dict, seconds: int, connections: int) -> Figures:
    """``wrk`` on one page; requests per second and p99 from its latency distribution."""
    arguments = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in headers.items():
        arguments += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*arguments, f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", output)
    failed = (int(errors.group(1)) if errors else 0) + (int(timeouts.group(1)) if timeouts else 0)
    return Figures(rate, float(p99.group(1)) * scale, failed)


def load_python(port: int, path: str, headers: dict, seconds: int, connections: int) -> Figures:
    """A bounded Python load loop: ``connections`` threads, each with a kept-alive
    connection, until ``seconds`` pass or 20,000 requests are made."""
    limit = 20_000
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < end:
            with lock:
                if len(latencies) >= limit:
                    return
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status < 400
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                errors[0] += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    return Figures(len(latencies) / wall, p99 * 1000, errors[0])


def demo_ids(url: str) -> dict[str, int]:
    """Ids of the demo's largest rollout and its revealed calibration session."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rollout = connection.execute(
            sa.text(
                "SELECT rollout_id FROM rollout_sites GROUP BY rollout_id "
                "ORDER BY count(*) DESC, rollout_id LIMIT 1"
            )
        ).scalar_one()
        session = connection.execute(
            sa.text(
                "SELECT id FROM calibration_sessions WHERE status = 'revealed' ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return {"rollout": rollout, "session": session}


def pages(ids: dict[str, int]) -> list[tuple[str, str, str]]:
    """(what, who, path) of every main page measured."""
    rollout, session = ids["rollout"], ids["session"]
    return [
        ("home", "admin", "/"),
        ("home", "pom", "/"),
        ("home", "stakeholder", "/"),
        ("home", "qa", "/"),
        ("rollouts", "pom", "/rollouts"),
        ("rollouts", "qa", "/rollouts"),
        ("board", "pom", f"/rollouts/{rollout}"),
        ("board", "qa", f"/rollouts/{rollout}"),
        ("my items", "pom", "/my-items"),
        ("my items", "qa", "/my-items"),
        ("sessions", "pom", "/calibration/sessions"),
        ("session", "pom", f"/calibration/sessions/{session}"),
        ("results", "pom", f"/calibration/sessions/{session}/results"),
        ("results", "qa", f"/calibration/sessions/{session}/results"),
        ("API rollouts", "pom-api", "/api/v1/rollouts"),
        ("API rollout", "pom-api", f"/api/v1/rollouts/{rollout}"),
        ("API sessions", "pom-api", "/api/v1/sessions"),
        ("API agreement", "pom-api", f"/api/v1/sessions/{session}/agreement"),
    ]


def main() -> None:
    """Set up, measure, print, and tidy up whatever happens."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="load per page (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="open connections")
    options = parser.parse_args()
    load = load_wrk if shutil.which("wrk") else load_python

    name = f"rollcal_bench_{os.getpid()}_{secrets.token_hex(3)}"
    server = sa.create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="rollcal-pages-"))
    processes: list[subprocess.Popen] = []
    try:
        url = f"{PG_SERVER}/{name}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(16),
            "ROLLCAL_INSTANCE_PATH": str(workdir),
            "ROLLCAL_LOGIN_LIMIT": "1000 per minute",
            "BARE_DATABASE": str(workdir / "bare.sqlite"),
        }
        rollcal = str(BIN / "rollcal")
        subprocess.run([rollcal, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([rollcal, "seed-demo"], env=env, check=True, capture_output=True)
        api_token = subprocess.run(
            [rollcal, "users", "token", PEOPLE["pom"]],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        bare.build(env["BARE_DATABASE"])
        ids = demo_ids(url.replace("postgresql://", "postgresql+psycopg://"))

        app_port, drawn_port, bare_port = free_port(), free_port(), free_port()
        processes.append(
            serve("rollcal:create_app()", app_port, options.workers, env, workdir / "app.log")
        )
        processes.append(
            serve(
                "rollcal:create_app()",
                drawn_port,
                options.workers,
                {**env, "ROLLCAL_PAGE_CACHE_BYTES": "0"},
                workdir / "drawn.log",
            )
        )
        processes.append(
            serve("benchmarks.bare:create_app()", bare_port, options.workers, env, workdir / "b")
        )
        wait_for(app_port, "/login")
        wait_for(drawn_port, "/login")
        wait_for(bare_port, "/ping")
        headers = {
            role: {"Cookie": sign_in(app_port, email), "User-Agent": AGENT}
            for role, email in PEOPLE.items()
        }
        headers["pom-api"] = {"Authorization": f"Bearer {api_token}", "User-Agent": AGENT}

        print(
            f"{load.__name__.removeprefix('load_')}, {options.workers} gunicorn workers, "
            f"{options.connections} connections, {options.seconds} s per page, "
            f"PostgreSQL, demo data"
        )
        measure = lambda port, path, head: load(  # noqa: E731
            port, path, head, options.seconds, options.connections
        )
        measure(bare_port, "/sites", {})  # warm-up
        bare_before = measure(bare_port, "/sites", {})
        rows = []
        for what, who, path in pages(ids):
            status = check(app_port, path, headers[who])
            if status != 200:
                raise RuntimeError(f"{path} as {who} answered {status}")
            measure(app_port, path, headers[who])  # warm-up: templates, caches
            served = measure(app_port, path, headers[who])
            measure(drawn_port, path, headers[who])
            rows.append((what, who, served, measure(drawn_port, path, headers[who])))
        bare_after = measure(bare_port, "/sites", {})
        baseline = statistics.mean(
            [bare_before.requests_per_second, bare_after.requests_per_second]
        )
        print(
            f"bare 50-row page (Flask + SQLite + Jinja): {bare_before.requests_per_second:,.0f} "
            f"and {bare_after.requests_per_second:,.0f} req/s (before and after), "
            f"p99 {bare_before.p99_ms:.1f} / {bare_after.p99_ms:.1f} ms"
        )
        print(f"{'':<27}{'served again':^33}  {'drawn on every request':^33}")
        print(
            f"{'page':<14}{'as':<13}"
            + f"{'req/s':>8}{'share':>7}{'p99 ms':>8}{'err':>4}  {'target':<6}" * 2
        )
        met = {"served": 0, "drawn": 0}
        for what, who, *figures in rows:
            line = f"{what:<14}{who:<13}"
            for kind, measured in zip(met, figures, strict=True):
                share = measured.requests_per_second / baseline
                ok = share >= TARGET_SHARE and measured.p99_ms < TARGET_P99_MS
                met[kind] += ok
                line += (
                    f"{measured.requests_per_second:>8,.0f}{share:>7.0%}{measured.p99_ms:>8.1f}"
                    f"{measured.errors:>4}  {'met' if ok else 'missed':<6}"
                )
            print(line)
        for kind, count in met.items():
            print(
                f"{kind}: {count} of {len(rows)} pages at ≥ {TARGET_SHARE:.0%} of the bare page "
                f"with p99 < {TARGET_P99_MS:.0f} ms"
            )
    finally:
        for process in processes:
            stop(process)
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
