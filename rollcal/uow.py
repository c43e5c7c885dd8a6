"""The unit of work: the one place that commits or rolls back.

Services change state and flush; they never commit. Each HTTP request (HTML or API),
CLI command and scheduler job is one unit of work: it commits once when it ends well
and rolls back on any error, so a failing action writes nothing.

The database's own refusals are turned into domain errors here, once, for every caller:
a versioned row someone else changed first (``StaleDataError``) is a 409 conflict; a
unique rule (``IntegrityError``) is a 422 naming the field; a value PostgreSQL cannot
store (``DataError``) is a 404 for a number out of range (an id no row can have) and a
422 otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, request
from sqlalchemy.orm.exc import StaleDataError

from rollcal.errors import Conflict, DomainError, NotFound, ValidationError
from rollcal.extensions import db

# Requests that read: they end their unit of work with a rollback, never a commit.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")


def commit() -> None:
    """Commit the unit of work, turning the database's refusals into domain errors.

    On a refusal everything the unit of work changed is rolled back before the error
    is raised.
    """
    try:
        db.session.commit()
    except (StaleDataError, sa.exc.IntegrityError, sa.exc.DataError) as error:
        db.session.rollback()
        mapped = translate(error)
        if mapped is None:
            raise
        raise mapped from error


def rollback() -> None:
    """End the unit of work without keeping anything it changed."""
    db.session.rollback()


def abandon() -> None:
    """The action was refused: drop what it changed so far.

    The page that explains the refusal then shows what is stored, not the half-made
    change (a moved date, a status) the refused action left in memory.
    """
    db.session.rollback()


@contextmanager
def unit_of_work() -> Iterator[None]:
    """One unit of work outside a request (a CLI command, a job, one claimed row of a
    job): commits when the block ends, rolls back and re-raises on any error."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    commit()


def commits_on_read(view: Callable) -> Callable:
    """Mark a GET view that asks for durable work (a report to render): its unit of work
    commits what it asked for, where any other read rolls back."""
    view.commits_on_read = True
    return view


def command(function: Callable) -> Callable:
    """Make a CLI command one unit of work."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with unit_of_work():
            return function(*args, **kwargs)

    return wrapper


def translate(error: Exception) -> DomainError | None:
    """The domain error a database refusal means, or ``None`` if it means none."""
    if isinstance(error, StaleDataError):
        return Conflict(
            "Someone else changed this at the same moment, so your change was not saved. "
            "Reload the page and make it again."
        )
    if isinstance(error, sa.exc.IntegrityError) and _is_unique_violation(error):
        field = _unique_field(error)
        return ValidationError.field(
            field, "is already taken: something else already has this value."
        )
    if isinstance(error, sa.exc.DataError):
        if _sqlstate(error) in ("22003", "22P02"):  # numeric out of range, not a number
            return NotFound()
        return ValidationError.field("value", "cannot be stored: " + _first_line(error))
    return None


def _sqlstate(error: sa.exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def _first_line(error: sa.exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else "invalid."


def _is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    if _sqlstate(error) == "23505":
        return True
    return bool(_SQLITE_UNIQUE.search(str(error.orig)))


def _unique_field(error: sa.exc.IntegrityError) -> str:
    """The column a unique rule is about (the last one, for a rule over several)."""
    diag = getattr(error.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        for table in db.metadata.tables.values():
            for rule in (*table.constraints, *table.indexes):
                if rule.name == constraint:
                    return list(rule.columns)[-1].name
        return constraint
    found = _SQLITE_UNIQUE.search(str(error.orig))
    return found.group(1).split(", ")[-1].split(".")[-1] if found else "value"


class Application(Flask):
    """rollcal's Flask application: each request is one unit of work.

    A request that may change state (POST, PUT, PATCH, DELETE) commits when its view
    returns an answer below 400 and rolls back otherwise. A read (GET, HEAD, OPTIONS)
    never commits: it rolls back, unless its view asks for work (``commits_on_read``). A
    refusal at commit becomes the domain error the handlers in ``rollcal.errors`` answer,
    like any other raised by a view.
    """

    def dispatch_request(self):
        """Run the view, then end the request's unit of work."""
        response = self.make_response(super().dispatch_request())
        if response.status_code >= 400 or not _may_commit():
            rollback()
        else:
            commit()
        return response


def reads_only() -> bool:
    """Whether the unit of work now beginning only reads: a request that never commits.
    Commands, jobs and writing requests write."""
    return has_request_context() and not _may_commit()


def _may_commit() -> bool:
    if request.method not in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "commits_on_read", False))
