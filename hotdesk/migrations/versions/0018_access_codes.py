"""e-mailed access codes (the second factor): one row per sign-in waiting for its code; an admin's e-mail

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 20:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("face", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("extension_id", sa.Integer(), nullable=True),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("mac", sa.String(length=12), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("context", sa.String(length=255), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resends", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("wrong_codes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_as", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_access_codes_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_access_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["extension_id"],
            ["extensions.id"],
            name=op.f("fk_access_codes_extension_id_extensions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_access_codes_admin_id_admins"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_codes")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_access_codes_challenge_hash")),
    )
    for column in ("tenant_id", "user_id", "extension_id", "admin_id"):
        op.create_index(op.f(f"ix_access_codes_{column}"), "access_codes", [column], unique=False)
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_code_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_mail_queue_access_code_id_access_codes"),
            "access_codes",
            ["access_code_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_mail_queue_access_code_id"), ["access_code_id"], unique=False)
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("two_factor", sa.Boolean(), server_default=sa.text("false"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_column("two_factor")
        batch_op.drop_column("email")
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_queue_access_code_id"))
        batch_op.drop_constraint(batch_op.f("fk_mail_queue_access_code_id_access_codes"), type_="foreignkey")
        batch_op.drop_column("access_code_id")
    for column in ("admin_id", "extension_id", "user_id", "tenant_id"):
        op.drop_index(op.f(f"ix_access_codes_{column}"), table_name="access_codes")
    op.drop_table("access_codes")
