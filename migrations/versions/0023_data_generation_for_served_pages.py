"""data generation for served pages

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-01 15:41:15

One row whose token every committed write renews: a page a process drew is served again
only while the token it was drawn under is still the one stored (rollcal/pagecache.py).
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "data_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_generation")),
    )
    op.bulk_insert(table, [{"id": 1, "token": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("data_generation")
