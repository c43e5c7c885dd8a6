"""calibration schedules and rounds

Revision ID: 0020
Revises: 0012
Create Date: 2026-12-01 13:28:37

Recurring calibration: a schedule per policy version and set of sites, and one row per
round it (or a drift flag) created. The unique rules on (schedule, round time) and on the
flag are what keep a round from being created twice by two schedulers at once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calibration_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('policy_version_id', sa.Integer(), nullable=True),
    sa.Column('site_ids', sa.JSON(), nullable=False),
    sa.Column('cadence_days', sa.Integer(), nullable=False),
    sa.Column('open_days', sa.Integer(), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.Enum('session', 'contested', 'csv', name='case_source', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('source_session_id', sa.Integer(), nullable=True),
    sa.Column('contested_count', sa.Integer(), nullable=True),
    sa.Column('contested_rounds', sa.Integer(), nullable=True),
    sa.Column('cases_csv', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calibration_schedules_created_by_id_users')),
    sa.ForeignKeyConstraint(['policy_version_id'], ['policy_versions.id'], name=op.f('fk_calibration_schedules_policy_version_id_policy_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_session_id'], ['calibration_sessions.id'], name=op.f('fk_calibration_schedules_source_session_id_calibration_sessions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_schedules'))
    )
    with op.batch_alter_table('calibration_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_schedules_next_run_at'), ['next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_schedules_policy_version_id'), ['policy_version_id'], unique=False)

    op.create_table('calibration_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('flag_id', sa.Integer(), nullable=True),
    sa.Column('round_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['calibration_flags.id'], name=op.f('fk_calibration_rounds_flag_id_calibration_flags'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['schedule_id'], ['calibration_schedules.id'], name=op.f('fk_calibration_rounds_schedule_id_calibration_schedules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['calibration_sessions.id'], name=op.f('fk_calibration_rounds_session_id_calibration_sessions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_rounds')),
    sa.UniqueConstraint('flag_id', name='uq_calibration_rounds_flag'),
    sa.UniqueConstraint('schedule_id', 'round_at', name='uq_calibration_rounds_schedule_at')
    )
    with op.batch_alter_table('calibration_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_rounds_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('calibration_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_rounds_session_id'))

    op.drop_table('calibration_rounds')
    with op.batch_alter_table('calibration_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_schedules_policy_version_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_schedules_next_run_at'))

    op.drop_table('calibration_schedules')
