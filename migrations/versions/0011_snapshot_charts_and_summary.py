"""charts and a summary stored beside each session's results

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:50:00

The results page showed a chart redrawn on every view, and the session page loaded the
whole stored report (over a megabyte at 5,000 cases) for a few headline figures. Both
are now made once, when the results are stored: ``charts`` holds the alpha-by-vendor
SVG for everyone and for each vendor's QA leads, ``summary`` the headline figures.
Results stored before this migration have neither; pages draw and summarise those as
they did.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreement_snapshots") as batch_op:
        batch_op.add_column(sa.Column("charts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreement_snapshots") as batch_op:
        batch_op.drop_column("summary")
        batch_op.drop_column("charts")
