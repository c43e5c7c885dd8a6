"""Policy rollouts: policies and versions, checklists, readiness and sign-off."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Connect rollout to the shell: what it provides to calibration, the events it follows."""
    from rollout import events

    events.init_app(app)
