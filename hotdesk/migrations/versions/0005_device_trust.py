"""device trust: admission, unproven requests that claimed another brand, shared-credential fetches

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 11:45:00.000000

An installation that already has phones keeps serving them as before: every existing device is
recorded as admitted, and `device_admission` is stored as `open` (a new installation gets the
default, `approve`, from `init-db`). An admin switches with `hotdesk settings set device_admission`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("first_ip", sa.String(length=45)),
    ("admitted_at", sa.DateTime(timezone=True)),
    ("admitted_by", sa.String(length=64)),
    ("admitted_address", sa.String(length=45)),
    ("mismatch_at", sa.DateTime(timezone=True)),
    ("mismatch_detail", sa.String(length=400)),
    ("shared_fetch_at", sa.DateTime(timezone=True)),
    ("shared_fetch_ip", sa.String(length=45)),
)


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.create_index("ix_devices_first_ip_created_at", ["first_ip", "created_at"])
    connection = op.get_bind()
    if connection.scalar(sa.text("SELECT count(*) FROM devices")):
        connection.execute(sa.text("UPDATE devices SET admitted_at = created_at"))
        if not connection.scalar(sa.text("SELECT count(*) FROM settings WHERE name = 'device_admission'")):
            connection.execute(sa.text("INSERT INTO settings (name, value) VALUES ('device_admission', 'open')"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM settings WHERE name = 'device_admission'"))
    with op.batch_alter_table("devices") as batch:
        batch.drop_index("ix_devices_first_ip_created_at")
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
