"""tenants: organisations with their own SIP domain and settings; people's user accounts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 14:40:00.000000

Every existing row joins the `default` tenant (id 1), which overrides no setting: an installation
that never creates a tenant works as before. Extension numbers become unique per tenant. Templates,
admins and API tokens without a tenant are the system's.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _tenant_fk(table: str, *, nullable: bool, ondelete: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        if nullable:
            batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
        else:
            batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=False, server_default=sa.text("1")))
        batch_op.create_index(batch_op.f(f"ix_{table}_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f(f"fk_{table}_tenant_id_tenants"), "tenants", ["tenant_id"], ["id"], ondelete=ondelete
        )


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sip_domain", sa.String(length=253), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
        sa.UniqueConstraint("sip_domain", name=op.f("uq_tenants_sip_domain")),
    )
    op.bulk_insert(tenants, [{"name": "default", "sip_domain": None, "created_at": datetime.now(UTC)}])
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_settings_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_tenant_settings")),
    )
    _tenant_fk("extensions", nullable=False, ondelete="RESTRICT")
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_extensions_number", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_extensions_tenant_id"), ["tenant_id", "number"])
    _tenant_fk("devices", nullable=False, ondelete="RESTRICT")
    _tenant_fk("templates", nullable=True, ondelete="CASCADE")
    _tenant_fk("admins", nullable=True, ondelete="CASCADE")
    _tenant_fk("api_tokens", nullable=True, ondelete="CASCADE")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_events_tenant_id"), ["tenant_id"], unique=False)
    op.execute("UPDATE events SET tenant_id = 1")
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("extension_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("initial_password", sa.String(length=128), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("cell", sa.String(length=32), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["extension_id"], ["extensions.id"], name=op.f("fk_users_extension_id_extensions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_users_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("extension_id", name=op.f("uq_users_extension_id")),
        sa.UniqueConstraint("tenant_id", "username", name=op.f("uq_users_tenant_id")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_table("users")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_tenant_id"))
        batch_op.drop_column("tenant_id")
    for table in ("api_tokens", "admins", "templates", "devices"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_tenant_id_tenants"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_tenant_id"))
            batch_op.drop_column("tenant_id")
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_extensions_tenant_id"), type_="unique")
        batch_op.create_unique_constraint("uq_extensions_number", ["number"])
        batch_op.drop_constraint(batch_op.f("fk_extensions_tenant_id_tenants"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_extensions_tenant_id"))
        batch_op.drop_column("tenant_id")
    op.drop_table("tenant_settings")
    op.drop_table("tenants")
