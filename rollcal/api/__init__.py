"""The JSON API under ``/api/v1``: bearer-token authentication and the OpenAPI document.

Each domain package makes its API blueprint with ``api_blueprint`` and declares each
route with ``operation``; request and response bodies are pydantic models, so the
OpenAPI document is generated from the same code that shapes the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask, abort, after_this_request, current_app, g, jsonify, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from rollcal import uow
from rollcal.accounts import services
from rollcal.accounts.models import User
from rollcal.errors import ValidationError
from rollcal.extensions import csrf
from rollcal.inputs import MAX_ID, JSONTooDeep
from rollcal.types import utcnow

API_PREFIX = "/api/v1"


@dataclass
class Operation:
    """One documented API route."""

    path: str
    method: str
    summary: str
    response: type[BaseModel] | None
    body: type[BaseModel] | None
    errors: dict[int, str] = field(default_factory=dict)
    binary: str | None = None
    endpoint: str = ""
    query: dict[str, dict] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def _refuse_unknown_query_arguments():
    """An argument the operation does not read is a mistake worth naming (a misspelt
    ``page`` would otherwise silently show the first page)."""
    known = next((op.query for op in OPERATIONS if op.endpoint == request.endpoint), None)
    if known is None:
        return
    for name in request.args:
        if name not in known:
            allowed = ", ".join(f"“{q}”" for q in known) or "none"
            abort(400, description=f"“{name}” is not a query argument here (allowed: {allowed}).")


def _authenticate():
    """Every API request carries ``Authorization: Bearer <token>``; 401 JSON otherwise."""
    if request.endpoint and request.endpoint.endswith("openapi"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    row = services.token_for(token.strip()) if scheme.lower() == "bearer" else None
    if row is None:
        response = jsonify(
            {"error": {"status": 401, "message": "A valid bearer token is required."}}
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="rollcal"'
        return response, 401
    g.api_user = row.user
    now = utcnow()
    if services.token_use_due(row, now):
        _record_use_after_answering(row.id, now)
    return None


def _record_use_after_answering(token_id: int, now) -> None:
    """Record the token's use once the answer has been sent (the server closes the
    response), in a unit of work of its own: off the request's path, and a read stays a
    read."""
    app = current_app._get_current_object()

    def record() -> None:
        try:
            with app.app_context(), uow.unit_of_work():
                services.record_token_use(token_id, now)
        except Exception:
            # The answer is already sent; a missed "last used" is not worth an error.
            app.logger.exception("Could not record the use of API token %s", token_id)

    @after_this_request
    def when_closed(response):
        response.call_on_close(record)
        return response


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint under ``/api/v1`` that authenticates by bearer token, CSRF-exempt.

    Tokens, not cookies, authenticate here, so cross-site forms cannot ride a session.
    """
    blueprint = Blueprint(name, import_name, url_prefix=API_PREFIX)
    blueprint.before_request(_authenticate)
    blueprint.before_request(_refuse_unknown_query_arguments)
    csrf.exempt(blueprint)
    return blueprint


def api_user() -> User:
    """The person the current API request authenticated as."""
    return g.api_user


def operation(
    blueprint: Blueprint,
    path: str,
    method: str,
    summary: str,
    *,
    response: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    errors: dict[int, str] | None = None,
    binary: str | None = None,
    query: dict[str, dict] | None = None,
) -> Callable:
    """Register a view as an API route and describe it in the OpenAPI document.

    ``query`` maps each query argument the route reads to its JSON schema.
    """

    def decorator(view: Callable) -> Callable:
        op = Operation(
            path,
            method.lower(),
            summary,
            response,
            body,
            errors or {},
            binary,
            endpoint=f"{blueprint.name}.{view.__name__}",
            query=query or {},
        )
        OPERATIONS.append(op)
        blueprint.add_url_rule(path, view_func=view, methods=[method.upper()])
        return view

    return decorator


def parse_body(model: type[BaseModel]) -> BaseModel:
    """The request's JSON body as ``model``, or a ValidationError naming each bad field."""
    raw = request.get_data(cache=True)
    try:
        payload = current_app.json.loads(raw) if raw.strip() else None
    except JSONTooDeep as error:
        message = str(error)
        errors = [{"field": "body", "message": message}]
        raise ValidationError(f"The body {message}.", errors) from None
    except ValueError:
        raise ValidationError(
            "The body is not valid JSON.", [{"field": "body", "message": "is not valid JSON"}]
        ) from None
    if not isinstance(payload, dict):
        raise ValidationError(
            "The body must be a JSON object.",
            [{"field": "body", "message": "must be a JSON object"}],
        )
    try:
        return model.model_validate(payload)
    except PydanticValidationError as error:
        errors = [
            {
                "field": ".".join(str(part) for part in issue["loc"]) or "body",
                "message": issue["msg"],
            }
            for issue in error.errors()
        ]
        first = errors[0]
        raise ValidationError(f"{first['field']}: {first['message']}", errors) from None


