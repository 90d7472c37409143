"""asterisk: extensions synced from the PBX are marked so

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:00:00.000000

`hotdesk sync asterisk` manages the extensions it marks `asterisk` (added, changed, removed with
the pjsip files); the faces refuse to edit them. NULL: hotdesk's own, as every existing row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.drop_column("source")
