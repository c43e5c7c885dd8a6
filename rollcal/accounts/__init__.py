"""People and how they sign in: users, roles, API tokens, sessions and security headers."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Sign-in and account pages, and the security headers of every response."""
    from rollcal.accounts import models, security, views  # noqa: F401

    app.register_blueprint(views.bp)
    security.init_app(app)