def pdf_answer(report):
    """A requested report as an API answer: the PDF when ready, else 202 with Retry-After
    (a failed report was queued again by asking for it)."""
    from rollcal.reports.queue import RenderStatus

    if report.status == RenderStatus.READY:
        response = current_app.response_class(report.pdf, mimetype="application/pdf")
        response.headers["X-Content-SHA256"] = report.sha256
        return response
    response = jsonify({"status": "preparing", "retry_after": 2})
    response.status_code = 202
    response.headers["Retry-After"] = "2"
    return response


def respond(model: BaseModel, status: int = 200):
    """A pydantic model as a JSON response."""
    return current_app.response_class(
        model.model_dump_json(), status=status, mimetype="application/json"
    )


# The shell's own API -----------------------------------------------------------------

bp = api_blueprint("api", __name__)


class ErrorBody(BaseModel):
    """The shape of every error answer."""

    status: int
    message: str


class ErrorEnvelope(BaseModel):
    """``{"error": {...}}``."""

    error: ErrorBody


class Preparing(BaseModel):
    """A report still being rendered: ask again after ``retry_after`` seconds."""

    status: str
    retry_after: int


# Text in a request body: no NUL character (refused before any view, see rollcal.inputs),
# said in the document so clients and fuzzers know it.
NO_NUL = r"^[^\x00]*$"

PAGE_QUERY = {"page": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "default": 1}}


class Me(BaseModel):
    """The person a token belongs to."""

    id: int
    email: str
    name: str
    role: str
    vendor_id: int | None
    vendor: str | None
    timezone: str


@operation(bp, "/me", "GET", "The person the token belongs to", response=Me)
def me():
    """The caller as JSON."""
    user = api_user()
    return respond(
        Me(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role.value,
            vendor_id=user.vendor_id,
            vendor=user.vendor.name if user.vendor else None,
            timezone=user.timezone,
        )
    )


def openapi_document() -> dict:
    """The OpenAPI 3.1 document built from every registered operation."""
    schemas: dict = {}
    paths: dict = {}

    def ref(model: type[BaseModel], name: str | None = None) -> dict:
        # Nested models land in ``$defs``; lifted into the components, their
        # ``#/components/schemas/…`` references resolve.
        name = name or model.__name__
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    error_ref = {"application/json": {"schema": ref(ErrorEnvelope, "Error")}}

    for op in OPERATIONS:
        openapi_path = API_PREFIX + op.path.replace("<int:", "{").replace("<", "{").replace(
            ">", "}"
        )
        entry: dict = {
            "summary": op.summary,
            "operationId": op.endpoint.replace(".", "_"),
            "responses": {},
        }
        parameters = [
            {
                "name": part[1:-1],
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            }
            for part in openapi_path.split("/")
            if part.startswith("{")
        ]
        parameters += [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in op.query.items()
        ]
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        if op.binary:
            entry["responses"]["200"] = {
                "description": "OK",
                "content": {op.binary: {"schema": {"type": "string", "format": "binary"}}},
            }
        else:
            content = {"application/json": {"schema": ref(op.response)}} if op.response else {}
            entry["responses"]["200"] = {"description": "OK", "content": content}
        errors = {401: "No valid bearer token"}
        # What the shell answers before a view runs (rollcal.inputs, rollcal.errors).
        if "{" in openapi_path:
            errors[404] = "No such object, or not visible to the caller"
        if op.query:
            errors[400] = "A query argument is not a whole number in range (named in the answer)"
        if op.query or op.body:
            errors[422] = "Invalid input (the field is named in the answer)"
        errors.update(op.errors)
        for status, description in errors.items():
            content = error_ref
            if status == 202:
                content = {"application/json": {"schema": ref(Preparing)}}
            entry["responses"][str(status)] = {"description": description, "content": content}
        paths.setdefault(openapi_path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "rollcal API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document; public, like any API reference."""
    return jsonify(openapi_document())


def init_app(app: Flask) -> None:
    """The API's own endpoints (``/me``, the OpenAPI document); domains add theirs."""
    app.register_blueprint(bp)
