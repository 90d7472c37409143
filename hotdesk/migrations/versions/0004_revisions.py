"""revisions: counters that tell workers their cached settings and templates are stale

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 02:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    revisions = op.create_table(
        "revisions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_revisions")),
    )
    op.bulk_insert(revisions, [{"name": "config", "value": 0}])


def downgrade() -> None:
    op.drop_table("revisions")
