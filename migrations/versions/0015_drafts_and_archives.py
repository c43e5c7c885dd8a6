"""drafts edited and deleted, later ones archived

Revision ID: 0015
Revises: 0022
Create Date: 2026-12-01 12:22:04

Drafts (calibration sessions, their cases, policy versions, policies with nothing
published) can now be edited and deleted; what others rely on once published or opened
is archived instead: ``archived_at`` hides it from default lists and makes it read-only.
Cases, policies and policy versions get the version counter checklist items already
have, so a stale edit is a conflict rather than a lost update. Policies get a
description.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calibration_cases") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))

    with op.batch_alter_table("calibration_sessions") as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("policies") as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))

    with op.batch_alter_table("policy_versions") as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("policy_versions") as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("archived_at")

    with op.batch_alter_table("policies") as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("archived_at")
        batch_op.drop_column("description")

    with op.batch_alter_table("calibration_sessions") as batch_op:
        batch_op.drop_column("archived_at")

    with op.batch_alter_table("calibration_cases") as batch_op:
        batch_op.drop_column("version")
