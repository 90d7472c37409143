"""occupancy summaries (admin.occupancy) and the index /metrics counts recently seen phones by

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 17:50:00.000000

The summaries are filled from the history when occupancy is first asked for; nothing to migrate.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_last_seen", ["last_seen"], unique=False)
    op.create_table(
        "occupancy_open",
        sa.Column("mac", sa.String(length=12), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "occupancy_hours",
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("logins", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
    )
    op.create_table(
        "occupancy_days",
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("phones", sa.Integer(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
    )
    for table in ("occupancy_totals", "occupancy_keys"):
        op.create_table(
            table,
            sa.Column("tenant_id", sa.Integer(), primary_key=True),
            sa.Column("kind", sa.String(length=9), primary_key=True),
            sa.Column("key", sa.String(length=32), primary_key=True),
            *([sa.Column("day", sa.Date(), primary_key=True)] if table == "occupancy_totals" else []),
            *([sa.Column("last_day", sa.Date(), nullable=False)] if table == "occupancy_keys" else []),
            sa.Column("sessions", sa.Integer(), nullable=False),
            sa.Column("seconds", sa.BigInteger(), nullable=False),
        )


def downgrade() -> None:
    for table in ("occupancy_keys", "occupancy_totals", "occupancy_days", "occupancy_hours", "occupancy_open"):
        op.drop_table(table)
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_last_seen")
