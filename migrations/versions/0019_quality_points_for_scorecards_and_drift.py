"""quality points for scorecards and drift

Revision ID: 0019
Revises: 0014
Create Date: 2026-12-01 12:25:57

One row per vendor, site, market and region per revealed session with the figures
scorecards chart, the drift chart reads and cross-market alignment compares, so a site's two-year history is a few indexed rows rather than
every session's stored report. Sessions revealed before this migration get their rows
from ``rollcal quality rebuild``, which reads their stored results (nothing is
recomputed).
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=24), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("market_id", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("revealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alpha", sa.Double(), nullable=True),
        sa.Column("alpha_low", sa.Double(), nullable=True),
        sa.Column("alpha_high", sa.Double(), nullable=True),
        sa.Column("accuracy", sa.Double(), nullable=True),
        sa.Column("accuracy_low", sa.Double(), nullable=True),
        sa.Column("accuracy_high", sa.Double(), nullable=True),
        sa.Column("n_golden", sa.Integer(), nullable=False),
        sa.Column("n_raters", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_quality_points_policy_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["calibration_sessions.id"],
            name=op.f("fk_quality_points_session_id_calibration_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_quality_points_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["market_id"], ["markets.id"], name=op.f("fk_quality_points_market_id_markets")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_quality_points_vendor_id_vendors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_points")),
        sa.UniqueConstraint("session_id", "subject", name="uq_quality_points_session_subject"),
    )
    with op.batch_alter_table("quality_points", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_points_site_policy", ["site_id", "policy_id", "revealed_at"], unique=False
        )
        batch_op.create_index(
            "ix_quality_points_vendor", ["vendor_id", "revealed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quality_points", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_points_vendor")
        batch_op.drop_index("ix_quality_points_site_policy")

    op.drop_table("quality_points")
