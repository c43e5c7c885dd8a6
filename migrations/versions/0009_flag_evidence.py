"""flag evidence and one flag per cause

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:50:00

Flags carry the evidence behind their figure (95% interval, n), what explains them, and
the rest of the engine's finding as JSON. ``cause`` ("scope|subject|kind") is unique per
session, so recomputing results can only update, close or reopen a flag, never raise a
second one for the same cause. Session-wide flags were scoped "overall"; the engine now
says "session", and existing rows follow.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("calibration_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cause", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("interval_low", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("interval_high", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("n", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("explained_by", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "closed_by_recompute", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    flags = sa.table(
        "calibration_flags",
        sa.column("scope", sa.String),
        sa.column("subject", sa.String),
        sa.column("kind", sa.String),
        sa.column("cause", sa.String),
    )
    op.execute(flags.update().where(flags.c.scope == "overall").values(scope="session"))
    op.execute(
        flags.update().values(
            cause=flags.c.scope
            + "|"
            + sa.func.coalesce(flags.c.subject, "")
            + "|"
            + flags.c.kind
        )
    )
    with op.batch_alter_table("calibration_flags", schema=None) as batch_op:
        batch_op.alter_column("cause", existing_type=sa.String(length=300), nullable=False)
        batch_op.alter_column("closed_by_recompute", server_default=None)
        batch_op.create_unique_constraint(
            batch_op.f("uq_calibration_flags_session_id"), ["session_id", "cause"]
        )


def downgrade():
    with op.batch_alter_table("calibration_flags", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_calibration_flags_session_id"), type_="unique")
        batch_op.drop_column("closed_by_recompute")
        batch_op.drop_column("details")
        batch_op.drop_column("explained_by")
        batch_op.drop_column("n")
        batch_op.drop_column("interval_high")
        batch_op.drop_column("interval_low")
        batch_op.drop_column("cause")
    flags = sa.table("calibration_flags", sa.column("scope", sa.String))
    op.execute(flags.update().where(flags.c.scope == "session").values(scope="overall"))
