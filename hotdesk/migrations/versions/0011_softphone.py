"""softphone apps: single-use sign-in links (QR codes, mails), signed-in app devices, per-user QR choices

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 17:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("qr_transport", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("qr_address", sa.String(length=8), nullable=True))
    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sign_in_links_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_in_links_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_links")),
    )
    op.create_index(op.f("ix_sign_in_links_tenant_id"), "sign_in_links", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_sign_in_links_user_id"), "sign_in_links", ["user_id"], unique=False)
    op.create_table(
        "app_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_address", sa.String(length=45), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_app_devices_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_app_devices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_devices_token_hash")),
    )
    op.create_index(op.f("ix_app_devices_tenant_id"), "app_devices", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_app_devices_user_id"), "app_devices", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_app_devices_user_id"), table_name="app_devices")
    op.drop_index(op.f("ix_app_devices_tenant_id"), table_name="app_devices")
    op.drop_table("app_devices")
    op.drop_index(op.f("ix_sign_in_links_user_id"), table_name="sign_in_links")
    op.drop_index(op.f("ix_sign_in_links_tenant_id"), table_name="sign_in_links")
    op.drop_table("sign_in_links")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("qr_address")
        batch_op.drop_column("qr_transport")
