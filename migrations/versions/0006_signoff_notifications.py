"""sign-off notification kinds

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 22:00:00

Two kinds join the notification kinds. The kind is a VARCHAR with a CHECK constraint, so
the constraint is replaced (SQLite rebuilds the table in batch mode to do it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "checklist_due",
    "session_opened",
    "session_closing",
    "session_revealed",
    "session_closed",
    "session_problem",
    "rollout_live",
    "daily_digest",
    "weekly_summary",
)
NEW_KINDS = OLD_KINDS + ("signoff_requested", "signoff_decided")
TABLES = ("notifications", "notification_preferences")


def _replace_check(kinds: tuple[str, ...]) -> None:
    for table in TABLES:
        name = f"ck_{table}_notification_kind"
        with op.batch_alter_table(table, recreate="auto") as batch_op:
            batch_op.drop_constraint(op.f(name), type_="check")
            batch_op.create_check_constraint(op.f(name), sa.column("kind").in_(kinds))


def upgrade():
    _replace_check(NEW_KINDS)


def downgrade():
    op.execute(
        sa.text("DELETE FROM notifications WHERE kind IN ('signoff_requested', 'signoff_decided')")
    )
    op.execute(
        sa.text(
            "DELETE FROM notification_preferences "
            "WHERE kind IN ('signoff_requested', 'signoff_decided')"
        )
    )
    _replace_check(OLD_KINDS)
