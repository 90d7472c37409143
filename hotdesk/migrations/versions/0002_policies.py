"""policies: device credentials, login expiry, leases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:31:04.471978
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provisioning_username", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("provisioning_password", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("credentials_issued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_devices_provisioning_username"), ["provisioning_username"])

    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_login_minutes", sa.Integer(), nullable=True))

    with op.batch_alter_table("mappings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_mappings_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mappings_expires_at"))
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.drop_column("max_login_minutes")

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_devices_provisioning_username"), type_="unique")
        batch_op.drop_column("credentials_issued_at")
        batch_op.drop_column("provisioning_password")
        batch_op.drop_column("provisioning_username")

    op.drop_table("leases")
