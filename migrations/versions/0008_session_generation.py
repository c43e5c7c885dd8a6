"""sign-in sessions end on the server

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:40:00

``users.session_generation`` is written into every sign-in cookie; signing out or
changing the password counts it up, so a cookie issued before no longer signs anyone in,
even a copy of it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_generation")
