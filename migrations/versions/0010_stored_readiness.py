"""stored readiness of rollout sites

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00

Each rollout site keeps its readiness (state, reasons, required items closed of total)
and the day it was computed for, so listings read it instead of recounting every
checklist item. Existing rows start as "never computed" (``readiness_on`` NULL); the
``rollout_readiness`` job computes them when a scheduler starts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rollout_sites") as batch_op:
        batch_op.add_column(
            sa.Column(
                "readiness_state", sa.String(length=20), server_default="on_track", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("readiness_reasons", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("required_closed", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("required_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("readiness_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollout_sites") as batch_op:
        batch_op.drop_column("readiness_on")
        batch_op.drop_column("required_total")
        batch_op.drop_column("required_closed")
        batch_op.drop_column("readiness_reasons")
        batch_op.drop_column("readiness_state")
