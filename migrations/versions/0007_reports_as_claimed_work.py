"""reports as claimed work; one pending sign-off request per rollout

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00

Report files become the queue workers claim: what to render (HTML, attachments, PDF
variant), a random public token, the lease of the worker rendering it, and whether it is
frozen (a signed copy, kept for ever). Rendered reports that are not frozen are a cache,
and the rows made before this revision may carry the wrong audience (it was never
stored), so they are removed rather than trusted.

A sign-off request's frozen PDF moves into a frozen report file the request points at,
byte for byte. A partial unique index allows one pending request per rollout.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    connection = op.get_bind()
    connection.execute(sa.text("DELETE FROM report_files"))
    with op.batch_alter_table("report_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("frozen", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attachments", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("pdf_variant", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=160), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_report_files_status_lease", ["status", "lease_expires_at"], unique=False
        )

    with op.batch_alter_table("signoff_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_id", sa.Integer(), nullable=True))

    report_files = sa.table(
        "report_files",
        sa.column("id", sa.Integer),
        sa.column("token", sa.String),
        sa.column("kind", sa.String),
        sa.column("subject_id", sa.Integer),
        sa.column("audience", sa.String),
        sa.column("title", sa.String),
        sa.column("content_key", sa.String),
        sa.column("status", sa.String),
        sa.column("frozen", sa.Boolean),
        sa.column("pdf", sa.LargeBinary),
        sa.column("sha256", sa.String),
        sa.column("attempts", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("finished_at", sa.DateTime(timezone=True)),
    )
    requests = connection.execute(
        sa.text(
            "SELECT id, rollout_id, requested_at, report_pdf, report_sha256 "
            "FROM signoff_requests ORDER BY id"
        )
    ).all()
    for request in requests:
        connection.execute(
            report_files.insert().values(
                token=secrets.token_urlsafe(16),
                kind="readiness",
                subject_id=request.rollout_id,
                audience="all",
                title="Readiness report (frozen for sign-off)",
                # The old key was a hash of the content, not kept with the request; a key
                # of the request keeps the row unique and never matches new content.
                content_key=f"signoff-request-{request.id}",
                status="ready",
                frozen=True,
                pdf=request.report_pdf,
                sha256=request.report_sha256,
                attempts=1,
                created_at=request.requested_at,
                finished_at=request.requested_at,
            )
        )
        report_id = connection.execute(
            sa.text("SELECT id FROM report_files WHERE content_key = :key"),
            {"key": f"signoff-request-{request.id}"},
        ).scalar_one()
        connection.execute(
            sa.text("UPDATE signoff_requests SET report_id = :report WHERE id = :id"),
            {"report": report_id, "id": request.id},
        )

    with op.batch_alter_table("report_files", schema=None) as batch_op:
        batch_op.alter_column("token", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_report_files_token"), ["token"])

    with op.batch_alter_table("signoff_requests", schema=None) as batch_op:
        batch_op.drop_constraint("uq_signoff_requests_report_sha256", type_="unique")
        batch_op.drop_column("report_sha256")
        batch_op.drop_column("report_pdf")
        batch_op.create_foreign_key(
            batch_op.f("fk_signoff_requests_report_id_report_files"),
            "report_files",
            ["report_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_signoff_requests_report_id"), ["report_id"], unique=False
        )
        batch_op.create_index(
            "uq_signoff_requests_one_pending",
            ["rollout_id"],
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )


def downgrade():
    connection = op.get_bind()
    with op.batch_alter_table("signoff_requests", schema=None) as batch_op:
        batch_op.drop_index("uq_signoff_requests_one_pending")
        batch_op.drop_index(batch_op.f("ix_signoff_requests_report_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_signoff_requests_report_id_report_files"), type_="foreignkey"
        )
        batch_op.add_column(sa.Column("report_pdf", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("report_sha256", sa.String(length=64), nullable=True))
    connection.execute(
        sa.text(
            "UPDATE signoff_requests SET "
            "report_pdf = (SELECT pdf FROM report_files WHERE id = report_id), "
            "report_sha256 = (SELECT sha256 FROM report_files WHERE id = report_id)"
        )
    )
    # A request whose frozen report was never rendered has nothing to go back to.
    connection.execute(sa.text("DELETE FROM signoff_requests WHERE report_pdf IS NULL"))
    with op.batch_alter_table("signoff_requests", schema=None) as batch_op:
        batch_op.drop_column("report_id")
        batch_op.alter_column("report_pdf", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("report_sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            "uq_signoff_requests_report_sha256", ["report_sha256"]
        )
    connection.execute(sa.text("DELETE FROM report_files"))
    with op.batch_alter_table("report_files", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_report_files_token"), type_="unique")
        batch_op.drop_index("ix_report_files_status_lease")
        for column in (
            "started_at",
            "lease_expires_at",
            "claimed_by",
            "attempts",
            "pdf_variant",
            "attachments",
            "html",
            "frozen",
            "token",
        ):
            batch_op.drop_column(column)
