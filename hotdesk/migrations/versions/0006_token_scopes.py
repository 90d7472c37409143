"""token scopes: API tokens get scopes and an optional expiry; console sessions an epoch

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 11:45:00.000000

Tokens that exist keep every scope (read write secrets): they could do all of it before, and a
backup job that reads the extensions export must not lose the secrets unnoticed at an upgrade.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scopes", sa.String(length=64), nullable=False, server_default="read write secrets")
        )
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("scopes", server_default=None)  # a new token names its scopes
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scopes")
