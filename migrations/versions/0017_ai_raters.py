"""AI models, their versions and service tokens, and their evaluations per session

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-01 12:23:57

A model rater may now be a registered model version (``ai_version_id``), and a version
may label a revealed session's cases again (``replay``). Its evaluation against the
session's humans is stored per rater in ``ai_model_evaluations``. Existing model raters
keep their name and version and no link.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_ai_models_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_models")),
        sa.UniqueConstraint("name", name=op.f("uq_ai_models_name")),
    )
    op.create_table(
        "ai_model_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_ai_model_tokens_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["ai_models.id"],
            name=op.f("fk_ai_model_tokens_model_id_ai_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_model_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ai_model_tokens_token_hash")),
    )
    with op.batch_alter_table("ai_model_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_model_tokens_model_id"), ["model_id"], unique=False)

    op.create_table(
        "ai_model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["ai_models.id"],
            name=op.f("fk_ai_model_versions_model_id_ai_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_model_versions")),
        sa.UniqueConstraint("model_id", "version", name="uq_ai_model_versions"),
    )
    with op.batch_alter_table("ai_model_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ai_model_versions_model_id"), ["model_id"], unique=False
        )

    op.create_table(
        "ai_model_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("ai_version_id", sa.Integer(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_golden", sa.Integer(), nullable=False),
        sa.Column("accuracy", sa.Double(), nullable=True),
        sa.Column("accuracy_low", sa.Double(), nullable=True),
        sa.Column("accuracy_high", sa.Double(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ai_version_id"],
            ["ai_model_versions.id"],
            name=op.f("fk_ai_model_evaluations_ai_version_id_ai_model_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rater_id"],
            ["calibration_raters.id"],
            name=op.f("fk_ai_model_evaluations_rater_id_calibration_raters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["calibration_sessions.id"],
            name=op.f("fk_ai_model_evaluations_session_id_calibration_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_model_evaluations")),
        sa.UniqueConstraint("rater_id", name=op.f("uq_ai_model_evaluations_rater_id")),
    )
    with op.batch_alter_table("ai_model_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ai_model_evaluations_ai_version_id"), ["ai_version_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ai_model_evaluations_session_id"), ["session_id"], unique=False
        )

    with op.batch_alter_table("calibration_raters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ai_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("replay", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_calibration_raters_ai_version_id"), ["ai_version_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_calibration_raters_ai_version_id_ai_model_versions"),
            "ai_model_versions",
            ["ai_version_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("calibration_raters", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_calibration_raters_ai_version_id_ai_model_versions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_calibration_raters_ai_version_id"))
        batch_op.drop_column("replay")
        batch_op.drop_column("ai_version_id")

    with op.batch_alter_table("ai_model_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_model_evaluations_session_id"))
        batch_op.drop_index(batch_op.f("ix_ai_model_evaluations_ai_version_id"))

    op.drop_table("ai_model_evaluations")
    with op.batch_alter_table("ai_model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_model_versions_model_id"))

    op.drop_table("ai_model_versions")
    with op.batch_alter_table("ai_model_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_model_tokens_model_id"))

    op.drop_table("ai_model_tokens")
    op.drop_table("ai_models")
