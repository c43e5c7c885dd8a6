"""grouped checklist reminders and five new notification kinds

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 12:22:49

A person's due and overdue checklist items are now told in one notification a day that
lists them: ``entries`` holds the items it lists (title, link, site, rollout). Five kinds
join the notification kinds: comments on one's items, mentions, items assigned, go-live
moved and high flags raised. The kind is a VARCHAR with a CHECK constraint, so the
constraint is replaced (SQLite rebuilds the table in batch mode to do it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
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
    "signoff_requested",
    "signoff_decided",
    "daily_digest",
    "weekly_summary",
)
ADDED_KINDS = ("item_commented", "mentioned", "item_assigned", "go_live_moved", "flag_raised")
NEW_KINDS = OLD_KINDS + ADDED_KINDS
TABLES = ("notifications", "notification_preferences")


def _replace_check(kinds: tuple[str, ...]) -> None:
    for table in TABLES:
        name = f"ck_{table}_notification_kind"
        with op.batch_alter_table(table, recreate="auto") as batch_op:
            batch_op.drop_constraint(op.f(name), type_="check")
            batch_op.create_check_constraint(op.f(name), sa.column("kind").in_(kinds))


def upgrade():
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("entries", sa.JSON(), nullable=True))
    _replace_check(NEW_KINDS)


def downgrade():
    added = ", ".join(f"'{kind}'" for kind in ADDED_KINDS)
    for table in TABLES:
        op.execute(sa.text(f"DELETE FROM {table} WHERE kind IN ({added})"))
    _replace_check(OLD_KINDS)
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_column("entries")
