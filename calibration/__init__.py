"""Calibration: sessions, raters, cases, blind labels, agreement results and flags.

The blueprints live in ``views.py`` (pages) and ``api.py`` (JSON), as in ``rollcal``.
"""
