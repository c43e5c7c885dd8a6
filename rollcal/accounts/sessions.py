"""Sign-in sessions that end on the server, not only in the browser.

Flask-Login keeps ``User.get_id()`` in the signed session cookie: the person's id and
their session generation. Signing out or changing the password counts the generation
up, so every cookie issued before — including a copy taken before signing out — stops
signing anyone in. Signing out therefore ends the person's sessions in every browser.
"""

from __future__ import annotations

from rollcal.accounts.models import User
from rollcal.extensions import db


def load_user(cookie_id: str) -> User | None:
    """The active person a session cookie names, if it was issued in their current
    generation; None otherwise (Flask-Login then treats the request as signed out)."""
    user_id, _, generation = cookie_id.partition(":")
    if not (user_id.isdigit() and generation.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user
