"""gunicorn settings for rollcal's web workers: ``gunicorn -c python:rollcal.gunicorn_conf``.

Every setting can still be given on the command line or in ``GUNICORN_CMD_ARGS``
(``--workers 8``, ``--bind 0.0.0.0:8000``), which take precedence over this file.

The garbage collector is tuned for request handling. A request that loads a few thousand
ORM rows allocates far more container objects than the default threshold (700), so
Python would run several young collections per request, each walking every object that
survived the previous ones: the application's modules, templates and mapper
configuration, tens of thousands of objects that never become garbage. Measured on a
large board, collection took half of the request. After the worker has loaded the
application, ``gc.freeze()`` moves everything alive into a permanent generation the
collector never scans again, and higher thresholds make young collections rare and old
ones rarer. Cycles are still collected, so memory stays bounded; ``max_requests``
recycles a worker now and then all the same.
"""

from __future__ import annotations

import gc
import os

bind = "127.0.0.1:8000"
# Sync workers: one request at a time each, so a request is never slowed by another's
# Python work in the same process. Two per core suits pages that wait on PostgreSQL.
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) * 2))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycled now and then as a guard against slow leaks, but rarely: a new worker takes a
# second or more to load the application, and starts with an empty page cache and cold
# statement caches, so a worker that serves several hundred requests a second should not
# be recycled every few seconds.
max_requests = 200_000
max_requests_jitter = 20_000

# (young generation, middle, old): a young collection after 50,000 new container objects
# instead of 700, a middle one every 20 young ones, a full one every 100 middle ones.
GC_THRESHOLDS = (50_000, 20, 100)


def post_worker_init(worker) -> None:
    """Freeze what the freshly loaded application keeps alive, then raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    worker.log.info("gc: %d objects frozen, thresholds %s", gc.get_freeze_count(), GC_THRESHOLDS)
