"""The demo: one password for every demo log-in, and the loading of every room's and
domain's demo data in the order they registered it (``rollcal.registry.add_demo_data``)."""

from __future__ import annotations

from rollcal.registry import registry

DEMO_PASSWORD = "rollcal-demo-2026"


def seed_demo() -> None:
    """Everything the demo shows; loading it twice changes nothing."""
    for load in registry().demo_data:
        load()
