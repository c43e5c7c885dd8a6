"""Input every request carries, checked before any view or query sees it.

A value the database cannot hold must be refused as the person's mistake, not reach a
query and come back as a server error: ids and page numbers beyond the columns' range,
NUL bytes (PostgreSQL text cannot hold them), JSON nested deeper than any body we accept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from rollcal.errors import ValidationError

# Every id column is a 32-bit ``INTEGER`` on PostgreSQL; a larger number names nothing.
MAX_ID = 2**31 - 1
# Free text (notes, comments, descriptions) beyond this is refused: enough for any note a
# person writes, and a bound on what one field can make us store and render.
LONG_TEXT = 10_000
# The deepest JSON any API body needs is a few levels; refusing early keeps the parser's
# recursion (and pydantic's) far from Python's limit.
MAX_JSON_DEPTH = 32


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path of this site (a ``next`` address), else None.

    Anything else would make a redirect open to other sites. Browsers drop tabs and
    newlines from addresses and read a backslash as a slash, so ``/%09/evil.example`` (a
    tab) and ``/%5C/evil.example`` (a backslash) lead off-site as surely as
    ``//evil.example`` does: control characters and backslashes are refused outright,
    then the path must carry no scheme or host and start with exactly one slash.
    """
    if not target or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def whole_number(text: str | None) -> int | None:
    """``text`` as an id-sized whole number, or None when it is none (a form's hidden
    version field, say, which only a tampered form gets wrong)."""
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if 0 <= value <= MAX_ID else None


def int_arg(name: str, default: int | None = None, *, minimum: int = 0) -> int | None:
    """The query argument ``name`` as a whole number, ``default`` when absent or empty.

    Anything else — words, or a number outside ``minimum``..``MAX_ID`` — answers 400
    naming the argument, rather than being ignored or reaching a query.
    """
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"“{name}” in the address must be a whole number.")
    if not minimum <= value <= MAX_ID:
        abort(400, description=f"“{name}” in the address must be from {minimum} to {MAX_ID}.")
    return value


def page_arg() -> int:
    """The ``page`` query argument of a listing: 1 when absent, 400 when not a page number."""
    return int_arg("page", 1, minimum=1)


class JSONTooDeep(ValueError):
    """A JSON text nests deeper than ``MAX_JSON_DEPTH``."""


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing bodies nested deeper than ``MAX_JSON_DEPTH``.

    ``json.loads`` itself raises ``RecursionError`` (not ``ValueError``) past about a
    thousand levels, which Flask does not treat as bad JSON, so the request failed with
    a 500. The depth is checked on the raw text first; too deep is a ``ValueError``, bad
    JSON like any other (``rollcal.api.parse_body`` answers 422 saying so).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s``; ``JSONTooDeep`` (a ``ValueError``) when it nests too deep."""
        if _nesting_depth(s) > MAX_JSON_DEPTH:
            raise JSONTooDeep(f"is nested more than {MAX_JSON_DEPTH} levels deep")
        return json.loads(s, **kwargs)


_JSON_ESCAPE = re.compile(r"\\.")
_BRACKET = re.compile(r"[\[\]{}]")


def _nesting_depth(text: str | bytes) -> int:
    """How deep brackets nest in a JSON text, ignoring those inside strings.

    With escapes gone every quote delimits a string, so splitting at quotes leaves the
    text outside strings at the even places; only its brackets are looped over.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    outside = "".join(_JSON_ESCAPE.sub("", text).split('"')[::2])
    depth = deepest = 0
    for bracket in _BRACKET.findall(outside):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a parsed JSON value (keys included) with the field it sits at."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{key}" if path else str(key)
            yield field, str(key)
            yield from _strings(item, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}" if path else str(index))


def _field_with_nul() -> str | None:
    """The first query argument, form field or JSON field of the request holding a NUL."""
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "")
        for name, upload in request.files.items(multi=True):
            if "\x00" in (upload.filename or ""):
                return name
    if request.is_json and request.content_length:
        try:
            payload = request.get_json(silent=True)
        except BadRequest:
            return None
        for field, value in _strings(payload, ""):
            if "\x00" in value:
                return field.replace("\x00", "") or "body"
    return None


def init_app(app: Flask) -> None:
    """Bound ids in routes, bound JSON depth, and refuse NUL bytes in any text field."""
    app.json = BoundedJSONProvider(app)

    @app.url_value_preprocessor
    def refuse_ids_beyond_range(_endpoint: str | None, values: dict | None) -> None:
        # Every ``<int:…>`` of a route is an id. Werkzeug's converter takes numbers of any
        # size, which PostgreSQL would refuse ("integer out of range") instead of finding
        # nothing. Checked here rather than by a bounded converter: a route whose
        # converter refuses is skipped, so a sibling route of another method on the same
        # path would answer 405 instead of 404.
        if values and any(isinstance(v, int) and not 0 <= v <= MAX_ID for v in values.values()):
            abort(404)

    @app.before_request
    def refuse_nul_bytes():
        field = _field_with_nul()
        if field is not None:
            raise ValidationError.field(field, "must not contain a NUL character (\\0).")
