"""What rollout tells people: its kinds of notification, who gets each and why."""

from __future__ import annotations

from rollcal.accounts.models import Role
from rollcal.notifications.models import DIGEST_HOUR, EVERYONE, MANAGERS, Kind, KindInfo

NOTIFICATION_KINDS: dict[Kind, KindInfo] = {
    Kind.CHECKLIST_DUE: KindInfo(
        "Checklist items due or overdue",
        "Once a day for each item of yours that is due within two days or overdue.",
        frozenset({Role.ADMIN, Role.POM, Role.QA_LEAD}),
    ),
    Kind.ROLLOUT_LIVE: KindInfo(
        "Rollout went live",
        "When a signed-off rollout you own, or signed off, reaches its go-live date.",
        frozenset({Role.ADMIN, Role.POM, Role.STAKEHOLDER}),
    ),
    Kind.SIGNOFF_REQUESTED: KindInfo(
        "Sign-off requested",
        "When a POM asks you to sign off a rollout's readiness report.",
        frozenset({Role.STAKEHOLDER}),
    ),
    Kind.SIGNOFF_DECIDED: KindInfo(
        "Sign-off decided",
        "When a stakeholder approves or rejects a rollout you asked them to sign off.",
        MANAGERS,
    ),
    Kind.DAILY_DIGEST: KindInfo(
        "Daily digest",
        f"An e-mail at {DIGEST_HOUR:02d}:00 your time: for POMs, rollouts at risk, overdue "
        "items and new flags; for everyone, what you chose to get in the digest.",
        EVERYONE - {Role.STAKEHOLDER},
        is_digest=True,
    ),
    Kind.WEEKLY_SUMMARY: KindInfo(
        "Weekly summary",
        f"An e-mail on Mondays at {DIGEST_HOUR:02d}:00 your time: rollouts, readiness, "
        "sign-offs and calibration across the organisation.",
        frozenset({Role.STAKEHOLDER}),
        is_digest=True,
    ),
}
