"""calibration: sessions, raters, cases, labels, agreement snapshots, flags

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 21:15:24.695698

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # Generated, then read: only the calibration tables. The foreign keys to rollouts and
    # policy_versions are plain table references (calibration never imports rollout).
    op.create_table('calibration_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('policy_version_id', sa.Integer(), nullable=True),
    sa.Column('rollout_id', sa.Integer(), nullable=True),
    sa.Column('label_options', sa.JSON(), nullable=False),
    sa.Column('label_level', sa.Enum('nominal', 'ordinal', name='label_level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('draft', 'open', 'closed', 'revealed', name='session_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('alpha_threshold', sa.Double(), nullable=False),
    sa.Column('accuracy_target', sa.Double(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('golden_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calibration_sessions_created_by_id_users')),
    sa.ForeignKeyConstraint(['policy_version_id'], ['policy_versions.id'], name=op.f('fk_calibration_sessions_policy_version_id_policy_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rollout_id'], ['rollouts.id'], name=op.f('fk_calibration_sessions_rollout_id_rollouts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_sessions'))
    )
    with op.batch_alter_table('calibration_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_sessions_policy_version_id'), ['policy_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_sessions_rollout_id'), ['rollout_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_sessions_status'), ['status'], unique=False)

    op.create_table('agreement_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('computed_by_id', sa.Integer(), nullable=True),
    sa.Column('n_labels', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('subjects', sa.JSON(), nullable=False),
    sa.Column('gate_figures', sa.JSON(), nullable=False),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['computed_by_id'], ['users.id'], name=op.f('fk_agreement_snapshots_computed_by_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['calibration_sessions.id'], name=op.f('fk_agreement_snapshots_session_id_calibration_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreement_snapshots'))
    )
    with op.batch_alter_table('agreement_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreement_snapshots_session_id'), ['session_id'], unique=False)

    op.create_table('calibration_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=False),
    sa.Column('content_text', sa.Text(), nullable=True),
    sa.Column('content_url', sa.String(length=500), nullable=True),
    sa.Column('market_id', sa.Integer(), nullable=True),
    sa.Column('policy_area', sa.String(length=120), nullable=True),
    sa.Column('golden_label', sa.String(length=40), nullable=True),
    sa.Column('golden_rationale', sa.Text(), nullable=True),
    sa.Column('golden_set_by_id', sa.Integer(), nullable=True),
    sa.Column('golden_set_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['golden_set_by_id'], ['users.id'], name=op.f('fk_calibration_cases_golden_set_by_id_users')),
    sa.ForeignKeyConstraint(['market_id'], ['markets.id'], name=op.f('fk_calibration_cases_market_id_markets')),
    sa.ForeignKeyConstraint(['session_id'], ['calibration_sessions.id'], name=op.f('fk_calibration_cases_session_id_calibration_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_cases')),
    sa.UniqueConstraint('session_id', 'reference', name='uq_calibration_cases_reference')
    )
    with op.batch_alter_table('calibration_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_cases_session_id'), ['session_id'], unique=False)

    op.create_table('calibration_raters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('human', 'model', name='rater_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('model_name', sa.String(length=120), nullable=True),
    sa.Column('model_version', sa.String(length=60), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'human' AND user_id IS NOT NULL AND vendor_id IS NOT NULL AND site_id IS NOT NULL AND model_name IS NULL) OR (kind = 'model' AND user_id IS NULL AND vendor_id IS NULL AND site_id IS NULL AND model_name IS NOT NULL AND model_version IS NOT NULL)", name=op.f('ck_calibration_raters_human_or_model')),
    sa.ForeignKeyConstraint(['session_id'], ['calibration_sessions.id'], name=op.f('fk_calibration_raters_session_id_calibration_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_calibration_raters_site_id_sites')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calibration_raters_user_id_users')),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_calibration_raters_vendor_id_vendors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_raters')),
    sa.UniqueConstraint('session_id', 'model_name', 'model_version', name='uq_calibration_raters_session_model'),
    sa.UniqueConstraint('session_id', 'user_id', name='uq_calibration_raters_session_user')
    )
    with op.batch_alter_table('calibration_raters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_raters_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_raters_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_raters_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('calibration_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.Enum('high', 'medium', 'low', name='severity', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('threshold', sa.Double(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('rater_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'resolved', name='flag_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('root_cause', sa.Text(), nullable=True),
    sa.Column('action', sa.Text(), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rater_id'], ['calibration_raters.id'], name=op.f('fk_calibration_flags_rater_id_calibration_raters'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_calibration_flags_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['calibration_sessions.id'], name=op.f('fk_calibration_flags_session_id_calibration_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_calibration_flags_site_id_sites')),
    sa.ForeignKeyConstraint(['snapshot_id'], ['agreement_snapshots.id'], name=op.f('fk_calibration_flags_snapshot_id_agreement_snapshots'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_calibration_flags_vendor_id_vendors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_flags'))
    )
    with op.batch_alter_table('calibration_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_flags_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_flags_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_flags_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('calibration_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('option_key', sa.String(length=40), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['calibration_cases.id'], name=op.f('fk_calibration_labels_case_id_calibration_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rater_id'], ['calibration_raters.id'], name=op.f('fk_calibration_labels_rater_id_calibration_raters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_labels')),
    sa.UniqueConstraint('case_id', 'rater_id', name='uq_calibration_labels_case_rater')
    )
    with op.batch_alter_table('calibration_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_labels_rater_id'), ['rater_id'], unique=False)

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('calibration_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_labels_rater_id'))

    op.drop_table('calibration_labels')
    with op.batch_alter_table('calibration_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_flags_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_flags_status'))
        batch_op.drop_index(batch_op.f('ix_calibration_flags_session_id'))

    op.drop_table('calibration_flags')
    with op.batch_alter_table('calibration_raters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_raters_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_raters_user_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_raters_session_id'))

    op.drop_table('calibration_raters')
    with op.batch_alter_table('calibration_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_cases_session_id'))

    op.drop_table('calibration_cases')
    with op.batch_alter_table('agreement_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreement_snapshots_session_id'))

    op.drop_table('agreement_snapshots')
    with op.batch_alter_table('calibration_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_sessions_status'))
        batch_op.drop_index(batch_op.f('ix_calibration_sessions_rollout_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_sessions_policy_version_id'))

    op.drop_table('calibration_sessions')
    # ### end Alembic commands ###
