"""The baseline page of ``benchmarks/pages.py``: a bare Flask app with one 50-row page.

Flask, SQLite and Jinja and nothing else: one query for 50 rows, one template with a
table and a link per row. Served by gunicorn beside rollcal, it says what a page costs
on this machine before any of rollcal's work. ``BARE_DATABASE`` names its SQLite file.
"""

from __future__ import annotations

import os
import sqlite3

from flask import Flask, render_template_string

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sites</title></head>
<body><h1>Sites</h1>
<table><thead><tr><th>Vendor</th><th>Site</th><th>City</th><th>Markets</th></tr></thead>
<tbody>{% for row in rows %}
<tr><td>{{ row[1] }}</td><td><a href="/sites/{{ row[0] }}">{{ row[2] }}</a></td>
<td>{{ row[3] }}</td><td>{{ row[4] }}</td></tr>{% endfor %}
</tbody></table></body></html>"""


def build(path: str) -> None:
    """Write the 50 rows the page shows."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS sites "
            "(id INTEGER PRIMARY KEY, vendor TEXT, name TEXT, city TEXT, markets TEXT)"
        )
        connection.execute("DELETE FROM sites")
        connection.executemany(
            "INSERT INTO sites (vendor, name, city, markets) VALUES (?, ?, ?, ?)",
            [(f"Vendor {i // 10}", f"Site {i}", "Bogotá", "CO MX") for i in range(50)],
        )


def create_app() -> Flask:
    """The bare app: ``/sites`` lists the 50 rows, ``/ping`` answers without a query."""
    app = Flask(__name__)
    path = os.environ["BARE_DATABASE"]

    @app.get("/sites")
    def sites():
        with sqlite3.connect(path) as connection:
            rows = connection.execute(
                "SELECT id, vendor, name, city, markets FROM sites ORDER BY id LIMIT 50"
            ).fetchall()
        return render_template_string(PAGE, rows=rows)

    @app.get("/ping")
    def ping():
        return "ok"

    return app
