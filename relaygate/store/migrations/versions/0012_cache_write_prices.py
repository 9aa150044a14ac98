"""prompt-cache write prices, and cache writes in usage records

Revision ID: 0012
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prices") as batch:
        batch.add_column(sa.Column("cache_write_5m", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("cache_write_1h", sa.String(length=32), nullable=True))
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("cache_write_5m_tokens", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("cache_write_1h_tokens", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("cache_write_1h_tokens")
        batch.drop_column("cache_write_5m_tokens")
    with op.batch_alter_table("prices") as batch:
        batch.drop_column("cache_write_1h")
        batch.drop_column("cache_write_5m")
