"""single sign-on (OIDC): one row per sign-in at a tenant's provider, its state and hotdesk code hashed

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-06 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("face", sa.String(length=8), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=True),
        sa.Column("app_code_challenge", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sso_sign_ins_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sso_sign_ins_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_sso_sign_ins_admin_id_admins"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_sign_ins")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_sso_sign_ins_state_hash")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_sso_sign_ins_code_hash")),
    )
    op.create_index(op.f("ix_sso_sign_ins_tenant_id"), "sso_sign_ins", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_sso_sign_ins_user_id"), "sso_sign_ins", ["user_id"], unique=False)
    op.create_index(op.f("ix_sso_sign_ins_admin_id"), "sso_sign_ins", ["admin_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sso_sign_ins_admin_id"), table_name="sso_sign_ins")
    op.drop_index(op.f("ix_sso_sign_ins_user_id"), table_name="sso_sign_ins")
    op.drop_index(op.f("ix_sso_sign_ins_tenant_id"), table_name="sso_sign_ins")
    op.drop_table("sso_sign_ins")
