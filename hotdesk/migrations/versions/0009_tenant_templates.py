"""tenant templates: names unique per tenant and brand, one default per brand per tenant

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 14:50:00.000000

A tenant's own templates may share a brand/name with the system's (the tenant's wins for its
phones), and each tenant may have its own default per brand besides the system's one. Unique
constraints treat NULLs as distinct, so the system's rows (tenant_id NULL) get partial indexes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.drop_index("uq_templates_default_per_brand")
        batch_op.drop_constraint("uq_templates_brand", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_templates_tenant_id"), ["tenant_id", "brand", "name"])
        batch_op.create_index(
            "uq_templates_system_name",
            ["brand", "name"],
            unique=True,
            sqlite_where=sa.text("tenant_id IS NULL"),
            postgresql_where=sa.text("tenant_id IS NULL"),
        )
        batch_op.create_index(
            "uq_templates_default_per_brand",
            ["brand"],
            unique=True,
            sqlite_where=sa.text("is_default AND tenant_id IS NULL"),
            postgresql_where=sa.text("is_default AND tenant_id IS NULL"),
        )
        batch_op.create_index(
            "uq_templates_tenant_default_per_brand",
            ["tenant_id", "brand"],
            unique=True,
            sqlite_where=sa.text("is_default AND tenant_id IS NOT NULL"),
            postgresql_where=sa.text("is_default AND tenant_id IS NOT NULL"),
        )


def downgrade() -> None:
    # Back to one template per brand/name and one default per brand: tenants' own templates go.
    op.execute("DELETE FROM templates WHERE tenant_id IS NOT NULL")
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.drop_index("uq_templates_tenant_default_per_brand")
        batch_op.drop_index("uq_templates_default_per_brand")
        batch_op.drop_index("uq_templates_system_name")
        batch_op.drop_constraint(batch_op.f("uq_templates_tenant_id"), type_="unique")
        batch_op.create_unique_constraint("uq_templates_brand", ["brand", "name"])
        batch_op.create_index(
            "uq_templates_default_per_brand",
            ["brand"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
