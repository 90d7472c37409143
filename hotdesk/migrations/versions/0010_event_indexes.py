"""event indexes: sign-in failures counted per address and per name

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 16:30:00.000000

The portal's and the console's sign-in throttles count failures from one address, or naming one
account, within a window: without these they scan every event of the window.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_ip_at", ["ip", "at"], unique=False)
        batch_op.create_index("ix_events_actor_at", ["actor", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_actor_at")
        batch_op.drop_index("ix_events_ip_at")
