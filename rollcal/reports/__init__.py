"""Reports: PDF rendering and its cache, charts, report pages and downloads."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The pages of rendered reports (status and download)."""
    from rollcal.reports import models, views  # noqa: F401

    app.register_blueprint(views.bp)
