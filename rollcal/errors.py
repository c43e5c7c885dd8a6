"""Domain errors, mapped once to HTTP answers (HTML pages or JSON under ``/api/``)."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
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
    """Someone else changed the object first; ``current`` is its state now."""

    status = 409

    def __init__(self, message: str, current: dict | None = None):
        super().__init__(message)
        self.current = current


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


def wants_json() -> bool:
    """Whether the current request is an API call, answered in JSON."""
    return request.path.startswith("/api/")


def _json_error(status: int, message: str, **extra):
    body = {"error": {"status": status, "message": message, **extra}}
    return jsonify(body), status


def init_app(app: Flask) -> None:
    """Register the handlers that turn errors into pages or JSON."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        if wants_json():
            extra = {}
            if isinstance(error, ValidationError):
                extra["errors"] = error.errors
            if isinstance(error, Conflict) and error.current is not None:
                extra["current"] = error.current
            return _json_error(error.status, error.message, **extra)
        return render_template(
            "errors/error.html", status=error.status, message=error.message
        ), error.status

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = "The form had expired or was not sent from rollcal. Please try again."
        if wants_json():
            return _json_error(400, message)
        return render_template("errors/error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
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
        message = "Something went wrong on our side. The error has been logged."
        if wants_json():
            return _json_error(500, message)
        return render_template("errors/error.html", status=500, message=message), 500
