"""not-applicable requests on checklist items

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01 12:22:53

A vendor's QA lead marking a required step not applicable no longer closes it: the
request waits for a POM's approval. It is kept on the item (who asked, when, why) while
the item's status stays as it was. Existing items have no pending request.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checklist_items") as batch_op:
        batch_op.add_column(sa.Column("na_requested_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("na_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("na_request_reason", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_checklist_items_na_requested_at"), ["na_requested_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_checklist_items_na_requested_by_id_users"),
            "users",
            ["na_requested_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("checklist_items") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_checklist_items_na_requested_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_checklist_items_na_requested_at"))
        batch_op.drop_column("na_request_reason")
        batch_op.drop_column("na_requested_at")
        batch_op.drop_column("na_requested_by_id")
