"""Pages drawn once and served again while nothing has been written since.

A main page (a home page, a list, a board, results, the API's reads) costs tens of
statements and a template to draw, and is read far more often than anything it shows
changes. Each process keeps the answers it drew for a while, and serves one again to
the same person only while the database says nothing has been written since.

What "nothing has been written" means is one row, ``data_generation``: every
transaction that wrote anything, whoever wrote it (a request, a job, a command, a test's
factory), sets the row's token to a new random value as its last statement before it
commits. A reader reads the token first; an answer drawn under another token is never
served. Writing the token last keeps its row lock to the moment of commit, so writers
queue on it only for that moment, and a token is random rather than counted so that a
rolled-back transaction can never bring back a value something was drawn under.

An answer is served again only to the request it was drawn for: the same person (id and
sign-in generation, or API token), the same address and query, the same kind of request
(an htmx fragment or a page), the same CSRF secret (forms in the page carry its token),
within the same minute of the clock, so that what a page says of the time ("due today",
"closes in 3 hours") is never more than a minute old. Only complete 200 answers that set
no cookie are kept, and none while the person has a message waiting to be shown.

``ROLLCAL_PAGE_CACHE_BYTES`` bounds what each process keeps (least recently used answers
go first); 0 turns the cache off, and every page is drawn on each request.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app, g, request, session
from flask_login import current_user
from sqlalchemy.orm import Mapped, Session, mapped_column

from rollcal.extensions import db
from rollcal.types import utcnow

_WROTE = "rollcal.wrote"
_WRITES = ("INSERT", "UPDATE", "DELETE")
# What a kept answer carries over besides its body; the rest is set afresh per request.
_KEPT_HEADERS = ("Content-Type", "Content-Disposition")


class DataGeneration(db.Model):
    """The one row whose token changes with every committed write."""

    __tablename__ = "data_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))


_TOKEN = sa.select(DataGeneration.token).where(DataGeneration.id == 1)
_RENEW = (
    sa.update(DataGeneration)
    .where(DataGeneration.id == 1)
    .values(token=sa.bindparam("token"))
    .execution_options(rollcal_generation=True)
)


def new_token() -> str:
    """A token no answer was ever drawn under."""
    return secrets.token_hex(16)


def current_token() -> str | None:
    """The token of what is committed now (as the current transaction sees it); None in
    a database whose migrations have not made the row yet."""
    return db.session.execute(_TOKEN).scalar()


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self):
        return current_app.response_class(self.body, status=self.status, headers=self.headers)


class PageCache:
    """Answers drawn by this process, least recently used first out, within a budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._answers: OrderedDict[bytes, _Answer] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: bytes) -> _Answer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: bytes, answer: _Answer) -> None:
        if len(answer.body) > self.budget // 4:
            return
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._answers[key] = answer
            self._size += len(answer.body)
            while self._size > self.budget:
                _, dropped = self._answers.popitem(last=False)
                self._size -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._answers)


def cached_page(view: Callable) -> Callable:
    """Serve the view's answer again while nothing was written since it was drawn.

    Goes below the decorators that sign the person in (``login_required``, the API's
    token check), so an answer is only ever looked up for a signed-in person.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        cache: PageCache = current_app.extensions["rollcal.pagecache"]
        who = _reader()
        if cache.budget <= 0 or request.method != "GET" or who is None or "_flashes" in session:
            return view(*args, **kwargs)
        token = current_token()
        if token is None:
            return view(*args, **kwargs)
        key = _key(token, who)
        answer = cache.get(key)
        if answer is not None:
            return answer.response()
        response = current_app.make_response(view(*args, **kwargs))
        if _keepable(response):
            cache.put(
                key,
                _Answer(
                    response.status_code,
                    tuple((h, response.headers[h]) for h in _KEPT_HEADERS if h in response.headers),
                    response.get_data(),
                ),
            )
        return response

    return wrapper


def _reader() -> str | None:
    """Who the answer is for: the API token's person and token, or the signed-in person."""
    api_user = g.get("api_user")
    if api_user is not None:
        header = request.headers.get("Authorization", "")
        return f"api:{api_user.get_id()}:{hashlib.sha256(header.encode()).hexdigest()}"
    if current_user.is_authenticated:
        return f"web:{current_user.get_id()}"
    return None


def _key(token: str, who: str) -> bytes:
    parts = (
        token,
        who,
        request.full_path,
        request.headers.get("HX-Request", ""),
        request.headers.get("HX-Target", ""),
        str(session.get("csrf_token", "")),
        utcnow().strftime("%Y-%m-%dT%H:%M"),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _keepable(response) -> bool:
    return (
        response.status_code == 200
        and not response.is_streamed
        and not response.direct_passthrough
        and "Set-Cookie" not in response.headers
        and not session.modified
    )


def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    if context is not None and context.execution_options.get("rollcal_generation"):
        return
    if statement.lstrip()[:6].upper() in _WRITES:
        conn.info[_WROTE] = True


def _forget_writes(conn) -> None:
    conn.info.pop(_WROTE, None)


def _renew_before_commit(session: Session) -> None:
    """Last statement of a transaction that wrote: a new token, committed with it."""
    if not session.in_transaction():
        return
    session.flush()
    connection = session.connection()
    if connection.info.pop(_WROTE, False):
        connection.execute(_RENEW, {"token": new_token()})


def init_app(app: Flask) -> None:
    """Keep answers in this process and renew the token on every committed write."""
    app.extensions["rollcal.pagecache"] = PageCache(int(app.config["ROLLCAL_PAGE_CACHE_BYTES"]))
    with app.app_context():
        engine = db.engine
    if not sa.event.contains(engine, "before_cursor_execute", _note_writes):
        sa.event.listen(engine, "before_cursor_execute", _note_writes)
        sa.event.listen(engine, "rollback", _forget_writes)
    if not sa.event.contains(Session, "before_commit", _renew_before_commit):
        sa.event.listen(Session, "before_commit", _renew_before_commit)
