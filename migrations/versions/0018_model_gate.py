"""the model gate: a policy version's requirement and the rollout step bound to it

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 12:36:13

A policy version may require a model gate (``model_gate_min_severity`` and
``model_gate_fnr_target``, both set or neither); a rollout may bind one of its checklist
steps to it, naming the model version that must pass (``model_gate_item_id``,
``model_gate_version_id``). Existing versions and rollouts require and bind nothing.
Stored results gain each vendor's errors by direction and severity
(``agreement_snapshots.error_directions``); results stored before have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreement_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_directions", sa.JSON(), nullable=True))

    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_gate_min_severity", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("model_gate_fnr_target", sa.Double(), nullable=True))

    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_gate_item_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("model_gate_version_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_rollouts_model_gate_version_id"), ["model_gate_version_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_rollouts_model_gate_item_id_template_items"),
            "template_items",
            ["model_gate_item_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_rollouts_model_gate_version_id_ai_model_versions"),
            "ai_model_versions",
            ["model_gate_version_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_rollouts_model_gate_version_id_ai_model_versions"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_rollouts_model_gate_item_id_template_items"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_rollouts_model_gate_version_id"))
        batch_op.drop_column("model_gate_version_id")
        batch_op.drop_column("model_gate_item_id")

    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_column("model_gate_fnr_target")
        batch_op.drop_column("model_gate_min_severity")

    with op.batch_alter_table("agreement_snapshots", schema=None) as batch_op:
        batch_op.drop_column("error_directions")
