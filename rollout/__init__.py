"""Policy rollouts: policies and versions, checklists, readiness and sign-off."""
