"""mail: the queue of mails to send (account mails with the QR code), retried until sent or given up

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("base_url", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_queue_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mail_queue_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_queue")),
    )
    op.create_index(op.f("ix_mail_queue_tenant_id"), "mail_queue", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_mail_queue_user_id"), "mail_queue", ["user_id"], unique=False)
    op.create_index(op.f("ix_mail_queue_next_attempt_at"), "mail_queue", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_mail_queue_next_attempt_at"), table_name="mail_queue")
    op.drop_index(op.f("ix_mail_queue_user_id"), table_name="mail_queue")
    op.drop_index(op.f("ix_mail_queue_tenant_id"), table_name="mail_queue")
    op.drop_table("mail_queue")
