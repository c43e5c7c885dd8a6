"""The calibration gate of each site of a rollout, as readiness reads it."""

from __future__ import annotations

from rollout.models import Rollout
from rollout.readiness import Gate


def site_gates(rollouts: list[Rollout]) -> dict[tuple[int, int], Gate]:
    """The gate of every (rollout id, site id) pair, in a bounded number of statements.

    Until a calibration session linked to the rollout has been revealed, every site's
    gate is pending.
    """
    return {
        (rollout.id, rollout_site.site_id): Gate.pending()
        for rollout in rollouts
        for rollout_site in rollout.rollout_sites
    }
