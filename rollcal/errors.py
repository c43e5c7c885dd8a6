"""Domain errors, mapped once to HTTP answers (HTML pages or JSON under ``/api/``).

Every handler first rolls the request's unit of work back, so an error answer never
keeps a half-made change and the error page reads what is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, flash, jsonify, make_response, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base for errors a service raises for a person to read."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist, or the caller may not know it exists."""

    status = 404

    def __init__(self, message: str = "Not found."):
        super().__init__(message)


class Forbidden(DomainError):
    """The caller may see the object but not do this to it."""

    status = 403

    def __init__(self, message: str = "You may not do that."):
        super().__init__(message)


class Conflict(DomainError):
    """Someone else changed the object first; ``current`` is its state now.

    ``current`` may be a function: a conflict found at flush time can only read the
    object's current state once the unit of work has rolled back.
    """

    status = 409

    def __init__(self, message: str, current: dict | Callable[[], dict] | None = None):
        super().__init__(message)
        self._current = current

    @property
    def current(self) -> dict | None:
        """The object's state now (read after the rollback when it had to wait for it)."""
        if callable(self._current):
            self._current = self._current()
        return self._current


class ValidationError(DomainError):
    """Input was refused; ``errors`` names each field (and row) and what is wrong."""

    status = 422

    def __init__(self, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def field(cls, field: str, message: str, row: int | None = None) -> ValidationError:
        """One error on one field (of one row, for imports)."""
        error = {"field": field, "message": message}
        if row is not None:
            error["row"] = row
        prefix = f"Row {row}, {field}" if row is not None else field.replace("_", " ").capitalize()
        return cls(f"{prefix}: {message}", [error])


def refusal(error: DomainError) -> DomainError:
    """Take note that an action was refused, for a view that shows the refusal itself:
    what the action changed so far is dropped, so the page shows what is stored."""
    from rollcal import uow

    uow.abandon()
    return error


def flash_refusal(error: DomainError) -> None:
    """Show a refused action's reason on the next page (what it changed is dropped)."""
    flash(refusal(error).message, "error")


def wants_json() -> bool:
    """Whether the current request is an API call, answered in JSON."""
    return request.path.startswith("/api/")


def _json_error(status: int, message: str, **extra):
    body = {"error": {"status": status, "message": message, **extra}}
    return jsonify(body), status


def _local_referrer() -> str | None:
    """The page a form was sent from, if it is one of ours."""
    referrer = request.referrer
    if not referrer:
        return None
    parts, here = urlsplit(referrer), urlsplit(request.host_url)
    if parts.netloc != here.netloc or parts.scheme not in ("http", "https"):
        return None
    return referrer


def init_app(app: Flask) -> None:
    """Register the handlers that turn errors into pages or JSON."""
    from rollcal import uow

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        uow.rollback()
        if wants_json():
            extra = {}
            if isinstance(error, ValidationError):
                extra["errors"] = error.errors
            if isinstance(error, Conflict) and error.current is not None:
                extra["current"] = error.current
            return _json_error(error.status, error.message, **extra)
        back = _local_referrer() if request.method not in ("GET", "HEAD") else None
        if back is not None:
            # A form sent from one of our pages: back to it, with what went wrong.
            flash(error.message, "error")
            return redirect(back, code=303)
        return render_template(
            "errors/error.html", status=error.status, message=error.message
        ), error.status

    @app.errorhandler(StaleDataError)
    @app.errorhandler(sa.exc.IntegrityError)
    @app.errorhandler(sa.exc.DataError)
    def database_refusal(error: Exception):
        # Raised by a flush inside a view (a query autoflushes); a commit's own refusals
        # arrive already translated by ``uow.commit``.
        uow.rollback()
        mapped = uow.translate(error)
        if mapped is None:
            raise error  # a bug, not a refusal: logged and answered as a 500
        return domain_error(mapped)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        uow.rollback()
        message = "The form had expired or was not sent from rollcal. Please try again."
        if wants_json():
            return _json_error(400, message)
        return render_template("errors/error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        uow.rollback()
        status = error.code or 500
        messages = {
            400: "The request could not be understood.",
            401: "Authentication is required.",
            403: "You may not see this page.",
            404: "There is nothing here.",
            405: "That method is not allowed here.",
            413: "The upload is too large.",
            429: "Too many attempts. Please wait a minute and try again.",
        }
        # A description given where the error is raised says more than the stock sentence.
        described = error.description != type(error).description
        message = error.description if described else messages.get(status, error.description)
        if wants_json():
            response, _ = _json_error(status, message)
        else:
            response = make_response(
                render_template("errors/error.html", status=status, message=message), status
            )
        # Werkzeug's headers for the error: ``Allow`` on 405, ``WWW-Authenticate`` on 401 …
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(500)
    def server_error(error):
        uow.rollback()
        message = "Something went wrong on our side. The error has been logged."
        if wants_json():
            return _json_error(500, message)
        return render_template("errors/error.html", status=500, message=message), 500
