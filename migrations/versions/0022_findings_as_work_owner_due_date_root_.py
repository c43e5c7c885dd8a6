"""findings as work: owner, due date, root-cause category, action items

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-01 13:03:05

A finding becomes a piece of work: an owner and a due date, action items with a status,
and, once resolved, a root cause from a fixed list (policy unclear, training gap,
individual rater, tooling, golden answer wrong, other) beside the free text, so a cause
that recurs at a vendor can be found. Findings resolved before keep their text and have
no category.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calibration_flag_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('open', 'done', name='flag_action_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calibration_flag_actions_created_by_id_users')),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_calibration_flag_actions_done_by_id_users')),
    sa.ForeignKeyConstraint(['flag_id'], ['calibration_flags.id'], name=op.f('fk_calibration_flag_actions_flag_id_calibration_flags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_flag_actions'))
    )
    with op.batch_alter_table('calibration_flag_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_flag_actions_flag_id'), ['flag_id'], unique=False)

    with op.batch_alter_table('calibration_flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('due_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('cause_category', sa.Enum('policy_unclear', 'training_gap', 'individual_rater', 'tooling', 'golden_wrong', 'other', name='root_cause_category', native_enum=False, create_constraint=True, length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_calibration_flags_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_calibration_flags_owner_id_users'), 'users', ['owner_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('calibration_flags', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_calibration_flags_owner_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_calibration_flags_owner_id'))
        batch_op.drop_column('cause_category')
        batch_op.drop_column('due_date')
        batch_op.drop_column('owner_id')

    with op.batch_alter_table('calibration_flag_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_flag_actions_flag_id'))

    op.drop_table('calibration_flag_actions')
