"""The organisation: markets, lines of business, vendors, sites, and their admin pages
(people's too)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The organisation's pages and its demo data."""
    from rollcal import registry
    from rollcal.org import demo, home, views

    app.register_blueprint(views.bp)
    for panel in home.PANELS:
        registry.add_home_panel(app, panel)
    registry.add_demo_data(app, demo.seed_organisation)
