"""waiting addresses: every address a waiting device was named from

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 13:30:00.000000

Under `approve`, whoever fetches a new MAC first and last would otherwise decide the address its
credentials go to once an admin admits it. A device named from more than one address while it
waits is admitted only with the address an admin gives.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_addresses", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("waiting_addresses")
